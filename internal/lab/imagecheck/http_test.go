package imagecheck_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/imagecheck"
)

// serveFile answers every request with testdata/<file> (status 200).
func serveFile(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(b) })
}

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestMetrics(t *testing.T) {
	want := map[string]float64{"ensemble_jvb_up": 1, "ensemble_nginx_up": 1}
	for _, tc := range []struct{ fixture, wantErr string }{
		{"up.txt", ""},
		{"jvb-down.txt", "ensemble_jvb_up is 0, want 1"},
		{"no-nginx.txt", "no ensemble_nginx_up in the metrics"},
		{"labelled.txt", "ensemble_jvb_up has no sample without labels"},
		{"garbage.txt", "parsing the metrics"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			url := serveFile(t, filepath.Join("metrics", tc.fixture))
			assertErr(t, imagecheck.Metrics(http.DefaultClient, url, want)(context.Background()), tc.wantErr)
		})
	}
	t.Run("not 200", func(t *testing.T) {
		url := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusServiceUnavailable) })
		assertErr(t, imagecheck.Metrics(http.DefaultClient, url, want)(context.Background()), "status 503")
	})
}

func TestQueryIsOne(t *testing.T) {
	for _, tc := range []struct{ fixture, wantErr string }{
		{"up.json", ""},
		{"down.json", "is 0, want 1"},
		{"one-of-two-down.json", "map[instance:b job:ensemble-selector] is 0, want 1"},
		{"empty.json", "no series"},
		{"error.json", "bad_data: invalid parameter"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			url := serveFile(t, filepath.Join("prometheus", tc.fixture))
			assertErr(t, imagecheck.QueryIsOne(url, `up{job="ensemble-selector"}`)(context.Background()), tc.wantErr)
		})
	}
	t.Run("the query is sent", func(t *testing.T) {
		var got string
		url := serve(t, func(w http.ResponseWriter, r *http.Request) {
			got = r.URL.Path + "?" + r.URL.Query().Get("query")
			_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}`))
		})
		assertErr(t, imagecheck.QueryIsOne(url+"/", `up{job="x"}`)(context.Background()), "")
		if want := `/api/v1/query?up{job="x"}`; got != want {
			t.Errorf("request %q, want %q", got, want)
		}
	})
}

func TestDrainState(t *testing.T) {
	url := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"state":"draining","exiting":false,"conferences":1,"participants":3}`))
	})
	assertErr(t, imagecheck.DrainState(http.DefaultClient, url, "draining")(context.Background()), "")
	assertErr(t, imagecheck.DrainState(http.DefaultClient, url, "serving")(context.Background()), `drain state "draining", want "serving"`)
	bad := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`draining`)) })
	assertErr(t, imagecheck.DrainState(http.DefaultClient, bad, "draining")(context.Background()), "decoding the drain status")
}

// nginxLike redirects every request as the node's nginx does, to https://name/ + the path,
// with a Server header of server.
func nginxLike(t *testing.T, name, server string) string {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", server)
		http.Redirect(w, r, "https://"+name+r.URL.Path, http.StatusMovedPermanently)
	})
}

func TestRedirect(t *testing.T) {
	own := nginxLike(t, "node-a.ci.invalid", "nginx")
	hostEcho := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Server", "nginx")
		http.Redirect(w, r, "https://"+r.Host+r.URL.Path, http.StatusMovedPermanently)
	})
	versioned := nginxLike(t, "node-a.ci.invalid", "nginx/1.22.1")
	page := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("a page")) })
	want := imagecheck.Redirect{Host: "evil.example", LocationPrefix: "https://node-a.ci.invalid/some-room", Server: "nginx"}
	for _, tc := range []struct {
		name, url, wantErr string
	}{
		{"own name", own, ""},
		{"redirect follows Host", hostEcho, `redirects to "https://evil.example/some-room"`},
		{"version shown", versioned, `Server "nginx/1.22.1", want "nginx"`},
		{"no redirect", page, "200 OK, want a redirect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assertErr(t, want.Check(imagecheck.NoRedirects(), tc.url+"/some-room")(context.Background()), tc.wantErr)
		})
	}
}

// selectorLike redirects /room-N to the node pick(N) chooses.
func selectorLike(t *testing.T, pick func(room int) string) string {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/room-%d", &n); err != nil {
			http.NotFound(w, r)
			return
		}
		http.Redirect(w, r, pick(n)+r.URL.Path, http.StatusFound)
	})
}

func TestSpread(t *testing.T) {
	nodes := []string{nodeA, nodeB}
	for _, tc := range []struct {
		name    string
		pick    func(int) string
		wantErr string
	}{
		{"alternating", func(n int) string { return nodes[n%2] }, ""},
		{"all on node-a", func(int) string { return nodeA }, "the selector sent none of 12 new rooms to https://node-b.ci.invalid"},
		{"a node outside the fleet", func(n int) string {
			if n == 5 {
				return "https://node-c.ci.invalid"
			}
			return nodes[n%2]
		}, `room-5: 302 Found to "https://node-c.ci.invalid/room-5"`},
		{"the room's path lost", func(n int) string { return nodes[n%2] + "/other" }, `room-1: 302 Found to "https://node-b.ci.invalid/other/room-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := imagecheck.Spread(context.Background(), imagecheck.NoRedirects(), selectorLike(t, tc.pick), 12, nodes)
			assertErr(t, err, tc.wantErr)
			if err == nil && got[nodeA]+got[nodeB] != 12 {
				t.Errorf("counts %v, want 12 rooms in all", got)
			}
		})
	}
	t.Run("not a redirect", func(t *testing.T) {
		url := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("page")) })
		_, err := imagecheck.Spread(context.Background(), imagecheck.NoRedirects(), url, 2, nodes)
		assertErr(t, err, `room-1: 200 OK to ""`)
	})
}

func TestUntil(t *testing.T) {
	fail := errors.New("not yet")
	t.Run("a timeout of 0 tries once", func(t *testing.T) {
		tries := 0
		err := imagecheck.Until(context.Background(), 0, time.Millisecond, func(context.Context) error { tries++; return fail })
		if !errors.Is(err, fail) || tries != 1 {
			t.Fatalf("err %v after %d tries, want %v after 1", err, tries, fail)
		}
	})
	t.Run("passes once the check does", func(t *testing.T) {
		tries := 0
		err := imagecheck.Until(context.Background(), time.Minute, time.Millisecond, func(context.Context) error {
			if tries++; tries < 3 {
				return fail
			}
			return nil
		})
		if err != nil || tries != 3 {
			t.Fatalf("err %v after %d tries, want nil after 3", err, tries)
		}
	})
	t.Run("gives up at the timeout with the last error", func(t *testing.T) {
		err := imagecheck.Until(context.Background(), 20*time.Millisecond, time.Millisecond, func(context.Context) error { return fail })
		if !errors.Is(err, fail) || !strings.Contains(err.Error(), "still failing after") {
			t.Fatalf("err %v, want the last error after retries", err)
		}
	})
	t.Run("each try has a deadline", func(t *testing.T) {
		err := imagecheck.Until(context.Background(), 0, time.Millisecond, func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("no deadline")
			}
			return nil
		})
		assertErr(t, err, "")
	})
	t.Run("a cancelled context stops the retries", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := imagecheck.Until(ctx, time.Minute, time.Millisecond, func(context.Context) error { return fail })
		if !errors.Is(err, context.Canceled) || !errors.Is(err, fail) {
			t.Fatalf("err %v, want context.Canceled and the last error", err)
		}
	})
}
