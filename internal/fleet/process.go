package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one child binary of the fleet, run in its own process group so that
// stopping it also stops anything it forked, with its output kept in a log file
// and scanned line by line for readiness messages.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *lineLog
	done chan struct{}
	err  error // set before done is closed
}

// startProcess runs bin with args, logging stdout and stderr to logPath.
func startProcess(name, bin string, args, env []string, logPath string) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: open log: %w", name, err)
	}
	out := newLineLog(f)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = sysProcAttr()
	// A grandchild that keeps our pipe open must not block Wait forever.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: start %s: %w", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to the whole process group.
func (p *process) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("%s: signal %v: %w", p.name, sig, err)
	}
	return nil
}

// wait waits for the process to end or for the timeout, whichever is first.
func (p *process) wait(timeout time.Duration) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// stop asks the process to end with the given signals, one after the other, each
// followed by a grace period, and kills the group if it is still there.
func (p *process) stop(grace time.Duration, sigs ...syscall.Signal) {
	for _, s := range sigs {
		_ = p.signal(s)
		if p.wait(grace) {
			break
		}
	}
	// Whatever the leader forked must not outlive it.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// waitLine waits until an output line matches re and returns its submatches. It
// fails early when the process exits, showing the tail of its output.
func (p *process) waitLine(ctx context.Context, re *regexp.Regexp) ([]string, error) {
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
		return nil, fmt.Errorf("%s exited (%v) before it was ready; last output:\n%s", p.name, p.err, p.out.tail())
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: waiting for %q: %w; last output:\n%s", p.name, re, ctx.Err(), p.out.tail())
	}
}

// lineLog writes to a log file and hands complete lines to watchers.
type lineLog struct {
	w io.Writer

	mu       sync.Mutex
	partial  []byte
	last     []string // the most recent lines, for error messages
	watchers []watcher
}

type watcher struct {
	re *regexp.Regexp
	ch chan []string
}

const tailLines = 20

func newLineLog(w io.Writer) *lineLog { return &lineLog{w: w} }

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		l.line(line)
	}
	if _, err := l.w.Write(b); err != nil {
		// Losing the log file must not kill the child through SIGPIPE-like errors.
		return len(b), nil
	}
	return len(b), nil
}

// line must be called with mu held.
func (l *lineLog) line(s string) {
	l.last = append(l.last, s)
	if len(l.last) > tailLines {
		l.last = l.last[len(l.last)-tailLines:]
	}
	kept := l.watchers[:0]
	for _, w := range l.watchers {
		if m := w.re.FindStringSubmatch(s); m != nil {
			w.ch <- m
			continue
		}
		kept = append(kept, w)
	}
	l.watchers = kept
}

// watch returns a channel that receives the submatches of the first line
// matching re written from now on, or already among the recent lines.
func (l *lineLog) watch(re *regexp.Regexp) <-chan []string {
	ch := make(chan []string, 1)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.last {
		if m := re.FindStringSubmatch(s); m != nil {
			ch <- m
			return ch
		}
	}
	l.watchers = append(l.watchers, watcher{re: re, ch: ch})
	return ch
}

func (l *lineLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}
