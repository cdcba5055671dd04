package jvbemu

import (
	"net/http"
	"strings"
)

// metrics serves the bridge's own Prometheus text (/metrics, on by default
// and not behind the COLIBRI switch), written as the bridge's Prometheus
// simpleclient writes text format 0.0.4: counters with _total and a
// _created gauge, doubles as Java prints them, histogram labels with a
// trailing comma. It carries the same numbers as statsJSON, in the
// bridge's metric units (bit rates in bps where the stats have kbps).
// Like the bridge, it needs an Accept header.
func (e *Emulator) metrics(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") == "" {
		// The bridge's Prometheus resource splits a null Accept header.
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(e.metricsText())
}

func (e *Emulator) metricsText() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	m := e.modelLocked()
	t := &e.totals
	started := float64(e.started.UnixMilli()) / 1000
	p := promWriter{b: make([]byte, 0, 16<<10), created: started}
	p.gauge("incoming_loss_fraction", "Fraction of incoming RTP packets that are lost.", m.incomingLoss)
	p.gauge("outgoing_loss_fraction", "Fraction of outgoing RTP packets that are lost.", m.outgoingLoss)
	p.gauge("loss_fraction", "Fraction of RTP packets that are lost (incoming and outgoing combined).", m.overallLoss)
	p.gauge("relay_incoming_bitrate", "Incoming RTP/RTCP bitrate from relays in bps.", 0)
	p.gauge("relay_outgoing_bitrate", "Outgoing RTP/RTCP bitrate to relays in bps.", 0)
	p.gauge("relay_incoming_packet_rate", "Incoming RTP/RTCP packet rate from relays in pps.", 0)
	p.gauge("relay_outgoing_packet_rate", "Outgoing RTP/RTCP packet rate to relays in pps.", 0)
	p.gauge("incoming_bitrate", "Incoming RTP/RTCP bitrate in bps.", float64(m.downKbps*1000))
	p.gauge("outgoing_bitrate", "Outgoing RTP/RTCP bitrate in bps.", float64(m.upKbps*1000))
	p.gauge("incoming_packet_rate", "Incoming RTP/RTCP packet rate in pps.", float64(m.downPPS))
	p.gauge("outgoing_packet_rate", "Outgoing RTP/RTCP packet rate in pps.", float64(m.upPPS))
	p.gauge("average_rtt", "Average RTT across all local endpoints in ms.", m.rtt)
	p.gauge("largest_conference", "The size of the largest conference (number of endpoints).", float64(m.largest))
	p.gauge("current_endpoints", "Number of current endpoints (local and relayed).", float64(m.endpoints))
	p.gauge("tcc_unmatched_feedback", "Number of TCC feedback packets that could not be matched.", 0)
	p.gauge("endpoints_with_high_outgoing_loss", "Number of endpoints that have high outgoing loss (>10%).", 0)
	p.gauge("active_endpoints", "The number of active local endpoints (in a conference where at least one endpoint sends audio or video).", float64(m.activeEPs))
	p.gauge("endpoints_sending_audio", "Number of local endpoints sending audio.", float64(m.sendingAudio))
	p.gauge("endpoints_sending_video", "Number of local endpoints sending video.", float64(m.sendingVideo))
	p.gauge("endpoints_relayed", "Number of relayed endpoints.", 0)
	p.gauge("endpoints_oversending", "Number of endpoints that we are oversending to.", 0)
	p.gauge("endpoints_recvonly", "Number of endpoints that are not sending audio or video (but are receiving).", float64(m.receiveOnly))
	p.gauge("endpoints_inactive", "Number of endpoints in inactive conferences.", float64(m.inactiveEPs))
	p.gauge("endpoints_with_spurious_remb", "Number of endpoints that have sent a REMB packet even though REMB wasn't configured.", 0)
	p.gauge("endpoints_with_suspended_sources", "Number of endpoints that we have suspended sending some video streams to because of bwe.", float64(m.receiveOnly))
	p.gauge("conferences_inactive", "Number of inactive conferences (no endpoint is sending audio or video).", float64(m.inactiveConfs))
	p.gauge("conferences_p2p", "Number of p2p conferences (inactive with 2 endpoints).", float64(m.p2pConfs))
	p.gauge("conferences_with_relay", "Number of conferences with one or more relays.", 0)
	p.histogram("conferences_by_size", "Histogram of conferences by total number of endpoints.", &m.bySize)
	p.histogram("conferences_by_audio_sender", "Histogram of conferences by number of local endpoints sending audio.", &m.byAudio)
	p.histogram("conferences_by_video_sender", "Histogram of conferences by number of local endpoints sending video.", &m.byVideo)
	p.boolean("graceful_shutdown", "Whether the bridge is in graceful shutdown mode (not accepting new conferences).", e.graceful)
	p.boolean("shutting_down", "Whether the bridge is shutting down.", e.shutting)
	p.boolean("drain_mode", "Whether the bridge is in drain shutdown mode.", e.drain)
	p.counter("conferences_completed", "The total number of conferences completed/expired on the Videobridge.", float64(e.doneConf))
	p.counter("conferences_created", "The total number of conferences created on the Videobridge.", float64(e.startedConf))
	p.counter("data_channel_messages_received", "Number of messages received from the data channels of the endpoints of this conference.", 0)
	p.counter("data_channel_messages_sent", "Number of messages sent via the data channels of the endpoints of this conference.", 0)
	p.counter("colibri_web_socket_messages_received", "Number of messages received from the data channels of the endpoints of this conference.", float64(int64(t.wsRecv)))
	p.counter("colibri_web_socket_messages_sent", "Number of messages sent via the data channels of the endpoints of this conference.", float64(int64(t.wsSent)))
	p.counter("packets_received", "Number of RTP packets received in conferences on this videobridge.", float64(int64(t.pktsRecv)))
	p.counter("packets_sent", "Number of RTP packets sent in conferences on this videobridge.", float64(int64(t.pktsSent)))
	p.counter("relay_packets_received", "Number of RTP packets received by relays in conferences on this videobridge.", 0)
	p.counter("relay_packets_sent", "Number of RTP packets sent by relays in conferences on this videobridge.", 0)
	p.counter("endpoints", "The total number of endpoints created.", float64(e.everEPs))
	p.counter("visitors", "The total number of visitor endpoints created.", 0)
	p.counter("relays", "The total number of relays created.", 0)
	p.counter("dominant_speaker_changes", "Number of times the dominant speaker in any conference changed.", float64(int64(t.speakerChanges)))
	p.counter("ice_failed", "Number of endpoints whose ICE connection failed.", 0)
	p.counter("ice_succeeded", "Number of endpoints whose ICE connection succeeded.", float64(e.everEPs))
	p.counter("ice_succeeded_relayed", "Number of endpoints whose ICE connection succeeded via a relay (TURN).", float64(e.everEPs/50))
	p.gauge("stress", "Current stress (between 0 and 1).", m.stress)
	p.counter("keyframes_received", "Number of keyframes that were received (updated on endpoint expiration).", float64(int64(t.keyframes)))
	p.counter("layering_changes_received", "Number of times the layering of an incoming video stream changed (updated on endpoint expiration).", float64(int64(t.layerChanges)))
	p.gauge("local_endpoints", "Number of local endpoints that exist currently.", float64(m.endpoints))
	p.gauge("current_visitors", "Number of visitor endpoints.", 0)
	p.gauge("conferences", "The current number of conferences.", float64(m.conferences))
	p.counter("conference_seconds", "The total duration in seconds of all completed conferences.", float64(int64(e.doneSeconds)))
	p.counter("bytes_received", "The total number of bytes received in RTP packets.", float64(int64(t.bytesRecv)))
	p.counter("bytes_sent", "The total number of bytes sent in RTP packets.", float64(int64(t.bytesSent)))
	p.counter("relay_bytes_received", "The total number of bytes received by relays in RTP packets.", 0)
	p.counter("relay_bytes_sent", "The total number of bytes sent by relays in RTP packets.", 0)
	p.counter("video_milliseconds_received", "Total duration of video received, in milliseconds (each SSRC counts separately).", float64(int64(t.videoMillis)))
	p.counter("xmpp_disconnects", "The number of times one of the XMPP connections has disconnected.", 0)
	p.gauge("thread_count", "Current number of JVM threads.", float64(baseThreads+threadsPerEndpoint*m.endpoints))
	p.boolean("healthy", "Whether the Videobridge instance is healthy or not.", e.healthCode == http.StatusOK)
	p.gauge("startup_time", "The startup time of the service.", float64(e.started.UnixMilli()))
	return p.b
}

// promWriter appends families in the bridge's simpleclient style.
type promWriter struct {
	b []byte
	// created is the _created timestamp of counters (seconds).
	created float64
}

func (p *promWriter) head(name, help, typ string) {
	p.b = append(p.b, "# HELP jitsi_jvb_"...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = append(p.b, strings.ReplaceAll(help, "\n", `\n`)...)
	p.b = append(p.b, "\n# TYPE jitsi_jvb_"...)
	p.b = append(p.b, name...)
	p.b = append(p.b, ' ')
	p.b = append(p.b, typ...)
	p.b = append(p.b, '\n')
}

func (p *promWriter) sample(name, labels string, v float64) {
	p.b = append(p.b, "jitsi_jvb_"...)
	p.b = append(p.b, name...)
	p.b = append(p.b, labels...)
	p.b = append(p.b, ' ')
	p.b = append(p.b, javaDouble(v)...)
	p.b = append(p.b, '\n')
}

func (p *promWriter) gauge(name, help string, v float64) {
	p.head(name, help, "gauge")
	p.sample(name, "", v)
}

func (p *promWriter) boolean(name, help string, on bool) {
	v := 0.0
	if on {
		v = 1
	}
	p.gauge(name, help, v)
}

func (p *promWriter) counter(name, help string, v float64) {
	p.head(name+"_total", help, "counter")
	p.sample(name+"_total", "", v)
	p.head(name+"_created", help, "gauge")
	p.sample(name+"_created", "", p.created)
}

// histogram writes current conferences per bucket as the bridge's
// histogram with upper bounds 0, 1, …, 20 and +Inf. The sum counts the
// last bucket at its lower bound, as the emulator keeps no exact sizes
// there (no test conference is that large).
func (p *promWriter) histogram(name, help string, counts *[sizeBuckets]int) {
	p.head(name, help, "histogram")
	cum, sum := 0, 0
	for i, c := range counts {
		cum += c
		sum += i * c
		if i < sizeBuckets-1 {
			p.sample(name+"_bucket", `{le="`+javaDouble(float64(i))+`",}`, float64(cum))
		}
	}
	p.sample(name+"_bucket", `{le="+Inf",}`, float64(cum))
	p.sample(name+"_count", "", float64(cum))
	p.sample(name+"_sum", "", float64(sum))
	p.head(name+"_created", help, "gauge")
	p.sample(name+"_created", "", p.created)
}
