package cpu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ensemble-jitsi/ensemble/exporter/internal/procfile"
)

type procSource struct{ stat, loadavg *procfile.File }

// NewSource returns the Linux Source reading stat and loadavg under
// procPath.
func NewSource(procPath string) (Source, error) {
	if fi, err := os.Stat(procPath); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("cpu: procfs %s is not a directory", procPath)
	}
	return &procSource{
		stat:    procfile.NewFile(filepath.Join(procPath, "stat")),
		loadavg: procfile.NewFile(filepath.Join(procPath, "loadavg")),
	}, nil
}

func (p *procSource) Read(_ context.Context, perCPU bool) (Sample, error) {
	var s Sample
	err := p.stat.Read(func(b []byte) (err error) {
		s, err = ParseStat(b, perCPU)
		return err
	})
	if err != nil {
		return Sample{}, fmt.Errorf("cpu: reading stat: %w", err)
	}
	err = p.loadavg.Read(func(b []byte) (err error) {
		s.Load1, s.Load5, s.Load15, err = ParseLoadAvg(b)
		return err
	})
	if err != nil {
		return Sample{}, fmt.Errorf("cpu: reading loadavg: %w", err)
	}
	return s, nil
}
