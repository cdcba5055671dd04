package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sync"
	"syscall"
	"time"
)

// ProcessSpec describes a child for StartProcess.
type ProcessSpec struct {
	// Name labels the process in errors ("consul node-1", "selector-2").
	Name string
	// Path is the executable, Args its arguments.
	Path string
	Args []string
	// Env is added to the parent's environment.
	Env []string
	// Dir is the working directory; empty means the parent's. A relative
	// Path is resolved against it.
	Dir string
	// LogPath receives stdout and stderr; an existing file is appended to,
	// so the output of a restarted server follows the earlier run's.
	LogPath string
	// Ready, when set, is waited for before StartProcess returns, under
	// StartProcess's ctx. If it fails the process is killed.
	Ready func(ctx context.Context, p *Process) error
}

// Process is a child running in its own process group, so that stopping it
// also stops anything it forked (nginx workers, a shell's children). On
// Linux the kernel kills it if the parent dies first, so a crashed test or
// supervisor leaves no server behind.
type Process struct {
	name string
	cmd  *exec.Cmd
	out  *lineLog
	done chan struct{}
	err  error // set before done is closed

	stopOnce sync.Once
	stopErr  error
}

// StartProcess starts spec.Path and, if spec.Ready is set, waits for it.
func StartProcess(ctx context.Context, spec ProcessSpec) (*Process, error) {
	f, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", spec.Name, err)
	}
	out := newLineLog(f)
	cmd := exec.Command(spec.Path, spec.Args...)
	if spec.Env != nil {
		cmd.Env = append(os.Environ(), spec.Env...)
	}
	cmd.Dir = spec.Dir
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	// The output goes through a pipe; a grandchild that keeps it open must
	// not block Wait forever.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start %s: %w", spec.Name, spec.Path, err)
	}
	p := &Process{name: spec.Name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	if spec.Ready != nil {
		if err := spec.Ready(ctx, p); err != nil {
			_ = p.Kill()
			return nil, err
		}
	}
	return p, nil
}

// PID is the process ID of the child, which is also its process group ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and its output is flushed.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the wait error (exit status) once Done is closed, else nil.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Signal sends sig to the whole process group.
func (p *Process) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return nil
	}
	if err := syscall.Kill(-p.PID(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: signal %v: %w", p.name, sig, err)
	}
	return nil
}

// Stop sends the signals to the process group one after the other, each
// followed by up to grace for the exit, then kills the group and waits. An
// exit caused by our own signal is not an error (Consul exits with status 1
// after a clean SIGTERM; see Err for the status): Stop fails only when the
// process outlives SIGKILL. Later calls return the first call's result.
func (p *Process) Stop(grace time.Duration, sigs ...syscall.Signal) error {
	p.stopOnce.Do(func() {
		for _, sig := range sigs {
			_ = p.Signal(sig)
			if p.wait(grace) {
				break
			}
		}
		// Also when the leader has exited: whatever it forked must not
		// outlive it.
		_ = syscall.Kill(-p.PID(), syscall.SIGKILL)
		if !p.wait(10 * time.Second) {
			p.stopErr = fmt.Errorf("%s: pid %d did not exit after SIGKILL", p.name, p.PID())
		}
	})
	return p.stopErr
}

// Kill ends the process group with SIGKILL, as a crash would, and waits.
func (p *Process) Kill() error { return p.Stop(0, syscall.SIGKILL) }

// wait waits up to timeout for the exit and reports whether it happened.
func (p *Process) wait(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// Poll calls check every interval, each call bounded to 2 s, until it
// returns nil, the process exits, or ctx ends. Errors carry the last check
// error and the tail of the output.
func (p *Process) Poll(ctx context.Context, interval time.Duration, check func(ctx context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last := check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return p.exitedEarly()
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last check: %v); last output:\n%s", p.name, ctx.Err(), last, p.Tail())
		case <-t.C:
		}
	}
}

// WaitLine waits until an output line matches re and returns its
// submatches; lines among the recent Tail count too. It fails early when
// the process exits.
func (p *Process) WaitLine(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	ch := p.out.watch(re)
	select {
	case m := <-ch:
		return m, nil
	case <-p.done:
		// The line may have been written just before the exit.
		select {
		case m := <-ch:
			return m, nil
		default:
		}
		return nil, p.exitedEarly()
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for %q: %w; last output:\n%s", p.name, re, ctx.Err(), p.Tail())
	}
}

func (p *Process) exitedEarly() error {
	return fmt.Errorf("%s exited (%v) before it was ready; last output:\n%s", p.name, p.err, p.Tail())
}

// Tail returns the last lines of output of this run, for error messages.
func (p *Process) Tail() string { return p.out.tail() }

// tailFile returns at most max bytes from the end of path, which spans
// restarts, unlike Process.Tail.
func tailFile(path string, max int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(-max, io.SeekEnd)
	}
	b, _ := io.ReadAll(io.LimitReader(f, max))
	return string(b)
}

// binary is the program to run: given when set, else name found on PATH, with an error that
// says how to install it.
func binary(name, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (run scripts/install-deps.sh): %w", name, err)
	}
	return bin, nil
}
