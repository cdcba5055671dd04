package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/dashboards"
	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

// promSeries runs an instant query and returns how many series it gave.
func promSeries(ctx context.Context, base, expr string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/query?query="+url.QueryEscape(expr), nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, resp.Body, 4<<20)).Decode(&r); err != nil {
		return 0, fmt.Errorf("query %s: %w", expr, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("query %s: %s %s", expr, r.Status, r.Error)
	}
	return len(r.Data.Result), nil
}

// Every panel of the Grafana dashboards shows data on a healthy fleet: each
// query, run against the fleet's real Prometheus, returns at least one
// series (a panel with "No data" on a healthy fleet is a bug).
func TestDashboardQueriesReturnData(t *testing.T) {
	f := startFleet(t, func(o *fleet.Options) { o.Nodes = 2 })
	waitSettled(t, f)
	mustRoom(t, f.Selectors[0].URL, "dashboard-room")
	prom := f.PrometheusURL()
	if prom == "" {
		t.Fatal("the fleet has no Prometheus")
	}
	for _, d := range dashboards.All() {
		for _, q := range d.Queries() {
			expr := dashboards.Expand(q.Expr, "1m")
			waitFor(t, 60*time.Second, d.UID+": "+expr, func(ctx context.Context) error {
				n, err := promSeries(ctx, prom, expr)
				if err != nil {
					return err
				}
				if n == 0 {
					return fmt.Errorf("no series")
				}
				if strings.Contains(expr, "$") {
					return fmt.Errorf("unexpanded variable")
				}
				return nil
			})
		}
	}
}
