package services

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// server is the lifecycle Consul and Prometheus share: a child in its own
// directory that can be stopped and started again on the same ports.
type server struct {
	name         string // in errors: "consul ensemble-1234", "prometheus"
	bin          string
	args         []string
	dir, logPath string
	readyTimeout time.Duration
	check        func(ctx context.Context) error // ready when nil

	mu   sync.Mutex
	proc *Process
}

// start runs the server and waits up to readyTimeout for check to pass.
func (s *server) start(ctx context.Context) error {
	rctx, cancel := context.WithTimeout(ctx, s.readyTimeout)
	defer cancel()
	p, err := StartProcess(rctx, ProcessSpec{
		Name: s.name, Path: s.bin, Args: s.args, Dir: s.dir, LogPath: s.logPath,
		Ready: func(ctx context.Context, p *Process) error { return p.Poll(ctx, 25*time.Millisecond, s.check) },
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// failed wraps a first start's error with the log, or marks it as a bind
// clash to retry with fresh ports, and removes the directory.
func (s *server) failed(err error) error {
	log := tailFile(s.logPath, 8<<10)
	os.RemoveAll(s.dir)
	if bindClash(log) {
		return fmt.Errorf("%w: %w", err, errBindClash)
	}
	return fmt.Errorf("%w\n%s log:\n%s", err, s.name, log)
}

// Running reports whether the server process is alive.
func (s *server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil && s.proc.Running()
}

// PID is the process ID of the running server (also its process group's),
// or 0 while it is not running.
func (s *server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil || !s.proc.Running() {
		return 0
	}
	return s.proc.PID()
}

// Stop shuts the server down with SIGTERM, kills it after 10 s, and keeps
// its directory for Restart. The exit status is not an error: Consul exits
// with 1 after a clean SIGTERM.
func (s *server) Stop() error { return s.halt(10*time.Second, syscall.SIGTERM) }

// Kill ends the server with SIGKILL, as a crash would.
func (s *server) Kill() error { return s.halt(5*time.Second, syscall.SIGKILL) }

func (s *server) halt(grace time.Duration, sig syscall.Signal) error {
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.Stop(grace, sig)
}

// Restart stops the server if it runs and starts it again on the same
// ports, with the same arguments and directory.
func (s *server) Restart(ctx context.Context) error {
	if err := s.Stop(); err != nil {
		return err
	}
	if err := s.start(ctx); err != nil {
		return fmt.Errorf("%s restart: %w\n%s log:\n%s", s.name, err, s.name, tailFile(s.logPath, 8<<10))
	}
	return nil
}

// Close stops the server and removes its directory.
func (s *server) Close() error {
	err := s.Stop()
	if rmErr := os.RemoveAll(s.dir); err == nil && rmErr != nil {
		err = fmt.Errorf("%s: %w", s.name, rmErr)
	}
	return err
}

// Log returns the tail of the server's output, across restarts.
func (s *server) Log() string { return tailFile(s.logPath, 64<<10) }
