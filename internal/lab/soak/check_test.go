package soak

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// checkCase is one file of testdata/check: the fleet's nodes, fault
// windows, answers and reads of the room prefix at offsets in seconds, and
// what the judge must count. Every rule has a case that breaks it.
type checkCase struct {
	Nodes   []string `json:"nodes"` // default node-1 .. node-4
	Windows []struct {
		Node   string  `json:"node"`
		State  State   `json:"state"`
		Kind   Kind    `json:"kind"`
		Target string  `json:"target"`
		Start  float64 `json:"start"`
		End    float64 `json:"end"` // 0: still open
	} `json:"windows"`
	Answers []struct {
		Kind    string  `json:"kind"`
		Room    string  `json:"room"`
		Start   float64 `json:"start"`
		End     float64 `json:"end"`
		Status  int     `json:"status"`
		Reason  string  `json:"reason"`
		Node    string  `json:"node"`
		Replica string  `json:"replica"`
		Err     string  `json:"err"`
	} `json:"answers"`
	KV []struct {
		At    float64              `json:"at"`
		Rooms map[string]kvBinding `json:"rooms"`
	} `json:"kv"`
	// MinOKShare and MinQuiet turn on the share of 302s outside faults
	// (off in the other cases, so each case shows one rule).
	MinOKShare float64 `json:"min_ok_share"`
	MinQuiet   int     `json:"min_quiet"`

	Want       map[int]int    `json:"want"`
	Moves      map[Kind]int   `json:"moves"`
	HeldJoins  int            `json:"held_joins"`
	Concurrent int            `json:"concurrent"`
	Allowed503 map[string]int `json:"allowed_503"`
	Long       []struct {
		Rooms int `json:"rooms"`
		Moved int `json:"moved"`
	} `json:"long"`
}

var t0 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

func offset(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// testBounds: a 3 s move-after, so a long fault is Detect + 2 x 3 = 11 s.
var testBounds = Bounds{Detect: 5 * time.Second, MoveAfter: 3 * time.Second, Skew: 500 * time.Millisecond,
	Recover: 6 * time.Second, ConsulSettle: 15 * time.Second, ElectionLead: 2 * time.Second}

func (c checkCase) evidence() evidence {
	ev := evidence{Nodes: c.Nodes}
	if ev.Nodes == nil {
		ev.Nodes = []string{"node-1", "node-2", "node-3", "node-4"}
	}
	for _, w := range c.Windows {
		win := Window{Node: w.Node, State: w.State, Kind: w.Kind, Target: w.Target, Start: offset(w.Start)}
		if w.End > 0 {
			win.End = offset(w.End)
		}
		ev.Windows = append(ev.Windows, win)
	}
	for _, a := range c.Answers {
		end := a.End
		if end == 0 {
			end = a.Start + 0.01
		}
		ev.Answers = append(ev.Answers, Answer{Kind: a.Kind, Room: a.Room, Start: offset(a.Start), End: offset(end),
			Status: a.Status, Reason: a.Reason, Node: a.Node, Replica: a.Replica, Err: a.Err})
	}
	for _, s := range c.KV {
		ev.KV = append(ev.KV, kvSnapshot{At: offset(s.At), Rooms: s.Rooms})
	}
	return ev
}

func TestCheck(t *testing.T) {
	files, err := filepath.Glob("testdata/check/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var c checkCase
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			bounds := testBounds
			bounds.MinOKShare, bounds.MinQuiet = c.MinOKShare, c.MinQuiet
			got := check(c.evidence(), bounds)
			for _, inv := range got.Invariants {
				if inv.Count != c.Want[inv.ID] {
					t.Errorf("invariant %d = %d, want %d; examples %v", inv.ID, inv.Count, c.Want[inv.ID], inv.Examples)
				}
			}
			if len(got.Moves) != len(c.Moves) {
				t.Errorf("moves %v, want %v", got.Moves, c.Moves)
			}
			for k, n := range c.Moves {
				if got.Moves[k] != n {
					t.Errorf("moves %v, want %v", got.Moves, c.Moves)
				}
			}
			if got.HeldJoins != c.HeldJoins {
				t.Errorf("held joins = %d, want %d", got.HeldJoins, c.HeldJoins)
			}
			if got.Concurrent != c.Concurrent {
				t.Errorf("concurrent answers = %d, want %d", got.Concurrent, c.Concurrent)
			}
			for reason, n := range c.Allowed503 {
				if got.Allowed503[reason] != n {
					t.Errorf("allowed 503 %q = %d, want %d (all: %v)", reason, got.Allowed503[reason], n, got.Allowed503)
				}
			}
			if len(got.LongFaults) != len(c.Long) {
				t.Fatalf("long faults %+v, want %+v", got.LongFaults, c.Long)
			}
			for i, l := range c.Long {
				if g := got.LongFaults[i]; g.Rooms != l.Rooms || g.Moved != l.Moved {
					t.Errorf("long fault %d: %+v, want rooms %d moved %d", i, g, l.Rooms, l.Moved)
				}
			}
		})
	}
}

// Every invariant the judge counts has at least one case that breaks it.
func TestCheckCasesBreakEveryRule(t *testing.T) {
	files, _ := filepath.Glob("testdata/check/*.json")
	broken := map[int]bool{}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var c checkCase
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		for id, n := range c.Want {
			broken[id] = broken[id] || n > 0
		}
	}
	for _, inv := range check(evidence{}, testBounds).Invariants {
		if !broken[inv.ID] {
			t.Errorf("invariant %d (%s): no case in testdata/check breaks it", inv.ID, inv.Name)
		}
	}
}
