//go:build !linux

package cpu

import (
	"context"
	"fmt"

	gcpu "github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/load"
)

type psSource struct{}

// NewSource returns the gopsutil Source; procPath is unused off Linux.
func NewSource(string) (Source, error) { return psSource{}, nil }

func (psSource) Read(ctx context.Context, perCPU bool) (Sample, error) {
	total, err := gcpu.TimesWithContext(ctx, false)
	if err != nil || len(total) == 0 {
		return Sample{}, fmt.Errorf("cpu: reading times: %w", err)
	}
	n, err := gcpu.CountsWithContext(ctx, true)
	if err != nil {
		return Sample{}, fmt.Errorf("cpu: counting CPUs: %w", err)
	}
	avg, err := load.AvgWithContext(ctx)
	if err != nil {
		return Sample{}, fmt.Errorf("cpu: reading load: %w", err)
	}
	s := Sample{Total: times(total[0]), LogicalCPUs: n, Load1: avg.Load1, Load5: avg.Load5, Load15: avg.Load15}
	if perCPU {
		each, err := gcpu.TimesWithContext(ctx, true)
		if err != nil {
			return Sample{}, fmt.Errorf("cpu: reading per-CPU times: %w", err)
		}
		s.PerCPU = make(map[int64]Times, len(each))
		for i, t := range each {
			s.PerCPU[int64(i)] = times(t)
		}
	}
	return s, nil
}

func times(t gcpu.TimesStat) Times {
	return Times{User: t.User, Nice: t.Nice, System: t.System, Idle: t.Idle, Iowait: t.Iowait, IRQ: t.Irq, SoftIRQ: t.Softirq, Steal: t.Steal}
}
