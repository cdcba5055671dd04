package selector

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/ensemble-jitsi/ensemble/selector/placement"
	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// roomBody is the answer for a room: where its meeting is.
type roomBody struct {
	Room   string `json:"room"`
	Node   string `json:"node"`
	URL    string `json:"url"`
	Region string `json:"region"` // the node's; empty when its Meta has none
}

// errorBody is the shape of every error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only our own types come here; none can fail
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// Header values shared by every response (never modified), to save a slice per header per request.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	noStore         = []string{"no-store"}
)

func writeError(w http.ResponseWriter, status int, code, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, msg
	writeJSON(w, status, b)
}

// failure is a lookup that could not give a node.
type failure struct {
	status  int
	code    string
	message string
	// retry is the Retry-After value in seconds; empty means retryAfter for a 503.
	retry string
}

// Admission refusals (see admit).
var (
	errRoomsFull   = errors.New("too many live rooms")
	errPendingFull = errors.New("the chosen node has too many new rooms pending")
)

// rateLimited is a client that created rooms faster than its token bucket allows.
type rateLimited struct{ wait time.Duration }

func (r *rateLimited) Error() string { return "room creation rate limit" }

// admit decides whether a new binding may be written on node i of p for client: the caps
// first (they take no token), then the client's bucket.
func (s *Selector) admit(p *placement.Snapshot, i int, r *http.Request) error {
	if s.opts.LimitsMaxRooms > 0 && s.liveRooms() >= s.opts.LimitsMaxRooms {
		return errRoomsFull
	}
	if s.opts.LimitsMaxPending > 0 && p.Pending(i) >= s.opts.LimitsMaxPending {
		return errPendingFull
	}
	if s.limiter != nil && r != nil {
		// Only here, when a binding is about to be written: lookups of existing rooms parse nothing.
		if client, ok := s.proxies.Client(r); ok {
			if ok, wait := s.limiter.Allow(client, s.opts.Now()); !ok {
				return &rateLimited{wait}
			}
		}
	}
	return nil
}

// liveRooms returns the live bindings: exact with the memory store; with the Consul store, those
// of the last sweep plus the ones this replica created since (other replicas' creations show at
// the next sweep).
func (s *Selector) liveRooms() int {
	if m, ok := s.store.(interface{ Len() int }); ok {
		return m.Len()
	}
	return int(s.liveCount.Load() + s.created.Load() - s.createdAtSweep.Load())
}

// place resolves room to its node. The room URL is the node's validated public URL and the canonical
// room name, which has only letters, digits, '-' and '_': nothing from the request reaches it otherwise.
// region is the user's region ("" when unknown): a new room goes to a node there when it has room.
// r is the request, for the per-client limit on new rooms.
func (s *Selector) place(ctx context.Context, room, region string, r *http.Request) (rooms.Result, *failure) {
	if _, err := rooms.Normalize(room); err != nil {
		s.decided[outcomeInvalid].Inc()
		return rooms.Result{}, &failure{http.StatusBadRequest, "invalid_room_name", err.Error(), ""}
	}
	v := s.view.Load()
	if v == nil || !s.catalogFresh() {
		s.decided[outcomeCatalogStale].Inc()
		return rooms.Result{}, &failure{http.StatusServiceUnavailable, "catalog_stale", "the fleet view is too old to place meetings", ""}
	}
	res, err := s.resolve(ctx, v.place, room, region, r)
	var limited *rateLimited
	switch {
	case err == nil:
	case errors.As(err, &limited):
		s.decided[outcomeRateLimited].Inc()
		return rooms.Result{}, &failure{http.StatusTooManyRequests, "rate_limited",
			"too many new rooms from this address; try again later", strconv.Itoa(int(math.Ceil(limited.wait.Seconds())))}
	case errors.Is(err, errRoomsFull), errors.Is(err, errPendingFull):
		s.decided[outcomeOverCapacity].Inc()
		return rooms.Result{}, &failure{http.StatusServiceUnavailable, "over_capacity", err.Error() + "; try again later", ""}
	case errors.Is(err, rooms.ErrInvalidName):
		s.decided[outcomeInvalid].Inc()
		return rooms.Result{}, &failure{http.StatusBadRequest, "invalid_room_name", err.Error(), ""}
	case errors.Is(err, placement.ErrNoNode):
		s.decided[outcomeNoNode].Inc()
		return rooms.Result{}, &failure{http.StatusServiceUnavailable, "no_node", "no node can take a meeting now", ""}
	default:
		s.decided[outcomeStoreError].Inc()
		if s.opts.RoomsStore == StoreConsul {
			s.metrics.consulErrors.WithLabelValues("rooms").Inc()
		}
		if s.storeWarn.Allow() { // an outage fails every new room: one line per interval is enough
			s.logger.Warn("room lookup failed", "room", room, "err", err)
		}
		return rooms.Result{}, &failure{http.StatusServiceUnavailable, "store_unavailable", "the room binding store is unavailable", ""}
	}
	if res.Spilled {
		label := "other" // a region label only for configured regions: ?region= is the client's
		if _, ok := s.opts.RegionNeighbours[region]; ok {
			label = region
		}
		s.metrics.spills.WithLabelValues(label).Inc()
	}
	if c := s.decided[string(res.Outcome)]; c != nil {
		c.Inc()
	}
	if res.Outcome == rooms.Created && s.store != nil {
		s.created.Add(1)
	}
	if res.Outcome == rooms.Created || res.Outcome == rooms.Rebound {
		if i, ok := v.place.Index(res.Node.ID); ok {
			score := v.place.Score(i)
			if !math.IsNaN(score) {
				s.score.Observe(score)
			}
			if s.logger.Enabled(ctx, slog.LevelDebug) {
				s.logger.Debug("room placed", "room", res.Room, "node", res.Node.ID, "outcome", res.Outcome,
					"policy", s.policy.Name(), "score", score, "pending", v.place.Pending(i), "saturated", res.Saturated)
			}
		}
	}
	return res, nil
}

// resolve binds through the store, or without one asks the policy every time (bounded-hash only, which
// answers the same on every replica while loads are similar).
// Without a store the region is not used: every replica must give the same answer.
func (s *Selector) resolve(ctx context.Context, p *placement.Snapshot, room, region string, r *http.Request) (rooms.Result, error) {
	if s.resolver != nil {
		return s.resolver.ResolveAdmit(ctx, p, room, region, placement.SystemRand{}, func(i int) error { return s.admit(p, i, r) })
	}
	name, err := rooms.Normalize(room)
	if err != nil {
		return rooms.Result{}, err
	}
	ch, err := s.policy.Pick(p, name, placement.SystemRand{})
	if err != nil {
		return rooms.Result{}, err
	}
	return rooms.Result{Room: name, Node: p.Node(ch.Index), Outcome: rooms.Created, Saturated: ch.Saturated}, nil
}

func bodyOf(res rooms.Result) roomBody {
	return roomBody{Room: res.Room, Node: res.Node.ID, URL: res.Node.URL + "/" + res.Room, Region: res.Node.Region}
}

// regionOf returns the user's region: ?region= (for testing), else the configured header set by the
// load balancer, else "". A bad ?region= is the client's error; a bad header value is ignored.
func (s *Selector) regionOf(r *http.Request) (string, *failure) {
	if q := r.URL.Query(); q.Has("region") {
		if reg := q.Get("region"); validRegion(reg) {
			return reg, nil
		}
		return "", &failure{http.StatusBadRequest, "invalid_region", "region: 1-64 of a-z, 0-9, '-' and '_'", ""}
	}
	if s.opts.RegionHeader != "" {
		if reg := strings.ToLower(r.Header.Get(s.opts.RegionHeader)); validRegion(reg) {
			return reg, nil
		}
	}
	return "", nil
}

func (s *Selector) fail(w http.ResponseWriter, f *failure) {
	switch {
	case f.retry != "":
		w.Header().Set("Retry-After", f.retry)
	case f.status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", retryAfter)
	}
	writeError(w, f.status, f.code, f.message)
}

// roomsPath is the prefix of GET /api/v1/rooms/{room}; the room is the rest of the path.
const roomsPath = "/api/v1/rooms/"

// roomOf returns the room of a GET /api/v1/rooms/{room} path and whether path is one.
func roomOf(path string) (string, bool) {
	room, ok := strings.CutPrefix(path, roomsPath)
	return room, ok && room != "" && strings.IndexByte(room, '/') < 0
}

func (s *Selector) handleRoom(w http.ResponseWriter, r *http.Request) {
	room, _ := roomOf(r.URL.Path) // routed here only when it is one
	region, f := s.regionOf(r)
	if f != nil {
		s.fail(w, f)
		return
	}
	res, f := s.place(r.Context(), room, region, r)
	if f != nil {
		s.fail(w, f)
		return
	}
	s.writeRoom(w, http.StatusOK, res)
}

// writeRoom writes a room answer without reflection or allocation. Strings that need JSON escaping
// (possible only in a node ID or URL, which Consul allows to be almost anything) take the general path.
func (s *Selector) writeRoom(w http.ResponseWriter, status int, res rooms.Result) {
	if !plainJSON(res.Room) || !plainJSON(res.Node.ID) || !plainJSON(res.Node.URL) || !plainJSON(res.Node.Region) {
		writeJSON(w, status, bodyOf(res))
		return
	}
	bp, _ := s.roomBuffers.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf := append((*bp)[:0], `{"room":"`...)
	buf = append(buf, res.Room...)
	buf = append(buf, `","node":"`...)
	buf = append(buf, res.Node.ID...)
	buf = append(buf, `","url":"`...)
	buf = append(buf, res.Node.URL...)
	buf = append(buf, '/')
	buf = append(buf, res.Room...)
	buf = append(buf, `","region":"`...)
	buf = append(buf, res.Node.Region...)
	buf = append(buf, "\"}\n"...)
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(status)
	_, _ = w.Write(buf) // the writer copies or sends it before returning
	*bp = buf
	s.roomBuffers.Put(bp)
}

// plainJSON reports whether s can be written between JSON quotes as is (encoding/json would also escape
// <, > and &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// newNameAttempts bounds the draws of a fresh room name that is not in use yet.
const newNameAttempts = 5

func (s *Selector) handleNewRoom(w http.ResponseWriter, r *http.Request) {
	// The request needs no body; reading it enforces the body limit instead of leaving it to the server.
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large or unreadable")
		return
	}
	region, f := s.regionOf(r)
	if f != nil {
		s.fail(w, f)
		return
	}
	for range newNameAttempts {
		res, f := s.place(r.Context(), rooms.NewName(placement.SystemRand{}), region, r)
		if f != nil {
			s.fail(w, f)
			return
		}
		// A new meeting must not land in somebody else's room: draw again if the name was taken.
		if res.Outcome == rooms.Created {
			w.Header().Set("Location", "/api/v1/rooms/"+res.Room)
			s.writeRoom(w, http.StatusCreated, res)
			return
		}
	}
	s.fail(w, &failure{http.StatusServiceUnavailable, "no_free_name", "could not find an unused room name", ""})
}

// handleRedirect sends a browser to the room on its node.
func (s *Selector) handleRedirect(w http.ResponseWriter, r *http.Request) {
	region, f := s.regionOf(r)
	if f != nil {
		s.fail(w, f)
		return
	}
	res, f := s.place(r.Context(), mux.Vars(r)["room"], region, r)
	if f != nil {
		s.fail(w, f)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, bodyOf(res).URL, http.StatusFound)
}

// nodeBody is one node of GET /api/v1/nodes. Unknown numbers are null.
type nodeBody struct {
	ID         string   `json:"id"`
	URL        string   `json:"url"`
	Region     string   `json:"region"`
	State      string   `json:"state"`
	Capacity   float64  `json:"capacity"`
	Load       *float64 `json:"load"`
	Stress     *float64 `json:"stress"`
	Endpoints  int      `json:"endpoints"`
	AgeSeconds *float64 `json:"age_seconds"`
	Pending    int      `json:"pending"`
	Score      *float64 `json:"score"`
	Rooms      *int     `json:"rooms"`
}

type nodesBody struct {
	Policy       string   `json:"policy"`
	CatalogIndex uint64   `json:"catalog_index"`
	Fresh        bool     `json:"fresh"`
	Degraded     []string `json:"degraded"`
	// RoomsAgeSeconds is how old the nodes' room counts are when they are not live (the Consul
	// store counts them at each sweep, at most a minute apart).
	RoomsAgeSeconds *float64   `json:"rooms_age_seconds,omitempty"`
	Nodes           []nodeBody `json:"nodes"`
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func (s *Selector) handleNodes(w http.ResponseWriter, _ *http.Request) {
	out := nodesBody{Policy: s.policy.Name(), Fresh: s.catalogFresh(), Degraded: s.degradedNow(), Nodes: []nodeBody{}}
	v := s.view.Load()
	if v == nil {
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.CatalogIndex = v.cat.Index
	counts, countedAt := s.roomCounts()
	if counts != nil && !countedAt.IsZero() {
		out.RoomsAgeSeconds = num(max(0, s.opts.Now().Sub(countedAt).Seconds()))
	}
	for i, n := range v.place.Nodes() {
		b := nodeBody{
			ID: n.ID, URL: n.URL, Region: n.Region, State: n.State.String(), Capacity: n.Capacity,
			Load: num(n.Load), Stress: num(n.Stress), Endpoints: n.Endpoints,
			Pending: v.place.Pending(i), Score: num(v.place.Score(i)),
		}
		if n.Age < unknownAge {
			b.AgeSeconds = num(n.Age.Seconds())
		}
		if counts != nil {
			c := counts[n.ID]
			b.Rooms = &c
		}
		out.Nodes = append(out.Nodes, b)
	}
	writeJSON(w, http.StatusOK, out)
}

// sdGroup is one target group of Prometheus HTTP service discovery.
type sdGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// handleSD serves the catalog as Prometheus HTTP service discovery, with the __meta_consul_* labels that
// consul_sd_configs would set, for Prometheus builds without Consul discovery (prometheus-http-sd.yml).
// Only the labels the selector knows are set; the shipped relabelling uses no others.
func (s *Selector) handleSD(w http.ResponseWriter, _ *http.Request) {
	groups := []sdGroup{}
	v := s.view.Load()
	if v != nil {
		for _, n := range v.cat.Nodes {
			if n.Address == "" || n.SidecarPort == 0 {
				continue
			}
			health := "passing"
			switch n.State {
			case placement.Draining:
				health = "maintenance"
			case placement.Gone:
				health = "critical"
			}
			groups = append(groups, sdGroup{
				Targets: []string{net.JoinHostPort(n.Address, strconv.Itoa(n.SidecarPort))},
				Labels: map[string]string{
					"__meta_consul_service":                     s.opts.ConsulService,
					"__meta_consul_service_id":                  n.ID,
					"__meta_consul_service_address":             n.Address,
					"__meta_consul_health":                      health,
					"__meta_consul_service_metadata_region":     n.Region,
					"__meta_consul_service_metadata_version":    n.Version,
					"__meta_consul_service_metadata_public_url": n.PublicURL,
				},
			})
		}
	}
	writeJSON(w, http.StatusOK, groups)
}
