package sidecar

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestParseBOSHBody(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    boshBody
		wantErr bool
	}{
		{"session.xml", boshBody{SID: "11cbab20-c43d-4c81-9dc2-7c1154f7e333"}, false},
		{"host-unknown.xml", boshBody{Type: "terminate", Condition: "host-unknown"}, false},
		{"declaration.xml", boshBody{SID: "x"}, false},
		{"html.xml", boshBody{}, true},
		{"empty.xml", boshBody{}, true},
		{"truncated.xml", boshBody{}, true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", "bosh", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseBOSHBody(bytes.NewReader(in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("parseBOSHBody = %+v, %v; want %+v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzParseBOSHBody(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "bosh", "*.xml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := parseBOSHBody(bytes.NewReader(in))
		if err != nil && b != (boshBody{}) {
			t.Errorf("error %v with a non-empty result %+v", err, b)
		}
	})
}
