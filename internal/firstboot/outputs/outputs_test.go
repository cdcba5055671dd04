package outputs

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/userdata"
)

func config() *userdata.Config {
	return &userdata.Config{
		PublicName:        "meet-0003.example.org",
		MonitoringSources: []string{"172.16.0.10/32", "10.1.0.0/16"},
		Consul: userdata.Consul{
			Datacenter: "dc1",
			RetryJoin:  []string{"172.16.0.2", `provider=scaleway tag_name="consul"`},
			Encrypt:    "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s=",
			AgentToken: "3f6a2a8e-5b1c-4d7e-9f10-2a3b4c5d6e7f",
		},
		TURN: userdata.TURN{Secret: "s3cr<t>&0123456789abcdef0123456789"},
	}
}

// list writes an outputs.json into a temp dir whose templates are this package's
// testdata, with every dest in out.
func list(t *testing.T, out string, entries ...Output) string {
	t.Helper()
	dir := t.TempDir()
	for i := range entries {
		entries[i].Template, _ = filepath.Abs(filepath.Join("testdata/templates", entries[i].Template))
		entries[i].Dest = filepath.Join(out, entries[i].Dest)
	}
	b, _ := json.Marshal(entries)
	p := filepath.Join(dir, "outputs.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApply(t *testing.T) {
	out := t.TempDir()
	p := list(t, out,
		Output{Template: "consul.hcl.tmpl", Dest: "consul.hcl", Mode: "0640", Group: "root"},
		Output{Template: "nft.tmpl", Dest: "nft", Mode: "0644"},
		Output{Template: "turn.lua.tmpl", Dest: "turn.lua", Mode: "0600", Owner: "root"},
	)
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	changed, err := Apply(l, config())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(out, "consul.hcl"), filepath.Join(out, "nft"), filepath.Join(out, "turn.lua")}
	if !slices.Equal(changed, want) {
		t.Fatalf("changed = %v, want %v", changed, want)
	}
	for name, mode := range map[string]os.FileMode{"consul.hcl": 0o640, "nft": 0o644, "turn.lua": 0o600} {
		got, _ := os.ReadFile(filepath.Join(out, name))
		exp, _ := os.ReadFile(filepath.Join("testdata/want", name))
		if string(got) != string(exp) {
			t.Errorf("%s:\n%s\nwant:\n%s", name, got, exp)
		}
		st, _ := os.Stat(filepath.Join(out, name))
		if st.Mode().Perm() != mode || st.Sys().(*syscall.Stat_t).Uid != 0 && os.Getuid() == 0 {
			t.Errorf("%s: mode %v uid %d", name, st.Mode(), st.Sys().(*syscall.Stat_t).Uid)
		}
	}
	// Idempotence: the same data again writes nothing, not even a temporary file.
	before := modTimes(t, out)
	changed, err = Apply(l, config())
	if err != nil || len(changed) != 0 {
		t.Fatalf("second Apply changed %v, %v", changed, err)
	}
	if after := modTimes(t, out); !maps(before, after) {
		t.Fatalf("files touched: %v -> %v", before, after)
	}
	// A rotated token rewrites only the file that uses it.
	c := config()
	c.Consul.AgentToken = "0e1d2c3b-4a59-4687-9786-a5b4c3d2e1f0"
	changed, err = Apply(l, c)
	if err != nil || !slices.Equal(changed, want[:1]) {
		t.Fatalf("after rotation changed %v, %v", changed, err)
	}
	if b, _ := os.ReadFile(want[0]); !strings.Contains(string(b), c.Consul.AgentToken) {
		t.Fatalf("rotated token missing:\n%s", b)
	}
}

func modTimes(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		info, _ := e.Info()
		m[e.Name()] = info.ModTime().UnixNano()
	}
	return m
}

func maps(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestBrokenTemplateWritesNothing: one failing template leaves every file alone.
func TestBrokenTemplateWritesNothing(t *testing.T) {
	out := t.TempDir()
	p := list(t, out,
		Output{Template: "nft.tmpl", Dest: "nft", Mode: "0644"},
		Output{Template: "broken.tmpl", Dest: "broken", Mode: "0644"},
	)
	l, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Apply(l, config())
	if err == nil || !strings.Contains(err.Error(), "NoSuchField") || !strings.Contains(err.Error(), filepath.Join(out, "broken")) {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Fatalf("files written: %v", entries)
	}
}

func TestUnknownOwner(t *testing.T) {
	out := t.TempDir()
	l, err := Load(list(t, out, Output{Template: "nft.tmpl", Dest: "nft", Mode: "0644", Group: "no-such-group-ensemble"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(l, config()); err == nil || !strings.Contains(err.Error(), "no-such-group-ensemble") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadBad(t *testing.T) {
	want := map[string]string{
		"unknown-key.json":    `unknown field "ownr"`,
		"relative-dest.json":  "must be a clean absolute path",
		"bad-mode.json":       "is not an octal file mode",
		"no-mode.json":        "template, dest and mode are required",
		"duplicate-dest.json": "listed twice",
		"not-a-list.json":     "cannot unmarshal object",
		"trailing.json":       "text after the list",
	}
	files, _ := filepath.Glob("testdata/bad/*.json")
	if len(files) != len(want) {
		t.Fatalf("%d files, %d expectations", len(files), len(want))
	}
	for _, f := range files {
		_, err := Load(f)
		if w := want[filepath.Base(f)]; err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("%s: err = %v, want %q", f, err, w)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("missing list: no error")
	}
}

func TestParseMode(t *testing.T) {
	for s, want := range map[string]os.FileMode{"0640": 0o640, "644": 0o644, "2750": 0o750 | os.ModeSetgid} {
		if m, err := parseMode(s); err != nil || m != want {
			t.Errorf("parseMode(%q) = %v, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "8", "0999", "17777", "-1"} {
		if _, err := parseMode(s); err == nil {
			t.Errorf("parseMode(%q) accepted", s)
		}
	}
}
