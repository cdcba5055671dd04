package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newTestApp is a command with one flag of its own, one hidden shared flag and --runtime.gomaxprocs.
func newTestApp(stdout, stderr *bytes.Buffer) *App {
	app := New("ensemble-test", "A test command.", stdout, stderr)
	app.Flag("name", "A name.").Default("x").String()
	app.Flag("web.systemd-socket", "Shared flag this command does not support.").Bool()
	app.Unsupported("web.systemd-socket")
	app.MaxProcs(0, "GOMAXPROCS.")
	app.DocDefault("name", "the host name")
	return app
}

func TestRunExitCodes(t *testing.T) {
	errBoom := errors.New("boom")
	tests := []struct {
		name       string
		args       []string
		err        error // what the command returns
		code       int
		stdout     string // must contain
		stderr     string // must contain
		noStderr   string // must not contain
		notStarted bool
	}{
		{name: "ok", code: ExitOK},
		{name: "help", args: []string{"--help"}, code: ExitOK, stdout: "--name=\"x\"", notStarted: true},
		{name: "version", args: []string{"--version"}, code: ExitOK, stdout: "ensemble-test, version", notStarted: true},
		{name: "flag table", args: []string{"--help-flags-markdown"}, code: ExitOK,
			stdout: "| `--name` | the host name | A name. |", noStderr: "error", notStarted: true},
		{name: "unknown flag", args: []string{"--nope"}, code: ExitUsage, stderr: "ensemble-test: error: unknown long flag '--nope'", notStarted: true},
		{name: "bad log level", args: []string{"--log.level=loud"}, code: ExitUsage, stderr: "ensemble-test: error:", notStarted: true},
		{name: "unsupported", args: []string{"--web.systemd-socket"}, code: ExitUsage, stderr: "--web.systemd-socket is not supported", notStarted: true},
		{name: "negative gomaxprocs", args: []string{"--runtime.gomaxprocs=-1"}, code: ExitUsage, stderr: "--runtime.gomaxprocs: must be at least 0", notStarted: true},
		{name: "usage error", err: UsageError(errBoom), code: ExitUsage, stderr: "ensemble-test: error: boom"},
		{name: "runtime error", err: errBoom, code: ExitError, stderr: `msg="ensemble-test failed" err=boom`},
		{name: "reported error", err: Reported(errBoom), code: ExitError, noStderr: "boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			started := false
			code := newTestApp(&stdout, &stderr).Run(tt.args, func(context.Context, Session) error {
				started = true
				return tt.err
			})
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if started == tt.notStarted {
				t.Errorf("command started: %v, want %v", started, !tt.notStarted)
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, stderr.String())
			}
			if tt.noStderr != "" && strings.Contains(stderr.String(), tt.noStderr) {
				t.Errorf("stderr has %q:\n%s", tt.noStderr, stderr.String())
			}
		})
	}
}

func TestRunAppliesGOMAXPROCSAndSubcommand(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	var stdout, stderr bytes.Buffer
	app := newTestApp(&stdout, &stderr)
	app.Command("apply", "Apply.").Default()
	app.Command("renew", "Renew.")
	var got string
	code := app.Run([]string{"--runtime.gomaxprocs=1", "renew"}, func(_ context.Context, s Session) error {
		got = s.Command
		if n := runtime.GOMAXPROCS(0); n != 1 {
			t.Errorf("GOMAXPROCS = %d, want 1", n)
		}
		return nil
	})
	if code != ExitOK || got != "renew" {
		t.Errorf("exit %d, command %q; stderr %s", code, got, stderr.String())
	}
}

// TestRunSignals: the first SIGTERM cancels the context, the second closes Again.
func TestRunSignals(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := newTestApp(&stdout, &stderr).Run(nil, func(ctx context.Context, s Session) error {
		self, err := os.FindProcess(os.Getpid())
		if err != nil {
			return err
		}
		for i, done := range []<-chan struct{}{ctx.Done(), s.Again} {
			select {
			case <-done:
				return errors.New("stopped before the signal")
			default:
			}
			if err := self.Signal(syscall.SIGTERM); err != nil {
				return err
			}
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				return errors.New("signal " + string(rune('1'+i)) + " not seen")
			}
		}
		return nil
	})
	if code != ExitOK {
		t.Fatalf("exit %d; stderr %s", code, stderr.String())
	}
	for _, want := range []string{"signal received; stopping", "second signal"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
