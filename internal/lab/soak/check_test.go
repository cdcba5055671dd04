package soak

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// checkCase is one file of testdata/check: answers and fault windows at
// offsets in seconds, and the counts Check must give.
type checkCase struct {
	Windows []struct {
		Node  string  `json:"node"`
		State State   `json:"state"`
		Kind  Kind    `json:"kind"`
		Start float64 `json:"start"`
		End   float64 `json:"end"` // 0: still open
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
	Want       map[int]int    `json:"want"`
	LegitMoves int            `json:"legit_moves"`
	HeldJoins  int            `json:"held_joins"`
	Allowed503 map[string]int `json:"allowed_503"`
}

var t0 = time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)

func offset(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func TestCheck(t *testing.T) {
	files, err := filepath.Glob("testdata/check/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test cases: %v", err)
	}
	bounds := Bounds{Detect: 5 * time.Second, MoveAfter: 3 * time.Second, Recover: 6 * time.Second, ConsulSettle: 15 * time.Second}
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
			var ws []Window
			for _, w := range c.Windows {
				win := Window{Node: w.Node, State: w.State, Kind: w.Kind, Start: offset(w.Start)}
				if w.End > 0 {
					win.End = offset(w.End)
				}
				ws = append(ws, win)
			}
			var as []Answer
			for _, a := range c.Answers {
				end := a.End
				if end == 0 {
					end = a.Start + 0.01
				}
				as = append(as, Answer{Kind: a.Kind, Room: a.Room, Start: offset(a.Start), End: offset(end),
					Status: a.Status, Reason: a.Reason, Node: a.Node, Replica: a.Replica, Err: a.Err})
			}
			got := Check(as, ws, bounds)
			for _, inv := range got.Invariants {
				if inv.Count != c.Want[inv.ID] {
					t.Errorf("invariant %d = %d, want %d; examples %v", inv.ID, inv.Count, c.Want[inv.ID], inv.Examples)
				}
			}
			if got.LegitMoves != c.LegitMoves || got.HeldJoins != c.HeldJoins {
				t.Errorf("legit moves = %d, held joins = %d; want %d, %d", got.LegitMoves, got.HeldJoins, c.LegitMoves, c.HeldJoins)
			}
			for reason, n := range c.Allowed503 {
				if got.Allowed503[reason] != n {
					t.Errorf("allowed 503 %q = %d, want %d (all: %v)", reason, got.Allowed503[reason], n, got.Allowed503)
				}
			}
		})
	}
}
