package services

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// process is one child started in its own process group, so stopping it
// also stops anything it forked (nginx workers).
type process struct {
	name    string
	cmd     *exec.Cmd
	logFile *os.File
	done    chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// startProcess runs bin with args, appending stdout and stderr to logPath.
func startProcess(name, bin string, args []string, logPath string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = filepath.Dir(logPath)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logFile: logFile, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, with its wait error.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop sends sig to the process group, escalates to SIGKILL after grace
// and waits for the exit. An exit caused by our own signal is not an error:
// Consul, for one, exits with code 1 after a clean SIGTERM.
func (p *process) stop(sig syscall.Signal, grace time.Duration) error {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		if done, _ := p.exited(); !done {
			_ = syscall.Kill(-pgid, sig)
		}
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				p.stopErr = fmt.Errorf("%s: pid %d did not exit after SIGKILL", p.name, pgid)
				return
			}
		}
		// Children that ignored the signal to the leader must not outlive it.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
	return p.stopErr
}

// waitReady polls check every interval until it returns nil, the process
// exits, or ctx ends. The last check error is part of the returned error.
func (p *process) waitReady(ctx context.Context, interval time.Duration, check func(ctx context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last error
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = check(cctx)
		cancel()
		if last == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v): %w", p.name, p.waitErr, errExited)
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w (last check: %v)", p.name, ctx.Err(), last)
		case <-t.C:
		}
	}
}

// errExited marks a start that failed because the child died, which is
// usually a port another process took between our probe and its bind.
var errExited = errors.New("process exited")

// tailFile returns at most max bytes from the end of path.
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
