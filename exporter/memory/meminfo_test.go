package memory

import (
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	tests := []struct {
		in      string
		want    Sample
		wantErr string
	}{
		{in: "MemTotal:        8039112 kB\nMemFree: 1 kB\nMemAvailable:    5123456 kB\n", want: Sample{Total: 8039112 * 1024, Available: 5123456 * 1024}},
		{in: "MemAvailable: 2 kB\nMemTotal: 4 kB", want: Sample{Total: 4096, Available: 2048}},
		{in: "MemTotal: 4 kB\nMemFree: 1 kB\n", wantErr: "lacks MemTotal or MemAvailable"},
		{in: "MemTotal: 4 MB\nMemAvailable: 2 kB\n", wantErr: `MemTotal: "4 MB"`},
		{in: "MemTotal: x kB\nMemAvailable: 2 kB\n", wantErr: `MemTotal: "x kB"`},
		{in: "", wantErr: "lacks"},
	}
	for _, tt := range tests {
		got, err := ParseMeminfo([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: err = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: got %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}
