package firstboot

import (
	"context"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWaitPrivateAddress(t *testing.T) {
	// late answers the private address on ens5 from its fourth call on, as a NIC that
	// Scaleway plugs in after boot.
	late := func() InterfaceAddrs {
		var calls atomic.Int32
		return func() (map[string][]netip.Addr, error) {
			m := map[string][]netip.Addr{"lo": {netip.MustParseAddr("127.0.0.1")}, "ens2": {netip.MustParseAddr("51.15.0.10")}}
			if calls.Add(1) > 3 {
				m["ens5"] = []netip.Addr{netip.MustParseAddr("172.16.0.5")}
			}
			return m, nil
		}
	}
	for _, tc := range []struct {
		name, cidr, iface string
		list              InterfaceAddrs
		want              string // the address found; empty: must time out
	}{
		{"real loopback", "127.0.0.0/8", "lo", nil, "127.0.0.1"},
		{"real, no such interface", "127.0.0.0/8", "nosuchif0", nil, ""},
		{"real, no such network", "10.255.255.0/24", "", nil, ""},
		{"hot-plugged NIC", "172.16.0.0/22", "ens5", late(), "172.16.0.5"},
		{"hot-plugged NIC, any interface", "172.16.0.0/22", "", late(), "172.16.0.5"},
		{"address on another interface", "172.16.0.0/22", "ens6", late(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait := 10 * time.Second // returns as soon as the address is there
			if tc.want == "" {
				wait = 400 * time.Millisecond
			}
			o := Options{PrivateNetworkWait: wait, InterfaceAddrs: tc.list}
			start := time.Now()
			a, err := o.waitPrivateAddress(context.Background(), tc.cidr, tc.iface)
			took := time.Since(start)
			if tc.want != "" {
				if err != nil || a.String() != tc.want {
					t.Fatalf("= %v, %v; want %s", a, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), "the private network never came up") || !strings.Contains(err.Error(), tc.cidr) {
				t.Fatalf("= %v, %v; want a timeout naming %s", a, err, tc.cidr)
			}
			if took < wait || took > wait+2*time.Second {
				t.Errorf("gave up after %v, want about %v", took, wait)
			}
		})
	}
}
