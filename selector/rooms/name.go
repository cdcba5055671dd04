package rooms

import (
	"errors"
	"fmt"
	"strings"
)

// MaxNameLen is the longest room name accepted. Jitsi has no firm limit below XMPP's 1023-byte
// localpart, but a meeting link must stay readable and fit in a URL path segment everywhere.
const MaxNameLen = 64

// ErrInvalidName is wrapped by every room-name validation error.
var ErrInvalidName = errors.New("invalid room name")

// Normalize validates a room name and returns its canonical form. Jitsi lower-cases room names
// (its MUC JIDs are case-insensitive), so "Standup" and "standup" are one meeting and must bind to
// one node: the canonical form is lower case. Accepted: 1 to MaxNameLen ASCII letters, digits,
// '-' and '_', starting with a letter or digit. Dots, slashes and percent-escapes are refused so a
// name is always one plain path segment, and the names of the selector's own routes are reserved.
func Normalize(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	}
	if len(name) > MaxNameLen {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrInvalidName, len(name), MaxNameLen)
	}
	upper := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case 'A' <= c && c <= 'Z':
			upper = true
		case (c == '-' || c == '_') && i > 0:
		default:
			return "", fmt.Errorf("%w: character %q at %d (allowed: letters, digits, '-' and '_' after the first)", ErrInvalidName, name[i:i+1], i)
		}
	}
	canon := name // already canonical: no copy on the selector's hot path
	if upper {
		canon = strings.ToLower(name)
	}
	if reserved(canon) {
		return "", fmt.Errorf("%w: %q is reserved", ErrInvalidName, canon)
	}
	return canon, nil
}

// reserved reports names that collide with the selector's routes or well-known files, or with the
// paths a Jitsi Meet node's nginx serves itself (BOSH, websockets, the bridge's websocket, static
// files, Jicofo's conference requests): a room of that name would send people to an endpoint,
// not a meeting. Names with a dot (config.js, external_api.js) are refused anyway.
func reserved(name string) bool {
	switch name {
	case "api", "metrics", "static", "assets", "health", "healthz", "ready", "favicon", "robots",
		"http-bind", "xmpp-websocket", "colibri-ws", "colibri", "libs", "css", "images", "fonts",
		"sounds", "lang", "conference-request", "room-request":
		return true
	}
	return false
}
