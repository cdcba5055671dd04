package fleet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLineLogWatch(t *testing.T) {
	cases := []struct {
		name   string
		writes []string // written in this order, possibly splitting lines
		re     string
		want   string // first submatch; "" = no match
	}{
		{"whole line", []string{"listening on http://127.0.0.1:1234\n"}, `listening on (http://\S+)`, "http://127.0.0.1:1234"},
		{"split line", []string{"msg=liste", "ning address=127.0.0.1:99 tls=false\n"}, slogListening.String(), "127.0.0.1:99"},
		{"quoted logfmt", []string{`msg="listening" address="127.0.0.1:7"` + "\n"}, slogListening.String(), "127.0.0.1:7"},
		{"unterminated line does not count", []string{"listening on http://x"}, `listening on (http://\S+)`, ""},
		{"other lines first", []string{"a\nb\n", "listening on http://h:1\n"}, `listening on (http://\S+)`, "http://h:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sink strings.Builder
			l := newLineLog(&sink)
			ch := l.watch(regexp.MustCompile(c.re))
			for _, w := range c.writes {
				if n, err := l.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			select {
			case m := <-ch:
				if m[1] != c.want {
					t.Errorf("matched %q, want %q", m[1], c.want)
				}
			default:
				if c.want != "" {
					t.Errorf("no match, want %q", c.want)
				}
			}
			if sink.String() != strings.Join(c.writes, "") {
				t.Errorf("log file got %q", sink.String())
			}
		})
	}
}

func TestLineLogWatchSeesRecentLines(t *testing.T) {
	l := newLineLog(&strings.Builder{})
	_, _ = l.Write([]byte("listening on http://early:1\n"))
	select {
	case m := <-l.watch(regexp.MustCompile(`listening on (\S+)`)):
		if m[1] != "http://early:1" {
			t.Errorf("got %q", m[1])
		}
	default:
		t.Error("a line written before watch was missed")
	}
	for i := 0; i < 3*tailLines; i++ {
		_, _ = l.Write([]byte("noise\n"))
	}
	if got := strings.Count(l.tail(), "\n") + 1; got != tailLines {
		t.Errorf("tail keeps %d lines, want %d", got, tailLines)
	}
}

func TestProcessLifecycle(t *testing.T) {
	dir := t.TempDir()
	// The shell forks a sleeping child: stopping the group must end both.
	p, err := startProcess("sh", "/bin/sh", []string{"-c", `echo "listening on http://127.0.0.1:5"; sleep 60 & wait`}, nil, filepath.Join(dir, "sh.log"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := p.waitLine(ctx, emulatorListening)
	if err != nil {
		t.Fatal(err)
	}
	if m[1] != "http://127.0.0.1:5" {
		t.Errorf("got %q", m[1])
	}
	start := time.Now()
	p.stop(time.Second, syscall.SIGTERM)
	if !p.exited() {
		t.Fatal("process still running after stop")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("stop took %v", d)
	}
	// The orphaned sleep is reaped by init a moment after it dies.
	if err := poll(ctx, 10*time.Millisecond, func(context.Context) error {
		if err := syscall.Kill(-p.cmd.Process.Pid, 0); err == nil {
			return errors.New("process group still has members")
		}
		return nil
	}); err != nil {
		t.Errorf("after stop: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "sh.log"))
	if err != nil || !strings.Contains(string(b), "listening on") {
		t.Errorf("log file: %q %v", b, err)
	}
}

func TestWaitLineFailsWhenProcessExits(t *testing.T) {
	p, err := startProcess("false", "/bin/sh", []string{"-c", "echo bad flag >&2; exit 2"}, nil, filepath.Join(t.TempDir(), "x.log"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = p.waitLine(ctx, emulatorListening)
	if err == nil || !strings.Contains(err.Error(), "bad flag") {
		t.Fatalf("error %v should carry the process's last output", err)
	}
}

func TestStartProcessMissingBinary(t *testing.T) {
	if _, err := startProcess("x", filepath.Join(t.TempDir(), "nope"), nil, nil, filepath.Join(t.TempDir(), "x.log")); err == nil {
		t.Fatal("no error for a missing binary")
	}
}
