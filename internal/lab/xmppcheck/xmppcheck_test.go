package xmppcheck_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/lab/xmppcheck"
)

// node is prosody behind nginx with the jitsi role's /http-bind and /xmpp-websocket routes
// (Host meet.jitsi), on plain HTTP and on TLS with a certificate for localhost.
type node struct {
	plain, tls string // host:port of nginx's two servers
	ca         *x509.CertPool
}

func startNode(t *testing.T) node {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join("testdata", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Config: string(cfg)})
	routes := fmt.Sprintf(`
    location = /http-bind {
        proxy_pass %[1]s/http-bind;
        proxy_set_header Host meet.jitsi;
    }
    location = /xmpp-websocket {
        proxy_pass %[1]s/xmpp-websocket;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
        proxy_set_header Host meet.jitsi;
    }`, p.URL)
	cert := testenv.SelfSigned(t, t.TempDir())
	tlsPort := testenv.FreePort(t)
	n := testenv.StartNginx(t, testenv.NginxOptions{ExtraServerConf: routes, ExtraHTTPConf: fmt.Sprintf(
		"server { listen 127.0.0.1:%d ssl; ssl_certificate %s; ssl_certificate_key %s; %s }", tlsPort, cert.CertFile, cert.KeyFile, routes)})
	u, _ := url.Parse(n.URL)
	return node{plain: u.Host, tls: fmt.Sprintf("127.0.0.1:%d", tlsPort), ca: cert.Pool}
}

func TestRoundTrip(t *testing.T) {
	n := startNode(t)
	_, tlsPort, _ := net.SplitHostPort(n.tls)
	_, plainPort, _ := net.SplitHostPort(n.plain)
	opts := func(edit func(*xmppcheck.Options)) xmppcheck.Options {
		o := xmppcheck.Options{
			WebSocketURL: "ws://" + n.plain + "/xmpp-websocket", BOSHURL: "http://" + n.plain + "/http-bind",
			Domain: "meet.jitsi", MUCDomain: "conference.meet.jitsi",
			ExpectTURNHost: "meet-0003.example.org", TURNSecret: "s3cret-turn", Timeout: 15 * time.Second,
		}
		if edit != nil {
			edit(&o)
		}
		return o
	}
	for _, tc := range []struct {
		name string
		edit func(*xmppcheck.Options)
		want string // in every leg's error; empty: passes
	}{
		{"both legs", nil, ""},
		{"TLS, name dialed at another address", func(o *xmppcheck.Options) {
			o.WebSocketURL, o.BOSHURL = "wss://localhost:"+tlsPort+"/xmpp-websocket", "https://localhost:"+tlsPort+"/http-bind"
			o.TLSConfig, o.ConnectAddress = &tls.Config{RootCAs: n.ca, MinVersion: tls.VersionTLS12}, n.tls
		}, ""},
		{"unresolvable name with --connect-address", func(o *xmppcheck.Options) {
			o.WebSocketURL, o.BOSHURL = "ws://meet-0003.invalid:"+plainPort+"/xmpp-websocket", "http://meet-0003.invalid:"+plainPort+"/http-bind"
			o.ConnectAddress = n.plain
		}, ""},
		{"TLS, untrusted certificate", func(o *xmppcheck.Options) {
			o.WebSocketURL, o.BOSHURL = "wss://localhost:"+tlsPort+"/xmpp-websocket", "https://localhost:"+tlsPort+"/http-bind"
		}, "certificate"},
		{"wrong TURN host", func(o *xmppcheck.Options) { o.ExpectTURNHost = "other.example.org" }, `no TURN service names host "other.example.org"`},
		{"wrong TURN secret", func(o *xmppcheck.Options) { o.TURNSecret = "not-the-secret" }, "the server's TURN secret differs from coturn's"},
		{"credentials expired", func(o *xmppcheck.Options) { o.Now = func() time.Time { return time.Now().Add(48 * time.Hour) } }, "credentials expired"},
		{"unknown MUC domain", func(o *xmppcheck.Options) { o.MUCDomain = "muc.nowhere.example" }, "joining"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
			defer cancel()
			rep, err := xmppcheck.Run(ctx, opts(tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Legs) != 2 {
				t.Fatalf("legs %+v, want websocket and bosh", rep.Legs)
			}
			if rep.OK != (tc.want == "") {
				t.Errorf("OK = %v, want %v: %+v", rep.OK, tc.want == "", rep)
			}
			for _, leg := range rep.Legs {
				if tc.want == "" {
					if leg.Error != "" || !strings.HasSuffix(leg.JID, "@meet.jitsi/"+strings.SplitN(leg.JID, "/", 2)[1]) || leg.Room == "" {
						t.Errorf("%s: %+v", leg.Transport, leg)
					}
					continue
				}
				if !strings.Contains(leg.Error, tc.want) {
					t.Errorf("%s: error %q, want %q", leg.Transport, leg.Error, tc.want)
				}
			}
		})
	}
}
