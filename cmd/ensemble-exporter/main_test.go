package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRunFlags(t *testing.T) {
	tests := []struct {
		args       []string
		code       int
		wantOutput string
	}{
		{args: []string{"--help"}, code: 0, wantOutput: "--[no-]collector.jvb"},
		{args: []string{"--collector.jvb.url=ftp://bridge:8080"}, code: 2, wantOutput: "scheme must be http or https"},
		{args: []string{"--collector.nginx.timeout=0s"}, code: 2, wantOutput: "must be positive"},
		{args: []string{"--collector.nosuch"}, code: 2, wantOutput: "unknown long flag"},
		{args: []string{"--path.procfs=/nonexistent", "--web.listen-address=127.0.0.1:0"}, code: 1, wantOutput: "procfs /nonexistent"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit code %d, want %d\nstderr: %s", code, tt.code, stderr.String())
			}
			if out := stdout.String() + stderr.String(); !strings.Contains(out, tt.wantOutput) {
				t.Errorf("output lacks %q:\n%s", tt.wantOutput, out)
			}
		})
	}
}
