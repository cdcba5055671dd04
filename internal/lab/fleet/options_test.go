package fleet

import (
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	ok := DefaultOptions()
	ok.BinDir = "/bin"
	if err := ok.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := map[string]struct {
		mod  func(*Options)
		want string
	}{
		"no nodes":       {func(o *Options) { o.Nodes = 0 }, "nodes"},
		"negative load":  {func(o *Options) { o.Load = -1 }, "load"},
		"two servers":    {func(o *Options) { o.ConsulServers = 2 }, "consul servers"},
		"no selector":    {func(o *Options) { o.Selectors = 0 }, "selectors"},
		"no bin dir":     {func(o *Options) { o.BinDir = "" }, "bin dir"},
		"no config":      {func(o *Options) { o.PrometheusConfig = "" }, "prometheus config"},
		"zero interval":  {func(o *Options) { o.Timing.ScrapeInterval = 0 }, "scrape interval"},
		"negative drain": {func(o *Options) { o.Timing.DrainTimeout = -1 }, "drain timeout"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			o := ok
			c.mod(&o)
			err := o.validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one naming %q", err, c.want)
			}
		})
	}
}
