package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"
)

// canLoseServer decides from Consul's raft configuration and autopilot's
// health whether a server may be killed. The answers are served as Consul
// shapes them; the case that matters is the soak's (seed
// 6551752796806853350): every server a voter and a leader, but the agent,
// itself a server, just back from a restart and not yet healthy. Killing the
// leader then left no quorum for 28 s.
func TestCanLoseServer(t *testing.T) {
	server := func(name string, leader, voter, healthy bool) (api.RaftServer, api.ServerHealth) {
		return api.RaftServer{ID: name, Node: name, Address: name + ":8300", Leader: leader, Voter: voter},
			api.ServerHealth{ID: name, Name: name, SerfStatus: "alive", Leader: leader, Voter: voter, Healthy: healthy}
	}
	for _, tc := range []struct {
		name      string
		servers   [][3]bool // leader, voter, healthy
		tolerance int
		ok        bool
	}{
		{"whole and healthy", [][3]bool{{true, true, true}, {false, true, true}, {false, true, true}}, 1, true},
		{"a voter back but not healthy", [][3]bool{{true, true, true}, {false, true, false}, {false, true, true}}, 0, false},
		{"a server not yet a voter", [][3]bool{{true, true, true}, {false, false, true}, {false, true, true}}, 0, false},
		{"no leader", [][3]bool{{false, true, true}, {false, true, true}, {false, true, true}}, 1, false},
		{"a server gone", [][3]bool{{true, true, true}, {false, true, true}}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg api.RaftConfiguration
			health := api.OperatorHealthReply{Healthy: true, FailureTolerance: tc.tolerance}
			for i, s := range tc.servers {
				r, h := server(fmt.Sprintf("ensemble-server-%d", i+1), s[0], s[1], s[2])
				cfg.Servers = append(cfg.Servers, &r)
				health.Servers = append(health.Servers, h)
				health.Healthy = health.Healthy && s[2]
			}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/operator/raft/configuration"):
					_ = json.NewEncoder(w).Encode(cfg)
				case strings.HasSuffix(r.URL.Path, "/operator/autopilot/health"):
					if !health.Healthy {
						w.WriteHeader(http.StatusTooManyRequests) // Consul's answer when unhealthy
					}
					_ = json.NewEncoder(w).Encode(health)
				default:
					http.NotFound(w, r)
				}
			}))
			defer srv.Close()
			c, err := api.NewClient(&api.Config{Address: strings.TrimPrefix(srv.URL, "http://")})
			if err != nil {
				t.Fatal(err)
			}
			if err := canLoseServer(context.Background(), c, 3); (err == nil) != tc.ok {
				t.Errorf("canLoseServer = %v, want ok %v", err, tc.ok)
			}
		})
	}
}
