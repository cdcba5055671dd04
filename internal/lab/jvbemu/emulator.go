// Package jvbemu emulates a Jitsi Videobridge's private REST API
// (/colibri/stats and its own Prometheus /metrics, /about/health,
// /about/version, /colibri/drain,
// /colibri/shutdown) field for field, with a load that tests and the demo
// script through Go or the /emulator/ control API, and faults on request.
// It is the one stand-in the project's tests allow.
package jvbemu

import (
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultVersion is the version the emulator reports unless told otherwise.
const DefaultVersion = "2.3.209-gb5fbe618"

// Options configures an Emulator. The zero value is usable.
type Options struct {
	// Version is reported by /about/version and the stats "version" field.
	Version string
	// Release and Region fill the stats fields of the same name, which the
	// bridge only emits when configured.
	Release, Region string
	// RelayID fills "relay_id", emitted only when relay is enabled (set).
	RelayID string
	// ShutdownDisabled makes /colibri/shutdown answer 404, as with the
	// bridge's default videobridge.rest.shutdown.enabled=false.
	ShutdownDisabled bool
	// Clock drives current_timestamp and the growth of the total_* counters;
	// default time.Now.
	Clock func() time.Time
	// SlowDelay is how long the Slow fault waits; default 2s.
	SlowDelay time.Duration
	// HugeBytes is the body size of the Huge fault; default 64 MiB.
	HugeBytes int64
}

// Emulator is an emulated bridge. It is an http.Handler and safe for
// concurrent use.
type Emulator struct {
	opts Options
	mux  *http.ServeMux

	mu          sync.Mutex
	confs       map[string]*conference
	nextID      int
	stress      float64 // < 0: computed from the packet rate
	healthCode  int
	healthMsg   string
	fault       Fault
	drain       bool
	graceful    bool
	shutting    bool
	last        time.Time // counters are integrated up to here
	started     time.Time // the bridge's startup_time and counters' _created
	totals      totals
	startedConf int64
	doneConf    int64
	doneSeconds float64
	everEPs     int64
}

type conference struct {
	size    int
	created time.Time
}

// totals are the time-integrated counters, kept as floats so that short
// intervals are not lost to rounding.
type totals struct {
	bytesRecv, bytesSent, pktsRecv, pktsSent float64
	keyframes, layerChanges, videoMillis     float64
	speakerChanges, wsRecv, wsSent           float64
}

// New returns an idle, healthy emulator with no conferences.
func New(opts Options) *Emulator {
	if opts.Version == "" {
		opts.Version = DefaultVersion
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.SlowDelay <= 0 {
		opts.SlowDelay = 2 * time.Second
	}
	if opts.HugeBytes <= 0 {
		opts.HugeBytes = 64 << 20
	}
	e := &Emulator{
		opts:       opts,
		confs:      map[string]*conference{},
		stress:     -1,
		healthCode: http.StatusOK,
		last:       opts.Clock(),
		started:    opts.Clock(),
	}
	e.mux = e.routes()
	return e
}

// ServeHTTP serves the JVB API and the /emulator/ control API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e.mux.ServeHTTP(w, r)
}

// StartConference adds a conference of size endpoints and returns its id,
// or "" when the bridge is shutting down and takes no new conferences.
func (e *Emulator) StartConference(size int) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.graceful || e.shutting {
		return ""
	}
	now := e.advance()
	e.nextID++
	id := "conf-" + strconv.Itoa(e.nextID)
	size = max(size, 0)
	e.confs[id] = &conference{size: size, created: now}
	e.startedConf++
	e.everEPs += int64(size)
	return id
}

// EndConference removes a conference; an unknown id is ignored. It reports
// whether the conference existed.
func (e *Emulator) EndConference(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.confs[id]
	if !ok {
		return false
	}
	now := e.advance()
	delete(e.confs, id)
	e.doneConf++
	e.doneSeconds += now.Sub(c.created).Seconds()
	e.checkShutdown()
	return true
}

// SetParticipants changes a conference's size (endpoints joining or
// leaving). It reports whether the conference exists.
func (e *Emulator) SetParticipants(id string, n int) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, ok := e.confs[id]
	if !ok {
		return false
	}
	e.advance()
	n = max(n, 0)
	if n > c.size {
		e.everEPs += int64(n - c.size)
	}
	c.size = n
	e.checkShutdown()
	return true
}

// SetStress overrides stress_level; a negative value returns to the value
// computed from the packet rate.
func (e *Emulator) SetStress(s float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stress = s
}

// SetHealth sets what /about/health answers: 200 is healthy (empty body),
// anything else is that status with msg as a plain-text body.
func (e *Emulator) SetHealth(code int, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.healthCode, e.healthMsg = code, msg
}

// SetFault switches the JVB API's misbehaviour (None to stop).
func (e *Emulator) SetFault(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.fault = f
}

// SetDrain sets drain mode, as POST /colibri/drain/enable|disable do.
func (e *Emulator) SetDrain(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.drain = on
}

// Shutdown starts a graceful shutdown (graceful_shutdown, then
// shutting_down once no endpoint is left) or, if !graceful, switches to
// shutting_down at once, as POST /colibri/shutdown does. The process does
// not exit: both flags stay true.
func (e *Emulator) Shutdown(graceful bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if graceful {
		e.graceful = true
		e.checkShutdown()
	} else {
		e.shutting = true
	}
}

// checkShutdown moves a graceful shutdown on when the last endpoint left
// (graceful-shutdown-min-participants defaults to 0). Called with mu held.
func (e *Emulator) checkShutdown() {
	if e.graceful && e.endpointsLocked() == 0 {
		e.shutting = true
	}
}

func (e *Emulator) endpointsLocked() int {
	n := 0
	for _, c := range e.confs {
		n += c.size
	}
	return n
}

// Conference is one conference in a Snapshot.
type Conference struct {
	ID   string `json:"id"`
	Size int    `json:"size"`
}

// Snapshot is the emulator's state and the load numbers derived from it.
type Snapshot struct {
	Conferences       []Conference `json:"conferences"` // ordered by id
	Endpoints         int          `json:"endpoints"`
	LargestConference int          `json:"largest_conference"`
	StressLevel       float64      `json:"stress_level"`
	StressOverride    bool         `json:"stress_override"`
	BitRateDownload   int64        `json:"bit_rate_download_kbps"`
	BitRateUpload     int64        `json:"bit_rate_upload_kbps"`
	Drain             bool         `json:"drain"`
	GracefulShutdown  bool         `json:"graceful_shutdown"`
	ShuttingDown      bool         `json:"shutting_down"`
	HealthCode        int          `json:"health_code"`
	HealthMessage     string       `json:"health_message"`
	Fault             string       `json:"fault"`
	TotalConferences  int64        `json:"total_conferences_created"`
	TotalCompleted    int64        `json:"total_conferences_completed"`
	TotalParticipants int64        `json:"total_participants"`
	TotalBytesRecv    int64        `json:"total_bytes_received"`
	TotalBytesSent    int64        `json:"total_bytes_sent"`
}

// Stats returns the current state.
func (e *Emulator) Stats() Snapshot {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	m := e.modelLocked()
	s := Snapshot{
		Endpoints:         m.endpoints,
		LargestConference: m.largest,
		StressLevel:       m.stress,
		StressOverride:    e.stress >= 0,
		BitRateDownload:   m.downKbps,
		BitRateUpload:     m.upKbps,
		Drain:             e.drain,
		GracefulShutdown:  e.graceful,
		ShuttingDown:      e.shutting,
		HealthCode:        e.healthCode,
		HealthMessage:     e.healthMsg,
		Fault:             e.fault.String(),
		TotalConferences:  e.startedConf,
		TotalCompleted:    e.doneConf,
		TotalParticipants: e.everEPs,
		TotalBytesRecv:    int64(e.totals.bytesRecv),
		TotalBytesSent:    int64(e.totals.bytesSent),
	}
	for id, c := range e.confs {
		s.Conferences = append(s.Conferences, Conference{ID: id, Size: c.size})
	}
	slices.SortFunc(s.Conferences, func(a, b Conference) int {
		return cmpID(a.ID, b.ID)
	})
	return s
}

// cmpID orders "conf-N" ids numerically.
func cmpID(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
