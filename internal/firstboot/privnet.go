package firstboot

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// privateNetworkPoll is how often the interfaces are read while waiting for the private one.
const privateNetworkPoll = 250 * time.Millisecond

// InterfaceAddrs lists the addresses of the host's network interfaces by interface name.
type InterfaceAddrs func() (map[string][]netip.Addr, error)

// systemInterfaceAddrs reads the host's interfaces.
func systemInterfaceAddrs() (map[string][]netip.Addr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	out := make(map[string][]netip.Addr, len(ifaces))
	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			return nil, fmt.Errorf("interface %s: %w", ifc.Name, err)
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
					out[ifc.Name] = append(out[ifc.Name], ip.Unmap())
				}
			}
		}
	}
	return out, nil
}

// waitPrivateAddress waits, for at most PrivateNetworkWait, until an interface (the one
// named iface, when set) has an address in cidr, and returns it. Consul binds to that
// address when it starts, right after this unit; Scaleway attaches a server's private NIC
// only after the server runs, so at first boot it may come seconds after us.
func (o *Options) waitPrivateAddress(ctx context.Context, cidr, iface string) (netip.Addr, error) {
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("private_cidr %q: %w", cidr, err)
	}
	list := o.InterfaceAddrs
	if list == nil {
		list = systemInterfaceAddrs
	}
	where := "any interface"
	if iface != "" {
		where = "interface " + iface
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, o.PrivateNetworkWait)
	defer cancel()
	tick := time.NewTicker(privateNetworkPoll)
	defer tick.Stop()
	logged := false
	for {
		addrs, err := list()
		if err != nil {
			return netip.Addr{}, fmt.Errorf("reading the network interfaces: %w", err)
		}
		for name, as := range addrs {
			if iface != "" && name != iface {
				continue
			}
			for _, a := range as {
				if prefix.Contains(a) {
					if logged {
						o.logger().Info("private network is up", "address", a, "interface", name, "waited", time.Since(start).Round(time.Millisecond))
					}
					return a, nil
				}
			}
		}
		if !logged {
			o.logger().Info("waiting for an address in the private network", "cidr", prefix, "where", where, "up_to", o.PrivateNetworkWait)
			logged = true
		}
		select {
		case <-ctx.Done():
			return netip.Addr{}, fmt.Errorf("no address in private_cidr %s on %s after %v: the private network never came up "+
				"(is the server attached to the private network? Scaleway plugs its NIC in after boot); Consul cannot bind without it",
				prefix, where, time.Since(start).Round(time.Second))
		case <-tick.C:
		}
	}
}
