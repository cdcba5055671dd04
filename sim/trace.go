package sim

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// MaxTraceRows bounds a trace, so a wrong file fails fast instead of exhausting memory.
const MaxTraceRows = 20_000_000

// ParseTrace reads participants from CSV rows "room,join,leave", one per participant visit. Times
// are either seconds since the start of the day (decimal) or RFC 3339 timestamps, which count from
// the earliest join; one file uses one form. A first row "room,join,leave" is a header. Room names
// are validated and lower-cased like the selector does.
func ParseTrace(r io.Reader) ([]Participant, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 3
	cr.ReuseRecord = true
	var (
		out   []Participant
		abs   [][2]time.Time // timestamps of each row, in timestamp mode
		first time.Time      // earliest join, in timestamp mode
		mode  = 0            // 0 unknown, 1 seconds, 2 timestamps
	)
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("trace: %w", err)
		}
		if line == 1 && strings.EqualFold(rec[0], "room") && strings.EqualFold(rec[1], "join") && strings.EqualFold(rec[2], "leave") {
			continue
		}
		if len(out) >= MaxTraceRows {
			return nil, fmt.Errorf("trace: more than %d rows", MaxTraceRows)
		}
		room, err := rooms.Normalize(rec[0])
		if err != nil {
			return nil, fmt.Errorf("trace line %d: %w", line, err)
		}
		var p Participant
		p.Room = room
		if secs, err := strconv.ParseFloat(rec[1], 64); err == nil {
			if mode == 2 {
				return nil, fmt.Errorf("trace line %d: seconds after timestamps; use one form", line)
			}
			mode = 1
			leave, err := strconv.ParseFloat(rec[2], 64)
			if err != nil {
				return nil, fmt.Errorf("trace line %d: leave %q: %w", line, rec[2], err)
			}
			if !(secs >= 0) || !(leave > secs) || leave > math.MaxInt64/float64(time.Second) {
				return nil, fmt.Errorf("trace line %d: need 0 <= join < leave, got %q, %q", line, rec[1], rec[2])
			}
			p.Join, p.Leave = seconds(secs), seconds(leave)
			out = append(out, p)
			continue
		}
		if mode == 1 {
			return nil, fmt.Errorf("trace line %d: timestamp after seconds; use one form", line)
		}
		mode = 2
		join, err := time.Parse(time.RFC3339, rec[1])
		if err != nil {
			return nil, fmt.Errorf("trace line %d: join %q is neither seconds nor RFC 3339: %w", line, rec[1], err)
		}
		leave, err := time.Parse(time.RFC3339, rec[2])
		if err != nil {
			return nil, fmt.Errorf("trace line %d: leave %q: %w", line, rec[2], err)
		}
		if !leave.After(join) || leave.Sub(join) >= 1000*time.Hour {
			return nil, fmt.Errorf("trace line %d: leave %s must be after join %s and within 1000 h", line, rec[2], rec[1])
		}
		if first.IsZero() || join.Before(first) {
			first = join
		}
		out = append(out, p)
		abs = append(abs, [2]time.Time{join, leave})
	}
	if len(out) == 0 {
		return nil, errors.New("trace: no participants")
	}
	if mode == 2 {
		for i := range out {
			out[i].Join, out[i].Leave = abs[i][0].Sub(first), abs[i][1].Sub(first)
			if out[i].Join >= 1000*time.Hour {
				return nil, fmt.Errorf("trace row %d: more than 1000 h after the first join", i+1)
			}
		}
	}
	return out, nil
}
