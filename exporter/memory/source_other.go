//go:build !linux

package memory

import (
	"context"
	"fmt"

	"github.com/shirou/gopsutil/v4/mem"
)

type psSource struct{}

// NewSource returns the gopsutil Source; procPath is unused off Linux.
func NewSource(string) (Source, error) { return psSource{}, nil }

func (psSource) Read(ctx context.Context) (Sample, error) {
	v, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return Sample{}, fmt.Errorf("memory: reading virtual memory: %w", err)
	}
	return Sample{Total: v.Total, Available: v.Available}, nil
}
