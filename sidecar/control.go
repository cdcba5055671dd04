package sidecar

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The control listener serves the endpoints that change the node (POST /drain, POST /undrain).
// They live apart from /metrics so that whoever may scrape the node cannot take it out of
// service: the control listener is on loopback by default, where only the node itself (the
// rolling-upgrade playbook, an operator over SSH) reaches it.

// controlGuard holds what every control POST must satisfy.
type controlGuard struct {
	// origins are the Origin values a browser would send for a page served by the listener
	// itself; any other Origin is a cross-site request.
	origins []string
	// tokenSum is the SHA-256 of the bearer token; nil when no token is required.
	tokenSum []byte
}

// readToken reads a bearer token file: one line, surrounding white space ignored.
func readToken(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("web.control-token-file: %w", err)
	}
	tok := bytes.TrimSpace(b)
	switch {
	case len(tok) == 0:
		return nil, fmt.Errorf("web.control-token-file %s: empty", path)
	case len(tok) < 16:
		return nil, fmt.Errorf("web.control-token-file %s: token shorter than 16 bytes", path)
	case bytes.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return nil, fmt.Errorf("web.control-token-file %s: the token must be one line of printable characters", path)
	}
	sum := sha256.Sum256(tok)
	return sum[:], nil
}

// newControlGuard returns the guard of a control listener bound to addr.
func newControlGuard(addr net.Addr, tokenSum []byte) *controlGuard {
	g := &controlGuard{tokenSum: tokenSum}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port := fmt.Sprint(tcp.Port)
		hosts := []string{tcp.IP.String()}
		if tcp.IP.IsLoopback() {
			hosts = append(hosts, "localhost")
		}
		for _, h := range hosts {
			g.origins = append(g.origins, "http://"+net.JoinHostPort(h, port))
		}
	}
	return g
}

// controlError is the JSON body of every refused control request.
type controlError struct {
	Error string `json:"error"`
}

func refuse(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, controlError{msg})
}

// allow checks a control POST and answers the refusal itself. Order: cross-site first (a
// browser-borne request is refused whatever it carries), then the token, then the body.
func (g *controlGuard) allow(w http.ResponseWriter, r *http.Request) bool {
	// Browsers send Sec-Fetch-Site on every request and Origin on every POST; both are
	// forbidden header names, so a page cannot forge them. A DNS-rebinding page is same-origin
	// to the browser but its Origin names the attacker's host, not the listener's address.
	switch r.Header.Get("Sec-Fetch-Site") {
	case "cross-site", "same-site":
		refuse(w, http.StatusForbidden, "cross-site requests are refused")
		return false
	}
	if o, ok := r.Header["Origin"]; ok && (len(o) != 1 || !g.ownOrigin(o[0])) {
		refuse(w, http.StatusForbidden, "requests from another origin are refused")
		return false
	}
	if g.tokenSum != nil {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(tok))
		// Hashing first makes the comparison constant-time in the token's length too.
		if !ok || subtle.ConstantTimeCompare(sum[:], g.tokenSum) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ensemble-sidecar control"`)
			refuse(w, http.StatusUnauthorized, "a valid bearer token is required")
			return false
		}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		// A browser can send text/plain, form and multipart bodies cross-site without asking;
		// application/json needs a preflight, which this listener never grants.
		refuse(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return false
	}
	return true
}

func (g *controlGuard) ownOrigin(o string) bool {
	for _, own := range g.origins {
		if strings.EqualFold(o, own) {
			return true
		}
	}
	return false
}

// controlBody is the optional JSON body of POST /drain.
type controlBody struct {
	Reason string `json:"reason"`
}

// readReason returns the drain reason from the JSON body (empty or an object) or ?reason=.
func readReason(w http.ResponseWriter, r *http.Request) (string, bool) {
	b, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		refuse(w, http.StatusRequestEntityTooLarge, "request body too large")
		return "", false
	case err != nil:
		refuse(w, http.StatusBadRequest, "reading request body: "+err.Error())
		return "", false
	}
	reason := r.URL.Query().Get("reason")
	if len(bytes.TrimSpace(b)) > 0 {
		var body controlBody
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			refuse(w, http.StatusBadRequest, `the body must be empty or a JSON object {"reason":"..."}: `+err.Error())
			return "", false
		}
		if dec.More() {
			refuse(w, http.StatusBadRequest, "the body must hold one JSON object")
			return "", false
		}
		if body.Reason != "" {
			reason = body.Reason
		}
	}
	if err := validReason(reason); err != nil {
		refuse(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return reason, true
}

// validReason accepts printable UTF-8 of at most maxReasonLen bytes. The reason is written
// into Consul's check notes and read on operators' terminals, where control characters could
// forge lines or run escape sequences.
func validReason(s string) error {
	if len(s) > maxReasonLen {
		return fmt.Errorf("reason longer than %d bytes", maxReasonLen)
	}
	if !utf8.ValidString(s) {
		return errors.New("reason is not valid UTF-8")
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return fmt.Errorf("reason holds the non-printable character %U", c)
		}
	}
	return nil
}

// controlRoutes builds the control listener's handler.
func controlRoutes(g *controlGuard, ctl *controller, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /drain", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, ctl.snapshot())
	})
	mux.HandleFunc("POST /drain", func(w http.ResponseWriter, r *http.Request) {
		if !g.allow(w, r) {
			return
		}
		reason, ok := readReason(w, r)
		if !ok {
			return
		}
		logger.Info("drain requested over the control listener", "remote", r.RemoteAddr, "reason", reason)
		st, err := ctl.request(r.Context(), false, reason)
		answer(w, http.StatusAccepted, st, err)
	})
	mux.HandleFunc("POST /undrain", func(w http.ResponseWriter, r *http.Request) {
		if !g.allow(w, r) {
			return
		}
		if _, ok := readReason(w, r); !ok {
			return
		}
		logger.Info("undrain requested over the control listener", "remote", r.RemoteAddr)
		st, err := ctl.request(r.Context(), true, "")
		answer(w, http.StatusOK, st, err)
	})
	return http.MaxBytesHandler(mux, maxBodyBytes)
}

// loopbackAddress reports whether a listen address binds loopback only.
func loopbackAddress(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
