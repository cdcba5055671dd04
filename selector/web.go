package selector

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/ensemble-jitsi/ensemble/selector/rooms"
)

// webFiles is the page: no build step, no CDN, every script and style a file of its own so the
// Content-Security-Policy can forbid inline code.
//
//go:embed web
var webFiles embed.FS

var indexTemplate = template.Must(template.ParseFS(webFiles, "web/index.html"))

func (s *Selector) staticHandler() http.HandlerFunc {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded folder is fixed at build time
	}
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, ".js") && !strings.HasSuffix(r.URL.Path, ".css") {
			writeError(w, http.StatusNotFound, "not_found", "no such file")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	}
}

// handleIndex serves the page. With ?room=NAME (the join form without JavaScript) it redirects to
// /NAME, the room's own link, which then redirects to the node.
func (s *Selector) handleIndex(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query(); q.Has("room") {
		name, err := rooms.Normalize(strings.TrimSpace(q.Get("room")))
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_room_name", err.Error())
			return
		}
		http.Redirect(w, r, "/"+name, http.StatusSeeOther)
		return
	}
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, struct{ Version string }{s.opts.Version}); err != nil {
		s.logger.Error("render page", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "could not render the page")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(buf.Bytes())
}
