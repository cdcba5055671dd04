package selector

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// meetingServer stands for a node's Jitsi Meet web server: an https server on 127.0.0.1 that records
// which room paths the browser opened.
type meetingServer struct {
	srv   *httptest.Server
	mu    sync.Mutex
	paths []string
}

func startMeetingServer(t *testing.T) *meetingServer {
	m := &meetingServer{}
	m.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		m.paths = append(m.paths, r.URL.Path)
		m.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!doctype html><title>meeting</title><p id=meeting>%s</p>", strings.TrimPrefix(r.URL.Path, "/"))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *meetingServer) opened(path string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.paths {
		if p == path {
			return true
		}
	}
	return false
}

// TestWebPage drives the page in a real Chromium: the fleet table lists the nodes, "Start a meeting" opens
// a room on a registered node, and joining one name twice opens the same node; a bad name is explained
// without leaving the page.
func TestWebPage(t *testing.T) {
	consul := testenv.StartConsul(t, testenv.ConsulOptions{})
	c := consul.Client(t)
	meetings := map[string]*meetingServer{}
	var nodes []*node
	for i := range 3 {
		m := startMeetingServer(t)
		nd := addNode(t, c, fmt.Sprintf("node-%d", i), m.srv.URL, 4)
		meetings[strings.TrimPrefix(m.srv.URL, "https://")] = m
		nodes = append(nodes, nd)
	}
	in := start(t, testOptions(t, consul))
	in.waitEligible(t, nodes)

	ctx := testenv.Browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(in.url)); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Poll[string](
		`document.querySelectorAll('#fleet-body tr[data-node]').length === 3 && document.getElementById('fleet-body').innerText`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		t.Fatalf("fleet table: %v", err)
	}
	for _, nd := range nodes {
		if !strings.Contains(rows, nd.id) || !strings.Contains(rows, "eligible") {
			t.Fatalf("fleet table lacks %s: %q", nd.id, rows)
		}
	}

	// Start a meeting: the browser ends on a registered node's https URL, and that node saw the room.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("start-button"))); err != nil {
		t.Fatal(err)
	}
	href := landed(t, ctx)
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	m := meetings[u.Host]
	if m == nil || !m.opened(u.Path) || len(u.Path) < 2 {
		t.Fatalf("start a meeting landed on %s, not a room on a registered node", href)
	}
	t.Logf("started meeting at %s", href)

	// Join by name, twice: the same node.
	var hosts []string
	for range 2 {
		err := chromedp.Do(ctx, chromedp.Navigate(in.url), chromedp.WaitVisible(chromedp.ID("room")),
			chromedp.SendKeys(chromedp.ID("room"), "Team-Sync"), chromedp.Click(chromedp.ID("join-button")))
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(landed(t, ctx))
		if err != nil {
			t.Fatal(err)
		}
		if u.Path != "/team-sync" || meetings[u.Host] == nil || !meetings[u.Host].opened("/team-sync") {
			t.Fatalf("join landed on %s", u)
		}
		hosts = append(hosts, u.Host)
	}
	if hosts[0] != hosts[1] {
		t.Fatalf("joining team-sync twice went to %s then %s", hosts[0], hosts[1])
	}

	// A bad name gets an explanation and no navigation.
	err = chromedp.Do(ctx, chromedp.Navigate(in.url), chromedp.WaitVisible(chromedp.ID("room")),
		chromedp.SendKeys(chromedp.ID("room"), "bad name!"), chromedp.Click(chromedp.ID("join-button")))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Poll[string](`document.getElementById('room-error').textContent`,
		chromedp.WithPollingTimeout(5*time.Second)))
	if err != nil || !strings.Contains(msg, "letters, digits") {
		t.Fatalf("validation message %q, %v", msg, err)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, in.url) {
		t.Fatalf("a bad name navigated away to %s (%v)", loc, err)
	}
}

// landed waits until the browser is on a node's meeting page and returns its URL. It polls from Go:
// a poll inside the page would be cut off by the very navigation it waits for.
func landed(t *testing.T, ctx context.Context) string {
	t.Helper()
	var href string
	testenv.WaitFor(t, 10*time.Second, func() error {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`location.protocol === 'https:' && document.getElementById('meeting') !== null ? location.href : ''`))
		if err != nil || got == "" {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			return fmt.Errorf("browser not on a node's meeting page (at %s): %v", loc, err)
		}
		href = got
		return nil
	})
	return href
}
