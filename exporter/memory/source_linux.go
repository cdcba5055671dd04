package memory

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/procfile"
)

type procSource struct{ meminfo *procfile.File }

// NewSource returns the Linux Source reading meminfo under procPath.
func NewSource(procPath string) (Source, error) {
	if fi, err := os.Stat(procPath); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("memory: procfs %s is not a directory", procPath)
	}
	return &procSource{meminfo: procfile.NewFile(filepath.Join(procPath, "meminfo"))}, nil
}

func (p *procSource) Read(context.Context) (Sample, error) {
	var s Sample
	err := p.meminfo.Read(func(b []byte) (err error) {
		s, err = ParseMeminfo(b)
		return err
	})
	if err != nil {
		return Sample{}, fmt.Errorf("memory: reading meminfo: %w", err)
	}
	return s, nil
}
