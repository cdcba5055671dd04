package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ensemble-jitsi/ensemble/internal/lab/fleet"
	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
)

// What a newcomer does after `make demo`: open the selector page in a real
// Chromium, see the fleet table, press "Start a meeting", and land on an
// emulated node's https page (its nginx, with the fleet's self-signed
// certificate) that names the node the selectors agree on.
func TestNewcomerStartsMeeting(t *testing.T) {
	f := startFleet(t, func(o *fleet.Options) { o.Nodes = 2 })
	waitSettled(t, f)
	// The demo's nodes serve https with a self-signed certificate, which
	// the browser accepts.
	ctx := testenv.Browser(t)

	sel := f.Selectors[0].URL
	if err := chromedp.Do(ctx, chromedp.Navigate(sel+"/")); err != nil {
		t.Fatal(err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Poll[string](
		fmt.Sprintf(`document.querySelectorAll('#fleet-body tr[data-node]').length === %d && document.getElementById('fleet-body').innerText`, len(f.Nodes)),
		chromedp.WithPollingTimeout(15*time.Second)))
	if err != nil {
		t.Fatalf("fleet table: %v", err)
	}
	for _, n := range f.Nodes {
		if !strings.Contains(rows, n.ID) {
			t.Errorf("fleet table lacks %s: %q", n.ID, rows)
		}
	}

	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("start-button"))); err != nil {
		t.Fatal(err)
	}
	// The page navigates away, which interrupts any evaluation running at
	// that moment: ask again until the node's page answers.
	var heading string
	waitFor(t, 15*time.Second, "the node's page after Start a meeting", func(context.Context) error {
		h, err := chromedp.Run(ctx, chromedp.Evaluate[string](
			`location.protocol === 'https:' && document.querySelector('h1') ? document.querySelector('h1').textContent : ''`))
		if err != nil {
			return err
		}
		if h == "" {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			return fmt.Errorf("at %s", loc)
		}
		heading = h
		return nil
	})
	measured(t, "browser-start-meeting-to-node-page", time.Since(start))
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	n := f.Node(heading)
	if n == nil {
		t.Fatalf("landed on %s, a page naming %q, not a fleet node", loc, heading)
	}
	if !strings.HasPrefix(loc, n.PublicURL+"/") {
		t.Errorf("landed on %s, which is not under %s's public URL %s", loc, n.ID, n.PublicURL)
	}
	room := strings.TrimPrefix(u.Path, "/")
	for _, s := range f.Selectors {
		if got := mustRoom(t, s.URL, room); got != n.ID {
			t.Errorf("%s says room %s is on %s, the browser landed on %s", s.Name, room, got, n.ID)
		}
	}
	t.Logf("started meeting %s on %s (%s)", room, n.ID, loc)
}
