// Package source finds a node's user-data: a file named on the command line, the Scaleway
// instance metadata API, or cloud-init's copy on disk (docs/design/userdata.md).
package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/userdata"
)

// Kinds of source.
const (
	CloudInit = "cloud-init"
	Scaleway  = "scaleway"
)

// Defaults of Options.
const (
	DefaultCloudInitFile = "/var/lib/cloud/instance/user-data.txt"
	DefaultScalewayURL   = "http://169.254.42.42"
	DefaultTimeout       = 30 * time.Second
)

// ErrNone means that no source holds user-data for this node.
var ErrNone = errors.New("no user-data")

// Options says where to look.
type Options struct {
	// File, when set, is the only place read.
	File string
	// Kind is CloudInit (read CloudInitFile) or Scaleway (the metadata API first, then
	// CloudInitFile when the API has no user-data).
	Kind string
	// CloudInitFile is cloud-init's copy of the user-data.
	CloudInitFile string
	// ScalewayURL is the base URL of the instance metadata API.
	ScalewayURL string
	// Timeout bounds the whole read, retries included.
	Timeout time.Duration
}

// DefaultOptions returns the command's defaults.
func DefaultOptions() Options {
	return Options{Kind: CloudInit, CloudInitFile: DefaultCloudInitFile, ScalewayURL: DefaultScalewayURL, Timeout: DefaultTimeout}
}

// Read returns the user-data document and a description of where it came from. A document
// compressed with gzip (cloud-init accepts those) is returned uncompressed.
func Read(ctx context.Context, o Options) (doc []byte, from string, err error) {
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	if o.File != "" {
		doc, err := readFile(o.File)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, o.File, fmt.Errorf("%w: %s does not exist", ErrNone, o.File)
		}
		return doc, o.File, err
	}
	switch o.Kind {
	case CloudInit:
	case Scaleway:
		doc, err := fetchScaleway(ctx, o.ScalewayURL)
		if err == nil {
			return doc, "scaleway metadata API", nil
		}
		if !errors.Is(err, errNotFound) {
			return nil, "scaleway metadata API", err
		}
		doc, ferr := readFile(o.CloudInitFile)
		if errors.Is(ferr, fs.ErrNotExist) {
			return nil, "scaleway metadata API", fmt.Errorf("%w: the Scaleway metadata API has none (404) and %s does not exist", ErrNone, o.CloudInitFile)
		}
		return doc, o.CloudInitFile, ferr
	default:
		return nil, "", fmt.Errorf("user-data source %q: want %s or %s", o.Kind, CloudInit, Scaleway)
	}
	doc, err = readFile(o.CloudInitFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, o.CloudInitFile, fmt.Errorf("%w: %s does not exist (did cloud-init run?)", ErrNone, o.CloudInitFile)
	}
	return doc, o.CloudInitFile, err
}

// readFile reads at most userdata.MaxSize bytes of path.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := readLimited(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return b, nil
}

// readLimited reads r up to userdata.MaxSize and gunzips a gzip document.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, userdata.MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > userdata.MaxSize {
		return nil, fmt.Errorf("user-data is larger than %d bytes", userdata.MaxSize)
	}
	if bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		z, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("gzip user-data: %w", err)
		}
		b, err = io.ReadAll(io.LimitReader(z, userdata.MaxSize+1))
		if err != nil {
			return nil, fmt.Errorf("gzip user-data: %w", err)
		}
		if len(b) > userdata.MaxSize {
			return nil, fmt.Errorf("user-data is larger than %d bytes once uncompressed", userdata.MaxSize)
		}
	}
	return b, nil
}
