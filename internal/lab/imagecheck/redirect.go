package imagecheck

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Redirect is what a plain-HTTP request to a node must be answered with.
type Redirect struct {
	// Host, if set, is sent as the request's Host header (a name the node must ignore).
	Host string
	// LocationPrefix is what the Location header must start with (https://NAME/room).
	LocationPrefix string
	// Server, if set, is the exact Server header (nginx without its version).
	Server string
}

// Check is a check that GET url (not followed) is a redirect as r describes.
func (r Redirect) Check(client *http.Client, url string) func(context.Context) error {
	return func(ctx context.Context) error {
		resp, err := head(ctx, client, url, r.Host)
		if err != nil {
			return err
		}
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			return fmt.Errorf("GET %s: %s, want a redirect", url, resp.Status)
		}
		if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, r.LocationPrefix) {
			return fmt.Errorf("GET %s redirects to %q, want a Location starting with %s", url, loc, r.LocationPrefix)
		}
		if s := strings.TrimSpace(resp.Header.Get("Server")); r.Server != "" && s != r.Server {
			return fmt.Errorf("GET %s: Server %q, want %q", url, s, r.Server)
		}
		return nil
	}
}
