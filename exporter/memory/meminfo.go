package memory

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// ParseMeminfo reads MemTotal and MemAvailable (in kB) from /proc/meminfo
// and skips every other line.
func ParseMeminfo(b []byte) (Sample, error) {
	var s Sample
	var sawTotal, sawAvail bool
	for len(b) > 0 && !(sawTotal && sawAvail) {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		key, val, ok := bytes.Cut(line, []byte{':'})
		if !ok {
			continue
		}
		var dst *uint64
		switch string(key) {
		case "MemTotal":
			dst, sawTotal = &s.Total, true
		case "MemAvailable":
			dst, sawAvail = &s.Available, true
		default:
			continue
		}
		num, unit, _ := bytes.Cut(bytes.TrimSpace(val), []byte{' '})
		kb, err := strconv.ParseUint(string(num), 10, 64)
		if err != nil || string(unit) != "kB" {
			return Sample{}, fmt.Errorf("meminfo %s: %q, want a count in kB", key, bytes.TrimSpace(val))
		}
		*dst = kb * 1024
	}
	if !sawTotal || !sawAvail {
		// MemAvailable appeared in Linux 3.14; without it "available"
		// would have to be guessed.
		return Sample{}, errors.New("meminfo lacks MemTotal or MemAvailable")
	}
	return s, nil
}
