package imagecheck_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/ensemble-jitsi/ensemble/internal/lab/imagecheck"
)

// fakeConsul answers the Consul HTTP paths in files with testdata/consul/<file>. The health
// endpoint refuses a query without ?passing: the checks rely on Consul's filter.
func fakeConsul(t *testing.T, files map[string]string) *api.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/v1/health/") && !r.URL.Query().Has("passing") {
			http.Error(w, "the check must ask for passing instances", http.StatusBadRequest)
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", "consul", file))
		if err != nil {
			t.Errorf("fixture: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Consul-Index", "42")
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	c, err := api.NewClient(&api.Config{Address: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	nodeA = "https://node-a.ci.invalid"
	nodeB = "https://node-b.ci.invalid"
)

func TestPassing(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		check         func(*api.Health) func(context.Context) error
		wantErr       string
	}{
		{"both wanted, both passing", "health-both.json", wantBoth, ""},
		{"both wanted, the order of --want does not matter", "health-both.json",
			func(h *api.Health) func(context.Context) error {
				return imagecheck.WantPassing(h, "jitsi", []string{nodeB, nodeA})
			}, ""},
		{"both wanted, one passing", "health-a.json", wantBoth, `passing jitsi instances: ["https://node-a.ci.invalid"], want`},
		{"both wanted, the broken node passing too", "health-three.json", wantBoth, `"https://node-c.ci.invalid"], want`},
		{"node-b must not pass, it does", "health-both.json", notB, "https://node-b.ci.invalid is still passing"},
		{"node-b must not pass, it does not", "health-a.json", notB, ""},
		{"no such service", "", wantBoth, "Unexpected response code: 404"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeConsul(t, map[string]string{"/v1/health/service/jitsi": tc.fixture})
			if tc.fixture == "" {
				c = fakeConsul(t, nil)
			}
			err := tc.check(c.Health())(context.Background())
			assertErr(t, err, tc.wantErr)
		})
	}
}

func wantBoth(h *api.Health) func(context.Context) error {
	return imagecheck.WantPassing(h, "jitsi", []string{nodeA, nodeB})
}

func notB(h *api.Health) func(context.Context) error {
	return imagecheck.WantNotPassing(h, "jitsi", nodeB)
}

func TestCreateIndex(t *testing.T) {
	for _, tc := range []struct {
		name, fixture, url string
		want               uint64
		wantErr            string
	}{
		{"node-a", "catalog-service.json", nodeA, 17, ""},
		{"node-b", "catalog-service.json", nodeB, 23, ""},
		{"not registered", "catalog-service.json", "https://node-c.ci.invalid", 0, "0 instances of jitsi with public_url https://node-c.ci.invalid"},
		{"registered twice", "catalog-service-twice.json", nodeB, 0, "2 instances of jitsi with public_url https://node-b.ci.invalid in the catalog (CreateIndex [23 9])"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := fakeConsul(t, map[string]string{"/v1/catalog/service/jitsi": tc.fixture})
			got, err := imagecheck.CreateIndex(context.Background(), c.Catalog(), "jitsi", tc.url)
			assertErr(t, err, tc.wantErr)
			if got != tc.want {
				t.Errorf("CreateIndex = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestNodeAbsent(t *testing.T) {
	for _, tc := range []struct{ fixture, wantErr string }{
		{"catalog-nodes.json", ""},
		{"catalog-nodes-with-c.json", "node node-c is in the catalog (address 172.31.251.13)"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			c := fakeConsul(t, map[string]string{"/v1/catalog/nodes": tc.fixture})
			assertErr(t, imagecheck.NodeAbsent(c.Catalog(), "node-c")(context.Background()), tc.wantErr)
		})
	}
}

// assertErr fails unless err is nil (wantErr empty) or contains wantErr.
func assertErr(t *testing.T, err error, wantErr string) {
	t.Helper()
	switch {
	case wantErr == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case wantErr != "" && err == nil:
		t.Fatalf("no error, want one containing %q", wantErr)
	case wantErr != "" && !strings.Contains(err.Error(), wantErr):
		t.Fatalf("error %q, want one containing %q", err, wantErr)
	}
}
