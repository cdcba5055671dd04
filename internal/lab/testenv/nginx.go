package testenv

import (
	"testing"

	"github.com/ensemble-jitsi/ensemble/internal/lab/services"
)

// NginxOptions configures StartNginx (extra server or http config text).
type NginxOptions = services.NginxOptions

// Nginx is a running nginx; URL and StubStatusURL are set.
type Nginx = services.Nginx

// StartNginx starts nginx on a free port and stops it when the test ends.
func StartNginx(t testing.TB, opts NginxOptions) *Nginx {
	t.Helper()
	ctx, cancel := startContext(t)
	defer cancel()
	n, err := services.StartNginx(ctx, opts)
	if err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	cleanup(t, "nginx", n.Log, n.Stop)
	return n
}
