package jvb

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// addSeeds adds every testdata file matching pattern to f's seed corpus.
func addSeeds(f *testing.F, pattern string) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	var seeds [][]byte
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

// FuzzStats checks that any body either fails with an error that says
// where it came from or is a JSON object whose numbers landed only under
// numeric keys; it never panics.
func FuzzStats(f *testing.F) {
	for _, b := range addSeeds(f, "*.json") {
		f.Add(b)
	}
	for _, b := range addSeeds(f, "*.html") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseStats(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "colibri stats:") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		for k := range s.numbers {
			if knownKinds[k] != Number {
				t.Fatalf("number stored for %q of kind %v", k, knownKinds[k])
			}
		}
		if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
	})
}

// FuzzHealth checks ParseHealth's invariants: it never panics, a healthy
// result has no message, and a message is one line of valid UTF-8 no
// longer than maxMessage.
func FuzzHealth(f *testing.F) {
	f.Add(200, []byte(""))
	f.Add(500, []byte("No valid IP addresses available for harvesting."))
	f.Add(503, []byte("Performing a health check took too long: PT5.1S\n"))
	f.Add(404, []byte("<html>Not Found</html>"))
	f.Add(500, []byte(strings.Repeat("é", 150)))
	f.Fuzz(func(t *testing.T, code int, body []byte) {
		h, err := ParseHealth(code, body)
		if err != nil {
			return
		}
		if h.Healthy && h.Message != "" {
			t.Fatalf("healthy with message %q", h.Message)
		}
		if len(h.Message) > maxMessage || !utf8.ValidString(h.Message) || strings.Contains(h.Message, "\n") {
			t.Fatalf("bad message %q", h.Message)
		}
	})
}
