package certs

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"

	"github.com/ensemble-jitsi/ensemble/internal/firstboot/atomicfile"
)

// ACME obtains certificates from an ACME CA (Let's Encrypt) with the HTTP-01 challenge.
// At first boot nothing listens on port 80 yet, so it answers the challenge itself
// (HTTPAddress); once nginx runs, the renewal writes the answer into Webroot, which nginx
// serves under /.well-known/acme-challenge/.
type ACME struct {
	// Directory is the CA's directory URL.
	Directory string
	// Email is the account's contact; empty registers without one.
	Email string
	// AccountKey is where the account's private key is kept (created on first use, 0600).
	AccountKey string
	// HTTPAddress is where Obtain answers challenges when Webroot is empty (":80").
	HTTPAddress string
	// Webroot, when set, receives the challenge files instead: it is the directory nginx
	// serves at /.well-known/acme-challenge/ (an alias), so a token's file is <Webroot>/<token>.
	Webroot string
	// HTTPClient talks to the CA; nil uses a client with a 30 s timeout.
	HTTPClient *http.Client
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Obtain runs one ACME order for name and returns the PEM chain and a new PEM key.
func (a *ACME) Obtain(ctx context.Context, name string) (chain, key []byte, err error) {
	logger := a.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hc := a.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	accountKey, err := loadOrCreateKey(a.AccountKey)
	if err != nil {
		return nil, nil, fmt.Errorf("acme account key: %w", err)
	}
	client := &acme.Client{Key: accountKey, DirectoryURL: a.Directory, HTTPClient: hc, UserAgent: "ensemble-firstboot"}
	acct := &acme.Account{}
	if a.Email != "" {
		acct.Contact = []string{"mailto:" + a.Email}
	}
	if _, err := client.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return nil, nil, fmt.Errorf("acme: registering with %s: %w", a.Directory, err)
	}
	order, err := client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return nil, nil, fmt.Errorf("acme: new order for %s: %w", name, err)
	}
	resp := newResponder()
	stop, err := a.startResponder(resp, logger)
	if err != nil {
		return nil, nil, err
	}
	defer stop()
	for _, u := range order.AuthzURLs {
		z, err := client.GetAuthorization(ctx, u)
		if err != nil {
			return nil, nil, fmt.Errorf("acme: authorization: %w", err)
		}
		if z.Status == acme.StatusValid {
			continue
		}
		var chal *acme.Challenge
		for _, c := range z.Challenges {
			if c.Type == "http-01" {
				chal = c
			}
		}
		if chal == nil {
			return nil, nil, fmt.Errorf("acme: %s offers no http-01 challenge for %s", a.Directory, name)
		}
		body, err := client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return nil, nil, fmt.Errorf("acme: %w", err)
		}
		if err := a.publish(resp, chal.Token, body); err != nil {
			return nil, nil, err
		}
		logger.Info("answering the ACME http-01 challenge", "name", name, "webroot", a.Webroot, "address", a.HTTPAddress)
		if _, err := client.Accept(ctx, chal); err != nil {
			return nil, nil, fmt.Errorf("acme: accepting the challenge: %w", err)
		}
		if _, err := client.WaitAuthorization(ctx, z.URI); err != nil {
			return nil, nil, fmt.Errorf("acme: %s was not validated (is port 80 of %s reachable from the internet?): %w", name, name, err)
		}
		a.unpublish(resp, chal.Token)
	}
	orderURI := order.URI
	if order, err = client.WaitOrder(ctx, orderURI); err != nil {
		return nil, nil, fmt.Errorf("acme: order: %w", err)
	}
	// A POST-as-GET answer carries no Location; finalizing polls the order by its URI.
	order.URI = orderURI
	certKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
	}, certKey)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: CSR: %w", err)
	}
	ders, _, err := client.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		return nil, nil, fmt.Errorf("acme: finalizing the order: %w", err)
	}
	keyPEM, err := pemKey(certKey)
	if err != nil {
		return nil, nil, err
	}
	logger.Info("ACME certificate issued", "name", name)
	return pemChain(ders), keyPEM, nil
}

// responder serves the key authorizations of pending challenges.
type responder struct {
	mu     sync.Mutex
	tokens map[string][]byte
}

func newResponder() *responder { return &responder{tokens: map[string][]byte{}} }

const challengePrefix = "/.well-known/acme-challenge/"

func (r *responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	token, ok := strings.CutPrefix(req.URL.Path, challengePrefix)
	r.mu.Lock()
	body, known := r.tokens[token]
	r.mu.Unlock()
	if !ok || !known || req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(body)
}

// startResponder listens on HTTPAddress when there is no webroot; stop ends it.
func (a *ACME) startResponder(r *responder, logger *slog.Logger) (stop func(), err error) {
	if a.Webroot != "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", a.HTTPAddress)
	if err != nil {
		return nil, fmt.Errorf("acme: listening for the http-01 challenge on %s: %w", a.HTTPAddress, err)
	}
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       30 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() { _ = srv.Serve(l) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

func (a *ACME) publish(r *responder, token, body string) error {
	if a.Webroot == "" {
		r.mu.Lock()
		r.tokens[token] = []byte(body)
		r.mu.Unlock()
		return nil
	}
	if strings.ContainsAny(token, "/\\") || token == "." || token == ".." {
		return fmt.Errorf("acme: refusing token %q", token)
	}
	if err := os.MkdirAll(a.Webroot, 0o755); err != nil {
		return fmt.Errorf("acme: webroot: %w", err)
	}
	if _, err := atomicfile.Write(atomicfile.File{Path: filepath.Join(a.Webroot, token), Data: []byte(body), Mode: 0o644, UID: -1, GID: -1}); err != nil {
		return fmt.Errorf("acme: webroot: %w", err)
	}
	return nil
}

func (a *ACME) unpublish(r *responder, token string) {
	if a.Webroot == "" {
		r.mu.Lock()
		delete(r.tokens, token)
		r.mu.Unlock()
		return
	}
	_ = os.Remove(filepath.Join(a.Webroot, token))
}

// loadOrCreateKey reads a PEM EC key, or creates one (0600) if the file does not exist.
func loadOrCreateKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s holds no PEM key", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: not a signing key", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	p, err := pemKey(k)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if _, err := atomicfile.Write(atomicfile.File{Path: path, Data: p, Mode: 0o600, UID: -1, GID: -1}); err != nil {
		return nil, err
	}
	return k, nil
}
