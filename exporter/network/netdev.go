package network

import (
	"bytes"
	"fmt"
	"strconv"
)

// ParseNetDev reads the byte and packet counters of every device in
// /proc/net/dev, after its two header lines, in file order.
func ParseNetDev(b []byte) ([]Device, error) {
	var devs []Device
	for n := 0; len(b) > 0; n++ {
		var line []byte
		line, b, _ = bytes.Cut(b, []byte{'\n'})
		if n < 2 || len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		colon := bytes.LastIndexByte(line, ':')
		if colon < 0 {
			return nil, fmt.Errorf("net/dev line %d: no colon: %q", n+1, line)
		}
		name := bytes.TrimSpace(line[:colon])
		if len(name) == 0 {
			return nil, fmt.Errorf("net/dev line %d: no device name", n+1)
		}
		// Receive: bytes packets errs drop fifo frame compressed multicast,
		// then transmit: bytes packets ...
		var f [10]uint64
		rest := line[colon+1:]
		for i := range f {
			var field []byte
			rest = bytes.TrimLeft(rest, " \t")
			end := bytes.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			field, rest = rest[:end], rest[end:]
			v, err := strconv.ParseUint(string(field), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("net/dev %s: field %d: %q is not a counter", name, i+1, field)
			}
			f[i] = v
		}
		devs = append(devs, Device{Name: string(name), ReceiveBytes: f[0], ReceivePackets: f[1], TransmitBytes: f[8], TransmitPackets: f[9]})
	}
	return devs, nil
}
