package cpu

import (
	"context"
	"fmt"

	"github.com/prometheus/procfs"
)

type procSource struct{ fs procfs.FS }

// NewSource returns the Linux Source reading /proc/stat and /proc/loadavg
// under procPath.
func NewSource(procPath string) (Source, error) {
	fs, err := procfs.NewFS(procPath)
	if err != nil {
		return nil, fmt.Errorf("cpu: procfs %s: %w", procPath, err)
	}
	return procSource{fs: fs}, nil
}

func (p procSource) Read(_ context.Context, perCPU bool) (Sample, error) {
	st, err := p.fs.Stat()
	if err != nil {
		return Sample{}, fmt.Errorf("cpu: reading stat: %w", err)
	}
	load, err := p.fs.LoadAvg()
	if err != nil {
		return Sample{}, fmt.Errorf("cpu: reading loadavg: %w", err)
	}
	s := Sample{Total: times(st.CPUTotal), LogicalCPUs: len(st.CPU), Load1: load.Load1, Load5: load.Load5, Load15: load.Load15}
	if perCPU {
		s.PerCPU = make(map[int64]Times, len(st.CPU))
		for n, c := range st.CPU {
			s.PerCPU[n] = times(c)
		}
	}
	return s, nil
}

func times(c procfs.CPUStat) Times {
	return Times{User: c.User, Nice: c.Nice, System: c.System, Idle: c.Idle, Iowait: c.Iowait, IRQ: c.IRQ, SoftIRQ: c.SoftIRQ, Steal: c.Steal}
}
