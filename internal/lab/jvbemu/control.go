package jvbemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxConferenceSize bounds what the control API accepts, far above any
// real meeting.
const maxConferenceSize = 100000

func (e *Emulator) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /emulator/state", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, e.Stats())
	})
	mux.HandleFunc("POST /emulator/conferences", e.startConference)
	mux.HandleFunc("POST /emulator/conferences/{id}", e.resizeConference)
	mux.HandleFunc("DELETE /emulator/conferences/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !e.EndConference(r.PathValue("id")) {
			writeError(w, http.StatusNotFound, fmt.Errorf("no conference %q", r.PathValue("id")))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /emulator/stress", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Stress *float64 `json:"stress"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.Stress == nil {
			writeError(w, http.StatusBadRequest, errors.New(`"stress" is required (negative = computed)`))
			return
		}
		e.SetStress(*req.Stress)
		writeJSON(w, http.StatusOK, e.Stats())
	})
	mux.HandleFunc("POST /emulator/health", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		if !decode(w, r, &req) {
			return
		}
		if req.Code < 200 || req.Code > 599 {
			writeError(w, http.StatusBadRequest, fmt.Errorf(`"code" %d is not an HTTP status (200 = healthy)`, req.Code))
			return
		}
		e.SetHealth(req.Code, req.Message)
		writeJSON(w, http.StatusOK, e.Stats())
	})
	mux.HandleFunc("POST /emulator/fault", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Fault string `json:"fault"`
		}
		if !decode(w, r, &req) {
			return
		}
		f, err := ParseFault(req.Fault)
		if err != nil {
			writeError(w, http.StatusBadRequest, err)
			return
		}
		e.SetFault(f)
		writeJSON(w, http.StatusOK, e.Stats())
	})
}

// decodeSize reads {"size":N} with 0 <= N <= maxConferenceSize; on
// failure it has answered.
func decodeSize(w http.ResponseWriter, r *http.Request) (int, bool) {
	var req struct {
		Size *int `json:"size"`
	}
	if !decode(w, r, &req) {
		return 0, false
	}
	if req.Size == nil {
		writeError(w, http.StatusBadRequest, errors.New(`"size" is required`))
		return 0, false
	}
	if *req.Size < 0 || *req.Size > maxConferenceSize {
		writeError(w, http.StatusBadRequest, fmt.Errorf(`"size" %d out of range 0..%d`, *req.Size, maxConferenceSize))
		return 0, false
	}
	return *req.Size, true
}

func (e *Emulator) startConference(w http.ResponseWriter, r *http.Request) {
	n, ok := decodeSize(w, r)
	if !ok {
		return
	}
	id := e.StartConference(n)
	if id == "" {
		writeError(w, http.StatusConflict, errors.New("the bridge is shutting down and takes no new conferences"))
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (e *Emulator) resizeConference(w http.ResponseWriter, r *http.Request) {
	n, ok := decodeSize(w, r)
	if !ok {
		return
	}
	if !e.SetParticipants(r.PathValue("id"), n) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no conference %q", r.PathValue("id")))
		return
	}
	writeJSON(w, http.StatusOK, e.Stats())
}

// decode reads one JSON object of at most maxRequestBody bytes into v,
// rejecting unknown fields and trailing data; on failure it has answered.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	if err != nil {
		code := http.StatusBadRequest
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			code = http.StatusRequestEntityTooLarge
		}
		writeError(w, code, fmt.Errorf("request body: %w", err))
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}
