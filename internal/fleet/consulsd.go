package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

// consulSD serves Prometheus HTTP service discovery from Consul's health
// API, with the same __meta_consul_* labels consul_sd_configs sets. Debian's
// Prometheus package is built without Consul discovery, so the fleet turns
// the shipped consul_sd_configs into http_sd_configs pointing here; the
// shipped relabelling then works unchanged on the same labels.
type consulSD struct {
	consul func() (*api.Client, error)
	srv    *http.Server
	url    string
}

func startConsulSD(consul func() (*api.Client, error)) (*consulSD, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("consul sd: %w", err)
	}
	sd := &consulSD{consul: consul, url: "http://" + ln.Addr().String() + "/sd"}
	sd.srv = &http.Server{
		Handler:           sd,
		ReadTimeout:       5 * time.Second,
		ReadHeaderTimeout: 2 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	go func() { _ = sd.srv.Serve(ln) }()
	return sd, nil
}

func (sd *consulSD) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = sd.srv.Shutdown(ctx)
}

// targetURL is the http_sd URL for one Consul service.
func (sd *consulSD) targetURL(service string) string {
	return sd.url + "?service=" + service
}

type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

func (sd *consulSD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service := r.URL.Query().Get("service")
	if r.Method != http.MethodGet || service == "" {
		http.Error(w, "GET /sd?service=NAME", http.StatusBadRequest)
		return
	}
	groups, err := sd.groups(r.Context(), service)
	if err != nil {
		// Prometheus keeps the targets of its last good refresh, as it does
		// when consul_sd cannot reach Consul.
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(groups)
}

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

func (sd *consulSD) groups(ctx context.Context, service string) ([]targetGroup, error) {
	c, err := sd.consul()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	entries, _, err := c.Health().Service(service, "", false, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul health %s: %w", service, err)
	}
	groups := make([]targetGroup, 0, len(entries))
	for _, e := range entries {
		if e.Service == nil || e.Node == nil {
			continue
		}
		s := e.Service
		addr := s.Address
		if addr == "" {
			addr = e.Node.Address
		}
		l := map[string]string{
			"__meta_consul_address":         e.Node.Address,
			"__meta_consul_dc":              e.Node.Datacenter,
			"__meta_consul_health":          e.Checks.AggregatedStatus(),
			"__meta_consul_node":            e.Node.Node,
			"__meta_consul_service":         s.Service,
			"__meta_consul_service_address": s.Address,
			"__meta_consul_service_id":      s.ID,
			"__meta_consul_service_port":    strconv.Itoa(s.Port),
			"__meta_consul_tags":            "," + strings.Join(s.Tags, ",") + ",",
		}
		for k, v := range s.Meta {
			l["__meta_consul_service_metadata_"+invalidLabelChars.ReplaceAllString(k, "_")] = v
		}
		groups = append(groups, targetGroup{
			Targets: []string{net.JoinHostPort(addr, strconv.Itoa(s.Port))},
			Labels:  l,
		})
	}
	return groups, nil
}

var errNoConsulSD = errors.New("no consul_sd_configs to point at the fleet's Consul")
