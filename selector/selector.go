package selector

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ensemble-jitsi/ensemble/internal/httpserve"
	"github.com/ensemble-jitsi/ensemble/internal/registration"
	"github.com/ensemble-jitsi/ensemble/selector/catalog"
	"github.com/ensemble-jitsi/ensemble/selector/clientrate"
	"github.com/ensemble-jitsi/ensemble/selector/consulrooms"
	"github.com/ensemble-jitsi/ensemble/selector/load"
	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// unknownAge marks a node without load data; placement treats any age above MaxAge as unknown.
const unknownAge = time.Duration(math.MaxInt64)

// view is what one request reads: the catalog and the placement snapshot built from it and the load data.
// It is immutable and swapped atomically.
type view struct {
	cat   *catalog.Snapshot
	place *placement.Snapshot
}

// loadState is the latest result of the load source.
type loadState struct {
	samples map[string]load.Sample
	err     error
}

// Selector is one running selector. Build it with New; Run serves it.
type Selector struct {
	opts     Options
	logger   *slog.Logger
	metrics  *metrics
	watcher  *catalog.Watcher
	source   load.Source
	scorer   load.Scorer
	ledger   *placement.Ledger
	policy   placement.Policy
	store    rooms.Store // nil with --rooms.store=none
	resolver *rooms.Resolver
	// history reads the previous days' demand (nil with --fleet.history-days=0); ahead is its last answer.
	history *history
	ahead   atomic.Pointer[aheadState]

	// limiter and proxies limit room creation per client; limiter is nil when off.
	limiter *clientrate.Limiter
	proxies clientrate.Proxies
	// liveCount is the live bindings at the last sweep (stores that cannot count them at once),
	// countedAt when that sweep ran (unix nanoseconds; 0 before the first), created the bindings
	// this replica has created, and createdAtSweep what created was when that sweep began:
	// liveRooms adds the creations since, so --limits.max-rooms holds between sweeps.
	liveCount, created, createdAtSweep atomic.Int64
	countedAt                          atomic.Int64

	// contact is when Consul last answered (the watcher's; tests may replace it).
	contact func() time.Time

	view   atomic.Pointer[view]
	loaded atomic.Pointer[loadState]
	counts atomic.Pointer[map[string]int]
	// newNodes wakes the load poller early (capacity 1).
	newNodes chan struct{}
	// storeWarn limits the log lines about binding-store failures.
	storeWarn *rate.Limiter
	buildMu   sync.Mutex // serialises rebuilds so a slow one cannot overwrite a newer one

	// degraded holds one flag per reason; the map itself never changes after New, so reads need no lock.
	degraded map[string]*atomic.Bool
	// decided counts decisions by outcome for the configured policy, looked up once here rather than per
	// request.
	decided map[string]prometheus.Counter
	score   prometheus.Observer

	// statusWriters and roomBuffers recycle what every request would otherwise allocate: the status
	// recorder of instrument and the body of a room answer.
	statusWriters sync.Pool // *statusWriter
	roomBuffers   sync.Pool // *[]byte
}

// New checks opts and builds a Selector without starting anything.
func New(opts Options) (*Selector, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("selector options: %w", err)
	}
	s := &Selector{opts: opts, logger: opts.Logger, degraded: map[string]*atomic.Bool{}, decided: map[string]prometheus.Counter{},
		newNodes: make(chan struct{}, 1), storeWarn: rate.NewLimiter(rate.Every(10*time.Second), 1)}
	s.metrics = newMetrics(opts.Registry, opts.Version)
	for _, r := range degradedReasons {
		s.degraded[r] = new(atomic.Bool)
	}
	for _, o := range outcomes {
		s.decided[o] = s.metrics.decisions.WithLabelValues(opts.Policy, o)
	}
	s.score = s.metrics.decisionScore.WithLabelValues(opts.Policy)

	var err error
	if s.policy, err = placement.Builtin().Get(opts.Policy); err != nil {
		return nil, err
	}
	if s.ledger, err = placement.NewLedger(opts.Placement, opts.Now); err != nil {
		return nil, err
	}
	if s.scorer, err = load.NewScorer(opts.LoadScore); err != nil {
		return nil, err
	}
	lc := load.Config{
		PrometheusURL: opts.PrometheusURL,
		Queries:       opts.Queries,
		Timeout:       opts.LoadTimeout,
		Scheme:        opts.LoadDirectScheme,
		Logger:        opts.Logger.With("load_source", opts.LoadSource),
		Now:           opts.Now,
	}
	if lc.HTTPClient, lc.BasicAuthUser, lc.BasicAuthPassword, err = directClient(opts); err != nil {
		return nil, err
	}
	s.source, err = load.Builtin().New(opts.LoadSource, lc)
	if err != nil {
		return nil, err
	}
	if s.history, err = newHistory(opts, lc.HTTPClient.Transport); err != nil {
		return nil, err
	}

	if opts.LimitsRoomRate > 0 {
		s.limiter = clientrate.New(opts.LimitsRoomRate, opts.LimitsRoomBurst, opts.LimitsClients)
		opts.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Name: "limiter_table_full_total",
			Help: "New clients that found the room-creation limiter's table (--limits.clients) full of active clients and replaced the least recently seen one; a steady rise means more addresses than the table holds are creating rooms.",
		}, func() float64 { return float64(s.limiter.TableFull()) }))
		if s.proxies, err = clientrate.ParseProxies(opts.LimitsTrustedProxies); err != nil {
			return nil, fmt.Errorf("limits.trusted-proxies: %w", err)
		}
	}

	copts := catalog.DefaultOptions()
	copts.Service = opts.ConsulService
	copts.Now = opts.Now
	copts.Unbound = opts.NodesUnbound
	if copts.AllowedDomains, err = registration.ParseDomains(opts.NodesAllowedDomains); err != nil {
		return nil, fmt.Errorf("nodes.allowed-domains: %w", err)
	}
	// A blocking query can only notice a silently dead Consul when it times out, so wait at most a
	// quarter of the staleness budget.
	copts.WaitTime = min(max(opts.CatalogMaxStaleness/4, time.Second), 5*time.Minute)
	copts.MaxBackoff = min(copts.MaxBackoff, max(opts.CatalogMaxStaleness/4, copts.MinBackoff))
	// A node that leaves the catalog is held like a gone one: keep it past the move delay.
	copts.KeepMissing = 2 * opts.RoomsMoveAfter
	s.watcher, err = catalog.New(opts.Consul, copts, catalog.Hooks{
		Error: func(error) {
			s.metrics.consulErrors.WithLabelValues("watch").Inc()
			s.setDegraded(reasonConsul, true, "Consul watch failing; serving the last catalog")
		},
		Contact: func(index uint64) {
			s.metrics.catalogIndex.Set(float64(index))
			s.setDegraded(reasonConsul, false, "")
		},
		Ignored:   func(string, error) { s.metrics.ignored.Inc() },
		Conflicts: func(n int) { s.metrics.conflicts.Set(float64(n)) },
		Changed: func(c *catalog.Snapshot) {
			s.rebuild()
			s.noticeNodes(c)
		},
	}, opts.Logger.With("component", "catalog"))
	if err != nil {
		return nil, err
	}
	s.contact = s.watcher.LastContact

	switch opts.RoomsStore {
	case StoreMemory:
		if s.store, err = rooms.NewMemory(opts.RoomsTTL, opts.RoomsUnjoinedTTL, opts.Now); err != nil {
			return nil, err
		}
	case StoreConsul:
		o := consulrooms.DefaultOptions()
		o.Prefix, o.TTL, o.Unjoined, o.Now = opts.RoomsPrefix, opts.RoomsTTL, opts.RoomsUnjoinedTTL, opts.Now
		if s.store, err = consulrooms.New(opts.Consul, o); err != nil {
			return nil, err
		}
	}
	if s.store != nil {
		s.resolver, err = rooms.NewResolver(rooms.ResolverOptions{
			Store: s.store, Policy: s.policy, Now: opts.Now, TouchEvery: min(rooms.DefaultTouchEvery, opts.RoomsTTL/4),
			MoveAfter: opts.RoomsMoveAfter, Deadline: rooms.DefaultDeadline,
			Logger: opts.Logger.With("component", "rooms"), Neighbours: opts.RegionNeighbours,
		})
		if err != nil {
			return nil, err
		}
	}
	opts.Registry.MustRegister(newFleetCollector(s))
	return s, nil
}

// Run builds a Selector from opts and serves it until ctx ends.
func Run(ctx context.Context, opts Options) error {
	s, err := New(opts)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

// Run binds the listeners, starts the catalog watch, the load poller and the binding sweeper, and serves
// HTTP until ctx ends; then it shuts the server down gracefully.
func (s *Selector) Run(ctx context.Context) error {
	listeners, err := httpserve.Listen(ctx, s.opts.ListenAddresses, s.logger)
	if err != nil {
		return err
	}
	addrs := httpserve.Addrs(listeners)
	if s.opts.OnListen != nil {
		s.opts.OnListen(addrs)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var watchErr error // set before wg.Wait returns
	wg.Go(func() {
		err := s.watcher.Run(ctx)
		if ctx.Err() == nil {
			// The watch ended on its own: the selector can no longer follow the fleet, so it stops.
			watchErr = errors.Join(errors.New("catalog watch stopped"), err)
			cancel()
		}
	})
	wg.Go(func() { s.pollLoad(ctx) })
	if s.history != nil {
		wg.Go(func() {
			s.refreshHistory(ctx)
			every(ctx, s.opts.FleetHistoryInterval, func() { s.refreshHistory(ctx) })
		})
	}
	// Flip the catalog_stale state when Consul has been silent too long, so the metric and the log line do
	// not wait for the next request.
	wg.Go(func() {
		every(ctx, max(s.opts.CatalogMaxStaleness/10, 100*time.Millisecond), func() { s.catalogFresh() })
	})
	// Sweeps drop expired bindings and count the live ones per node for /api/v1/nodes; at most a minute
	// apart so the counts stay current with a TTL of hours.
	sweepEvery := min(max(s.opts.RoomsTTL/10, time.Second), time.Minute)
	if s.store != nil {
		roomsLog := s.logger.With("component", "rooms")
		sweep := func() {
			// Creations during the sweep may be counted twice (in its total and after it): the
			// cap errs on the safe side until the next sweep.
			createdBefore := s.created.Load()
			m, err := s.store.Sweep(ctx)
			if err != nil && ctx.Err() == nil {
				roomsLog.Warn("room binding sweep failed", "err", err)
			}
			if m != nil {
				s.countedAt.Store(s.opts.Now().UnixNano()) // before the counts: never newer counts with an older time
				s.counts.Store(&m)
				total := 0
				for _, n := range m {
					total += n
				}
				s.liveCount.Store(int64(total))
				s.createdAtSweep.Store(createdBefore)
			}
		}
		wg.Go(func() { sweep(); every(ctx, sweepEvery, sweep) })
		if w, ok := s.store.(rooms.Watcher); ok {
			wg.Go(func() { w.Watch(ctx, roomsLog) })
		}
	}

	// One server per listener (internal/httpserve): exporter-toolkit's Serve wraps the server's handler in
	// place, which two listeners sharing one server would race on.
	servers, err := httpserve.Start(listeners, httpserve.Options{
		Handler: s.handler(), WebConfigFile: s.opts.WebConfigFile, Logger: s.logger,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout, ReadTimeout: s.opts.ReadTimeout,
		WriteTimeout: s.opts.WriteTimeout, IdleTimeout: s.opts.IdleTimeout, MaxHeaderBytes: s.opts.MaxHeaderBytes,
	})
	if err != nil {
		cancel()
		wg.Wait()
		for _, l := range listeners {
			_ = l.Close()
		}
		return err
	}
	select {
	case <-ctx.Done():
	case err = <-servers.Err():
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(s.opts.ShutdownTimeout, httpserve.DefaultShutdownTimeout))
	defer stop()
	shutdownErr := servers.Shutdown(shutdownCtx)
	wg.Wait()
	return errors.Join(err, watchErr, shutdownErr)
}

// pollLoad reads the load source every interval and rebuilds the view. A failing source keeps the last
// samples: they age out through --load.max-age, after which placement runs on pending accounts only.
func (s *Selector) pollLoad(ctx context.Context) {
	t := time.NewTicker(s.opts.PrometheusInterval)
	defer t.Stop()
	for {
		var nodes []catalog.Node
		if c := s.watcher.Snapshot(); c != nil {
			nodes = c.Nodes
		}
		samples, err := s.source.Fetch(ctx, nodes)
		if ctx.Err() != nil {
			return
		}
		st := &loadState{samples: samples, err: err}
		if err != nil {
			s.metrics.loadErrors.WithLabelValues(s.source.Name()).Inc()
			if prev := s.loaded.Load(); prev != nil {
				st.samples = prev.samples
			}
		}
		s.loaded.Store(st)
		s.rebuild()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.newNodes:
		}
	}
}

// noticeNodes wakes the load poller when the catalog has a node without any load data (at start, or a
// node that just joined), instead of leaving it out of placement until the next interval.
func (s *Selector) noticeNodes(cat *catalog.Snapshot) {
	var samples map[string]load.Sample
	if st := s.loaded.Load(); st != nil {
		samples = st.samples
	}
	for _, n := range cat.Nodes {
		if _, ok := samples[n.ID]; !ok && n.State != placement.Gone {
			select {
			case s.newNodes <- struct{}{}:
			default: // a wake-up is already pending
			}
			return
		}
	}
}

// every calls f every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f()
		}
	}
}

// catalogFresh reports whether the catalog may be used, and keeps the catalog_stale state up to date.
func (s *Selector) catalogFresh() bool {
	c := s.contact()
	fresh := !c.IsZero() && s.opts.Now().Sub(c) <= s.opts.CatalogMaxStaleness && s.view.Load() != nil
	if !c.IsZero() {
		s.setDegraded(reasonCatalogStale, !fresh, "Consul silent for longer than --catalog.max-staleness; refusing rooms")
	}
	return fresh
}

// rebuild makes a new view from the latest catalog and load samples.
func (s *Selector) rebuild() {
	s.buildMu.Lock()
	defer s.buildMu.Unlock()
	cat := s.watcher.Snapshot()
	if cat == nil {
		return
	}
	s.publish(cat)
}

// publish builds and swaps in the view of cat. buildMu is held (or, in tests, nothing else builds).
func (s *Selector) publish(cat *catalog.Snapshot) {
	now := s.opts.Now()
	var samples map[string]load.Sample
	var loadErr error
	if st := s.loaded.Load(); st != nil {
		samples, loadErr = st.samples, st.err
	}
	nodes := make([]placement.Node, len(cat.Nodes))
	for i, c := range cat.Nodes {
		n := placement.Node{
			ID: c.ID, URL: c.PublicURL, Region: c.Region, Capacity: c.Capacity, State: c.State, LiveSince: c.LiveSince, GoneSince: c.GoneSince,
			GoneIndex: c.GoneIndex,
			Load:      math.NaN(), Stress: math.NaN(), Age: unknownAge,
		}
		if smp, ok := samples[c.ID]; ok && !smp.At.IsZero() {
			n.Load, n.Stress, n.Age = s.scorer(smp), smp.Stress, now.Sub(smp.At)
			if e := smp.Endpoints; e >= 0 && e < math.MaxInt32 {
				n.Endpoints = int(e)
			}
		}
		nodes[i] = n
	}
	place := s.ledger.Snapshot(nodes)
	s.view.Store(&view{cat: cat, place: place})

	eligible := cat.Count(placement.Eligible) > 0
	switch {
	case loadErr != nil:
		s.setDegraded(reasonLoad, true, "load source failing; placing by pending accounts once the data is older than --load.max-age", "err", loadErr)
	case eligible && place.Degraded():
		s.setDegraded(reasonLoad, true, "no fresh load data for any eligible node; placing by pending accounts only")
	default:
		s.setDegraded(reasonLoad, false, "")
	}
	saturated := eligible
	hw := s.opts.Placement.HighWater
	for i, n := range place.Nodes() {
		if sc := place.Score(i); n.State == placement.Eligible && !math.IsNaN(sc) && sc < hw {
			saturated = false
			break
		}
	}
	s.metrics.saturated.Set(b2f(saturated))
}

// setDegraded records a degraded state and logs once per transition.
func (s *Selector) setDegraded(reason string, on bool, msg string, args ...any) {
	if s.degraded[reason].Swap(on) == on {
		return
	}
	s.metrics.degraded.WithLabelValues(reason).Set(b2f(on))
	if on {
		s.logger.Warn("degraded: "+msg, append([]any{"reason", reason}, args...)...)
	} else {
		s.logger.Info("recovered", "reason", reason)
	}
}

// degradedReasons returns the reasons currently in force.
func (s *Selector) degradedNow() []string {
	out := []string{}
	for _, r := range degradedReasons {
		if s.degraded[r].Load() {
			out = append(out, r)
		}
	}
	return out
}

// roomCounts returns the bindings per node, or nil without a store, and when they were counted:
// the zero time when they are live (the memory store), the last sweep's time otherwise (the
// Consul store, which counts only by listing its KV folder).
func (s *Selector) roomCounts() (map[string]int, time.Time) {
	if c, ok := s.store.(rooms.Counter); ok {
		return c.Counts(), time.Time{}
	}
	if m := s.counts.Load(); m != nil {
		return *m, time.Unix(0, s.countedAt.Load())
	}
	return nil, time.Time{}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// directClient returns the HTTP client and credentials of the direct load source: the CA file's
// roots for https, and the basic-auth password read from its file.
func directClient(o Options) (*http.Client, string, string, error) {
	c := &http.Client{Timeout: o.LoadTimeout}
	if o.LoadDirectCAFile != "" {
		pem, err := os.ReadFile(o.LoadDirectCAFile)
		if err != nil {
			return nil, "", "", fmt.Errorf("load.direct.ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, "", "", fmt.Errorf("load.direct.ca-file %s: no PEM certificate", o.LoadDirectCAFile)
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		c.Transport = t
	}
	if (o.LoadDirectBasicAuthUser == "") != (o.LoadDirectBasicAuthPasswordFile == "") {
		return nil, "", "", errors.New("load.direct.basic-auth-user and load.direct.basic-auth-password-file go together")
	}
	if o.LoadDirectBasicAuthUser == "" {
		return c, "", "", nil
	}
	b, err := os.ReadFile(o.LoadDirectBasicAuthPasswordFile)
	if err != nil {
		return nil, "", "", fmt.Errorf("load.direct.basic-auth-password-file: %w", err)
	}
	return c, o.LoadDirectBasicAuthUser, strings.TrimRight(string(b), "\r\n"), nil
}
