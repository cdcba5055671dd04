package jvb

import "strconv"

// field maps a numeric stats key to an exported metric.
type field struct {
	key   string
	name  string // after "ensemble_jvb_"
	help  string
	class class
	scale float64 // multiplies the bridge's value into base units; 0 means 1
}

// class says what a field measures, which decides its metric type and
// which values are impossible (see check).
type class uint8

const (
	// count is a current number of things (conferences, endpoints,
	// threads): an integer in the bridge, never negative, and below
	// maxCount, since the bridge counts them in Java ints.
	count class = iota
	// rate is a per-second rate of bits or packets: never negative.
	rate
	// level is a non-negative measurement (stress, round-trip time).
	level
	// fraction is a loss fraction. RFC 3550 loss counts go negative with
	// duplicated packets, so only a non-finite value is impossible.
	fraction
	// counter is a total since the bridge started: a Java long, so never
	// negative and never above maxCounter.
	counter
)

// Bounds of the values a bridge can send; see class.
const (
	maxCount   = 1<<31 - 1
	maxCounter = 1 << 63
)

// kbps converts the bridge's kilobits per second into bytes per second.
const kbps = 1000.0 / 8

// fields are the numeric stats exported. Counters are the bridge's total_*
// fields: the name drops the prefix and gains the suffix _total
// (total_conference_seconds → conference_seconds_total), and a millisecond
// field becomes seconds. Rates and gauges keep the bridge's meaning in base
// units. Keys not listed here are ignored.
var fields = []field{
	{key: "conferences", name: "conferences", help: "Current conferences."},
	{key: "endpoints", name: "endpoints", help: "Current endpoints, local and relayed."},
	{key: "local_endpoints", name: "local_endpoints", help: "Current endpoints connected to this bridge (not relayed)."},
	{key: "local_active_endpoints", name: "local_active_endpoints", help: "Local endpoints in active conferences."},
	{key: "octo_endpoints", name: "octo_endpoints", help: "Current endpoints relayed from other bridges."},
	{key: "octo_conferences", name: "octo_conferences", help: "Current conferences that use a relay."},
	{key: "largest_conference", name: "largest_conference", help: "Endpoints in the largest current conference."},
	{key: "inactive_conferences", name: "inactive_conferences", help: "Current conferences without media."},
	{key: "p2p_conferences", name: "p2p_conferences", help: "Current peer-to-peer conferences."},
	{key: "inactive_endpoints", name: "inactive_endpoints", help: "Current endpoints without media."},
	{key: "receive_only_endpoints", name: "receive_only_endpoints", help: "Current endpoints that send no media."},
	{key: "endpoints_sending_audio", name: "endpoints_sending_audio", help: "Current endpoints sending audio."},
	{key: "endpoints_sending_video", name: "endpoints_sending_video", help: "Current endpoints sending video."},
	{key: "visitors", name: "visitors", help: "Current visitors."},
	{key: "stress_level", name: "stress_level", class: level, help: "Bridge's own load estimate: 0 idle, 1 at capacity, may exceed 1."},
	{key: "bit_rate_download", name: "receive_bytes_per_second", class: rate, help: "Incoming media rate in bytes per second.", scale: kbps},
	{key: "bit_rate_upload", name: "transmit_bytes_per_second", class: rate, help: "Outgoing media rate in bytes per second.", scale: kbps},
	{key: "packet_rate_download", name: "receive_packets_per_second", class: rate, help: "Incoming media packets per second."},
	{key: "packet_rate_upload", name: "transmit_packets_per_second", class: rate, help: "Outgoing media packets per second."},
	{key: "octo_receive_bitrate", name: "octo_receive_bytes_per_second", class: rate, help: "Incoming relay rate in bytes per second.", scale: 1.0 / 8},
	{key: "octo_send_bitrate", name: "octo_transmit_bytes_per_second", class: rate, help: "Outgoing relay rate in bytes per second.", scale: 1.0 / 8},
	{key: "octo_receive_packet_rate", name: "octo_receive_packets_per_second", class: rate, help: "Incoming relay packets per second."},
	{key: "octo_send_packet_rate", name: "octo_transmit_packets_per_second", class: rate, help: "Outgoing relay packets per second."},
	{key: "incoming_loss", name: "incoming_loss_ratio", class: fraction, help: "Fraction of incoming RTP packets lost."},
	{key: "outgoing_loss", name: "outgoing_loss_ratio", class: fraction, help: "Fraction of outgoing RTP packets lost."},
	{key: "overall_loss", name: "loss_ratio", class: fraction, help: "Fraction of RTP packets lost, both directions."},
	{key: "rtt_aggregate", name: "rtt_seconds", class: level, help: "Average round-trip time to endpoints in seconds.", scale: 1.0 / 1000},
	{key: "endpoints_with_high_outgoing_loss", name: "endpoints_with_high_outgoing_loss", help: "Endpoints with more than 10% outgoing loss."},
	{key: "endpoints_with_suspended_sources", name: "endpoints_with_suspended_sources", help: "Endpoints with suspended sources."},
	{key: "num_eps_oversending", name: "endpoints_oversending", help: "Endpoints sending more than they are allowed."},
	{key: "threads", name: "threads", help: "Threads of the bridge's JVM."},
	{key: "total_conferences_created", name: "conferences_created_total", class: counter, help: "Conferences created."},
	{key: "total_conferences_completed", name: "conferences_completed_total", class: counter, help: "Conferences completed."},
	{key: "total_conference_seconds", name: "conference_seconds_total", class: counter, help: "Total duration of completed conferences in seconds."},
	{key: "total_participants", name: "participants_total", class: counter, help: "Endpoints created."},
	{key: "total_visitors", name: "visitors_total", class: counter, help: "Visitors joined."},
	{key: "total_relays", name: "relays_total", class: counter, help: "Relays created."},
	{key: "total_keyframes_received", name: "keyframes_received_total", class: counter, help: "Video keyframes received."},
	{key: "total_layering_changes_received", name: "layering_changes_received_total", class: counter, help: "Simulcast layering changes received."},
	{key: "total_video_stream_milliseconds_received", name: "video_stream_seconds_received_total", class: counter, scale: 1.0 / 1000, help: "Video stream time received in seconds."},
	{key: "total_data_channel_messages_received", name: "data_channel_messages_received_total", class: counter, help: "Data channel messages received."},
	{key: "total_data_channel_messages_sent", name: "data_channel_messages_sent_total", class: counter, help: "Data channel messages sent."},
	{key: "total_colibri_web_socket_messages_received", name: "colibri_web_socket_messages_received_total", class: counter, help: "Colibri WebSocket messages received."},
	{key: "total_colibri_web_socket_messages_sent", name: "colibri_web_socket_messages_sent_total", class: counter, help: "Colibri WebSocket messages sent."},
	{key: "total_bytes_received", name: "bytes_received_total", class: counter, help: "Media bytes received."},
	{key: "total_bytes_sent", name: "bytes_sent_total", class: counter, help: "Media bytes sent."},
	{key: "total_packets_received", name: "packets_received_total", class: counter, help: "Media packets received."},
	{key: "total_packets_sent", name: "packets_sent_total", class: counter, help: "Media packets sent."},
	{key: "total_bytes_received_octo", name: "bytes_received_octo_total", class: counter, help: "Relay bytes received."},
	{key: "total_bytes_sent_octo", name: "bytes_sent_octo_total", class: counter, help: "Relay bytes sent."},
	{key: "total_packets_received_octo", name: "packets_received_octo_total", class: counter, help: "Relay packets received."},
	{key: "total_packets_sent_octo", name: "packets_sent_octo_total", class: counter, help: "Relay packets sent."},
	{key: "total_dominant_speaker_changes", name: "dominant_speaker_changes_total", class: counter, help: "Dominant speaker changes."},
	{key: "total_ice_failed", name: "ice_failed_total", class: counter, help: "ICE sessions that failed."},
	{key: "total_ice_succeeded", name: "ice_succeeded_total", class: counter, help: "ICE sessions that succeeded."},
	{key: "total_ice_succeeded_relayed", name: "ice_succeeded_relayed_total", class: counter, help: "ICE sessions that succeeded through a TURN relay."},
}

// boolField maps a boolean stats key to a 0/1 gauge.
type boolField struct{ key, name, help string }

var boolFields = []boolField{
	{key: "drain", name: "drain", help: "Whether the bridge is in drain mode (1): Jicofo sends it no new conferences."},
	{key: "graceful_shutdown", name: "graceful_shutdown", help: "Whether a graceful shutdown is in progress (1)."},
	{key: "shutting_down", name: "shutting_down", help: "Whether the bridge is shutting down (1)."},
}

// distField maps a stats array of conference counts (index i: conferences
// with i endpoints or senders, the last index "that many or more") to a
// gauge per bucket with a bounded label.
type distField struct{ key, name, label, help string }

var distFields = []distField{
	{key: "conference_sizes", name: "conferences_by_size", label: "size",
		help: `Current conferences by number of endpoints; size="21+" counts 21 or more.`},
	{key: "conferences_by_audio_senders", name: "conferences_by_audio_senders", label: "senders",
		help: `Current conferences by number of local endpoints sending audio; senders="21+" counts 21 or more.`},
	{key: "conferences_by_video_senders", name: "conferences_by_video_senders", label: "senders",
		help: `Current conferences by number of local endpoints sending video; senders="21+" counts 21 or more.`},
}

// distBuckets is the number of buckets the bridge has always used: sizes
// 0 to 20 and one for 21 or more (CONFERENCE_SIZE_BUCKETS = 22 in the
// Java statistics; buckets 0..20 plus +Inf in its Prometheus histograms).
// A longer array from some future bridge folds into the last bucket, so
// the label stays bounded.
const distBuckets = 22

// bucketLabels are the label values of the distBuckets buckets.
var bucketLabels = func() [distBuckets]string {
	var ls [distBuckets]string
	for i := range distBuckets - 1 {
		ls[i] = strconv.Itoa(i)
	}
	ls[distBuckets-1] = strconv.Itoa(distBuckets-1) + "+"
	return ls
}()
