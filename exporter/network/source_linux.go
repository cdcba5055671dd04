package network

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/procfile"
)

type procSource struct{ netdev *procfile.File }

// NewSource returns the Linux Source reading net/dev under procPath.
func NewSource(procPath string) (Source, error) {
	if fi, err := os.Stat(procPath); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("network: procfs %s is not a directory", procPath)
	}
	return procSource{netdev: procfile.NewFile(filepath.Join(procPath, "net", "dev"))}, nil
}

func (p procSource) Read(context.Context) ([]Device, error) {
	var devs []Device
	err := p.netdev.Read(func(b []byte) (err error) {
		devs, err = ParseNetDev(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("network: reading net/dev: %w", err)
	}
	return devs, nil
}
