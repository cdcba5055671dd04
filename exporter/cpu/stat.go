package cpu

import (
	"bytes"
	"fmt"
	"strconv"
)

// userHZ is the kernel's fixed unit of /proc/stat times (USER_HZ), the same
// on every Linux architecture userspace sees.
const userHZ = 100

// ParseStat reads the cpu lines of /proc/stat: the first ("cpu") into
// Total, the numbered ones into LogicalCPUs and, if perCPU, into PerCPU.
// Other lines are skipped unparsed: the interrupt line alone can be
// thousands of numbers, and is why this is faster than procfs's Stat.
func ParseStat(b []byte, perCPU bool) (Sample, error) {
	var s Sample
	if perCPU {
		s.PerCPU = map[int64]Times{}
	}
	sawTotal := false
	for len(b) > 0 {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if !bytes.HasPrefix(line, []byte("cpu")) {
			continue
		}
		name, rest, _ := bytes.Cut(line, []byte{' '})
		t, err := parseTimes(rest)
		if err != nil {
			return Sample{}, fmt.Errorf("/proc/stat %q: %w", name, err)
		}
		if len(name) == 3 {
			s.Total, sawTotal = t, true
			continue
		}
		n, err := strconv.ParseInt(string(name[3:]), 10, 64)
		if err != nil || n < 0 {
			return Sample{}, fmt.Errorf("/proc/stat: bad CPU name %q", name)
		}
		s.LogicalCPUs++
		if perCPU {
			s.PerCPU[n] = t
		}
	}
	if !sawTotal {
		return Sample{}, fmt.Errorf("/proc/stat: no cpu line")
	}
	return s, nil
}

// parseTimes reads the jiffy columns user nice system idle iowait irq
// softirq steal (guest columns ignored: they are part of user and nice).
// Kernels before 2.6.11 had fewer columns; missing ones are zero.
func parseTimes(b []byte) (Times, error) {
	var v [8]float64
	n := 0
	for f, rest := nextField(b); len(f) > 0 && n < len(v); f, rest = nextField(rest) {
		x, ok := parseUint(f)
		if !ok {
			return Times{}, fmt.Errorf("column %d is %q, want a count", n+1, f)
		}
		v[n] = float64(x) / userHZ
		n++
	}
	if n < 4 {
		return Times{}, fmt.Errorf("%d columns, want at least 4", n)
	}
	return Times{User: v[0], Nice: v[1], System: v[2], Idle: v[3], Iowait: v[4], IRQ: v[5], SoftIRQ: v[6], Steal: v[7]}, nil
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}

// ParseLoadAvg reads the three load averages from /proc/loadavg.
func ParseLoadAvg(b []byte) (load1, load5, load15 float64, err error) {
	var l [3]float64
	rest := b
	for i := range l {
		var f []byte
		if f, rest = nextField(rest); len(f) == 0 {
			return 0, 0, 0, fmt.Errorf("/proc/loadavg %q: want at least 3 fields", clip(b))
		}
		if l[i], err = strconv.ParseFloat(string(f), 64); err != nil {
			return 0, 0, 0, fmt.Errorf("/proc/loadavg field %d %q: not a number", i+1, f)
		}
	}
	return l[0], l[1], l[2], nil
}

// nextField returns the first space-separated field of b and the rest,
// without allocating as bytes.Fields does.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n') {
		i++
	}
	j := i
	for j < len(b) && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' {
		j++
	}
	return b[i:j], b[j:]
}

func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
