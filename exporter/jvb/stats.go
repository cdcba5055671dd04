// Package jvb collects load and health metrics from a Jitsi Videobridge's
// private REST API (/colibri/stats and /about/health) and offers the
// drain and graceful-shutdown calls the sidecar makes.
package jvb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Kind is the JSON type a known stats field must have.
type Kind uint8

// Field kinds.
const (
	Number Kind = iota + 1
	Bool
	Text
)

func (k Kind) String() string {
	switch k {
	case Number:
		return "number"
	case Bool:
		return "boolean"
	case Text:
		return "string"
	}
	return "unknown"
}

// knownKinds lists the fields whose type is checked. Every other key is
// ignored whatever its type: the bridge adds and drops fields between
// releases (old ones even sent conference_sizes as the string "[]").
var knownKinds = func() map[string]Kind {
	m := map[string]Kind{"participants": Number, "version": Text, "current_timestamp": Text, "region": Text, "release": Text, "relay_id": Text}
	for _, f := range fields {
		m[f.key] = Number
	}
	for _, f := range boolFields {
		m[f.key] = Bool
	}
	return m
}()

// Stats is one /colibri/stats reply. Numbers are float64 whatever the JSON
// spelling (the bridge switched fields between integer and float across
// releases, and a 2022 build sent octo_send_bitrate as 0.0).
type Stats struct {
	numbers map[string]float64
	bools   map[string]bool
	texts   map[string]string
}

// ErrNotObject means the body was valid JSON but not an object.
var ErrNotObject = errors.New("colibri stats: JSON is not an object")

// ParseStats decodes a /colibri/stats body. Unknown keys are ignored and
// missing keys are simply absent; a known key with the wrong JSON type is an
// error naming the key, because a silent zero would be read as real load.
func ParseStats(body []byte) (*Stats, error) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		trimmed := bytes.TrimSpace(body)
		if len(trimmed) > 0 && trimmed[0] == '<' {
			return nil, fmt.Errorf("colibri stats: got HTML or XML instead of JSON (a proxy error page or the wrong URL?): %w", err)
		}
		return nil, fmt.Errorf("colibri stats: invalid JSON: %w", err)
	}
	if raw == nil {
		return nil, ErrNotObject
	}
	s := &Stats{
		numbers: make(map[string]float64, len(raw)),
		bools:   make(map[string]bool, 4),
		texts:   make(map[string]string, 4),
	}
	for k, v := range raw {
		kind, known := knownKinds[k]
		if !known || v == nil {
			// null is read as absent: the metric is left out, not zeroed.
			continue
		}
		var got Kind
		switch v := v.(type) {
		case float64:
			got = Number
			s.numbers[k] = v
		case bool:
			got = Bool
			s.bools[k] = v
		case string:
			got = Text
			s.texts[k] = v
		}
		if got != kind {
			return nil, fmt.Errorf("colibri stats: field %q is %s, want a %s", k, jsonType(v), kind)
		}
	}
	return s, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// Number returns a numeric field and whether it was present.
func (s *Stats) Number(key string) (float64, bool) {
	v, ok := s.numbers[key]
	return v, ok
}

// Bool returns a boolean field and whether it was present.
func (s *Stats) Bool(key string) (bool, bool) {
	v, ok := s.bools[key]
	return v, ok
}

// Text returns a string field and whether it was present.
func (s *Stats) Text(key string) (string, bool) {
	v, ok := s.texts[key]
	return v, ok
}

// LocalEndpoints returns the endpoints hosted on this bridge (not relayed
// from another one): what a graceful drain waits for to reach zero. It uses
// local_endpoints when present, else participants minus octo_endpoints as
// the bridge's own graceful_shutdown.sh does.
func (s *Stats) LocalEndpoints() (float64, bool) {
	if v, ok := s.numbers["local_endpoints"]; ok {
		return v, true
	}
	p, ok := s.numbers["participants"]
	if !ok {
		return 0, false
	}
	return p - s.numbers["octo_endpoints"], true
}
