package jvbemu

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// timestampLayout is the bridge's current_timestamp format (UTC).
const timestampLayout = "2006-01-02 15:04:05.000"

// statsJSON renders /colibri/stats the way VideobridgeStatisticsShim does:
// its keys in its insertion order, Longs as integers, Doubles as Java
// writes them (0.0, 1.0E-4), on one line without spaces.
func (e *Emulator) statsJSON() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.advance()
	m := e.modelLocked()
	t := &e.totals
	w := objectWriter{b: make([]byte, 0, 3072)}
	w.double("incoming_loss", m.incomingLoss)
	w.double("outgoing_loss", m.outgoingLoss)
	w.double("overall_loss", m.overallLoss)
	w.long("endpoints_with_high_outgoing_loss", 0)
	w.long("tcc_unmatched_feedback", 0)
	w.long("local_active_endpoints", int64(m.activeEPs))
	w.long("bit_rate_download", m.downKbps)
	w.long("bit_rate_upload", m.upKbps)
	w.long("packet_rate_download", m.downPPS)
	w.long("packet_rate_upload", m.upPPS)
	w.double("rtt_aggregate", m.rtt)
	w.long("num_eps_oversending", 0)
	w.long("octo_conferences", 0)
	w.long("inactive_conferences", int64(m.inactiveConfs))
	w.long("p2p_conferences", int64(m.p2pConfs))
	w.long("endpoints", int64(m.endpoints))
	w.long("participants", int64(m.endpoints))
	w.long("receive_only_endpoints", int64(m.receiveOnly))
	w.long("inactive_endpoints", int64(m.inactiveEPs))
	w.long("octo_endpoints", 0)
	w.long("endpoints_sending_audio", int64(m.sendingAudio))
	w.long("endpoints_sending_video", int64(m.sendingVideo))
	w.long("largest_conference", int64(m.largest))
	w.long("octo_receive_bitrate", 0)
	w.long("octo_receive_packet_rate", 0)
	w.long("octo_send_bitrate", 0)
	w.long("octo_send_packet_rate", 0)
	w.long("endpoints_with_suspended_sources", int64(m.receiveOnly))
	w.long("total_conferences_created", e.startedConf)
	w.long("total_conferences_completed", e.doneConf)
	w.long("total_conference_seconds", int64(e.doneSeconds))
	w.long("total_participants", e.everEPs)
	w.long("total_visitors", 0)
	w.long("num_eps_no_msg_transport_after_delay", 0)
	w.long("total_relays", 0)
	w.long("num_relays_no_msg_transport_after_delay", 0)
	w.long("total_keyframes_received", int64(t.keyframes))
	w.long("total_layering_changes_received", int64(t.layerChanges))
	w.long("total_video_stream_milliseconds_received", int64(t.videoMillis))
	w.double("stress_level", m.stress)
	w.long("conferences", int64(m.conferences))
	w.long("visitors", 0)
	w.long("local_endpoints", int64(m.endpoints))
	w.long("total_data_channel_messages_received", 0)
	w.long("total_data_channel_messages_sent", 0)
	w.long("total_colibri_web_socket_messages_received", int64(t.wsRecv))
	w.long("total_colibri_web_socket_messages_sent", int64(t.wsSent))
	w.long("total_bytes_received", int64(t.bytesRecv))
	w.long("endpoints_ice_failed", 0)
	w.long("dtls_failed_endpoints", 0)
	w.long("relays_ice_failed", 0)
	w.long("dtls_failed_relays", 0)
	w.long("total_bytes_sent", int64(t.bytesSent))
	w.long("total_packets_received", int64(t.pktsRecv))
	w.long("total_packets_sent", int64(t.pktsSent))
	w.long("total_bytes_received_octo", 0)
	w.long("total_bytes_sent_octo", 0)
	w.long("total_packets_received_octo", 0)
	w.long("total_packets_sent_octo", 0)
	w.long("total_dominant_speaker_changes", int64(t.speakerChanges))
	w.long("preemptive_kfr_sent", 0)
	w.long("preemptive_kfr_suppressed", 0)
	w.long("total_ice_failed", 0)
	w.long("total_ice_succeeded", e.everEPs)
	w.long("total_ice_succeeded_relayed", e.everEPs/50)
	w.double("average_participant_stress", averageParticipantStress)
	w.long("threads", int64(baseThreads+threadsPerEndpoint*m.endpoints))
	w.bool("graceful_shutdown", e.graceful)
	w.bool("shutting_down", e.shutting)
	w.bool("drain", e.drain)
	w.str("current_timestamp", now.UTC().Format(timestampLayout))
	if e.opts.RelayID != "" {
		w.str("relay_id", e.opts.RelayID)
	}
	w.long("muc_clients_configured", 1)
	w.long("muc_clients_connected", 1)
	w.long("mucs_configured", 1)
	w.long("mucs_joined", 1)
	w.long("endpoints_with_spurious_remb", 0)
	w.bool("healthy", e.healthCode == 200)
	w.long("endpoints_disconnected", 0)
	w.long("endpoints_reconnected", 0)
	w.str("version", e.opts.Version)
	if e.opts.Release != "" {
		w.str("release", e.opts.Release)
	}
	if e.opts.Region != "" {
		w.str("region", e.opts.Region)
	}
	return w.close()
}

// objectWriter appends the members of one JSON object in call order.
type objectWriter struct{ b []byte }

func (w *objectWriter) key(k string) {
	if len(w.b) == 0 {
		w.b = append(w.b, '{')
	} else {
		w.b = append(w.b, ',')
	}
	w.b = appendString(w.b, k)
	w.b = append(w.b, ':')
}

func (w *objectWriter) long(k string, v int64) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *objectWriter) double(k string, v float64) {
	w.key(k)
	w.b = append(w.b, javaDouble(v)...)
}

func (w *objectWriter) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *objectWriter) str(k, v string) {
	w.key(k)
	w.b = appendString(w.b, v)
}

func (w *objectWriter) close() []byte {
	if len(w.b) == 0 {
		return []byte("{}")
	}
	return append(w.b, '}')
}

// javaDouble formats v as Java's Double.toString, which Jackson uses:
// plain decimals with at least one fractional digit for 1e-3 <= |v| < 1e7,
// else scientific as "1.0E-4". Non-finite values are clamped to 0.0 since
// they are not JSON.
func javaDouble(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0.0"
	}
	if a := math.Abs(v); a == 0 || (a >= 1e-3 && a < 1e7) {
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(v, 'E', -1, 64) // 1E-04, 1.5E+07
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	n, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(n)
}

// appendString appends v as a JSON string. Keys and typical values are
// plain ASCII and are copied as they are, without allocating.
func appendString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(v) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}
