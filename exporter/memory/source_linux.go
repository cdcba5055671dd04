package memory

import (
	"context"
	"errors"
	"fmt"

	"github.com/prometheus/procfs"
)

type procSource struct{ fs procfs.FS }

// NewSource returns the Linux Source reading meminfo under procPath.
func NewSource(procPath string) (Source, error) {
	fs, err := procfs.NewFS(procPath)
	if err != nil {
		return nil, fmt.Errorf("memory: procfs %s: %w", procPath, err)
	}
	return procSource{fs: fs}, nil
}

func (p procSource) Read(context.Context) (Sample, error) {
	m, err := p.fs.Meminfo()
	if err != nil {
		return Sample{}, fmt.Errorf("memory: reading meminfo: %w", err)
	}
	if m.MemTotalBytes == nil || m.MemAvailableBytes == nil {
		// MemAvailable appeared in Linux 3.14; without it "available"
		// would have to be guessed.
		return Sample{}, errors.New("memory: meminfo lacks MemTotal or MemAvailable")
	}
	return Sample{Total: *m.MemTotalBytes, Available: *m.MemAvailableBytes}, nil
}
