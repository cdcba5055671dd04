package xmppcheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseBody(t *testing.T) {
	for _, tc := range []struct {
		file, want string // want: in the error; empty: parses
	}{
		{"bosh-features.xml", ""},
		{"bosh-bind.xml", ""},
		{"bosh-terminate.xml", "ended the BOSH session: host-unknown"},
		{"bosh-html.xml", "not a BOSH body"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			b, err := parseBody(data)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("parseBody = %+v, %v; want an error with %q", b, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch tc.file {
			case "bosh-features.xml":
				if b.SID == "" || b.Features == nil || len(b.Features.Mechanisms) != 1 || b.Features.Mechanisms[0] != "ANONYMOUS" {
					t.Errorf("%+v", b)
				}
			case "bosh-bind.xml":
				if iq, ok := findIQ(b, "bind1"); !ok || iq.BindJID != "abc@meet.jitsi/r1" {
					t.Errorf("%+v", b)
				}
			}
		})
	}
}

func FuzzParseBody(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "bosh-*.xml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := parseBody(data); (err == nil) == (b == nil) {
			t.Errorf("parseBody = %v, %v: exactly one must be set", b, err)
		}
	})
}
