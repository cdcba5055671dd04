// Package cli is what every Ensemble command shares: a kingpin application with environment
// variables, --version, the promslog flags and the hidden flag-table flag; the runtime flags;
// the signal context; and flag values that refuse bad input while parsing. A main declares its
// flags on an App and hands one function to App.Run, which returns the exit code: the main
// itself never exits and never touches signals, so it can be run from a test.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
)

// Exit codes of App.Run.
const (
	ExitOK    = 0 // the command finished (or --help, --version)
	ExitError = 1 // the command failed while running
	ExitUsage = 2 // bad flags or arguments: nothing was started
)

// App is a command's kingpin application. Declare flags on the embedded Application.
type App struct {
	*kingpin.Application
	name           string
	stdout, stderr io.Writer
	log            promslog.Config
	docDefaults    map[string]string
	maxProcs       *int
	gcPercent      *int
	unsupported    []string
	terminated     *int // set when --help, --version or the flag table ended the command
}

// New returns the application of the command name. Every flag can also be set by an
// environment variable named after the command and the flag (kingpin's DefaultEnvars:
// ENSEMBLE_SIDECAR_NODE_REGION for ensemble-sidecar's --node.region), which is how the
// systemd units pass them. Help, the version and the flag table go to stdout; errors
// and logs to stderr.
func New(name, help string, stdout, stderr io.Writer) *App {
	a := &App{name: name, stdout: stdout, stderr: stderr, docDefaults: map[string]string{}}
	a.Application = kingpin.New(name, help).DefaultEnvars().UsageWriter(stdout).ErrorWriter(stderr)
	// kingpin calls this after --help and --version; the command then ends with this code
	// instead of the process exiting in the middle of parsing.
	a.Terminate(func(code int) { a.terminated = &code })
	a.Version(version.Print(name))
	a.HelpFlag.Short('h')
	a.log.Writer = stderr
	promslogflag.AddFlags(a.Application, &a.log)
	registerFlagDoc(a.Application, stdout, func(code int) { a.terminated = &code }, a.docDefaults)
	return a
}

// DocDefault shows text instead of the flag's default in the generated flag table, for a
// default that depends on the machine (a host name, a CPU count).
func (a *App) DocDefault(flag, text string) { a.docDefaults[flag] = text }

// MaxProcs adds --runtime.gomaxprocs with the given default; Run applies it (0 keeps Go's own).
func (a *App) MaxProcs(def int, help string) {
	a.maxProcs = new(int)
	IntAtLeastVar(a.Flag("runtime.gomaxprocs", help).Default(fmt.Sprint(def)), a.maxProcs, 0)
}

// GCPercent adds --runtime.gc-percent; Run applies it unless GOGC is set (0 keeps Go's own).
func (a *App) GCPercent(def int, help string) {
	a.gcPercent = new(int)
	IntAtLeastVar(a.Flag("runtime.gc-percent", help).Default(fmt.Sprint(def)), a.gcPercent, 0)
}

// Unsupported hides the boolean flag name (declared by a shared flag set, such as the exporter
// toolkit's --web.systemd-socket) and makes Run refuse it when set.
func (a *App) Unsupported(name string) {
	a.GetFlag(name).Hidden()
	a.unsupported = append(a.unsupported, name)
}

// Version is the version the build set (-ldflags -X github.com/prometheus/common/version.Version=...),
// or "devel".
func Version() string { return cmp.Or(version.Version, "devel") }

// Session is what Run hands the command.
type Session struct {
	Logger *slog.Logger
	// Command is the selected subcommand (empty without subcommands).
	Command string
	// Again is closed by a second SIGINT or SIGTERM, after the first cancelled the context:
	// a command with a long graceful stop ends it early.
	Again <-chan struct{}
}

// Run parses args, applies the runtime flags and calls run with a context that the first
// SIGINT or SIGTERM cancels. It returns the exit code: ExitUsage when parsing fails or run
// returns a UsageError (printed as "NAME: error: ..."), ExitError when run fails otherwise
// (logged, unless the error is Reported), ExitOK when run returns nil or --help, --version or
// the flag table ended the command.
func (a *App) Run(args []string, run func(context.Context, Session) error) int {
	cmd, err := a.Parse(args)
	if a.terminated != nil {
		return *a.terminated
	}
	if err == nil {
		err = a.checkUnsupported()
	}
	if err != nil {
		return a.usage(err)
	}
	if a.maxProcs != nil && *a.maxProcs > 0 {
		runtime.GOMAXPROCS(*a.maxProcs)
	}
	if _, set := os.LookupEnv("GOGC"); !set && a.gcPercent != nil && *a.gcPercent > 0 {
		debug.SetGCPercent(*a.gcPercent)
	}
	logger := promslog.New(&a.log)
	ctx, again, stop := SignalContext(context.Background(), logger)
	defer stop()
	err = run(ctx, Session{Logger: logger, Command: cmd, Again: again})
	var usage usageError
	var reported reportedError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &usage):
		return a.usage(usage.err)
	case errors.As(err, &reported):
		return ExitError
	default:
		logger.Error(a.name+" failed", "err", err)
		return ExitError
	}
}

func (a *App) usage(err error) int {
	fmt.Fprintf(a.stderr, "%s: error: %v\n", a.name, err)
	return ExitUsage
}

func (a *App) checkUnsupported() error {
	for _, name := range a.unsupported {
		if a.GetFlag(name).Model().Value.String() == "true" {
			return fmt.Errorf("--%s is not supported", name)
		}
	}
	return nil
}

// UsageError marks err as a mistake in the flags found after parsing (a combination kingpin
// cannot check): Run prints it and returns ExitUsage.
func UsageError(err error) error { return usageError{err} }

type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Reported marks err as already logged by the command: Run returns ExitError without logging it again.
func Reported(err error) error { return reportedError{err} }

type reportedError struct{ err error }

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }
