package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
)

// wrkDuration is the load phase's length; E2E_WRK_SECONDS shortens it for a
// quick local run.
func wrkDuration(t *testing.T) time.Duration {
	if s := os.Getenv("E2E_WRK_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("E2E_WRK_SECONDS=%q: want a positive number of seconds", s)
		}
		return time.Duration(n) * time.Second
	}
	return 30 * time.Second
}

// The load phase: wrk against both selectors while one node flaps every
// second (drained and undrained through its sidecar's API, which Consul
// shows at once; a health-check flap is damped by Consul's one-second
// minimum check interval and two successes before passing). Every answer must be 200, or the documented 503 (no node can take
// the room); the selectors must end with no more goroutines than they began.
func TestLoadPhase(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Fatalf("wrk not found (run scripts/install-deps.sh): %v", err)
	}
	f := startFleet(t, nil)
	waitSettled(t, f)
	before := goroutines(t, f)

	flapper := f.Nodes[len(f.Nodes)-1]
	ctx, stopFlap := context.WithCancel(context.Background())
	var flaps sync.WaitGroup
	flaps.Add(1)
	go func() {
		defer flaps.Done()
		serving := true
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			serving = !serving
			flip := flapper.Undrain
			if !serving {
				flip = flapper.Drain
			}
			if err := flip(context.Background()); err != nil {
				t.Errorf("flap %s: %v", flapper.ID, err)
				return
			}
		}
	}()

	// Count the flapping node's state changes as a selector shows them, to
	// prove the fleet really changed under the load.
	var changes int
	flaps.Add(1)
	go func() {
		defer flaps.Done()
		last := eligible
		for ctx.Err() == nil {
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			ns, err := nodes(qctx, f.Selectors[0].URL)
			cancel()
			if err == nil && ns[flapper.ID].State != last {
				last = ns[flapper.ID].State
				changes++
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	d := wrkDuration(t)
	results := make([]wrkResult, len(f.Selectors))
	var runs sync.WaitGroup
	for i, s := range f.Selectors {
		runs.Add(1)
		go func() {
			defer runs.Done()
			results[i] = runWrk(t, wrk, s.URL, d)
		}()
	}
	runs.Wait()
	stopFlap()
	flaps.Wait()
	if err := flapper.Undrain(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s changed state %d times during the load", flapper.ID, changes)
	if changes < 2 {
		t.Errorf("%s changed state only %d times in %v: the flapping did not reach the selectors", flapper.ID, changes, d)
	}

	for i, r := range results {
		name := f.Selectors[i].Name
		t.Logf("%s: %d requests, %.0f req/s, p99 %.2f ms, statuses %v", name, r.total(), float64(r.total())/d.Seconds(), r.p99ms, r.codes)
		if r.total() == 0 {
			t.Errorf("%s: wrk made no requests", name)
		}
		for code, n := range r.codes {
			if code != http.StatusOK && code != http.StatusServiceUnavailable {
				t.Errorf("%s: %d answers with status %d", name, n, code)
			}
		}
		if r.socketErrors != "" {
			t.Errorf("%s: %s", name, r.socketErrors)
		}
		measured(t, "wrk-"+name+"-p99", time.Duration(r.p99ms*float64(time.Millisecond)))
	}

	// Connections from wrk close when it exits; give the selectors a moment
	// to notice, then compare. The selectors may keep a few more idle
	// keep-alive connections to Consul and Prometheus than before (two
	// goroutines each, at most GOMAXPROCS+1 per host in consul/api's pool);
	// a leak after some 40,000 requests would show as hundreds.
	const slack = 8
	waitFor(t, 15*time.Second, "goroutines back to their level before the load", func(ctx context.Context) error {
		after := goroutines(t, f)
		for name, b := range before {
			if a := after[name]; a > b+slack {
				return fmt.Errorf("%s: %v goroutines before, %v after", name, b, a)
			}
		}
		t.Logf("goroutines before %v, after %v", before, after)
		return nil
	})
}

// goroutines reads go_goroutines from every selector.
// The test's own idle keep-alive connections are closed first, so both
// readings count the same single scrape connection.
func goroutines(t *testing.T, f *fleet.Fleet) map[string]float64 {
	t.Helper()
	client.CloseIdleConnections()
	out := map[string]float64{}
	for _, s := range f.Selectors {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := metric(ctx, s.URL+"/metrics", "go_goroutines", nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		out[s.Name] = v
	}
	return out
}

type wrkResult struct {
	codes        map[int]int
	p99ms        float64
	socketErrors string
}

func (r wrkResult) total() int {
	n := 0
	for _, c := range r.codes {
		n += c
	}
	return n
}

// runWrk runs wrk with testdata/rooms.lua against url for d.
func runWrk(t *testing.T, wrk, url string, d time.Duration) wrkResult {
	cmd := exec.Command(wrk, "-t1", "-c8", "-d"+strconv.Itoa(int(d.Seconds()))+"s", "--timeout", "5s",
		"-s", "testdata/rooms.lua", url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("wrk: %v\n%s", err, out)
		return wrkResult{}
	}
	r := wrkResult{codes: map[int]int{}}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		var code, n int
		var p99 float64
		switch {
		case strings.HasPrefix(line, "Socket errors:"):
			r.socketErrors = line
		case strings.HasPrefix(line, "status "):
			if _, err := fmt.Sscanf(line, "status %d %d", &code, &n); err == nil {
				r.codes[code] += n
			}
		case strings.HasPrefix(line, "p99_ms "):
			if _, err := fmt.Sscanf(line, "p99_ms %f", &p99); err == nil {
				r.p99ms = p99
			}
		}
	}
	return r
}
