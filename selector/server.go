package selector

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// contentSecurityPolicy allows only the page's own script, style and API calls. form-action allows
// https: because the join form's redirect ends on a node's public https URL, and browsers apply
// form-action to redirects.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self' https:; base-uri 'none'; frame-ancestors 'none'"

// retryAfter is what 503 answers ask clients to wait, in seconds.
const retryAfter = "5"

// handler returns the selector's handler: the router with the security headers and a shortcut for room
// lookups.
func (s *Selector) handler() http.Handler {
	r := s.router()
	room := r.Get("room").GetHandler()
	// Room lookups, nearly all of the traffic, skip the router: its match allocates a map and two
	// contexts per request, half of a lookup's allocations. roomOf accepts exactly the paths the room
	// route matches; other methods go through the router for its 405.
	return s.secure(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, ok := roomOf(req.URL.Path); ok && req.Method == http.MethodGet {
			room.ServeHTTP(w, req)
			return
		}
		r.ServeHTTP(w, req)
	}))
}

// router returns the routes. Paths are not cleaned (SkipClean): a room is exactly one path segment, and
// the router must never answer with a redirect of its own making.
func (s *Selector) router() *mux.Router {
	r := mux.NewRouter().SkipClean(true)
	route := func(name, path string, h http.HandlerFunc, methods ...string) {
		r.Handle(path, s.instrument(name, h)).Methods(methods...)
	}
	r.Handle(roomsPath+"{room}", s.instrument("room", s.handleRoom)).Methods(http.MethodGet).Name("room")
	route("new_room", "/api/v1/rooms", s.handleNewRoom, http.MethodPost)
	route("nodes", "/api/v1/nodes", s.handleNodes, http.MethodGet)
	route("sd", "/api/v1/sd", s.handleSD, http.MethodGet)
	r.Handle("/metrics", s.instrument("metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{
		ErrorLog: promLogger{s.logger}, ErrorHandling: promhttp.ContinueOnError, MaxRequestsInFlight: 4, Timeout: 10 * time.Second,
	}).ServeHTTP)).Methods(http.MethodGet)
	route("healthy", "/-/healthy", s.handleHealthy, http.MethodGet, http.MethodHead)
	route("ready", "/-/ready", s.handleReady, http.MethodGet, http.MethodHead)
	r.PathPrefix("/static/").Handler(s.instrument("static", s.staticHandler())).Methods(http.MethodGet, http.MethodHead)
	route("index", "/", s.handleIndex, http.MethodGet, http.MethodHead)
	route("redirect", "/{room}", s.handleRedirect, http.MethodGet, http.MethodHead)
	r.NotFoundHandler = s.instrument("not_found", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	r.MethodNotAllowedHandler = s.instrument("method_not_allowed", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
	})
	return r
}

// Security headers of every response, as canonical header slices shared by all requests (never modified).
var (
	cspHeader       = []string{contentSecurityPolicy}
	nosniffHeader   = []string{"nosniff"}
	noReferrer      = []string{"no-referrer"}
	denyFrameHeader = []string{"DENY"}
)

// secure adds the security headers and the body limit to every response.
func (s *Selector) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = cspHeader
		h["X-Content-Type-Options"] = nosniffHeader
		h["Referrer-Policy"] = noReferrer
		h["X-Frame-Options"] = denyFrameHeader
		if r.Body != nil && r.Body != http.NoBody { // requests without a body need no limit (nor its allocation)
			r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// instrument counts and times a route. The counters of the usual status codes are looked up once here,
// so a request costs no label hashing.
func (s *Selector) instrument(name string, h http.HandlerFunc) http.Handler {
	observe := s.metrics.duration.WithLabelValues(name)
	codes := map[int]prometheus.Counter{}
	for _, c := range []int{200, 201, 302, 303, 400, 404, 405, 413, 429, 503} {
		codes[c] = s.metrics.requests.WithLabelValues(name, strconv.Itoa(c))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, _ := s.statusWriters.Get().(*statusWriter)
		if sw == nil {
			sw = new(statusWriter)
		}
		sw.ResponseWriter, sw.code = w, http.StatusOK
		h(sw, r)
		observe.Observe(time.Since(start).Seconds())
		code := sw.code
		sw.ResponseWriter = nil
		s.statusWriters.Put(sw)
		if c, ok := codes[code]; ok {
			c.Inc()
			return
		}
		s.metrics.requests.WithLabelValues(name, strconv.Itoa(code)).Inc()
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Selector) handleHealthy(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("OK\n"))
}

// handleReady is ready only with a fresh catalog: a load balancer should not send users to a replica
// that cannot place them.
func (s *Selector) handleReady(w http.ResponseWriter, _ *http.Request) {
	if !s.catalogFresh() {
		w.Header().Set("Retry-After", retryAfter)
		writeError(w, http.StatusServiceUnavailable, "catalog_stale", "no fresh catalog from Consul")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("OK\n"))
}

// promLogger adapts the logger to promhttp's Println interface.
type promLogger struct {
	l interface{ Error(string, ...any) }
}

func (p promLogger) Println(v ...any) { p.l.Error("metrics handler", "err", v) }
