package soak

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// Answer is one recorded request and what came back.
type Answer struct {
	// Kind is "new" (a meeting starts under a fresh room name), "join" (a
	// user joins a running meeting) or "probe" (the soak asks every replica
	// directly for one room, to catch splits).
	Kind string `json:"kind"`
	Room string `json:"room"`
	// Start and End bracket the request.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Status is the HTTP status, 0 when no answer came.
	Status int `json:"status"`
	// Reason is the error code of a 503 ("no_node", "catalog_stale", ...).
	Reason string `json:"reason,omitempty"`
	// Node is the node the answer sends the user to.
	Node string `json:"node,omitempty"`
	// Replica is the selector that answered.
	Replica string `json:"replica,omitempty"`
	// Err says why there was no usable answer.
	Err string `json:"err,omitempty"`
}

// ok reports whether the answer names a node.
func (a Answer) ok() bool {
	return (a.Status == http.StatusFound || a.Status == http.StatusOK) && a.Node != ""
}

// Bounds are the times and shares the invariants allow.
type Bounds struct {
	// Detect is how long after a node goes down or starts draining the
	// selectors may still send new rooms to it: twice the documented
	// detection time (check interval + check timeout + 1 s).
	Detect time.Duration
	// MoveAfter is the selectors' --rooms.move-after. A room may move only
	// off a node that was down (by an injected fault or as Consul showed
	// it) for at least this long before the move; joins of a down node's
	// rooms must have moved by Detect + 2 x MoveAfter (twice the documented
	// detection + hold).
	MoveAfter time.Duration
	// Skew is how far apart two views of one Consul change may be in time
	// (the soak's observer and a selector's watch, both blocking queries).
	Skew time.Duration
	// Recover is how long after a fault ends the selectors may still see the
	// node as down: twice (successes before passing × check interval + 1 s).
	Recover time.Duration
	// ConsulSettle is how long after a Consul server or agent change (kill,
	// restart) new bindings may still fail: a restarted server can call an
	// election when it rejoins, and the rooms store backs off after a
	// failure (measured up to 9 s on the shared machine).
	ConsulSettle time.Duration
	// ElectionLead is how long before the leader watch sees a leader lost
	// a Consul write may have been asked that then fails: a leader that lost
	// its followers keeps its role for its lease while its commits stall,
	// and the write waits for the store's timeout.
	ElectionLead time.Duration
	// MinOKShare is the share of the users' answers outside every fault
	// window (each extended by its settle time) that must name a node, and
	// MinQuiet the fewest such answers for the share to mean anything.
	MinOKShare float64
	MinQuiet   int
}

// longFault is the shortest node fault whose rooms must have moved before
// it ends: their joins go to the dead node for at most this long.
func (b Bounds) longFault() time.Duration { return b.Detect + 2*b.MoveAfter }

// Invariant is one counted property; it holds when Count is 0.
type Invariant struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Examples are the first few violations, for the log.
	Examples []string `json:"examples,omitempty"`
}

func (inv *Invariant) add(format string, args ...any) {
	inv.Count++
	if len(inv.Examples) < 8 {
		inv.Examples = append(inv.Examples, fmt.Sprintf(format, args...))
	}
}

// kvBinding is one room's key in Consul as a snapshot read it.
type kvBinding struct {
	Node string `json:"node"`
	// Create and Modify are the key's CreateIndex and ModifyIndex: a key
	// deleted and made again has a new CreateIndex.
	Create uint64 `json:"create"`
	Modify uint64 `json:"modify"`
}

// kvSnapshot is the room prefix read at one time.
type kvSnapshot struct {
	At    time.Time            `json:"at"`
	Rooms map[string]kvBinding `json:"rooms"`
}

// evidence is what the judge counts over.
type evidence struct {
	// Nodes names every node of the fleet.
	Nodes   []string
	Answers []Answer
	// Windows is the ground truth: faults as injected, Consul's view as
	// observed.
	Windows []Window
	// KV is the room prefix read about once a second and around each churn
	// fault; a read that failed is left out.
	KV []kvSnapshot
}

// LongFault is one node fault held past Bounds.longFault and what became of
// the rooms on its node.
type LongFault struct {
	Node  string  `json:"node"`
	Kind  Kind    `json:"kind"`
	Start float64 `json:"start_seconds"`
	Held  float64 `json:"held_seconds"`
	// Rooms were on the node when it went down and were asked again while
	// it was; Moved of them were answered with another node (invariant 1
	// counts joins still sent to the node past the bound).
	Rooms int `json:"rooms"`
	Moved int `json:"moved"`
}

// Tally is what the judge counted.
type Tally struct {
	Invariants []Invariant `json:"invariants"`
	// Allowed503 counts the 503 answers inside the window that explains
	// them, by reason.
	Allowed503 map[string]int `json:"allowed_503"`
	// Moves counts rooms moved off a node that had been down for at least
	// MoveAfter, by the kind of fault behind it ("observed-critical" when
	// Consul showed the node critical without a fault on it: those are
	// also counted in invariant 2).
	Moves map[Kind]int `json:"moves"`
	// HeldJoins counts joins sent to the room's node while a fault had it
	// down, within the bound (--rooms.move-after keeps the room there).
	HeldJoins int `json:"held_joins"`
	// Concurrent counts answers naming the node a room moved off that
	// overlapped the answers naming its new node, so may have been decided
	// before the move was written (see judge.answers).
	Concurrent int `json:"concurrent"`
	// Quiet counts the users' answers outside every fault window; QuietOK
	// those of them that named a node.
	Quiet   int `json:"quiet"`
	QuietOK int `json:"quiet_ok"`
	// LongFaults are the node faults held long enough that rooms had to move.
	LongFaults []LongFault `json:"long_faults"`
}

// QuietOKShare is the share of answers outside fault windows that named a node.
func (t Tally) QuietOKShare() float64 {
	if t.Quiet == 0 {
		return 0
	}
	return float64(t.QuietOK) / float64(t.Quiet)
}

// Invariant IDs. Invariant 5 (resources and leftovers) is added by
// Report.Finish once the fleet has stopped.
const (
	invRedirect = iota
	invMove
	invStatus
	invLost
	invLong
)

// judge holds the ground truth sorted for the checks.
type judge struct {
	b      Bounds
	zero   time.Time
	byNode map[string][]Window // every window of a node, injected or observed
	spells map[string][]Window // per node, the spells it was down (merge)
	blind  []Window
	churn  []Window
	all    []Window
	inv    []Invariant
	t      Tally
}

// length is how long w lasted, or has lasted at t if it had not ended.
func length(w Window, at time.Time) time.Duration {
	if w.End.IsZero() || w.End.After(at) {
		return at.Sub(w.Start)
	}
	return w.End.Sub(w.Start)
}

// check counts invariants 1-4 and 6 over the evidence.
func check(ev evidence, b Bounds) Tally {
	j := &judge{b: b, byNode: map[string][]Window{}, spells: map[string][]Window{}}
	answers := slices.Clone(ev.Answers)
	slices.SortStableFunc(answers, func(x, y Answer) int { return x.Start.Compare(y.Start) })
	if len(answers) > 0 {
		j.zero = answers[0].Start
	}
	for _, w := range ev.Windows {
		j.all = append(j.all, w)
		switch {
		case w.State == Blind:
			j.blind = append(j.blind, w)
		case w.State == Churn:
			j.churn = append(j.churn, w)
		case w.Node != "":
			j.byNode[w.Node] = append(j.byNode[w.Node], w)
		}
	}
	j.blind = union(j.blind)
	// The fleet's nodes share one Consul agent, a server: while it is down
	// the cluster shows its node failed, so every node's service critical,
	// and once back it restores every check critical until it passes again
	// (an observed window). Both are Consul's view of every node, caused by
	// an injected fault.
	for _, w := range j.churn {
		if w.Kind == ConsulAgentRestart {
			for _, n := range ev.Nodes {
				j.byNode[n] = append(j.byNode[n], Window{Node: n, State: Down, Kind: ConsulAgentRestart, Start: w.Start, End: w.End})
			}
		}
	}
	for node, ws := range j.byNode {
		j.spells[node] = spells(ws, b.Skew)
	}
	j.inv = []Invariant{
		invRedirect: {ID: 1, Name: "redirects to a node down or draining longer than the detection bound"},
		invMove:     {ID: 2, Name: "rooms moved off a node not down for --rooms.move-after, or that no fault hit"},
		invStatus:   {ID: 3, Name: "answers other than 2xx/302 and 503s inside the fault window that explains them, or too few 302s outside faults"},
		invLost:     {ID: 4, Name: "room bindings lost, re-created or moved without cause in Consul's KV"},
		invLong:     {ID: 6, Name: "node faults held past detection + 2 x move-after whose rooms did not move"},
	}
	j.t = Tally{Allowed503: map[string]int{}, Moves: map[Kind]int{}}
	j.answers(answers, ev.Nodes)
	j.long(answers)
	j.kv(ev.KV, answers)
	if j.t.Quiet < b.MinQuiet {
		j.inv[invStatus].add("only %d answers outside fault windows, want at least %d to state the share of 302s", j.t.Quiet, b.MinQuiet)
	} else if share := j.t.QuietOKShare(); share < b.MinOKShare {
		j.inv[invStatus].add("%.1f%% of %d answers outside fault windows named a node, want at least %.1f%%", 100*share, j.t.Quiet, 100*b.MinOKShare)
	}
	j.t.Invariants = j.inv
	return j.t
}

// union merges overlapping windows (the agent's restart and the leader
// watch's loss of it often cover one span), so that time is not counted
// twice.
func union(ws []Window) []Window { return merge(ws, 0) }

// spells merges a node's Down windows into unbroken spells; windows less
// than skew apart are one spell (the observer sees the agent's restored
// checks a moment after the agent is back).
func spells(ws []Window, skew time.Duration) []Window {
	var down []Window
	for _, w := range ws {
		if w.State == Down {
			down = append(down, w)
		}
	}
	return merge(down, skew)
}

// merge sorts ws by start and merges those that overlap or are less than
// gap apart. A merged window takes the kind of its first injected fault,
// Observed if none.
func merge(ws []Window, gap time.Duration) []Window {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, func(a, b Window) int { return a.Start.Compare(b.Start) })
	var out []Window
	for _, w := range ws {
		n := len(out)
		if n == 0 || !out[n-1].End.IsZero() && w.Start.After(out[n-1].End.Add(gap)) {
			out = append(out, w)
			continue
		}
		last := &out[n-1]
		if !last.End.IsZero() && (w.End.IsZero() || w.End.After(last.End)) {
			last.End = w.End
		}
		if last.Kind == Observed && w.Kind != Observed {
			last.Kind = w.Kind
		}
	}
	return out
}

func (j *judge) at(t time.Time) string { return fmt.Sprintf("%+.1fs", t.Sub(j.zero).Seconds()) }

// elapsed is how long w has been in force at t, not counting time the
// selectors' Consul view was blind.
func (j *judge) elapsed(w Window, t time.Time) time.Duration {
	d := t.Sub(w.Start)
	for _, bw := range j.blind {
		s, e := later(bw.Start, w.Start), bw.End
		if e.IsZero() || e.After(t) {
			e = t
		}
		if e.After(s) {
			d -= e.Sub(s)
		}
	}
	return d
}

// moveCause returns the spell of node that allows a move somewhere in
// (from, to]: it lasted at least MoveAfter (less the skew of two views of
// Consul), and the move span meets [its start + MoveAfter - Skew, its end +
// Skew]. What the new node did never matters.
func (j *judge) moveCause(node string, from, to time.Time) (Window, bool) {
	hold := j.b.MoveAfter - j.b.Skew
	for _, s := range j.spells[node] {
		earliest := s.Start.Add(hold)
		if earliest.After(to) || length(s, to) < hold {
			continue
		}
		if !s.End.IsZero() && s.End.Add(j.b.Skew).Before(from) {
			continue
		}
		return s, true
	}
	return Window{}, false
}

// answers checks every answer: its status (invariant 3), the node it
// names (invariant 1) and, against the room's previous answer, whether the
// room moved with cause (invariant 2).
//
// An answer takes effect at some instant between its start and its end, so
// two answers that overlap have no order of their own: an answer naming the
// node a room was on before its last move, started before every answer
// naming the new node had ended, may have read the binding before the move
// was written (a replica holding the room a moment before another's hold
// ran out, or a request slowed on its way). It is linearized before the
// move and counted in Tally.Concurrent, not as a move back.
func (j *judge) answers(answers []Answer, nodes []string) {
	type roomState struct {
		last Answer
		// from is the node before last's move ("" if last was no move);
		// settled is the earliest end of an answer naming last's node since:
		// by then the move was written.
		from    string
		settled time.Time
	}
	rooms := map[string]*roomState{}
	for _, a := range answers {
		if a.Kind != "probe" {
			j.quiet(a)
		}
		if a.Kind != "probe" && !a.ok() {
			j.status(a, nodes)
			continue
		}
		if !a.ok() {
			continue
		}
		st, seen := rooms[a.Room]
		if seen && st.from == a.Node && a.Start.Before(st.settled) {
			j.t.Concurrent++
			if a.Kind != "probe" {
				j.redirect(a, false)
			}
			continue
		}
		fresh := !seen || st.last.Node != a.Node
		if a.Kind != "probe" {
			j.redirect(a, fresh)
		}
		switch {
		case !seen:
			rooms[a.Room] = &roomState{last: a, settled: a.End}
			continue
		case st.last.Node == a.Node:
			st.last, st.settled = a, earlier(st.settled, a.End)
			continue
		}
		prev := st.last
		switch s, ok := j.moveCause(prev.Node, prev.Start, a.End); {
		case !ok:
			j.inv[invMove].add("%s room %s: %s (%s %s..%s) then %s (%s %s..%s): %s was not down for %v before",
				j.at(a.Start), a.Room, prev.Node, prev.Replica, j.at(prev.Start), j.at(prev.End),
				a.Node, a.Replica, j.at(a.Start), j.at(a.End), prev.Node, j.b.MoveAfter)
		case s.Kind == Observed:
			j.t.Moves[Observed]++
			j.inv[invMove].add("%s room %s: %s then %s: %s was critical in Consul since %s but no fault hit it",
				j.at(a.Start), a.Room, prev.Node, a.Node, prev.Node, j.at(s.Start))
		default:
			j.t.Moves[s.Kind]++
		}
		*st = roomState{last: a, from: prev.Node, settled: a.End}
	}
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// redirect checks invariant 1 for an answer naming a node.
func (j *judge) redirect(a Answer, fresh bool) {
	for _, w := range j.byNode[a.Node] {
		if !w.Kind.nodeFault() || !w.covers(a.Start) || (w.State != Down && (w.State != Draining || !fresh)) {
			continue
		}
		bound := j.b.Detect
		if w.State == Down && !fresh {
			bound = j.b.longFault()
			w.Start = j.holdStart(w.Start, a.Start)
		}
		if e := j.elapsed(w, a.Start); e > bound {
			j.inv[invRedirect].add("%s %s %s -> %s via %s: %s (%s) for %.1fs", j.at(a.Start), a.Kind, a.Room, a.Node, a.Replica, w.State, w.Kind, e.Seconds())
		} else if w.State == Down && !fresh {
			j.t.HeldJoins++
		}
	}
}

// holdStart is when the selectors' hold of a node down since start began,
// as of t: a restart of the Consul agent ended since then restarts it. The
// restarted agent restores every check critical under a new index, which
// the selectors take for a new spell of being gone (a node that came back
// and went again while they could not see it), and a new spell is held
// again from its start: its rooms move --rooms.move-after after the agent
// is back, not after the node went down (seed 6551752796806853350: a join
// sent to a node 21.6 s into a bridge hang, 2 s after an agent restart).
func (j *judge) holdStart(start, t time.Time) time.Time {
	for _, c := range j.churn {
		if c.Kind == ConsulAgentRestart && !c.End.IsZero() && c.End.After(start) && c.End.Before(t) {
			start = c.End
		}
	}
	return start
}

// status checks invariant 3 for an answer naming no node: each 503 reason
// is allowed only inside the window of the fault that explains it.
func (j *judge) status(a Answer, nodes []string) {
	why := ""
	if a.Status == http.StatusServiceUnavailable {
		switch a.Reason {
		case "no_node":
			// Every node out of selection: down, draining or of unknown load.
			if len(nodes) > 0 && j.allOut(nodes, a.Start) {
				why = "every node out"
			}
		case "catalog_stale":
			// The replica's Consul view too old: its agent down or no leader,
			// or the replica itself just restarted.
			if inWindow(j.blind, a.Start, j.b.Detect) || inWindow(j.replicaChurn(a.Replica), a.Start, j.b.Detect) {
				why = "consul view blind"
			}
		case "store_unavailable":
			if inWindow(j.blind, a.Start.Add(j.b.ElectionLead), j.b.Detect+j.b.ElectionLead) || inWindow(j.consulChurn(), a.Start, j.b.ConsulSettle) {
				why = "consul change"
			}
		}
	}
	if why == "" {
		j.inv[invStatus].add("%s %s %s via %s: status %d %s %s", j.at(a.Start), a.Kind, a.Room, a.Replica, a.Status, a.Reason, a.Err)
		return
	}
	j.t.Allowed503[a.Reason+" ("+why+")"]++
}

// allOut reports whether every node was in a fault or observed window
// (down, draining or degraded) at t, each extended by Recover. A restart of
// the Consul agent is every node's fault: the fleet shares the agent, which
// restores every check critical until it passes again.
func (j *judge) allOut(nodes []string, t time.Time) bool {
	var agent []Window
	for _, w := range j.churn {
		if w.Kind == ConsulAgentRestart {
			agent = append(agent, w)
		}
	}
	if inWindow(agent, t, j.b.Recover) {
		return true
	}
	for _, n := range nodes {
		// The soak's observer may see Consul show a node critical up to
		// Skew after a selector does (seed 2180070946122150746: during a
		// leader change every node, all on the one shared agent, critical
		// for 0.5 s, seen by the selectors 0.6 s before the observer).
		if !inWindow(j.byNode[n], t.Add(j.b.Skew), j.b.Recover+j.b.Skew) {
			return false
		}
	}
	return true
}

func (j *judge) consulChurn() []Window {
	var out []Window
	for _, w := range j.churn {
		if w.Kind == ConsulServerKill || w.Kind == ConsulAgentRestart {
			out = append(out, w)
		}
	}
	return out
}

func (j *judge) replicaChurn(replica string) []Window {
	var out []Window
	for _, w := range j.churn {
		if w.Kind == SelectorKill && w.Target == replica {
			out = append(out, w)
		}
	}
	return out
}

// quiet counts a user's answer made outside every window, each extended
// by the longest settle time, for the share of 302s outside faults.
func (j *judge) quiet(a Answer) {
	settle := max(j.b.Recover, j.b.ConsulSettle, j.b.Detect)
	if inWindow(j.all, a.Start, settle) {
		return
	}
	j.t.Quiet++
	if a.ok() {
		j.t.QuietOK++
	}
}

// long checks invariant 6: every injected node fault held past the
// long-fault bound must show at least one room that was on its node when
// it went down answered with another node while it was down; otherwise
// nothing shows that rooms move at all (joins still sent to the node past
// the bound are invariant 1).
func (j *judge) long(answers []Answer) {
	bound := j.b.longFault()
	for node, ws := range j.byNode {
		for _, w := range ws {
			if w.State != Down || !w.Kind.nodeFault() || w.End.IsZero() || j.elapsed(w, w.End) < bound {
				continue
			}
			lf := LongFault{Node: node, Kind: w.Kind, Start: w.Start.Sub(j.zero).Seconds(), Held: w.End.Sub(w.Start).Seconds()}
			on := map[string]bool{}    // rooms on the node when it went down
			moved := map[string]bool{} // of them, answered with another node while it was down
			asked := map[string]bool{} // of them, asked while it was down
			for _, a := range answers {
				switch {
				case !a.ok():
				case a.Start.Before(w.Start):
					on[a.Room] = a.Node == node
				case on[a.Room] && w.covers(a.Start):
					asked[a.Room] = true
					if a.Node != node {
						moved[a.Room] = true
					}
				}
			}
			lf.Rooms, lf.Moved = len(asked), len(moved)
			j.t.LongFaults = append(j.t.LongFaults, lf)
			if lf.Moved == 0 {
				j.inv[invLong].add("%s %s on %s held %.1fs: %d of its rooms asked while it was down, none moved",
					j.at(w.Start), w.Kind, node, lf.Held, lf.Rooms)
			}
		}
	}
	slices.SortFunc(j.t.LongFaults, func(a, b LongFault) int { return int(1000 * (a.Start - b.Start)) })
}

// kv checks invariant 4 on the room prefix: between two reads no key may
// go or be made again (a new CreateIndex), and a key's node may change
// only off a node down long enough; and every room a user was sent to is
// in the first read after the answer, on that node or moved with cause.
func (j *judge) kv(snaps []kvSnapshot, answers []Answer) {
	snaps = slices.Clone(snaps)
	slices.SortFunc(snaps, func(a, b kvSnapshot) int { return a.At.Compare(b.At) })
	for i := 1; i < len(snaps); i++ {
		before, after := snaps[i-1], snaps[i]
		for _, room := range slices.Sorted(maps.Keys(before.Rooms)) {
			was := before.Rooms[room]
			now, ok := after.Rooms[room]
			switch {
			case !ok:
				j.inv[invLost].add("%s..%s room %s: binding to %s gone", j.at(before.At), j.at(after.At), room, was.Node)
			case now.Create != was.Create:
				j.inv[invLost].add("%s..%s room %s: binding made again (create index %d -> %d)", j.at(before.At), j.at(after.At), room, was.Create, now.Create)
			case now.Node != was.Node:
				if _, ok := j.moveCause(was.Node, before.At, after.At); !ok {
					j.inv[invLost].add("%s..%s room %s: binding moved %s -> %s without %s down for %v", j.at(before.At), j.at(after.At), room, was.Node, now.Node, was.Node, j.b.MoveAfter)
				}
			}
		}
	}
	if len(snaps) == 0 {
		return
	}
	for _, a := range answers {
		if a.Kind == "probe" || !a.ok() {
			continue
		}
		i, _ := slices.BinarySearchFunc(snaps, a.End, func(s kvSnapshot, t time.Time) int { return s.At.Compare(t) })
		if i == len(snaps) {
			continue
		}
		s := snaps[i]
		got, ok := s.Rooms[a.Room]
		switch {
		case !ok:
			j.inv[invLost].add("%s %s %s -> %s via %s: no binding at %s", j.at(a.Start), a.Kind, a.Room, a.Node, a.Replica, j.at(s.At))
		case got.Node != a.Node:
			if _, ok := j.moveCause(a.Node, a.Start, s.At); !ok {
				j.inv[invLost].add("%s %s %s -> %s via %s: bound to %s at %s", j.at(a.Start), a.Kind, a.Room, a.Node, a.Replica, got.Node, j.at(s.At))
			}
		}
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// inWindow reports whether t falls in one of ws, each extended by slack.
func inWindow(ws []Window, t time.Time, slack time.Duration) bool {
	for _, w := range ws {
		if !w.End.IsZero() {
			w.End = w.End.Add(slack)
		}
		if w.covers(t) {
			return true
		}
	}
	return false
}
