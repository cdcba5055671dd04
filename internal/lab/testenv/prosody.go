package testenv

import (
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// ProsodyOptions configures StartProsody (the VirtualHost and Component sections).
type ProsodyOptions = services.ProsodyOptions

// Prosody is a running prosody; URL is its http port, with Stop, Restart and Log.
type Prosody = services.Prosody

// StartProsody starts Debian's prosody on a free loopback port and stops it when the test ends.
func StartProsody(t testing.TB, opts ProsodyOptions) *Prosody {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	p, err := services.StartProsody(ctx, opts)
	if err != nil {
		t.Fatalf("start prosody: %v", err)
	}
	cleanup(t, "prosody", p.Log, p.Close)
	return p
}
