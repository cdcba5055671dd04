package imagecheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// DrainState checks that the sidecar's GET /drain at url (its control listener) says state
// want ("serving", "draining", "drained").
func DrainState(client *http.Client, url, want string) func(context.Context) error {
	return func(ctx context.Context) error {
		body, err := getOK(ctx, client, url)
		if err != nil {
			return err
		}
		var s struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(body, &s); err != nil {
			return fmt.Errorf("GET %s: decoding the drain status: %w", url, err)
		}
		if s.State != want {
			return fmt.Errorf("drain state %q, want %q", s.State, want)
		}
		return nil
	}
}
