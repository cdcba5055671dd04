package network

import (
	"context"
	"fmt"

	"github.com/prometheus/procfs"
)

type procSource struct{ fs procfs.FS }

// NewSource returns the Linux Source reading net/dev under procPath.
func NewSource(procPath string) (Source, error) {
	fs, err := procfs.NewFS(procPath)
	if err != nil {
		return nil, fmt.Errorf("network: procfs %s: %w", procPath, err)
	}
	return procSource{fs: fs}, nil
}

func (p procSource) Read(context.Context) ([]Device, error) {
	nd, err := p.fs.NetDev()
	if err != nil {
		return nil, fmt.Errorf("network: reading net/dev: %w", err)
	}
	devs := make([]Device, 0, len(nd))
	for name, l := range nd {
		devs = append(devs, Device{Name: name, ReceiveBytes: l.RxBytes, ReceivePackets: l.RxPackets, TransmitBytes: l.TxBytes, TransmitPackets: l.TxPackets})
	}
	return devs, nil
}
