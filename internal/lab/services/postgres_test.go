package services

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPostgresAnswersAndStops starts a server, runs a query through psql,
// and checks Stop leaves no process and no directory.
func TestPostgresAnswersAndStops(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = pg.Stop()
		}
	}()
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql not found (postgresql-client): %v", err)
	}
	out, err := exec.CommandContext(ctx, psql, pg.URL, "-XAtc", "select 40 + 2").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s\n%s", err, out, pg.Log())
	}
	if got := strings.TrimSpace(string(out)); got != "42" {
		t.Fatalf("select 40 + 2 = %q, want 42", got)
	}
	pid := pg.proc.PID()
	if err := pg.Stop(); err != nil && !strings.Contains(err.Error(), "exit status") {
		t.Fatalf("stop: %v", err)
	}
	stopped = true
	if err := syscall.Kill(-pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process group %d after Stop: kill -0 = %v, want ESRCH", pid, err)
	}
	if _, err := os.Stat(pg.Dir); !os.IsNotExist(err) {
		t.Fatalf("%s still there after Stop: %v", pg.Dir, err)
	}
}
