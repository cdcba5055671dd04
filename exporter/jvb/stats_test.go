package jvb

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseStats(t *testing.T) {
	tests := []struct {
		file    string
		numbers map[string]float64
		bools   map[string]bool
		texts   map[string]string
		missing []string // known keys the payload lacks
		wantErr string
	}{
		{
			file: "sample-2026.json",
			numbers: map[string]float64{
				"conferences": 3, "endpoints": 12, "local_endpoints": 12, "largest_conference": 6,
				"stress_level": 0.0873, "bit_rate_download": 9214, "total_bytes_sent": 19234567890,
				"total_video_stream_milliseconds_received": 51234567, "threads": 143,
			},
			bools:   map[string]bool{"drain": false, "graceful_shutdown": false, "shutting_down": false},
			texts:   map[string]string{"version": "2.3.209-gb5fbe618", "region": "eu-central-1"},
			missing: []string{"relay_id"},
		},
		{
			// Oct 2020: bit rates became floats and broke int parsers.
			file:    "float-bitrate-2020.json",
			numbers: map[string]float64{"bit_rate_download": 0.5, "bit_rate_upload": 812.25, "conferences": 2, "octo_send_bitrate": 0},
			texts:   map[string]string{"version": "2.1.376-g06a8fe4f", "relay_id": "10.0.0.5:4096"},
			missing: []string{"endpoints", "local_endpoints", "drain", "shutting_down"},
		},
		{
			// Jan 2022: octo_send_bitrate 0.0 and an unknown "colibri2": true.
			file:    "colibri2-2022.json",
			numbers: map[string]float64{"octo_send_bitrate": 0, "bit_rate_upload": 2500, "participants": 3},
			bools:   map[string]bool{"graceful_shutdown": false},
			missing: []string{"drain", "local_endpoints"},
		},
		{
			// Old bridges with stats disabled sent conference_sizes as the string "[]".
			file:    "conference-sizes-string.json",
			numbers: map[string]float64{"conferences": 0, "threads": 0},
			missing: []string{"version"},
		},
		{file: "null-and-unknown.json", numbers: map[string]float64{"endpoints": 4}, missing: []string{"conferences"}},
		{file: "wrong-type.json", wantErr: `field "conferences" is a string, want a number`},
		{file: "wrong-type-bool.json", wantErr: `field "drain" is a string, want a boolean`},
		{file: "html-error.html", wantErr: "got HTML or XML instead of JSON"},
		{file: "array.json", wantErr: "not an object"},
		{file: "null.json", wantErr: "not an object"},
		{file: "truncated.json", wantErr: "invalid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := ParseStats(readFixture(t, tt.file))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range tt.numbers {
				if got, ok := s.Number(k); !ok || got != want {
					t.Errorf("Number(%q) = %v, %v; want %v", k, got, ok, want)
				}
			}
			for k, want := range tt.bools {
				if got, ok := s.Bool(k); !ok || got != want {
					t.Errorf("Bool(%q) = %v, %v; want %v", k, got, ok, want)
				}
			}
			for k, want := range tt.texts {
				if got, ok := s.Text(k); !ok || got != want {
					t.Errorf("Text(%q) = %q, %v; want %q", k, got, ok, want)
				}
			}
			for _, k := range tt.missing {
				_, n := s.Number(k)
				_, b := s.Bool(k)
				_, x := s.Text(k)
				if n || b || x {
					t.Errorf("key %q present, want it absent", k)
				}
			}
		})
	}
}

func TestLocalEndpoints(t *testing.T) {
	tests := []struct {
		json   string
		want   float64
		wantOK bool
	}{
		{`{"local_endpoints":5,"participants":9,"octo_endpoints":4}`, 5, true},
		{`{"participants":9,"octo_endpoints":4}`, 5, true},
		{`{"participants":9}`, 9, true},
		{`{"conferences":1}`, 0, false},
	}
	for _, tt := range tests {
		s, err := ParseStats([]byte(tt.json))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := s.LocalEndpoints(); got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: LocalEndpoints() = %v, %v; want %v, %v", tt.json, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestParseHealth(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes: the cut must not split a rune
	tests := []struct {
		code    int
		body    string
		want    Health
		wantErr string
	}{
		{code: 200, body: "", want: Health{Healthy: true, Code: 200}},
		{code: 200, body: "OK", want: Health{Healthy: true, Code: 200}},
		{code: 500, body: "Address discovery through STUN failed\n", want: Health{Code: 500, Message: "Address discovery through STUN failed"}},
		{code: 503, body: "  Sticky failure.\nsecond line", want: Health{Code: 503, Message: "Sticky failure."}},
		{code: 500, body: long, want: Health{Code: 500, Message: strings.Repeat("é", 100)}},
		{code: 500, body: "bad \xff byte", want: Health{Code: 500, Message: "bad  byte"}},
		{code: 404, body: "Not Found", wantErr: "unexpected status 404"},
		{code: 302, body: "", wantErr: "unexpected status 302"},
	}
	for _, tt := range tests {
		got, err := ParseHealth(tt.code, []byte(tt.body))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseHealth(%d, %q) err = %v, want %q", tt.code, tt.body, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseHealth(%d, %q) = %+v, %v; want %+v", tt.code, tt.body, got, err, tt.want)
		}
	}
}

// Distributions come as arrays, as the string "[]" before the bridge's
// first statistics run (absent then), and as Jicofo's object (ignored).
func TestParseStatsDistributions(t *testing.T) {
	tests := []struct {
		file    string
		key     string
		want    map[int]float64 // non-zero buckets; nil: absent
		numbers map[string]float64
	}{
		{file: "release-2020-03.json", key: "conference_sizes", want: map[int]float64{2: 1, 3: 1, 6: 1},
			numbers: map[string]float64{"participants": 11}},
		{file: "release-2021-06.json", key: "conferences_by_video_senders", want: map[int]float64{0: 1, 2: 1, 3: 1, 5: 1}},
		{file: "release-2023-05.json", key: "conferences_by_audio_senders", want: map[int]float64{0: 2, 1: 1, 2: 1, 4: 1}},
		{file: "conference-sizes-string.json", key: "conference_sizes"},
		{file: "jicofo-2023.json", key: "conference_sizes", numbers: map[string]float64{"participants": 31}},
		{file: "sample-2026.json", key: "conference_sizes"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := ParseStats(readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, ok := s.Dist(tt.key)
			if tt.want == nil {
				if ok {
					t.Fatalf("%s = %v, want absent", tt.key, got)
				}
			} else {
				if !ok || len(got) != distBuckets {
					t.Fatalf("%s = %v (present %v)", tt.key, got, ok)
				}
				for i, v := range got {
					if v != tt.want[i] {
						t.Errorf("%s[%d] = %v, want %v", tt.key, i, v, tt.want[i])
					}
				}
			}
			for k, want := range tt.numbers {
				if v, ok := s.Number(k); !ok || v != want {
					t.Errorf("%s = %v (present %v), want %v", k, v, ok, want)
				}
			}
		})
	}
	// A longer array folds into the last bucket; a bad element is a type error.
	s, err := ParseStats([]byte(`{"conference_sizes":[0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,2,3,4]}`))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Dist("conference_sizes"); len(d) != distBuckets || d[1] != 1 || d[21] != 9 {
		t.Errorf("folded = %v", d)
	}
	if _, err := ParseStats([]byte(`{"conference_sizes":[0,"x"]}`)); err == nil || !strings.Contains(err.Error(), `"conference_sizes" is an array, want a JSON array of numbers`) {
		t.Errorf("err = %v", err)
	}
}
