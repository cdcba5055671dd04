package selector

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// TestParseRegionNeighbours reads testdata/region-neighbours.txt: each case is the flag values (one
// per line, "|" between them) and the parsed map, or "error".
func TestParseRegionNeighbours(t *testing.T) {
	for _, line := range testenv.Lines(t, "testdata/region-neighbours.txt") {
		in, want, ok := strings.Cut(line, " => ")
		if !ok {
			t.Fatalf("bad case %q", line)
		}
		var values []string
		if in != "" {
			values = strings.Split(in, "|")
		}
		got, err := ParseRegionNeighbours(values)
		checkCase(t, in, want, got, err)
	}
}

// checkCase judges one case of a testdata table: want is "error" or got printed with fmt.Sprint.
func checkCase(t *testing.T, in, want string, got any, err error) {
	t.Helper()
	switch {
	case want == "error" && err == nil:
		t.Errorf("%q: accepted as %v", in, got)
	case want != "error" && err != nil:
		t.Errorf("%q: %v", in, err)
	case want != "error" && fmt.Sprint(got) != want:
		t.Errorf("%q: got %v, want %s", in, got, want)
	}
}

// FuzzParseRegionNeighbours: any values give valid region names or an error, never a panic.
func FuzzParseRegionNeighbours(f *testing.F) {
	f.Add("eu=us,ap")
	f.Add("eu=eu")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseRegionNeighbours(strings.Split(v, "|"))
		if err != nil {
			return
		}
		for home, nbs := range got {
			if !validRegion(home) || len(nbs) == 0 {
				t.Fatalf("%q gave home %q with %v", v, home, nbs)
			}
			for _, nb := range nbs {
				if !validRegion(nb) || nb == home {
					t.Fatalf("%q gave neighbour %q of %q", v, nb, home)
				}
			}
		}
	})
}
