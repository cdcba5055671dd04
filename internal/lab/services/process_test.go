package services

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

var listening = regexp.MustCompile(`listening on (http://\S+)`)

func TestLineLogWatch(t *testing.T) {
	t.Parallel()
	slog := regexp.MustCompile(`msg="?listening"?.*\baddress="?([^"\s]+)`)
	cases := []struct {
		name   string
		writes []string // written in this order, possibly splitting lines
		re     *regexp.Regexp
		want   string // first submatch; "" = no match
	}{
		{"whole line", []string{"listening on http://127.0.0.1:1234\n"}, listening, "http://127.0.0.1:1234"},
		{"split line", []string{"msg=liste", "ning address=127.0.0.1:99 tls=false\n"}, slog, "127.0.0.1:99"},
		{"quoted logfmt", []string{`msg="listening" address="127.0.0.1:7"` + "\n"}, slog, "127.0.0.1:7"},
		{"unterminated line does not count", []string{"listening on http://x"}, listening, ""},
		{"other lines first", []string{"a\nb\n", "listening on http://h:1\n"}, listening, "http://h:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sink strings.Builder
			l := newLineLog(&sink)
			ch := l.watch(c.re)
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
	t.Parallel()
	l := newLineLog(&strings.Builder{})
	_, _ = l.Write([]byte("listening on http://early:1\n"))
	select {
	case m := <-l.watch(listening):
		if m[1] != "http://early:1" {
			t.Errorf("got %q", m[1])
		}
	default:
		t.Error("a line written before watch was missed")
	}
	for range 3 * tailLines {
		_, _ = l.Write([]byte("noise\n"))
	}
	if got := strings.Count(l.tail(), "\n") + 1; got != tailLines {
		t.Errorf("tail keeps %d lines, want %d", got, tailLines)
	}
}

func startShell(t *testing.T, script string, ready func(ctx context.Context, p *Process) error) (*Process, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	log := filepath.Join(t.TempDir(), "sh.log")
	p, err := StartProcess(ctx, ProcessSpec{Name: "sh", Path: "/bin/sh", Args: []string{"-c", script},
		Env: []string{"ENSEMBLE_TEST_WORD=ready"}, LogPath: log, Ready: ready})
	if err == nil {
		t.Cleanup(func() { _ = p.Kill() })
	}
	return p, log, err
}

// The shell forks a sleeping child: stopping the group must end both, and a
// signal-caused exit is not a Stop error.
func TestProcessStopEndsGroup(t *testing.T) {
	t.Parallel()
	var url string
	p, log, err := startShell(t, `echo "listening on http://127.0.0.1:5 $ENSEMBLE_TEST_WORD"; sleep 60 & wait`,
		func(ctx context.Context, p *Process) error {
			m, err := p.WaitLine(ctx, listening)
			if err == nil {
				url = m[1]
			}
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	if url != "http://127.0.0.1:5" || !p.Running() || p.PID() <= 0 {
		t.Fatalf("url %q running %v pid %d", url, p.Running(), p.PID())
	}
	if err := p.Stop(time.Second, syscall.SIGTERM); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if p.Running() || p.Err() == nil {
		t.Fatalf("after Stop: running %v, exit status %v", p.Running(), p.Err())
	}
	// The orphaned sleep is reaped by init a moment after it dies.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := syscall.Kill(-p.PID(), 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has members after Stop: %v", p.PID(), err)
		}
	}
	if b, err := os.ReadFile(log); err != nil || !strings.Contains(string(b), "listening on http://127.0.0.1:5 ready") {
		t.Errorf("log file: %q %v", b, err)
	}
	if err := p.Stop(time.Second, syscall.SIGTERM); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

// A child that ignores the first signal gets the next one, then SIGKILL.
func TestProcessStopEscalates(t *testing.T) {
	t.Parallel()
	p, _, err := startShell(t, `trap "echo got TERM" TERM; echo "listening on http://x"; while :; do sleep 0.05; done`,
		func(ctx context.Context, p *Process) error { _, err := p.WaitLine(ctx, listening); return err })
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(200*time.Millisecond, syscall.SIGTERM, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Tail(), "got TERM") {
		t.Errorf("the trap did not run; output:\n%s", p.Tail())
	}
	var ee interface{ Sys() any }
	if !errors.As(p.Err(), &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("exit status %v, want killed by SIGKILL", p.Err())
	}
}

func TestProcessReadyFailures(t *testing.T) {
	t.Parallel()
	never := func(context.Context) error { return errors.New("not yet") }
	cases := []struct {
		name, script string
		ready        func(ctx context.Context, p *Process) error
		want         string // in the error
	}{
		{"exit before line", "echo bad flag >&2; exit 2",
			func(ctx context.Context, p *Process) error { _, err := p.WaitLine(ctx, listening); return err }, "bad flag"},
		{"exit while polling", "echo bad config; exit 3",
			func(ctx context.Context, p *Process) error { return p.Poll(ctx, 10*time.Millisecond, never) }, "bad config"},
		{"poll times out", "echo slow; sleep 60",
			func(ctx context.Context, p *Process) error {
				ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
				return p.Poll(ctx, 10*time.Millisecond, never)
			}, "last check: not yet"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p, _, err := startShell(t, c.script, c.ready)
			if err == nil || !strings.Contains(err.Error(), c.want) || p != nil {
				t.Fatalf("StartProcess = %v, %v; want an error with %q", p, err, c.want)
			}
		})
	}
}

func TestStartProcessMissingBinary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := StartProcess(t.Context(), ProcessSpec{Name: "x", Path: filepath.Join(dir, "nope"), LogPath: filepath.Join(dir, "x.log")}); err == nil {
		t.Fatal("no error for a missing binary")
	}
}
