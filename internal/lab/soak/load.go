package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// loadOptions shapes the client population.
type loadOptions struct {
	// URL is the balancer's base URL.
	URL string
	// Replicas are the selectors, asked directly by the split probe.
	Replicas []backend
	// Rate is the requests per second sent through the balancer.
	Rate float64
	// NewShare is the share of requests that start a meeting; the others
	// join a running one.
	NewShare float64
	// Hosts maps a node's public host:port to its ID, to read redirects.
	Hosts map[string]string
	// Meeting starts a meeting of size on node and returns its end; the
	// soak runs it so that drains have meetings to wait for and the bridge
	// stress moves. nil starts none.
	Meeting func(ctx context.Context, node string, size int) (end func(), err error)
	// MeetingMin and MeetingMax bound a meeting's length.
	MeetingMin, MeetingMax time.Duration
	// Seed drives room choice and meeting lengths.
	Seed uint64
	// MaxInFlight bounds concurrent requests; a tick finding it full is
	// counted as skipped (the rate then is not what was asked).
	MaxInFlight int
	// ProbeEvery is how often one running room is asked of every replica
	// directly; 0 disables the probe.
	ProbeEvery time.Duration
}

type meeting struct {
	room string
	ends time.Time
}

// load is a running client population.
type load struct {
	o      loadOptions
	client *http.Client
	// probes asks the replicas directly, once a second, without keeping
	// connections open to them (they would count as the replica's own
	// goroutines and files in its samples).
	probes *http.Client

	mu       sync.Mutex
	rng      *rand.Rand
	answers  []Answer
	meetings []meeting
	skipped  int
	seq      int
}

// runLoad sends requests until ctx ends, waits for those in flight and
// for the meetings it started to end, and returns every answer and the
// ticks skipped because MaxInFlight requests were outstanding.
func runLoad(ctx context.Context, o loadOptions) ([]Answer, int) {
	l := &load{
		o: o,
		client: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     &http.Transport{MaxIdleConnsPerHost: o.MaxInFlight, IdleConnTimeout: 30 * time.Second},
		},
		rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x5851f42d4c957f2d)),
	}
	l.probes = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	defer l.client.CloseIdleConnections()
	var reqs, meetings sync.WaitGroup
	sem := make(chan struct{}, o.MaxInFlight)
	tick := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
	defer tick.Stop()
	var probe <-chan time.Time
	if o.ProbeEvery > 0 {
		pt := time.NewTicker(o.ProbeEvery)
		defer pt.Stop()
		probe = pt.C
	}
	for {
		select {
		case <-ctx.Done():
			reqs.Wait()
			meetings.Wait() // they end at once now that ctx is done
			return l.answers, l.skipped
		case <-probe:
			if room := l.runningRoom(); room != "" {
				reqs.Go(func() { l.probe(room) })
			}
			continue
		case <-tick.C:
		}
		select {
		case sem <- struct{}{}:
		default:
			l.mu.Lock()
			l.skipped++
			l.mu.Unlock()
			continue
		}
		kind, room := l.next()
		reqs.Go(func() {
			defer func() { <-sem }()
			a := l.ask(kind, room)
			if kind == "new" && a.ok() {
				l.startMeeting(ctx, room, a.Node, &meetings)
			}
		})
	}
}

// next draws the next request: a new room, or a running meeting's room.
func (l *load) next() (kind, room string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	kept := l.meetings[:0]
	for _, m := range l.meetings {
		if m.ends.After(now) {
			kept = append(kept, m)
		}
	}
	l.meetings = kept
	if len(l.meetings) == 0 || l.rng.Float64() < l.o.NewShare {
		l.seq++
		return "new", fmt.Sprintf("soak-%x-%d", l.o.Seed&0xffffff, l.seq)
	}
	return "join", l.meetings[l.rng.IntN(len(l.meetings))].room
}

func (l *load) runningRoom() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.meetings) == 0 {
		return ""
	}
	return l.meetings[l.rng.IntN(len(l.meetings))].room
}

// startMeeting makes the room joinable for a random length and, with
// Meeting set, runs it on its node for that long.
func (l *load) startMeeting(stop context.Context, room, node string, wg *sync.WaitGroup) {
	l.mu.Lock()
	hold := l.o.MeetingMin + time.Duration(l.rng.Int64N(int64(l.o.MeetingMax-l.o.MeetingMin)+1))
	size := 2 + l.rng.IntN(7)
	l.meetings = append(l.meetings, meeting{room: room, ends: time.Now().Add(hold)})
	l.mu.Unlock()
	if l.o.Meeting == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	end, err := l.o.Meeting(ctx, node, size)
	cancel()
	if err != nil {
		return // a frozen or faulted node: the meeting is only not emulated
	}
	wg.Go(func() {
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-stop.Done():
		}
		end()
	})
}

func (l *load) record(a Answer) {
	l.mu.Lock()
	l.answers = append(l.answers, a)
	l.mu.Unlock()
}

// ask sends one user's request through the balancer and records it.
func (l *load) ask(kind, room string) Answer {
	a := Answer{Kind: kind, Room: room, Start: time.Now()}
	defer func() { l.record(a) }()
	req, err := http.NewRequest(http.MethodGet, l.o.URL+"/"+room, nil)
	if err != nil {
		a.End, a.Err = time.Now(), err.Error()
		return a
	}
	resp, err := l.client.Do(req)
	a.End = time.Now()
	if err != nil {
		a.Err = err.Error()
		return a
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	a.Status, a.Replica = resp.StatusCode, resp.Header.Get(replicaHeader)
	switch resp.StatusCode {
	case http.StatusFound:
		a.Node, a.Err = l.nodeOf(resp.Header.Get("Location"), room)
	default:
		a.Reason = errorCode(body)
	}
	return a
}

// nodeOf maps a redirect to the node it names, checking that it keeps the
// room.
func (l *load) nodeOf(location, room string) (string, string) {
	u, err := url.Parse(location)
	if err != nil {
		return "", "bad Location: " + err.Error()
	}
	node, ok := l.o.Hosts[u.Host]
	if !ok {
		return "", "Location names no node: " + location
	}
	if u.Path != "/"+room {
		return "", "Location lost the room: " + location
	}
	return node, ""
}

// errorCode reads the selector's {"error":{"code":...}} body.
func errorCode(body []byte) string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		return ""
	}
	return e.Error.Code
}

// probe asks every replica directly, at once, where room is; the answers
// that name a node go into the record (Kind "probe") for the split check.
func (l *load) probe(room string) {
	var wg sync.WaitGroup
	for _, r := range l.o.Replicas {
		wg.Go(func() {
			a := Answer{Kind: "probe", Room: room, Replica: r.Name, Start: time.Now()}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.URL+"/api/v1/rooms/"+room, nil)
			if err != nil {
				return
			}
			resp, err := l.probes.Do(req)
			if err != nil {
				return // a replica that is down answers no one
			}
			defer resp.Body.Close()
			var p struct {
				Node string `json:"node"`
			}
			if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&p) != nil {
				return
			}
			a.End, a.Status, a.Node = time.Now(), resp.StatusCode, p.Node
			l.record(a)
		})
	}
	wg.Wait()
}
