package xmppcheck

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Options configures Run.
type Options struct {
	// WebSocketURL and BOSHURL are the node's XMPP endpoints (through nginx); an empty one
	// skips that leg, and at least one is required.
	WebSocketURL string
	BOSHURL      string
	// Domain is the XMPP domain (meet.jitsi); MUCDomain hosts the rooms.
	Domain    string
	MUCDomain string
	// Room is the room's local part; empty picks a random one.
	Room string
	// ExpectTURNHost, when set, must be the host of a turn or turns service.
	ExpectTURNHost string
	// TURNSecret, when set, verifies each TURN password (coturn's use-auth-secret scheme).
	TURNSecret string
	// TLSConfig is used for https and wss; nil is Go's default.
	TLSConfig *tls.Config
	// ConnectAddress, when set (host:port), is dialed instead of the URLs' host, which still
	// names the server for TLS and HTTP (curl's --connect-to): a lab node without DNS.
	ConnectAddress string
	// Timeout bounds each leg.
	Timeout time.Duration
	// Now is the clock for expiry checks; nil is time.Now.
	Now func() time.Time
}

// Service is one XEP-0215 external service as the server announced it.
type Service struct {
	Type       string `xml:"type,attr" json:"type"`
	Host       string `xml:"host,attr" json:"host"`
	Port       int    `xml:"port,attr" json:"port,omitempty"`
	Transport  string `xml:"transport,attr" json:"transport,omitempty"`
	Username   string `xml:"username,attr" json:"username,omitempty"`
	Password   string `xml:"password,attr" json:"password,omitempty"`
	Expires    string `xml:"expires,attr" json:"expires,omitempty"`
	Restricted bool   `xml:"restricted,attr" json:"restricted,omitempty"`
}

// services is the payload of the extdisco answer.
type services struct {
	XMLName  xml.Name  `xml:"urn:xmpp:extdisco:2 services"`
	Services []Service `xml:"service"`
}

const nsExtdisco = "urn:xmpp:extdisco:2"

// Leg is the outcome of one transport.
type Leg struct {
	Transport string    `json:"transport"`
	URL       string    `json:"url"`
	JID       string    `json:"jid,omitempty"`
	Room      string    `json:"room,omitempty"`
	Services  []Service `json:"services,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// Report is what Run found; OK when every leg passed.
type Report struct {
	OK   bool  `json:"ok"`
	Legs []Leg `json:"legs"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	if o.WebSocketURL == "" && o.BOSHURL == "" {
		errs = append(errs, errors.New("give --websocket-url, --bosh-url or both"))
	}
	if o.Domain == "" || o.MUCDomain == "" {
		errs = append(errs, errors.New("--domain and --muc-domain must not be empty"))
	}
	if o.Timeout <= 0 {
		errs = append(errs, errors.New("--timeout must be positive"))
	}
	return errors.Join(errs...)
}

// Run does every leg the options ask for, one after the other.
func Run(ctx context.Context, o Options) (Report, error) {
	if err := o.Validate(); err != nil {
		return Report{}, err
	}
	if o.Room == "" {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		o.Room = "ensemble-check-" + hex.EncodeToString(b)
	}
	rep := Report{OK: true}
	legs := []struct {
		name, url string
		run       func(ctx context.Context, o *Options, leg *Leg) error
	}{
		{"websocket", o.WebSocketURL, websocketLeg},
		{"bosh", o.BOSHURL, boshLeg},
	}
	for _, l := range legs {
		if l.url == "" {
			continue
		}
		leg := Leg{Transport: l.name, URL: l.url}
		lctx, cancel := context.WithTimeout(ctx, o.Timeout)
		err := l.run(lctx, &o, &leg)
		cancel()
		if err == nil {
			err = o.verify(leg.Services)
		}
		if err != nil {
			leg.Error = err.Error()
			rep.OK = false
		}
		rep.Legs = append(rep.Legs, leg)
	}
	return rep, nil
}

// dial connects to ConnectAddress when set, else to addr.
func (o *Options) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if o.ConnectAddress != "" {
		addr = o.ConnectAddress
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// verify checks the TURN services the server announced.
func (o *Options) verify(list []Service) error {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	var turn []Service
	for _, s := range list {
		if s.Type == "turn" || s.Type == "turns" {
			turn = append(turn, s)
		}
	}
	if len(turn) == 0 {
		return fmt.Errorf("no turn or turns service among %d external services", len(list))
	}
	var errs []error
	hostSeen := o.ExpectTURNHost == ""
	for _, s := range turn {
		name := fmt.Sprintf("%s %s:%d", s.Type, s.Host, s.Port)
		hostSeen = hostSeen || s.Host == o.ExpectTURNHost
		if s.Username == "" || s.Password == "" {
			errs = append(errs, fmt.Errorf("%s: no credentials", name))
			continue
		}
		exp, _, _ := strings.Cut(s.Username, ":")
		secs, err := strconv.ParseInt(exp, 10, 64)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: username %q does not start with an expiry time", name, s.Username))
		} else if t := time.Unix(secs, 0); !t.After(now()) {
			errs = append(errs, fmt.Errorf("%s: credentials expired at %v", name, t.UTC()))
		}
		if o.TURNSecret != "" {
			mac := hmac.New(sha1.New, []byte(o.TURNSecret))
			mac.Write([]byte(s.Username))
			if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(s.Password)) {
				errs = append(errs, fmt.Errorf("%s: the password is not HMAC-SHA1(secret, username): the server's TURN secret differs from coturn's", name))
			}
		}
	}
	if !hostSeen {
		errs = append(errs, fmt.Errorf("no TURN service names host %q", o.ExpectTURNHost))
	}
	return errors.Join(errs...)
}
