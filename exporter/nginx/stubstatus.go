// Package nginx collects connection and request counters from nginx's
// stub_status page.
package nginx

import (
	"bytes"
	"fmt"
	"math"
)

// StubStatus is one stub_status reply.
type StubStatus struct {
	Active   uint64 // open client connections, including waiting ones
	Accepted uint64 // connections accepted since start
	Handled  uint64 // connections handled (less than Accepted only at a resource limit)
	Requests uint64 // client requests since start
	Reading  uint64 // connections reading the request header
	Writing  uint64 // connections writing the response
	Waiting  uint64 // idle keep-alive connections
}

// ParseStubStatus parses the four-line body nginx's stub_status module
// writes. Spaces around words are free (nginx itself writes a trailing space
// on three lines and a leading one on the third), but the words, their order
// and the number of lines are checked, so a proxy's HTML error page or a
// different module's output is an error that says what was wrong.
func ParseStubStatus(body []byte) (StubStatus, error) {
	var s StubStatus
	rest := body
	var line []byte
	for n := 1; n <= 4; n++ {
		if len(rest) == 0 {
			return s, fmt.Errorf("stub_status: %d lines, want 4", n-1)
		}
		line, rest, _ = bytes.Cut(rest, []byte{'\n'})
		var err error
		switch n {
		case 1:
			err = match(line, []string{"Active", "connections:", ""}, &s.Active)
		case 2:
			err = match(line, []string{"server", "accepts", "handled", "requests"})
		case 3:
			err = match(line, []string{"", "", ""}, &s.Accepted, &s.Handled, &s.Requests)
		case 4:
			err = match(line, []string{"Reading:", "", "Writing:", "", "Waiting:", ""}, &s.Reading, &s.Writing, &s.Waiting)
		}
		if err != nil {
			return s, fmt.Errorf("stub_status line %d %q: %w", n, clip(line), err)
		}
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return s, fmt.Errorf("stub_status: unexpected text after line 4: %q", clip(rest))
	}
	return s, nil
}

// match checks that line's space-separated words are want, where "" stands
// for a number that is stored, in order, in nums.
func match(line []byte, want []string, nums ...*uint64) error {
	words := 0
	for len(line) > 0 {
		line = bytes.TrimLeft(line, " \t\r")
		if len(line) == 0 {
			break
		}
		end := bytes.IndexAny(line, " \t\r")
		if end < 0 {
			end = len(line)
		}
		word := line[:end]
		line = line[end:]
		if words >= len(want) {
			return fmt.Errorf("%d words, want %d", words+1, len(want))
		}
		if w := want[words]; w != "" {
			if string(word) != w {
				return fmt.Errorf("word %d is %q, want %q", words+1, word, w)
			}
		} else {
			v, ok := parseUint(word)
			if !ok {
				return fmt.Errorf("word %d is %q, want a non-negative integer", words+1, word)
			}
			*nums[0] = v
			nums = nums[1:]
		}
		words++
	}
	if words != len(want) {
		return fmt.Errorf("%d words, want %d", words, len(want))
	}
	return nil
}

func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false // overflow
		}
		v = v*10 + d
	}
	return v, true
}

func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
