package jvb

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// addSeeds adds every testdata file matching pattern to f's seed corpus.
func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds for %s: %v", pattern, err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzStats checks ParseStats against encoding/json: it accepts only JSON
// objects, agrees with encoding/json on every known field it returns, and
// its errors say where they came from. It never panics.
func FuzzStats(f *testing.F) {
	addSeeds(f, "*.json")
	addSeeds(f, "*.html")
	f.Add([]byte(`{"version":"2.3\u00e9","drain":null,"conferences":1e2,"x":[{"a":"}"}]}`))
	f.Add([]byte(`{"conferences":1,"conferences":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseStats(body)
		var m map[string]any
		jsonErr := json.Unmarshal(body, &m)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "colibri stats:") {
				t.Fatalf("error without context: %v", err)
			}
			var te *typeError
			if !errors.As(err, &te) && !errors.Is(err, ErrNotObject) && jsonErr == nil && m != nil {
				t.Fatalf("rejected an object encoding/json accepts: %v", err)
			}
			return
		}
		if !json.Valid(body) || bytes.TrimSpace(body)[0] != '{' {
			t.Fatalf("accepted a body that is not a JSON object: %q", body)
		}
		if jsonErr != nil {
			return // a number out of range under a key we skip
		}
		for _, k := range known {
			v, inJSON := m[k.key]
			if v == nil {
				inJSON = false
			}
			var got any
			var ok bool
			switch k.kind {
			case kindNumber:
				got, ok = s.Number(k.key)
			case kindBool:
				got, ok = s.Bool(k.key)
			case kindText:
				got, ok = s.Text(k.key)
			default:
				// Distributions and presence-only keys: only bounds here.
				if d, ok := s.Dist(k.key); ok && (len(d) == 0 || len(d) > distBuckets) {
					t.Fatalf("key %q: %d buckets", k.key, len(d))
				}
				continue
			}
			if ok != inJSON || (ok && got != v) {
				t.Fatalf("key %q: got %v (present %v), encoding/json %v (present %v)", k.key, got, ok, v, inJSON)
			}
		}
	})
}

// FuzzMetrics checks ParseMetrics never panics, that its errors say where
// they came from, and that what it returns has bounded distributions.
func FuzzMetrics(f *testing.F) {
	addSeeds(f, "*.txt")
	f.Add([]byte("jitsi_jvb_conferences 1\n"))
	f.Add([]byte("# TYPE jitsi_jvb_drain_mode gauge\njitsi_jvb_drain_mode 2\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseMetrics(body)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "bridge metrics:") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		for _, f := range distFields {
			if d, ok := s.Dist(f.key); ok && len(d) != distBuckets {
				t.Fatalf("%s: %d buckets", f.key, len(d))
			}
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
