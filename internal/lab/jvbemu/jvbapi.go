package jvbemu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// maxRequestBody bounds what the emulator reads from any request.
const maxRequestBody = 64 << 10

func (e *Emulator) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /colibri/stats", e.jvb(true, e.stats))
	mux.HandleFunc("GET /about/health", e.jvb(false, e.health))
	mux.HandleFunc("GET /metrics", e.jvb(false, e.metrics))
	mux.HandleFunc("GET /about/version", e.jvb(false, e.version))
	mux.HandleFunc("GET /colibri/drain", e.jvb(true, e.drainState))
	mux.HandleFunc("POST /colibri/drain/enable", e.jvb(true, e.setDrain(true)))
	mux.HandleFunc("POST /colibri/drain/disable", e.jvb(true, e.setDrain(false)))
	mux.HandleFunc("POST /colibri/shutdown", e.jvb(true, e.shutdown))
	e.controlRoutes(mux)
	return mux
}

// jvb wraps a JVB API handler with the current fault. colibri marks the
// /colibri/* resources, which the bridge's ConfigFilter turns off.
func (e *Emulator) jvb(colibri bool, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		f := e.fault
		e.mu.Unlock()
		switch f {
		case Hang:
			<-r.Context().Done()
			return
		case Slow:
			t := time.NewTimer(e.opts.SlowDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		case Error500:
			http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			return
		case Garbage:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"incoming_loss":0.0,"bit_rate_download":<html><body><h1>502 Bad Gateway</h1></body></html>`)
			return
		case Huge:
			e.huge(w)
			return
		case RESTDisabled:
			if colibri {
				http.NotFound(w, r)
				return
			}
		}
		h(w, r)
	}
}

// huge streams Options.HugeBytes of one unterminated JSON string, in small
// writes so the emulator never holds it in memory.
func (e *Emulator) huge(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	chunk := bytes.Repeat([]byte{'a'}, 32<<10)
	left := e.opts.HugeBytes
	head := []byte(`{"padding":"`)
	if _, err := w.Write(head); err != nil {
		return
	}
	left -= int64(len(head))
	for left > 0 {
		n := min(left, int64(len(chunk)))
		if _, err := w.Write(chunk[:n]); err != nil {
			return // the client gave up, as it should
		}
		left -= n
	}
}

func (e *Emulator) stats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(e.statsJSON())
}

// health answers like jicoco's Health resource: 200 with an empty JSON
// response, or the failure code with the message as plain text.
func (e *Emulator) health(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	code, msg := e.healthCode, e.healthMsg
	e.mu.Unlock()
	if code == http.StatusOK {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

func (e *Emulator) version(w http.ResponseWriter, r *http.Request) {
	var o objectWriter
	o.str("name", "JVB")
	o.str("version", e.opts.Version)
	o.str("os", "Linux")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(o.close())
}

func (e *Emulator) drainState(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	on := e.drain
	e.mu.Unlock()
	var o objectWriter
	o.bool("drain", on)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(o.close())
}

func (e *Emulator) setDrain(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e.SetDrain(on)
		w.WriteHeader(http.StatusOK)
	}
}

// shutdown is POST /colibri/shutdown: JSON {"graceful-shutdown": bool}.
func (e *Emulator) shutdown(w http.ResponseWriter, r *http.Request) {
	if e.opts.ShutdownDisabled {
		http.NotFound(w, r)
		return
	}
	// The resource @Consumes(APPLICATION_JSON); Jersey answers 415 otherwise.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		http.Error(w, "Unsupported Media Type", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBody))
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	graceful, err := parseShutdown(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	e.Shutdown(graceful)
	w.WriteHeader(http.StatusOK)
}

// parseShutdown reads the shutdown request body. The key is required and,
// as Jackson coerces, the value may be a boolean or the string "true" or
// "false" (graceful_shutdown.sh sends the string).
func parseShutdown(body []byte) (graceful bool, err error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return false, fmt.Errorf("shutdown request: %w", err)
	}
	raw, ok := req["graceful-shutdown"]
	if !ok {
		return false, errors.New(`shutdown request: missing required "graceful-shutdown"`)
	}
	switch string(bytes.TrimSpace(raw)) {
	case "true", `"true"`:
		return true, nil
	case "false", `"false"`:
		return false, nil
	}
	return false, fmt.Errorf(`shutdown request: "graceful-shutdown" must be a boolean, got %.40s`, raw)
}
