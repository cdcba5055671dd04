package xmppcheck

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
	"slices"
	"strings"
	"time"
)

// XML namespaces of the BOSH leg.
const (
	nsHTTPBind = "http://jabber.org/protocol/httpbind"
	nsXBOSH    = "urn:xmpp:xbosh"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsMUC      = "http://jabber.org/protocol/muc"
)

// maxBOSHResponse bounds one answer: a few stanzas.
const maxBOSHResponse = 1 << 20

// boshBody is a BOSH <body/> wrapper and the stanzas this client looks at.
type boshBody struct {
	XMLName   xml.Name `xml:"http://jabber.org/protocol/httpbind body"`
	SID       string   `xml:"sid,attr"`
	Type      string   `xml:"type,attr"`
	Condition string   `xml:"condition,attr"`
	Features  *struct {
		Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
		Bind       *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	} `xml:"http://etherx.jabber.org/streams features"`
	Success   *struct{}  `xml:"urn:ietf:params:xml:ns:xmpp-sasl success"`
	Failure   *innerXML  `xml:"urn:ietf:params:xml:ns:xmpp-sasl failure"`
	IQs       []boshIQ   `xml:"jabber:client iq"`
	Presences []boshPres `xml:"jabber:client presence"`
}

type innerXML struct {
	Inner string `xml:",innerxml"`
}

type boshIQ struct {
	ID       string    `xml:"id,attr"`
	Type     string    `xml:"type,attr"`
	BindJID  string    `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	Services *services `xml:"urn:xmpp:extdisco:2 services"`
	Error    *innerXML `xml:"error"`
}

type boshPres struct {
	From     string `xml:"from,attr"`
	Type     string `xml:"type,attr"`
	Statuses []struct {
		Code string `xml:"code,attr"`
	} `xml:"http://jabber.org/protocol/muc#user x>status"`
	Error *innerXML `xml:"error"`
}

// boshClient is one BOSH session (XEP-0124 with XEP-0206's XMPP binding), one request at a
// time (hold=1).
type boshClient struct {
	url, domain string
	hc          *http.Client
	rid         int64
	sid         string
}

// boshLeg logs in anonymously over BOSH, joins the room and asks for the external services.
func boshLeg(ctx context.Context, o *Options, leg *Leg) error {
	n, err := rand.Int(rand.Reader, big.NewInt(1<<40))
	if err != nil {
		return err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = o.TLSConfig
	tr.DialContext = o.dial
	c := &boshClient{url: o.BOSHURL, domain: o.Domain, hc: &http.Client{Transport: tr}, rid: n.Int64() + 1}
	defer tr.CloseIdleConnections()

	b, err := c.post(ctx, fmt.Sprintf(`<body xmlns=%q xmlns:xmpp=%q content='text/xml; charset=utf-8' hold='1' wait='5' ver='1.6' xml:lang='en' xmpp:version='1.0' to='%s' rid='%d'/>`,
		nsHTTPBind, nsXBOSH, xmlAttr(o.Domain), c.rid))
	if err != nil {
		return fmt.Errorf("opening a BOSH session: %w", err)
	}
	if b.SID == "" {
		return errors.New("opening a BOSH session: no sid in the answer")
	}
	c.sid = b.SID
	defer c.terminate()
	if b.Features == nil {
		if b, err = c.send(ctx, ""); err != nil {
			return err
		}
	}
	if b.Features == nil || !slices.Contains(b.Features.Mechanisms, "ANONYMOUS") {
		return fmt.Errorf("the server offers no SASL ANONYMOUS over BOSH (features %+v)", b.Features)
	}
	if b, err = c.send(ctx, fmt.Sprintf(`<auth xmlns=%q mechanism='ANONYMOUS'/>`, nsSASL)); err != nil {
		return err
	}
	if b.Success == nil {
		return fmt.Errorf("anonymous login over BOSH refused: %+v", b.Failure)
	}
	// Stream restart (XEP-0206 §5).
	c.rid++
	b, err = c.post(ctx, fmt.Sprintf(`<body xmlns=%q xmlns:xmpp=%q rid='%d' sid='%s' to='%s' xml:lang='en' xmpp:restart='true'/>`,
		nsHTTPBind, nsXBOSH, c.rid, xmlAttr(c.sid), xmlAttr(o.Domain)))
	if err != nil {
		return fmt.Errorf("restarting the stream: %w", err)
	}
	if b.Features == nil || b.Features.Bind == nil {
		return errors.New("no resource binding offered after the login")
	}
	iq, err := await(ctx, c, fmt.Sprintf(`<iq xmlns='jabber:client' type='set' id='bind1'><bind xmlns=%q/></iq>`, nsBind),
		func(b *boshBody) (boshIQ, bool) { return findIQ(b, "bind1") })
	if err != nil {
		return fmt.Errorf("binding a resource: %w", err)
	}
	if iq.Type != "result" || iq.BindJID == "" {
		return fmt.Errorf("binding a resource: %s %+v", iq.Type, iq.Error)
	}
	leg.JID = iq.BindJID

	room := o.Room + "@" + o.MUCDomain
	self, err := await(ctx, c, fmt.Sprintf(`<presence xmlns='jabber:client' to='%s'><x xmlns=%q/></presence>`, xmlAttr(room+"/check-bosh"), nsMUC),
		func(b *boshBody) (boshPres, bool) {
			for _, p := range b.Presences {
				if strings.HasPrefix(p.From, room+"/") && (p.Type == "error" || hasStatus(p, "110")) {
					return p, true
				}
			}
			return boshPres{}, false
		})
	if err != nil {
		return fmt.Errorf("joining %s: %w", room, err)
	}
	if self.Type == "error" {
		return fmt.Errorf("joining %s: %+v", room, self.Error)
	}
	leg.Room = room

	iq, err = await(ctx, c, fmt.Sprintf(`<iq xmlns='jabber:client' type='get' id='extdisco1' to='%s'><services xmlns=%q/></iq>`, xmlAttr(o.Domain), nsExtdisco),
		func(b *boshBody) (boshIQ, bool) { return findIQ(b, "extdisco1") })
	if err != nil {
		return fmt.Errorf("asking %s for external services: %w", o.Domain, err)
	}
	if iq.Type != "result" || iq.Services == nil {
		return fmt.Errorf("asking %s for external services: %s %+v", o.Domain, iq.Type, iq.Error)
	}
	leg.Services = iq.Services.Services
	return nil
}

// await sends payload, then polls with empty requests until match finds its answer.
func await[T any](ctx context.Context, c *boshClient, payload string, match func(*boshBody) (T, bool)) (T, error) {
	var zero T
	for {
		b, err := c.send(ctx, payload)
		if err != nil {
			return zero, err
		}
		if v, ok := match(b); ok {
			return v, nil
		}
		payload = ""
		if err := ctx.Err(); err != nil {
			return zero, err
		}
	}
}

// send posts payload (stanzas, possibly none) in the session's next body.
func (c *boshClient) send(ctx context.Context, payload string) (*boshBody, error) {
	c.rid++
	return c.post(ctx, fmt.Sprintf(`<body xmlns=%q rid='%d' sid='%s'>%s</body>`, nsHTTPBind, c.rid, xmlAttr(c.sid), payload))
}

func (c *boshClient) post(ctx context.Context, body string) (*boshBody, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBOSHResponse))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST %s: %s: %.200s", c.url, resp.Status, data)
	}
	b, err := parseBody(data)
	if err != nil {
		return nil, fmt.Errorf("POST %s: %w", c.url, err)
	}
	return b, nil
}

// parseBody decodes one answer; a terminating body is an error naming its condition.
func parseBody(data []byte) (*boshBody, error) {
	var b boshBody
	if err := xml.NewDecoder(bytes.NewReader(data)).Decode(&b); err != nil {
		return nil, fmt.Errorf("not a BOSH body: %w", err)
	}
	if b.Type == "terminate" {
		return nil, fmt.Errorf("the server ended the BOSH session: %s", cmp.Or(b.Condition, "no condition given"))
	}
	return &b, nil
}

// terminate ends the session (best effort, briefly).
func (c *boshClient) terminate() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c.rid++
	_, _ = c.post(ctx, fmt.Sprintf(`<body xmlns=%q rid='%d' sid='%s' type='terminate'><presence xmlns='jabber:client' type='unavailable'/></body>`, nsHTTPBind, c.rid, xmlAttr(c.sid)))
}

func findIQ(b *boshBody, id string) (boshIQ, bool) {
	for _, iq := range b.IQs {
		if iq.ID == id {
			return iq, true
		}
	}
	return boshIQ{}, false
}

func hasStatus(p boshPres, code string) bool {
	for _, s := range p.Statuses {
		if s.Code == code {
			return true
		}
	}
	return false
}

// xmlAttr escapes s for a single-quoted XML attribute.
func xmlAttr(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
