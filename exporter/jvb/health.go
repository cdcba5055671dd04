package jvb

import (
	"bytes"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// maxMessage bounds the health message kept for logs and errors.
const maxMessage = 200

// Health is one /about/health reply.
type Health struct {
	Healthy bool
	// Code is the HTTP status; the bridge uses 500 for hard and 503 for
	// soft failures, or a code the failing check chose.
	Code int
	// Message is the bridge's plain-text reason (empty when healthy),
	// trimmed to one line of at most 200 bytes of valid UTF-8.
	Message string
}

// ParseHealth interprets a status code and body from /about/health: 2xx is
// healthy (JVB sends an empty body, Jicofo "OK"), 5xx is unhealthy with the
// body as the reason. Anything else (404 with health checks disabled, a
// redirect to a login page) says nothing about the bridge, so it is an error.
func ParseHealth(code int, body []byte) (Health, error) {
	switch {
	case code >= 200 && code < 300:
		return Health{Healthy: true, Code: code}, nil
	case code >= 500 && code < 600:
		return Health{Code: code, Message: message(body)}, nil
	}
	return Health{}, fmt.Errorf("health: unexpected status %d %s: %q", code, http.StatusText(code), message(body))
}

func message(body []byte) string {
	line, _, _ := bytes.Cut(bytes.TrimSpace(body), []byte{'\n'})
	line = bytes.ToValidUTF8(bytes.TrimSpace(line), nil)
	if len(line) > maxMessage {
		line = line[:maxMessage]
		// The text was valid, so only a rune split by the cut can be
		// invalid now.
		for !utf8.Valid(line) {
			line = line[:len(line)-1]
		}
	}
	return string(line)
}
