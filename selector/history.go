package selector

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// demandMetric is the gauge every selector exports (metrics.go) and Prometheus keeps: the history
// the desired count anticipates from.
const demandMetric = "ensemble_fleet_demand_cpus"

// history reads, from Prometheus, the most demand each region had over the next lead on each of
// the previous days (--fleet.history-days): what placement.Anticipate sizes the fleet for, so a
// step that came at this time of day yesterday has nodes booted before it comes today.
type history struct {
	api     v1.API
	query   string
	timeout time.Duration
	now     func() time.Time
}

// aheadState is the last answer of the history and when it was read.
type aheadState struct {
	demand map[string]float64
	at     time.Time
}

// newHistory returns the history reader of opts, or nil when --fleet.history-days is 0. It talks to
// --prometheus.url through rt, with --load.timeout per read, whatever the load source.
func newHistory(opts Options, rt http.RoundTripper) (*history, error) {
	if opts.FleetHistoryDays == 0 {
		return nil, nil
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	c, err := api.NewClient(api.Config{Address: opts.PrometheusURL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("fleet history: %w", err)
	}
	return &history{api: v1.NewAPI(c), query: historyQuery(opts.FleetHistoryDays, opts.FleetLead),
		timeout: opts.LoadTimeout, now: opts.Now}, nil
}

// historyQuery is one PromQL instant query for the most demand per region over
// [now − k·24h, now − k·24h + lead] for k = 1..days. max_over_time(x[lead] offset o) covers
// (now − o − lead, now − o], so o = k·24h − lead. Each day is merged over the replicas (max by
// region: every replica exports the same figure) and labelled with its day, since `or` keeps only
// the first of series with equal labels; the outer max takes the busiest day.
func historyQuery(days int, lead time.Duration) string {
	parts := make([]string, days)
	for k := 1; k <= days; k++ {
		parts[k-1] = fmt.Sprintf(`label_replace(max by (region) (max_over_time(%s[%s] offset %s)), "ensemble_history_day", "%d", "", "")`,
			demandMetric, model.Duration(lead), model.Duration(time.Duration(k)*24*time.Hour-lead), k)
	}
	return "max by (region) (" + strings.Join(parts, " or ") + ")"
}

// fetch runs the query at now and returns the demand ahead per region. Samples without a valid
// region or with a negative or non-finite value are left out; an answer that is no instant vector
// is an error.
func (h *history) fetch(ctx context.Context) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	val, _, _, err := h.api.Query(ctx, h.query, h.now(), v1.WithTimeout(h.timeout))
	if err != nil {
		return nil, fmt.Errorf("fleet history query: %w", err)
	}
	vec, ok := val.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("fleet history query: want an instant vector, got %s", val.Type())
	}
	out := make(map[string]float64, len(vec))
	for _, smp := range vec {
		r, v := string(smp.Metric["region"]), float64(smp.Value)
		if !validRegion(r) || !(v >= 0) || math.IsInf(v, 0) {
			continue
		}
		out[r] = max(out[r], v)
	}
	return out, nil
}

// refreshHistory reads the history once and keeps the answer for the fleet collector. A failure
// is counted and logged and keeps the last answer, which the collector stops using once it is
// older than --fleet.lead: the gauge then follows the load at hand.
func (s *Selector) refreshHistory(ctx context.Context) {
	at := s.opts.Now()
	demand, err := s.history.fetch(ctx)
	if ctx.Err() != nil {
		return // shutting down
	}
	if err != nil {
		s.metrics.historyErrors.Inc()
		s.logger.Warn("fleet history unavailable; ensemble_fleet_desired_nodes follows the load at hand once the last answer is older than --fleet.lead",
			"err", err)
		return
	}
	s.ahead.Store(&aheadState{demand: demand, at: at})
}

// aheadDemand returns the demand ahead per region from a history answer younger than --fleet.lead,
// or nil.
func (s *Selector) aheadDemand() map[string]float64 {
	st := s.ahead.Load()
	if st == nil || s.opts.Now().Sub(st.at) > s.opts.FleetLead {
		return nil
	}
	return st.demand
}
