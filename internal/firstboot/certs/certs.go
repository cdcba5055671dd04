// Package certs puts the node's web certificate in place: the one delivered in user-data,
// or one obtained from an ACME CA with the HTTP-01 challenge, renewed before it expires.
package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/atomicfile"
	"github.com/ensemble-jitsi/ensemble/internal/firstboot/userdata"
)

// Paths say where nginx (and coturn) read the certificate and key.
type Paths struct {
	// Cert is the PEM chain, leaf first (mode 0644).
	Cert string
	// Key is the PEM private key (mode 0640, root and KeyUID/KeyGID's group).
	Key string
	// KeyGID is the group that may read the key (Debian's ssl-cert); -1 keeps the process's.
	KeyGID int
}

// Install writes chain and key to p, each only if it differs, and returns the paths that
// changed. The key goes first, so that a reader never pairs a new certificate with an old key
// for longer than the instant between two renames.
func Install(p Paths, chain, key []byte) ([]string, error) {
	var changed []string
	for _, f := range []atomicfile.File{
		{Path: p.Key, Data: key, Mode: 0o640, UID: 0, GID: p.KeyGID},
		{Path: p.Cert, Data: chain, Mode: 0o644, UID: 0, GID: 0},
	} {
		if os.Getuid() != 0 {
			// Without root the files stay the process's own; tests run both ways.
			f.UID, f.GID = -1, -1
		}
		c, err := atomicfile.Write(f)
		if err != nil {
			return changed, fmt.Errorf("tls: %w", err)
		}
		if c {
			changed = append(changed, f.Path)
		}
	}
	return changed, nil
}

// Current reads the installed pair and checks it as user-data's would be checked: the leaf
// covers name, the key matches, and it is valid at now. It returns the leaf's expiry.
func Current(p Paths, name string, now time.Time) (notAfter time.Time, err error) {
	chain, err := os.ReadFile(p.Cert)
	if err != nil {
		return time.Time{}, err
	}
	key, err := os.ReadFile(p.Key)
	if err != nil {
		return time.Time{}, err
	}
	certs, err := userdata.CheckKeyPair(chain, key, name, now)
	if err != nil {
		return time.Time{}, fmt.Errorf("installed pair %s, %s: %w", p.Cert, p.Key, err)
	}
	return certs[0].NotAfter, nil
}

// NeedsRenewal reports whether the installed pair is missing, broken, not for name, or
// expires within before.
func NeedsRenewal(p Paths, name string, now time.Time, before time.Duration) (bool, string) {
	notAfter, err := Current(p, name, now)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return true, "no certificate yet"
	case err != nil:
		return true, err.Error()
	case notAfter.Sub(now) < before:
		return true, fmt.Sprintf("expires %s", notAfter.UTC().Format(time.RFC3339))
	}
	return false, fmt.Sprintf("valid until %s", notAfter.UTC().Format(time.RFC3339))
}

func pemChain(ders [][]byte) []byte {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
	}
	return out
}

func pemKey(k any) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
