package soak

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// backend is one selector replica behind the balancer.
type backend struct {
	Name, URL string
}

// replicaHeader names the replica that answered, on every answer the
// balancer relays.
const replicaHeader = "X-Soak-Replica"

// balancer is the small load balancer in front of the selector replicas:
// round robin; a replica that refuses the connection or fails mid-request
// is skipped for a second and the request goes to the next one (GET and
// HEAD only, which are safe to repeat: the room binding is create-only in
// Consul). It does not check /-/ready, so a replica's own 503 reaches the
// client, as it would behind a balancer between two health checks.
type balancer struct {
	backends []backend
	client   *http.Client
	next     atomic.Uint64

	mu   sync.Mutex
	skip map[string]time.Time

	srv *http.Server
	ln  net.Listener
}

// maxRelayed bounds an answer the balancer relays.
const maxRelayed = 1 << 20

// startBalancer listens on 127.0.0.1:0 and relays to backends.
func startBalancer(backends []backend) (*balancer, error) {
	if len(backends) == 0 {
		return nil, errors.New("balancer: no backends")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("balancer: %w", err)
	}
	b := &balancer{
		backends: backends,
		client: &http.Client{
			Timeout:       4 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     &http.Transport{MaxIdleConnsPerHost: 32, IdleConnTimeout: 30 * time.Second},
		},
		skip: map[string]time.Time{},
		ln:   ln,
	}
	b.srv = &http.Server{Handler: b, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 15 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

// URL is http://127.0.0.1:PORT.
func (b *balancer) URL() string { return "http://" + b.ln.Addr().String() }

// Close stops the balancer and closes its connections.
func (b *balancer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := b.srv.Shutdown(ctx)
	b.client.CloseIdleConnections()
	return err
}

// CloseIdle closes the balancer's idle connections to the replicas.
func (b *balancer) CloseIdle() { b.client.CloseIdleConnections() }

func (b *balancer) skipped(name string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return now.Before(b.skip[name])
}

func (b *balancer) markDown(name string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.skip[name] = now.Add(time.Second)
}

// ServeHTTP implements http.Handler.
func (b *balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "balancer relays GET and HEAD only", http.StatusMethodNotAllowed)
		return
	}
	first := int(b.next.Add(1))
	var errs []string
	// Replicas marked down are tried last rather than never, so the
	// balancer cannot talk itself out of every replica.
	order := make([]backend, 0, len(b.backends))
	var later []backend
	now := time.Now()
	for i := range b.backends {
		be := b.backends[(first+i)%len(b.backends)]
		if b.skipped(be.Name, now) {
			later = append(later, be)
		} else {
			order = append(order, be)
		}
	}
	for _, be := range append(order, later...) {
		if err := b.relay(w, r, be); err != nil {
			b.markDown(be.Name, time.Now())
			errs = append(errs, be.Name+": "+err.Error())
			if r.Context().Err() != nil {
				return
			}
			continue
		}
		return
	}
	http.Error(w, "no replica answered: "+strings.Join(errs, "; "), http.StatusBadGateway)
}

// relay forwards r to be and copies the answer to w. It returns an error,
// having written nothing, when be gave no complete answer.
func (b *balancer) relay(w http.ResponseWriter, r *http.Request, be backend) error {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, be.URL+r.URL.RequestURI(), nil)
	if err != nil {
		return err
	}
	for _, h := range []string{"Accept", "User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRelayed))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.Header().Set(replicaHeader, be.Name)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}
