package cpu

import (
	"strings"
	"testing"
)

func TestParseStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Times
		cpus    int
		wantErr string
	}{
		{name: "ten columns", in: "cpu  100 200 300 400 500 600 700 800 900 1000\ncpu0 100 200 300 400 500 600 700 800 900 1000\nintr 1 2 3\n",
			want: Times{User: 1, Nice: 2, System: 3, Idle: 4, Iowait: 5, IRQ: 6, SoftIRQ: 7, Steal: 8}, cpus: 1},
		{name: "old kernel, four columns", in: "cpu 100 0 50 1000\ncpu0 50 0 25 500\ncpu1 50 0 25 500\n",
			want: Times{User: 1, System: 0.5, Idle: 10}, cpus: 2},
		{name: "no cpu line", in: "intr 1 2\nctxt 5\n", wantErr: "no cpu line"},
		{name: "too few columns", in: "cpu 1 2 3\n", wantErr: "3 columns, want at least 4"},
		{name: "not a number", in: "cpu 1 2 x 4\n", wantErr: `column 3 is "x"`},
		{name: "bad cpu name", in: "cpu 1 2 3 4\ncpuX 1 2 3 4\n", wantErr: "bad CPU name"},
		{name: "empty", in: "", wantErr: "no cpu line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseStat([]byte(tt.in), true)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Total != tt.want || s.LogicalCPUs != tt.cpus || len(s.PerCPU) != tt.cpus {
				t.Errorf("got %+v (%d CPUs, %d per-CPU), want %+v (%d)", s.Total, s.LogicalCPUs, len(s.PerCPU), tt.want, tt.cpus)
			}
		})
	}
}

func TestParseLoadAvg(t *testing.T) {
	l1, l5, l15, err := ParseLoadAvg([]byte("0.52 0.61 0.58 2/713 12345\n"))
	if err != nil || l1 != 0.52 || l5 != 0.61 || l15 != 0.58 {
		t.Errorf("got %v %v %v %v", l1, l5, l15, err)
	}
	for _, bad := range []string{"", "0.5 0.6", "0.5 x 0.7 1/2 3"} {
		if _, _, _, err := ParseLoadAvg([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
