package imagecheck

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Spread asks the selector at base for rooms new rooms (/room-1, /room-2, ...) without
// following its redirects. Each must redirect to one of the nodes' public URLs followed by the
// room's path, and every node must get at least one room. It returns how many rooms each node
// got.
func Spread(ctx context.Context, client *http.Client, base string, rooms int, nodes []string) (map[string]int, error) {
	got := make(map[string]int, len(nodes))
	for _, n := range nodes {
		got[n] = 0
	}
	for i := 1; i <= rooms; i++ {
		path := fmt.Sprintf("/room-%d", i)
		attempt, cancel := context.WithTimeout(ctx, AttemptTimeout)
		resp, err := head(attempt, client, strings.TrimSuffix(base, "/")+path, "")
		cancel()
		if err != nil {
			return got, err
		}
		loc := resp.Header.Get("Location")
		node, ok := strings.CutSuffix(loc, path)
		if _, known := got[node]; !ok || !known || resp.StatusCode < 300 || resp.StatusCode > 399 {
			return got, fmt.Errorf("room-%d: %s to %q, want a redirect to one of %q followed by %s", i, resp.Status, loc, nodes, path)
		}
		got[node]++
	}
	for _, n := range nodes {
		if got[n] == 0 {
			return got, fmt.Errorf("the selector sent none of %d new rooms to %s (%v)", rooms, n, got)
		}
	}
	return got, nil
}
