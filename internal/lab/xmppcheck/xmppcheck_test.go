package xmppcheck_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ensemble-jitsi/ensemble/internal/lab/testenv"
	"github.com/ensemble-jitsi/ensemble/internal/lab/xmppcheck"
)

// startNode runs prosody behind nginx with the jitsi role's /http-bind and /xmpp-websocket
// routes (Host meet.jitsi), and returns nginx's base URL.
func startNode(t *testing.T) string {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join("testdata", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	p := testenv.StartProsody(t, testenv.ProsodyOptions{Config: string(cfg)})
	n := testenv.StartNginx(t, testenv.NginxOptions{ExtraServerConf: fmt.Sprintf(`
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
    }`, p.URL)})
	return n.URL
}

func TestRoundTrip(t *testing.T) {
	base := startNode(t)
	u, _ := url.Parse(base)
	opts := func(edit func(*xmppcheck.Options)) xmppcheck.Options {
		o := xmppcheck.Options{
			WebSocketURL: "ws://" + u.Host + "/xmpp-websocket", BOSHURL: base + "/http-bind",
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
