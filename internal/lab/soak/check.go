package soak

import (
	"fmt"
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

// Bounds are the times the invariants allow.
type Bounds struct {
	// Detect is how long after a node goes down or starts draining the
	// selectors may still send users to it: twice the documented detection
	// time (check interval + check timeout + 1 s).
	Detect time.Duration
	// MoveAfter is the selectors' --rooms.move-after: joins of a room
	// bound to a node that went down still go to it until the selectors
	// have seen it gone this long, so a flap does not split the meeting.
	// Such a join counts for invariant 1 only after Detect + 2 x MoveAfter;
	// a new room sent to a down node, after Detect.
	MoveAfter time.Duration
	// Recover is how long after a fault ends the selectors may still see the
	// node as down and move its rooms: twice (successes before passing ×
	// check interval + 1 s).
	Recover time.Duration
	// ConsulSettle is how long after a Consul server or agent change (kill,
	// restart) new bindings may still fail: a restarted server can call an
	// election when it rejoins, and the rooms store backs off after a
	// failure (measured up to 9 s on the shared machine).
	ConsulSettle time.Duration
}

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

// Tally is what Check counted.
type Tally struct {
	Invariants []Invariant `json:"invariants"`
	// Allowed503 counts the documented 503 answers by reason.
	Allowed503 map[string]int `json:"allowed_503"`
	// LegitMoves counts rooms that moved away from a node that was down
	// (the documented rebinding); UnfaultedMoves counts those of them whose
	// node no fault hit, but whose check Consul showed critical (a check
	// that timed out on the starved machine, or an agent's restart).
	LegitMoves     int `json:"legit_moves"`
	UnfaultedMoves int `json:"unfaulted_moves"`
	// HeldJoins counts joins sent to the room's node while a fault had it
	// down, within the bound (--rooms.move-after keeps the room there).
	HeldJoins int `json:"held_joins"`
}

// allowed503 are the 503 reasons the selector documents for any time: no
// node can take a meeting, or the fleet view is too old.
var allowed503 = map[string]bool{"no_node": true, "catalog_stale": true}

// Check counts the invariants 1-4 over every answer against the ground
// truth. Answers are taken in order of their start; a room's answers are
// compared with the previous one for that room.
func Check(answers []Answer, windows []Window, b Bounds) Tally {
	answers = slices.Clone(answers)
	slices.SortStableFunc(answers, func(x, y Answer) int { return x.Start.Compare(y.Start) })
	byNode := map[string][]Window{}
	var blind, churn, consul []Window
	for _, w := range windows {
		switch {
		case w.State == Blind:
			blind = append(blind, w)
		case w.State == Churn:
			churn = append(churn, w)
			if w.Kind == ConsulServerKill || w.Kind == ConsulAgentRestart {
				consul = append(consul, w)
			}
		case w.Node != "":
			byNode[w.Node] = append(byNode[w.Node], w)
		}
	}
	inv := []Invariant{
		{ID: 1, Name: "redirects to a node down or draining longer than the detection bound"},
		{ID: 2, Name: "rooms split (two nodes for one room without the first going down)"},
		{ID: 3, Name: "answers other than 2xx/302 and the documented 503s"},
		{ID: 4, Name: "bindings lost across a selector restart or Consul server change"},
	}
	t := Tally{Allowed503: map[string]int{}}
	var zero time.Time // examples give times from the first request on
	if len(answers) > 0 {
		zero = answers[0].Start
	}
	at := func(t time.Time) string { return fmt.Sprintf("%+.1fs", t.Sub(zero).Seconds()) }
	// elapsed is how long a window has been in force at at, not counting
	// time the selectors' Consul view was blind.
	elapsed := func(w Window, at time.Time) time.Duration {
		d := at.Sub(w.Start)
		for _, bw := range blind {
			s, e := later(bw.Start, w.Start), bw.End
			if e.IsZero() || e.After(at) {
				e = at
			}
			if e.After(s) {
				d -= e.Sub(s)
			}
		}
		return d
	}
	// downNear reports whether node was down around [from, to], and
	// whether an injected fault (not only Consul's view) says so.
	downNear := func(node string, from, to time.Time) (down, injected bool) {
		for _, w := range byNode[node] {
			if w.State != Down {
				continue
			}
			if !w.End.IsZero() {
				w.End = w.End.Add(b.Recover)
			}
			if w.overlaps(from, to) {
				down = true
				injected = injected || w.Kind != Observed
			}
		}
		return down, injected
	}
	last := map[string]Answer{}
	for _, a := range answers {
		if a.Kind != "probe" && !a.ok() {
			switch {
			case a.Status == http.StatusServiceUnavailable && allowed503[a.Reason]:
				t.Allowed503[a.Reason]++
			case a.Status == http.StatusServiceUnavailable && a.Reason == "store_unavailable" &&
				(inWindow(blind, a.Start, b.Detect) || inWindow(consul, a.Start, b.ConsulSettle)):
				t.Allowed503[a.Reason+" (consul change)"]++
			default:
				inv[2].add("%s %s %s: status %d %s %s", at(a.Start), a.Kind, a.Room, a.Status, a.Reason, a.Err)
			}
			continue
		}
		if !a.ok() {
			continue
		}
		prev, seen := last[a.Room]
		fresh := !seen || prev.Node != a.Node
		if a.Kind != "probe" {
			for _, w := range byNode[a.Node] {
				if w.Kind == Observed || !w.covers(a.Start) || (w.State != Down && (w.State != Draining || !fresh)) {
					continue
				}
				bound := b.Detect
				if w.State == Down && !fresh {
					bound += 2 * b.MoveAfter
				}
				if e := elapsed(w, a.Start); e > bound {
					inv[0].add("%s %s %s -> %s via %s: %s (%s) for %.1fs", at(a.Start), a.Kind, a.Room, a.Node, a.Replica, w.State, w.Kind, e.Seconds())
				} else if w.State == Down && !fresh {
					t.HeldJoins++
				}
			}
		}
		if seen && prev.Node != a.Node {
			from := prev.Start
			oldDown, oldInjected := downNear(prev.Node, from, a.End)
			newDown, newInjected := downNear(a.Node, from, a.End)
			switch {
			case oldDown || newDown:
				t.LegitMoves++
				if !oldInjected && !newInjected {
					t.UnfaultedMoves++
				}
			case inWindow(churn, from, 0) || anyOverlap(churn, from, a.End) || anyOverlap(blind, from, a.End):
				inv[3].add("%s room %s: %s (%s) then %s (%s)", at(a.Start), a.Room, prev.Node, prev.Replica, a.Node, a.Replica)
			default:
				inv[1].add("%s room %s: %s (%s) then %s (%s)", at(a.Start), a.Room, prev.Node, prev.Replica, a.Node, a.Replica)
			}
		}
		last[a.Room] = a
	}
	t.Invariants = inv
	return t
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

func anyOverlap(ws []Window, from, to time.Time) bool {
	for _, w := range ws {
		if w.overlaps(from, to) {
			return true
		}
	}
	return false
}
