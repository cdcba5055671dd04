// Package xmppcheck is the lab's XMPP and TURN round trip against a Jitsi node (never linked
// by a shipped binary): it logs in anonymously through the node's nginx over WebSocket
// (mellium.im/xmpp) and over BOSH (a small XEP-0124/0206 client of its own: mellium has no
// BOSH transport), joins a MUC room, asks the server for its XEP-0215 external services
// (urn:xmpp:extdisco:2) and checks the TURN entries: the expected host, credentials present,
// not expired, and, given the shared secret, equal to what coturn's use-auth-secret expects
// (username "<expiry>[:<user>]", password base64(HMAC-SHA1(secret, username))).
//
// cmd/lab/ensemble-xmppcheck runs it and prints the Report as JSON on stdout. Its flags:
//
//	--websocket-url URL   wss://NODE/xmpp-websocket (empty: skip the WebSocket leg)
//	--bosh-url URL        https://NODE/http-bind (empty: skip the BOSH leg)
//	--domain NAME         XMPP domain (hosts.domain; default meet.jitsi)
//	--muc-domain NAME     MUC component of the rooms (hosts.muc; default conference.meet.jitsi)
//	--room NAME           room to join (default: a random ensemble-check-* name)
//	--creator-jid JID     user that may create rooms (focus@auth.meet.jitsi: jitsi-meet-prosody's
//	                      conference MUC has restrict_room_creation = true); it logs in with
//	                      SASL PLAIN over the WebSocket URL and creates the room first
//	--creator-password-file F  that user's password
//	--expect-turn-host H  a TURN service must name this host (the node's public name)
//	--turn-secret-file F  file with the TURN shared secret, to verify the passwords
//	--tls.ca-file F       PEM CA trusted for the node's certificate
//	--tls.insecure-skip-verify  accept any certificate (self-signed lab nodes)
//	--connect-address A   host:port dialed instead of the URLs' host (a lab node without DNS;
//	                      the URLs' host still names the server for TLS and HTTP)
//	--timeout D           bound of each leg (default 30s)
//
// Exit codes: 0 every leg passed, 1 a leg failed (the JSON says which and why), 2 bad flags.
package xmppcheck
