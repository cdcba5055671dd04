package jvb

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// metricKey maps one of the bridge's own metrics (namespace jitsi_jvb_)
// to the /colibri/stats key with the same meaning, and the factor that
// turns the metric's unit into the key's. Since 2024 the bridge builds
// /colibri/stats from these very metrics (VideobridgeStatisticsShim), so
// the pairs below are the shim's.
type metricKey struct {
	key   string
	scale float64 // 0 means 1
}

// metricKeys is keyed by the sample name without namespace; counters by
// their name with _total.
var metricKeys = map[string]metricKey{
	"conferences":                       {key: "conferences"},
	"current_endpoints":                 {key: "endpoints"},
	"local_endpoints":                   {key: "local_endpoints"},
	"active_endpoints":                  {key: "local_active_endpoints"},
	"endpoints_relayed":                 {key: "octo_endpoints"},
	"conferences_with_relay":            {key: "octo_conferences"},
	"largest_conference":                {key: "largest_conference"},
	"conferences_inactive":              {key: "inactive_conferences"},
	"conferences_p2p":                   {key: "p2p_conferences"},
	"endpoints_inactive":                {key: "inactive_endpoints"},
	"endpoints_recvonly":                {key: "receive_only_endpoints"},
	"endpoints_sending_audio":           {key: "endpoints_sending_audio"},
	"endpoints_sending_video":           {key: "endpoints_sending_video"},
	"current_visitors":                  {key: "visitors"},
	"stress":                            {key: "stress_level"},
	"incoming_bitrate":                  {key: "bit_rate_download", scale: 1.0 / 1000}, // bps → kbps
	"outgoing_bitrate":                  {key: "bit_rate_upload", scale: 1.0 / 1000},
	"incoming_packet_rate":              {key: "packet_rate_download"},
	"outgoing_packet_rate":              {key: "packet_rate_upload"},
	"relay_incoming_bitrate":            {key: "octo_receive_bitrate"}, // bps in both
	"relay_outgoing_bitrate":            {key: "octo_send_bitrate"},
	"relay_incoming_packet_rate":        {key: "octo_receive_packet_rate"},
	"relay_outgoing_packet_rate":        {key: "octo_send_packet_rate"},
	"incoming_loss_fraction":            {key: "incoming_loss"},
	"outgoing_loss_fraction":            {key: "outgoing_loss"},
	"loss_fraction":                     {key: "overall_loss"},
	"average_rtt":                       {key: "rtt_aggregate"},
	"endpoints_with_high_outgoing_loss": {key: "endpoints_with_high_outgoing_loss"},
	"endpoints_with_suspended_sources":  {key: "endpoints_with_suspended_sources"},
	"endpoints_oversending":             {key: "num_eps_oversending"},
	"thread_count":                      {key: "threads"},
	"graceful_shutdown":                 {key: "graceful_shutdown"},
	"shutting_down":                     {key: "shutting_down"},
	"drain_mode":                        {key: "drain"},

	"conferences_created_total":                  {key: "total_conferences_created"},
	"conferences_completed_total":                {key: "total_conferences_completed"},
	"conference_seconds_total":                   {key: "total_conference_seconds"},
	"endpoints_total":                            {key: "total_participants"},
	"visitors_total":                             {key: "total_visitors"},
	"relays_total":                               {key: "total_relays"},
	"keyframes_received_total":                   {key: "total_keyframes_received"},
	"layering_changes_received_total":            {key: "total_layering_changes_received"},
	"video_milliseconds_received_total":          {key: "total_video_stream_milliseconds_received"},
	"data_channel_messages_received_total":       {key: "total_data_channel_messages_received"},
	"data_channel_messages_sent_total":           {key: "total_data_channel_messages_sent"},
	"colibri_web_socket_messages_received_total": {key: "total_colibri_web_socket_messages_received"},
	"colibri_web_socket_messages_sent_total":     {key: "total_colibri_web_socket_messages_sent"},
	"bytes_received_total":                       {key: "total_bytes_received"},
	"bytes_sent_total":                           {key: "total_bytes_sent"},
	"packets_received_total":                     {key: "total_packets_received"},
	"packets_sent_total":                         {key: "total_packets_sent"},
	"relay_bytes_received_total":                 {key: "total_bytes_received_octo"},
	"relay_bytes_sent_total":                     {key: "total_bytes_sent_octo"},
	"relay_packets_received_total":               {key: "total_packets_received_octo"},
	"relay_packets_sent_total":                   {key: "total_packets_sent_octo"},
	"dominant_speaker_changes_total":             {key: "total_dominant_speaker_changes"},
	"ice_failed_total":                           {key: "total_ice_failed"},
	"ice_succeeded_total":                        {key: "total_ice_succeeded"},
	"ice_succeeded_relayed_total":                {key: "total_ice_succeeded_relayed"},

	// Histograms of the current conferences, cleared on every statistics
	// run: the bridge's replacement for the conference_sizes arrays.
	"conferences_by_size":         {key: "conference_sizes"},
	"conferences_by_audio_sender": {key: "conferences_by_audio_senders"},
	"conferences_by_video_sender": {key: "conferences_by_video_senders"},
}

// metricsNamespace prefixes every bridge metric (VideobridgeMetricsContainer).
const metricsNamespace = "jitsi_jvb_"

// ErrNoBridgeMetrics means /metrics answered but with no jitsi_jvb_
// metric: the URL points at something else.
var ErrNoBridgeMetrics = errors.New("bridge metrics: no jitsi_jvb_ metric in the reply (is the URL a Jitsi Videobridge?)")

// ParseMetrics reads the bridge's Prometheus text exposition into Stats
// keyed as /colibri/stats is, in its units, so both sources export the
// same ensemble_jvb_* metrics. Metrics the bridge adds later are ignored;
// its histograms of current conferences become the distributions that
// /colibri/stats had until 2024.
func ParseMetrics(body []byte) (*Stats, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("bridge metrics: invalid Prometheus text: %w", err)
	}
	s := &Stats{}
	seen := false
	for name, mf := range families {
		short, ok := strings.CutPrefix(name, metricsNamespace)
		if !ok {
			continue
		}
		seen = true
		if mf.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(short, "_total") {
			short += "_total" // a TYPE line without the suffix (older clients)
		}
		mk, ok := metricKeys[short]
		if !ok || len(mf.GetMetric()) == 0 {
			continue
		}
		idx := knownIndex[mk.key]
		m := mf.GetMetric()[0]
		if known[idx].kind == kindDist {
			if counts, ok := histogramBuckets(m.GetHistogram()); ok {
				s.dists[known[idx].dist].set(counts)
				s.present[idx] = true
			}
			continue
		}
		v, ok := sampleValue(m)
		if !ok {
			return nil, fmt.Errorf("bridge metrics: %s is a %s, want a gauge or counter", name, mf.GetType())
		}
		if known[idx].kind == kindBool {
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("bridge metrics: %s = %v, want 0 or 1", name, v)
			}
		} else if mk.scale != 0 {
			v *= mk.scale
		}
		s.numbers[idx], s.present[idx] = v, true
	}
	if !seen {
		return nil, ErrNoBridgeMetrics
	}
	return s, nil
}

func sampleValue(m *dto.Metric) (float64, bool) {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

// histogramBuckets turns the bridge's cumulative histogram with upper
// bounds 0, 1, …, 20 into counts per size (the last one 21 or more), the
// layout of the old conference_sizes arrays. Another layout cannot be
// split into sizes, so it reports false.
func histogramBuckets(h *dto.Histogram) ([]float64, bool) {
	if h == nil {
		return nil, false
	}
	var cum [distBuckets - 1]float64
	n := 0
	for _, b := range h.GetBucket() {
		ub := b.GetUpperBound()
		if math.IsInf(ub, 1) {
			continue
		}
		if n >= len(cum) || ub != float64(n) {
			return nil, false
		}
		cum[n] = float64(b.GetCumulativeCount())
		n++
	}
	if n != len(cum) {
		return nil, false
	}
	counts := make([]float64, distBuckets)
	prev := 0.0
	for i, c := range cum {
		counts[i] = c - prev
		prev = c
	}
	counts[distBuckets-1] = float64(h.GetSampleCount()) - prev
	return counts, true
}
