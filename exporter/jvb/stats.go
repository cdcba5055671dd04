// Package jvb collects load and health metrics from a Jitsi Videobridge's
// private REST API (/colibri/stats and /about/health) and offers the
// drain and graceful-shutdown calls the sidecar makes.
package jvb

import "encoding/json"

// kind is the JSON type a known stats field must have.
type kind uint8

const (
	kindNumber kind = iota + 1
	kindBool
	kindText
	// kindDist is an array of per-bucket conference counts, also accepted
	// as a string holding such an array (old bridges sent "[]" before
	// their first statistics run) and ignored as an object (Jicofo's
	// /stats has a conference_sizes object).
	kindDist
	// kindAny is a key whose presence alone is kept.
	kindAny
)

func (k kind) String() string {
	switch k {
	case kindNumber:
		return "number"
	case kindBool:
		return "boolean"
	case kindText:
		return "string"
	case kindDist:
		return "JSON array of numbers"
	case kindAny:
		return "value"
	}
	return "unknown"
}

// knownField is a stats key whose type is checked and value kept.
type knownField struct {
	key  string
	kind kind
	// dist is the index in distFields of a kindDist key.
	dist int
}

// known lists the fields whose type is checked and whose values are kept.
// Every other key is skipped whatever its type: the bridge adds and drops
// fields between releases (old ones even sent conference_sizes as the
// string "[]").
var known = func() []knownField {
	var ks []knownField
	for _, f := range fields {
		ks = append(ks, knownField{key: f.key, kind: kindNumber})
	}
	ks = append(ks, knownField{key: "participants", kind: kindNumber})
	for _, f := range boolFields {
		ks = append(ks, knownField{key: f.key, kind: kindBool})
	}
	for _, k := range []string{"version", "current_timestamp", "region", "release", "relay_id"} {
		ks = append(ks, knownField{key: k, kind: kindText})
	}
	for i, f := range distFields {
		ks = append(ks, knownField{key: f.key, kind: kindDist, dist: i})
	}
	// Jicofo's /stats: kept to say so when the URL points at Jicofo.
	ks = append(ks, knownField{key: "bridge_selector", kind: kindAny})
	return ks
}()

// knownIndex maps a known key to its index in known and in Stats.
var knownIndex = func() map[string]int {
	m := make(map[string]int, len(known))
	for i, k := range known {
		m[k.key] = i
	}
	return m
}()

const (
	maxKnown = 96
	numDists = 3
)

func init() {
	if len(known) > maxKnown || len(distFields) != numDists {
		panic("jvb: update maxKnown or numDists")
	}
}

// Stats is one /colibri/stats reply. Numbers are float64 whatever the JSON
// spelling (the bridge switched fields between integer and float across
// releases, and a 2022 build sent octo_send_bitrate as 0.0).
type Stats struct {
	present [maxKnown]bool
	numbers [maxKnown]float64 // also holds booleans as 0/1
	texts   [maxKnown]string
	dists   [numDists]dist
}

// dist is one conference distribution; n == 0 means the bridge sent none.
type dist struct {
	n      int
	counts [distBuckets]float64
}

// set fills d from per-bucket counts, folding buckets past the last into
// it.
func (d *dist) set(counts []float64) {
	*d = dist{}
	for i, c := range counts {
		d.counts[min(i, distBuckets-1)] += c
	}
	d.n = min(len(counts), distBuckets)
}

// Dist returns a conference distribution (conference_sizes,
// conferences_by_audio_senders or conferences_by_video_senders): index i
// counts conferences with i endpoints or senders, the last index that many
// or more. It is absent on bridges since 2024, whose /colibri/stats no
// longer has them (their /metrics does), and when the bridge had not yet
// computed its statistics.
func (s *Stats) Dist(key string) ([]float64, bool) {
	i, ok := knownIndex[key]
	if !ok || known[i].kind != kindDist {
		return nil, false
	}
	d := &s.dists[known[i].dist]
	if !s.present[i] || d.n == 0 {
		return nil, false
	}
	return d.counts[:d.n], true
}

// Number returns a numeric field and whether it was present.
func (s *Stats) Number(key string) (float64, bool) {
	i, ok := knownIndex[key]
	if !ok || known[i].kind != kindNumber || !s.present[i] {
		return 0, false
	}
	return s.numbers[i], true
}

// Bool returns a boolean field and whether it was present.
func (s *Stats) Bool(key string) (bool, bool) {
	i, ok := knownIndex[key]
	if !ok || known[i].kind != kindBool || !s.present[i] {
		return false, false
	}
	return s.numbers[i] == 1, true
}

// Text returns a string field and whether it was present.
func (s *Stats) Text(key string) (string, bool) {
	i, ok := knownIndex[key]
	if !ok || known[i].kind != kindText || !s.present[i] {
		return "", false
	}
	return s.texts[i], true
}

// value returns the number or boolean (as 0/1) at index i of known.
func (s *Stats) value(i int) (float64, bool) { return s.numbers[i], s.present[i] }

// LocalEndpoints returns the endpoints hosted on this bridge (not relayed
// from another one): what a graceful drain waits for to reach zero. It uses
// local_endpoints when present, else participants minus octo_endpoints as
// the bridge's own graceful_shutdown.sh does.
func (s *Stats) LocalEndpoints() (float64, bool) {
	if v, ok := s.Number("local_endpoints"); ok {
		return v, true
	}
	p, ok := s.Number("participants")
	if !ok {
		return 0, false
	}
	octo, _ := s.Number("octo_endpoints")
	return p - octo, true
}

// setDist stores the JSON array raw as the distribution at known index
// idx. got names the JSON type for errors: a string must hold an array.
func (s *Stats) setDist(idx int, raw []byte, got string) error {
	var counts []float64
	if err := json.Unmarshal(raw, &counts); err != nil {
		return &typeError{key: known[idx].key, got: got, want: kindDist.String()}
	}
	s.dists[known[idx].dist].set(counts)
	s.present[idx] = len(counts) > 0
	return nil
}

// setText sets a kindText field.
func (s *Stats) setText(key, v string) {
	if i, ok := knownIndex[key]; ok && known[i].kind == kindText {
		s.texts[i], s.present[i] = v, true
	}
}
