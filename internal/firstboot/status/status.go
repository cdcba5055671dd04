// Package status is the first-boot verdict file (/run/ensemble/firstboot.json): the
// first-boot command writes it, and the sidecar reads it to decide whether the node may
// register in Consul. It is kept apart so that the sidecar imports nothing else of first boot.
package status

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/atomicfile"
)

// DefaultPath is where the verdict lives; /run is emptied at every boot, so a verdict is
// always this boot's.
const DefaultPath = "/run/ensemble/firstboot.json"

// maxSize bounds what Read accepts.
const maxSize = 64 << 10

// Status is the verdict of one first-boot run. It never holds a secret.
type Status struct {
	OK bool `json:"ok"`
	// Error says why the node was not applied; empty when OK.
	Error string `json:"error,omitempty"`
	// PublicName is the node's name, when the user-data was read that far.
	PublicName string `json:"public_name,omitempty"`
	// Source says where the user-data came from.
	Source string `json:"source,omitempty"`
	// Changed lists the files this run wrote.
	Changed []string `json:"changed"`
	// Time is when the run ended.
	Time time.Time `json:"time"`
}

// Write stores s at path (directory created 0755, file 0644, atomically).
func Write(path string, s Status) error {
	if s.Changed == nil {
		s.Changed = []string{}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if _, err := atomicfile.Write(atomicfile.File{Path: path, Data: append(b, '\n'), Mode: 0o644, UID: -1, GID: -1}); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	return nil
}

// Read loads the verdict at path. A missing, unreadable or malformed file is an error; the
// caller treats that as a failed first boot.
func Read(path string) (Status, error) {
	f, err := os.Open(path)
	if err != nil {
		return Status{}, fmt.Errorf("first-boot status: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSize+1))
	if err != nil {
		return Status{}, fmt.Errorf("first-boot status %s: %w", path, err)
	}
	if len(b) > maxSize {
		return Status{}, fmt.Errorf("first-boot status %s: larger than %d bytes", path, maxSize)
	}
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return Status{}, fmt.Errorf("first-boot status %s: %w", path, err)
	}
	return s, nil
}

// Verdict reads path and returns nil if first boot succeeded, or an error saying why the
// node must not serve: the recorded error, or why the file could not be read.
func Verdict(path string) error {
	s, err := Read(path)
	if err != nil {
		return err
	}
	if !s.OK {
		if s.Error == "" {
			return errors.New("first boot failed (no reason recorded)")
		}
		return errors.New(s.Error)
	}
	return nil
}
