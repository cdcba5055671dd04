package load

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestParseExposition(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		file    string
		want    reading
		wantErr bool
	}{
		{"sidecar.txt", reading{idle: 800, total: 1000, stress: 0.35, endpoints: 42}, false},
		{"percpu.txt", reading{idle: 700, total: 1000, stress: nan, endpoints: nan}, false},
		{"nojvb.txt", reading{idle: 10, total: 20, stress: nan, endpoints: nan}, false},
		{"empty.txt", reading{total: -1, stress: nan, endpoints: nan}, false},
		{"garbage.txt", reading{}, true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseExposition(bytes.NewReader(b))
			if c.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestBusy(t *testing.T) {
	cases := []struct {
		name      string
		prev, cur reading
		want      float64
	}{
		{"quarter busy", reading{idle: 100, total: 100}, reading{idle: 175, total: 200}, 0.25},
		{"first reading", reading{total: -1}, reading{idle: 1, total: 2}, math.NaN()},
		{"no time passed", reading{idle: 1, total: 2}, reading{idle: 1, total: 2}, math.NaN()},
		{"counter reset", reading{idle: 100, total: 200}, reading{idle: 1, total: 2}, math.NaN()},
	}
	for _, c := range cases {
		got := busy(c.prev, c.cur)
		if !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("%s: busy = %v, want %v", c.name, got, c.want)
		}
	}
}

func FuzzParseExposition(f *testing.F) {
	for _, name := range []string{"sidecar.txt", "percpu.txt", "garbage.txt"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := parseExposition(bytes.NewReader(b))
		if err != nil {
			return
		}
		if rd.total >= 0 && (rd.idle < 0 || rd.idle > rd.total) {
			t.Fatalf("idle %v outside [0, total %v]", rd.idle, rd.total)
		}
		if v := busy(rd, rd); !math.IsNaN(v) {
			t.Fatalf("busy of one reading = %v", v)
		}
	})
}
