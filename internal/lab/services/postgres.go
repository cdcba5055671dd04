package services

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// BinDir holds initdb and postgres; empty means PATH, then Debian's
	// /usr/lib/postgresql/<newest>/bin.
	BinDir string
	// User is the database superuser initdb creates; default "ensemble".
	User string
	// ReadyTimeout bounds initdb plus start-up; default 60s.
	ReadyTimeout time.Duration
}

// Postgres is a throw-away PostgreSQL server on 127.0.0.1 with trust
// authentication, its data in a temporary directory and fsync off.
type Postgres struct {
	// URL is a libpq connection URL for the "postgres" database as User.
	URL string
	// Host, Port and User are the URL's parts, for clients that take them apart.
	Host string
	Port int
	User string
	// Dir holds the data directory (data/) and the server's log.
	Dir     string
	LogPath string

	proc *Process
}

var pgReady = regexp.MustCompile(`database system is ready to accept connections`)

// postgresBinDir finds the directory of initdb and postgres.
func postgresBinDir(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
		// Debian links only some tools into PATH; take the real directory.
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("postgres not found (run scripts/install-deps.sh, which installs Debian's postgresql)")
}

func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// StartPostgres initialises a new cluster in a temporary directory and starts
// postgres on a free port. PostgreSQL refuses to run as root, so as root it
// runs as the "postgres" user (Debian's package creates it) through setpriv.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	bin, err := postgresBinDir(opts.BinDir)
	if err != nil {
		return nil, err
	}
	if opts.User == "" {
		opts.User = "ensemble"
	}
	if opts.ReadyTimeout <= 0 {
		opts.ReadyTimeout = 60 * time.Second
	}
	var wrap []string
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("postgres: running as root needs a postgres user: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			return nil, fmt.Errorf("postgres: running as root needs setpriv (util-linux): %w", err)
		}
		wrap = []string{setpriv, "--reuid=" + u.Uid, "--regid=" + u.Gid, "--clear-groups", "--"}
	}
	dir, err := os.MkdirTemp("", "ensemble-postgres-")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("postgres: %w", err)
		}
	}
	pg := &Postgres{Dir: dir, LogPath: filepath.Join(dir, "postgres.log"), Host: "127.0.0.1", User: opts.User}
	rctx, cancel := context.WithTimeout(ctx, opts.ReadyTimeout)
	defer cancel()
	data := filepath.Join(dir, "data")
	initdb := append(append([]string(nil), wrap...), filepath.Join(bin, "initdb"),
		"-D", data, "-U", opts.User, "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions")
	cmd := exec.CommandContext(rctx, initdb[0], initdb[1:]...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres: initdb: %w\n%s", err, out)
	}
	err = retryBindClash(func() error {
		err := pg.start(rctx, bin, wrap, data)
		if err != nil && bindClash(tailFile(pg.LogPath, 8<<10)) {
			return fmt.Errorf("%w: %w", err, errBindClash)
		}
		return err
	})
	if err != nil {
		err = fmt.Errorf("%w\npostgres log:\n%s", err, tailFile(pg.LogPath, 8<<10))
		os.RemoveAll(dir)
		return nil, err
	}
	return pg, nil
}

func (pg *Postgres) start(ctx context.Context, bin string, wrap []string, data string) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	pg.Port = port
	pg.URL = fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable", pg.User, port)
	args := append(append([]string(nil), wrap...), filepath.Join(bin, "postgres"),
		"-D", data, "-p", strconv.Itoa(port), "-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+pg.Dir, "-c", "fsync=off", "-c", "full_page_writes=off")
	pg.proc, err = StartProcess(ctx, ProcessSpec{
		Name: "postgres", Path: args[0], Args: args[1:], Dir: pg.Dir, LogPath: pg.LogPath,
		Ready: func(ctx context.Context, p *Process) error {
			_, err := p.WaitLine(ctx, pgReady)
			return err
		},
	})
	return err
}

// Stop shuts PostgreSQL down ("fast": SIGINT), kills it after 10 s, and
// removes its directory.
func (pg *Postgres) Stop() error {
	err := pg.proc.Stop(10*time.Second, syscall.SIGINT)
	if rmErr := os.RemoveAll(pg.Dir); err == nil && rmErr != nil {
		err = fmt.Errorf("postgres: remove %s: %w", pg.Dir, rmErr)
	}
	return err
}

// Log returns the tail of the server's log.
func (pg *Postgres) Log() string { return tailFile(pg.LogPath, 64<<10) }
