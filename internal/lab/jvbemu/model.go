package jvbemu

import "time"

// Load model. The bridge's numbers follow from the conference sizes with
// typical Jitsi Meet traffic, so that every derived field agrees with the
// others (endpoints = participants = sum of sizes, bitrates grow with
// endpoints, counters grow with time).
const (
	// A video sender's simulcast upstream (three layers) and an audio
	// stream, in kbps.
	videoSendKbps = 1200
	audioKbps     = 40
	// What the bridge forwards to one receiver for one other video sender
	// (a mid layer), in kbps, and how many senders a receiver gets at most.
	videoForwardKbps = 450
	maxForwarded     = 20
	// Video packets are about 1000 bytes; Opus sends 50 packets a second.
	videoBytesPerPacket = 1000
	audioPPS            = 50
	// JVB's default packet-rate load threshold
	// (videobridge.load-management.load-measurements.packet-rate.load-threshold):
	// stress_level is the packet rate divided by it.
	loadThresholdPPS = 50000
	// average_participant_stress is a bridge config constant.
	averageParticipantStress = 0.01
	baseThreads              = 95
	threadsPerEndpoint       = 4
)

// model holds the numbers derived from the current conferences.
type model struct {
	endpoints, largest, conferences         int
	activeConfs, activeEPs                  int
	inactiveConfs, p2pConfs, inactiveEPs    int
	receiveOnly, sendingAudio, sendingVideo int
	downKbps, upKbps, downPPS, upPPS        int64
	stress                                  float64
	incomingLoss, outgoingLoss, overallLoss float64
	rtt                                     float64
	// Current conferences by size and by audio and video senders: index
	// i counts i, the last index sizeBuckets-1 or more, as the bridge's
	// conference_sizes arrays and conferences_by_* histograms do.
	bySize, byAudio, byVideo [sizeBuckets]int
}

// sizeBuckets is the bridge's number of conference-size buckets.
const sizeBuckets = 22

func bucket(b *[sizeBuckets]int, n int) { b[min(n, sizeBuckets-1)]++ }

// modelLocked derives the model from the conferences. Called with mu held.
func (e *Emulator) modelLocked() model {
	var m model
	for _, c := range e.confs {
		n := c.size
		m.endpoints += n
		m.largest = max(m.largest, n)
		m.conferences++
		bucket(&m.bySize, n)
		if n < 3 {
			bucket(&m.byAudio, 0)
			bucket(&m.byVideo, 0)
			// One or two endpoints: the media goes peer to peer (two) or
			// nowhere (one), so the bridge sees an inactive conference.
			m.inactiveConfs++
			m.inactiveEPs += n
			if n == 2 {
				m.p2pConfs++
			}
			continue
		}
		m.activeConfs++
		m.activeEPs += n
		recvOnly := n / 6
		senders := n - recvOnly
		video := senders - senders/4
		audio := senders / 2
		m.receiveOnly += recvOnly
		m.sendingVideo += video
		m.sendingAudio += audio
		bucket(&m.byAudio, audio)
		bucket(&m.byVideo, video)
		m.downKbps += int64(video*videoSendKbps + audio*audioKbps)
		m.downPPS += int64(video*videoSendKbps*1000/8/videoBytesPerPacket + audio*audioPPS)
		// Video senders receive the others, everyone else all senders,
		// up to maxForwarded each; every receiver gets every other speaker.
		vPairs := video*min(video-1, maxForwarded) + (n-video)*min(video, maxForwarded)
		aPairs := audio*(audio-1) + (n-audio)*audio
		m.upKbps += int64(vPairs*videoForwardKbps + aPairs*audioKbps)
		m.upPPS += int64(vPairs*videoForwardKbps*1000/8/videoBytesPerPacket + aPairs*audioPPS)
	}
	m.stress = float64(m.downPPS+m.upPPS) / loadThresholdPPS
	if e.stress >= 0 {
		m.stress = e.stress
	}
	if m.activeEPs > 0 {
		m.incomingLoss, m.outgoingLoss, m.overallLoss, m.rtt = 0.0042, 0.0117, 0.0081, 38.25
	}
	return m
}

// advance integrates the counters from the last call to the clock's now
// with the current load, and returns now. A clock that goes back adds
// nothing, so counters never decrease. Called with mu held.
func (e *Emulator) advance() time.Time {
	now := e.opts.Clock()
	dt := now.Sub(e.last).Seconds()
	if dt <= 0 {
		return now
	}
	e.last = now
	m := e.modelLocked()
	t := &e.totals
	t.bytesRecv += float64(m.downKbps) * 1000 / 8 * dt
	t.bytesSent += float64(m.upKbps) * 1000 / 8 * dt
	t.pktsRecv += float64(m.downPPS) * dt
	t.pktsSent += float64(m.upPPS) * dt
	t.keyframes += float64(m.sendingVideo) * dt / 10
	t.layerChanges += float64(m.sendingVideo) * dt / 30
	t.videoMillis += float64(m.sendingVideo) * dt * 1000
	t.speakerChanges += float64(m.activeConfs) * dt / 8
	t.wsRecv += float64(m.endpoints) * dt / 2
	t.wsSent += float64(m.endpoints) * dt * 0.8
	return now
}
