package xmppcheck

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/url"

	xnws "golang.org/x/net/websocket"
	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/websocket"
)

// websocketLeg logs in over RFC 7395 WebSocket with mellium.im/xmpp, joins the room and asks
// for the external services.
func websocketLeg(ctx context.Context, o *Options, leg *Leg) error {
	u, err := url.Parse(o.WebSocketURL)
	if err != nil {
		return fmt.Errorf("websocket url: %w", err)
	}
	origin := &url.URL{Scheme: "https", Host: u.Host}
	cfg, err := xnws.NewConfig(o.WebSocketURL, origin.String())
	if err != nil {
		return fmt.Errorf("websocket url: %w", err)
	}
	cfg.Protocol = []string{websocket.WSProtocol}
	cfg.TlsConfig = o.TLSConfig
	cfg.Header = http.Header{}
	conn, err := o.dialWebSocket(ctx, cfg, u)
	if err != nil {
		return fmt.Errorf("websocket handshake with %s: %w", o.WebSocketURL, err)
	}
	defer conn.Close()
	// A deadline on the connection ends a negotiation the server never answers.
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	domain, err := jid.New("", o.Domain, "")
	if err != nil {
		return fmt.Errorf("domain %q: %w", o.Domain, err)
	}
	// Secure: mellium offers SASL only on a secure stream; wss is, and a plain ws URL is a
	// loopback test where prosody has consider_websocket_secure.
	s, err := xmpp.NewSession(ctx, domain, domain, conn, xmpp.Secure, websocket.Negotiator(func(*xmpp.Session, *xmpp.StreamConfig) xmpp.StreamConfig {
		return xmpp.StreamConfig{Features: []xmpp.StreamFeature{xmpp.SASL("", "", sasl.Anonymous), xmpp.BindResource()}}
	}))
	if err != nil {
		return fmt.Errorf("anonymous login over websocket: %w", err)
	}
	defer s.Close()
	leg.JID = s.LocalAddr().String()

	room, err := jid.New(o.Room, o.MUCDomain, "check-ws")
	if err != nil {
		return fmt.Errorf("room: %w", err)
	}
	// The join is a presence to room/nick (XEP-0045 §7.2) answered by our own presence from
	// that address, or an error presence. mellium's muc.Client does the same but races on its
	// join channel (seen with -race), so the answer is caught with a plain presence handler.
	joined := make(chan error, 1)
	answer := func(p stanza.Presence, _ xmlstream.TokenReadEncoder) error {
		if !p.From.Equal(room) {
			return nil
		}
		var err error
		if p.Type == stanza.ErrorPresence {
			err = fmt.Errorf("the room refused the join (error presence from %s)", p.From)
		}
		select { // called once per child element; the first call answers
		case joined <- err:
		default:
		}
		return nil
	}
	go func() {
		_ = s.Serve(mux.New(stanza.NSClient,
			mux.PresenceFunc(stanza.AvailablePresence, xml.Name{}, answer),
			mux.PresenceFunc(stanza.ErrorPresence, xml.Name{}, answer)))
	}()
	join := stanza.Presence{To: room}.Wrap(xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsMUC, Local: "x"}}))
	if err := s.Send(ctx, join); err != nil {
		return fmt.Errorf("joining %s: %w", room.Bare(), err)
	}
	select {
	case err := <-joined:
		if err != nil {
			return fmt.Errorf("joining %s: %w", room.Bare(), err)
		}
	case <-ctx.Done():
		return fmt.Errorf("joining %s: no answer: %w", room.Bare(), ctx.Err())
	}
	leg.Room = room.Bare().String()

	// mellium decodes the answer's payload into resp, and turns an error answer into err.
	var resp services
	payload := xmlstream.Wrap(nil, xml.StartElement{Name: xml.Name{Space: nsExtdisco, Local: "services"}})
	if err := s.UnmarshalIQElement(ctx, payload, stanza.IQ{To: domain, Type: stanza.GetIQ}, &resp); err != nil {
		return fmt.Errorf("asking %s for external services: %w", o.Domain, err)
	}
	leg.Services = resp.Services
	return nil
}

// dialWebSocket opens the TCP (and, for wss, TLS) connection itself, so that
// ConnectAddress applies, and does the WebSocket handshake on it.
func (o *Options) dialWebSocket(ctx context.Context, cfg *xnws.Config, u *url.URL) (*xnws.Conn, error) {
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
	}
	raw, err := o.dial(ctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(d)
	}
	conn := raw
	if u.Scheme == "wss" {
		tc := &tls.Config{}
		if o.TLSConfig != nil {
			tc = o.TLSConfig.Clone()
		}
		tc.ServerName = host
		tlsConn := tls.Client(raw, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = raw.Close()
			return nil, err
		}
		conn = tlsConn
	}
	ws, err := xnws.NewClient(cfg, conn)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return ws, nil
}
