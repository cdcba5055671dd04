package services

import (
	"errors"
	"fmt"
	"net"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// Another process may take it before the caller binds it, so starters retry
// with fresh ports when their child fails to bind.
func FreePort() (int, error) {
	ports, err := freePorts(1, false)
	if err != nil {
		return 0, err
	}
	return ports[0], nil
}

// freePorts returns n distinct ports; with udp they are free for UDP too
// (Consul's serf ports use both).
func freePorts(n int, udp bool) ([]int, error) {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 100 {
			return nil, errors.New("no free port pair on 127.0.0.1")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find free port: %w", err)
		}
		closers = append(closers, l.Close)
		port := l.Addr().(*net.TCPAddr).Port
		if udp {
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue // keep the TCP listener so this port is not offered again
			}
			closers = append(closers, u.Close)
		}
		ports = append(ports, port)
	}
	return ports, nil
}
