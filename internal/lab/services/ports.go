package services

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
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

// Ports are drawn at random from below the kernel's ephemeral range, as
// Consul's own sdk/freeport does. A port from bind(":0") is in that range, and
// once a stopped server releases it (Consul and Prometheus restart on the same
// ports) the kernel soon hands it out again as the local port of some outgoing
// connection, so the restart fails with "address already in use". Below the
// range only another explicit bind can take it.
const lowestPort = 10000

// freePorts returns n distinct ports; with udp they are free for UDP too
// (Consul's serf ports use both).
func freePorts(n int, udp bool) ([]int, error) {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	highest := ephemeralStart() - 1
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			return nil, errors.New("no free port on 127.0.0.1")
		}
		addr := "127.0.0.1:0"
		if highest-lowestPort > 1000 {
			addr = fmt.Sprintf("127.0.0.1:%d", lowestPort+rand.IntN(highest-lowestPort+1))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue // taken: draw another
		}
		closers = append(closers, l.Close) // held until return, so it is not drawn twice
		port := l.Addr().(*net.TCPAddr).Port
		if udp {
			u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue
			}
			closers = append(closers, u.Close)
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// ephemeralStart returns the first port of the kernel's ephemeral range, or
// the Linux default where it cannot be read.
func ephemeralStart() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return n
}
