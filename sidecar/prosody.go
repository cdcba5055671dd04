package sidecar

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
)

// ProsodyProbe passes when the local prosody opens a BOSH session for the XMPP domain, the
// way nginx's /http-bind route hands a browser to it: a POST to prosody's http port with the
// domain as Host. It proves more than an open port: prosody runs, mod_bosh is loaded and the
// domain's VirtualHost exists (a missing one answers host-unknown). The session is terminated
// at once, so a probe every check interval leaves nothing behind.
type ProsodyProbe struct {
	url, domain string
	client      *http.Client
}

var _ Probe = (*ProsodyProbe)(nil)

// NewProsodyProbe probes the BOSH endpoint url (http://127.0.0.1:5280/http-bind on a node)
// for the XMPP domain (meet.jitsi), through client.
func NewProsodyProbe(url, domain string, client *http.Client) *ProsodyProbe {
	return &ProsodyProbe{url: url, domain: domain, client: client}
}

// Name implements Probe.
func (p *ProsodyProbe) Name() string { return "prosody" }

// maxBOSHBody bounds what the probe reads of an answer: a session's first body carries only
// stream features.
const maxBOSHBody = 64 << 10

// Check implements Probe.
func (p *ProsodyProbe) Check(ctx context.Context) error {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<40))
	if err != nil {
		return fmt.Errorf("BOSH request id: %w", err)
	}
	rid := n.Int64() + 1
	var open bytes.Buffer
	open.WriteString(`<body xmlns='http://jabber.org/protocol/httpbind' xmlns:xmpp='urn:xmpp:xbosh' xmpp:version='1.0' ver='1.6' wait='1' hold='1' xml:lang='en' rid='`)
	fmt.Fprintf(&open, "%d' to='", rid)
	_ = xml.EscapeText(&open, []byte(p.domain))
	open.WriteString(`'/>`)
	s, err := p.post(ctx, open.Bytes())
	if err != nil {
		return err
	}
	if s.Type == "terminate" {
		return fmt.Errorf("prosody refused a BOSH session for %s: %s", p.domain, cmp.Or(s.Condition, "no condition given"))
	}
	if s.SID == "" {
		return fmt.Errorf("prosody answered a BOSH session request for %s without a sid", p.domain)
	}
	var end bytes.Buffer
	fmt.Fprintf(&end, `<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' rid='%d' sid='`, rid+1)
	_ = xml.EscapeText(&end, []byte(s.SID))
	end.WriteString(`'/>`)
	// Best effort: prosody drops an idle session after its inactivity timeout anyway.
	_, _ = p.post(ctx, end.Bytes())
	return nil
}

func (p *ProsodyProbe) post(ctx context.Context, body []byte) (boshBody, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return boshBody{}, fmt.Errorf("prosody probe: %w", err)
	}
	req.Host = p.domain
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := p.client.Do(req)
	if err != nil {
		return boshBody{}, fmt.Errorf("POST %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorLen))
		return boshBody{}, fmt.Errorf("POST %s: %s: %s", req.URL.Redacted(), resp.Status, strings.TrimSpace(string(snippet)))
	}
	s, err := parseBOSHBody(io.LimitReader(resp.Body, maxBOSHBody))
	if err != nil {
		return boshBody{}, fmt.Errorf("POST %s: %w", req.URL.Redacted(), err)
	}
	return s, nil
}

// boshBody is what the probe needs of a BOSH <body/> wrapper (XEP-0124).
type boshBody struct {
	SID       string
	Type      string
	Condition string
}

const boshNS = "http://jabber.org/protocol/httpbind"

// parseBOSHBody reads the attributes of the <body/> element that starts r.
func parseBOSHBody(r io.Reader) (boshBody, error) {
	d := xml.NewDecoder(r)
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return boshBody{}, errors.New("no BOSH <body/> in the answer")
			}
			return boshBody{}, fmt.Errorf("reading the BOSH answer: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if t.Name.Space != boshNS || t.Name.Local != "body" {
				return boshBody{}, fmt.Errorf("the answer is a <%s xmlns=%q>, not a BOSH <body/>", t.Name.Local, t.Name.Space)
			}
			var b boshBody
			for _, a := range t.Attr {
				if a.Name.Space != "" {
					continue
				}
				switch a.Name.Local {
				case "sid":
					b.SID = a.Value
				case "type":
					b.Type = a.Value
				case "condition":
					b.Condition = a.Value
				}
			}
			return b, nil
		case xml.ProcInst, xml.CharData, xml.Comment, xml.Directive:
			// The XML declaration and whitespace before the root are allowed.
		}
	}
}
