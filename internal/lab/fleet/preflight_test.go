package fleet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPreflight: every missing program or file is reported before anything starts, and the
// Prometheus configuration is found from the binaries' directory when run from elsewhere.
func TestPreflight(t *testing.T) {
	// A checkout: bin/ with the three binaries, deploy/prometheus/ with the configuration.
	repo := t.TempDir()
	bin := filepath.Join(repo, "bin")
	conf := filepath.Join("deploy", "prometheus", "prometheus-http-sd.yml")
	for _, f := range []string{"bin/ensemble-jvbemu", "bin/ensemble-sidecar", "bin/ensemble-selector", conf} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(repo, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, f), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	plain := filepath.Join(repo, "plain") // the binaries without execute permission
	if err := os.Mkdir(plain, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"ensemble-jvbemu", "ensemble-sidecar", "ensemble-selector"} {
		if err := os.WriteFile(filepath.Join(plain, b), []byte("#!/bin/sh\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(t.TempDir()) // not the checkout

	cases := []struct {
		name     string
		mod      func(o *Options)
		path     string   // PATH ("" keeps it)
		want     []string // in the error; none: no error
		wantConf string
	}{
		{name: "all there", wantConf: filepath.Join(repo, conf)},
		{name: "absolute config", mod: func(o *Options) { o.PrometheusConfig = filepath.Join(repo, conf) }, wantConf: filepath.Join(repo, conf)},
		{name: "no binaries", mod: func(o *Options) { o.BinDir = repo },
			want: []string{"ensemble-jvbemu", "ensemble-sidecar", "ensemble-selector", "make build"}},
		{name: "not executable", mod: func(o *Options) { o.BinDir = plain; o.PrometheusConfig = filepath.Join(repo, conf) },
			want: []string{filepath.Join(plain, "ensemble-sidecar") + " is not an executable file"}},
		{name: "no config", mod: func(o *Options) { o.PrometheusConfig = "nowhere.yml" },
			want: []string{"prometheus config: stat nowhere.yml", filepath.Join(bin, "..", "nowhere.yml")}},
		{name: "no services", path: t.TempDir(), want: []string{"nginx not found", "prometheus not found"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.path != "" {
				t.Setenv("PATH", c.path)
			}
			o := DefaultOptions()
			o.BinDir = bin
			if c.mod != nil {
				c.mod(&o)
			}
			err := o.preflight()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if o.PrometheusConfig != c.wantConf {
					t.Errorf("PrometheusConfig = %q, want %q", o.PrometheusConfig, c.wantConf)
				}
				return
			}
			for _, w := range c.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestNodesFit(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		nodes     int
		available uint64
		want      string // in the error; "" none
	}{
		{5, 2 * gib, ""},
		{22, 2 * gib, ""}, // 1 GiB / 45 MiB = 22.7
		{23, 2 * gib, "at most 22 nodes here"},
		{100, 10 * gib, ""},
		{114, 10 * gib, "114 nodes need about 5130 MiB (45 MiB each), more than half of the 10240 MiB available: at most 113"},
	} {
		err := nodesFit(c.nodes, c.available)
		if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("nodesFit(%d, %d GiB) = %v, want %q", c.nodes, c.available/gib, err, c.want)
		}
	}
	if avail, err := memAvailable(); err != nil || avail == 0 {
		t.Errorf("memAvailable() = %d, %v", avail, err)
	}
}
