# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# The XMPP and TURN round trip against a running node (called by boot_fleet): an anonymous BOSH
# session through nginx gets TURN credentials from the node's secret; ensemble-xmppcheck logs in
# over WebSocket and BOSH and joins a MUC room; coturn grants a relay over TLS with those
# credentials and refuses TCP, loopback, private and own-address relays; prosody's config check
# passes with an empty error log.

# bosh_services URL CURL_ARGS...: an anonymous XMPP session over BOSH (XEP-0206) for meet.jitsi,
# as a browser opens it; prints the answer to a XEP-0215 external services request.
bosh_services() {
	local url=$1 domain=meet.jitsi rid=$((RANDOM * 1000 + 1)) sid out ns="xmlns='http://jabber.org/protocol/httpbind'"
	shift
	local curl_args=("$@") reply="$work/bosh-reply"
	true >"$reply"
	# post BODY: one request; its reply in $out (not a subshell: rid must advance).
	post() {
		in_net curl -sf -m 10 "${curl_args[@]}" -H 'Content-Type: text/xml; charset=utf-8' --data-binary "$1" -o "$reply" "$url" || { out=""; return 1; }
		out=$(<"$reply")
		rid=$((rid + 1))
	}
	post "<body content='text/xml; charset=utf-8' hold='1' rid='$rid' to='$domain' ver='1.6' wait='5' xml:lang='en' xmpp:version='1.0' $ns xmlns:xmpp='urn:xmpp:xbosh'/>" ||
		{ echo "BOSH: no session at $url" >&2; return 1; }
	sid=$(sed -n "s/.* sid='\([^']*\)'.*/\1/p" <<<"$out")
	[[ -n $sid && $out == *'<mechanism>ANONYMOUS</mechanism>'* ]] || { echo "BOSH: no session or no ANONYMOUS: $out" >&2; return 1; }
	post "<body rid='$rid' sid='$sid' $ns><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/></body>"
	[[ $out == *'<success'* ]] || { echo "BOSH: anonymous login refused: $out" >&2; return 1; }
	post "<body rid='$rid' sid='$sid' to='$domain' xml:lang='en' xmpp:restart='true' $ns xmlns:xmpp='urn:xmpp:xbosh'/>"
	post "<body rid='$rid' sid='$sid' $ns><iq type='set' id='bind' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq></body>"
	[[ $out == *"<jid>"*"@$domain/"* ]] || { echo "BOSH: no resource bound: $out" >&2; return 1; }
	post "<body rid='$rid' sid='$sid' $ns><iq type='get' id='ext' to='$domain' xmlns='jabber:client'><services xmlns='urn:xmpp:extdisco:2'/></iq></body>"
	echo "$out"
	post "<body rid='$rid' sid='$sid' type='terminate' $ns><presence type='unavailable' xmlns='jabber:client'/></body>" || true
}

# service_attr XML TYPE ATTR: an attribute of the external service of that type.
service_attr() { grep -o "<service [^>]*type='$2'[^>]*>" <<<"$1" | head -1 | sed -n "s/.* $3='\([^']*\)'.*/\1/p"; }

# uclient NAME CLIENT SECONDS ARGS...: coturn's own test client (Debian's coturn package) in the
# client node; its output lands in $work/uclient-NAME.log. Its exit code says little (a refused
# client may wait out its timeout; a granted one waits for echoes no test peer sends), so the
# callers read what it printed. One at a time: parallel TLS clients stall coturn's handshakes.
uclient() {
	local name=$1 client=$2 seconds=$3
	shift 3
	in_node "$client" timeout "$seconds" turnutils_uclient -v -n 1 -m 1 -c "$@" >"$work/uclient-$name.log" 2>&1 || true
}

# The real XMPP and TURN round trip: an anonymous XMPP session over BOSH through the node's
# nginx to prosody 13 (with jitsi-meet-prosody's configuration, global TURN secret included)
# hands out TURN credentials for the node's public name, derived from the node's own secret
# (not the package's); coturn (TURN over TLS on 5349, from the client node) grants a relay with
# them, refuses a wrong password, a TCP relay and relays to loopback and private peers, and the
# firewall stops a relay to one of the node's own public addresses. prosody's configuration
# check passes and its error log stays empty.
check_xmpp_turn() { # NAME CLIENT
	local name=$1 client=$2 ip=${node_ips[$1]} services host port user pass want own=93.184.216.11 out
	services=$(bosh_services "https://$name.ci.invalid/http-bind" --cacert "$work/ca.crt" --resolve "$name.ci.invalid:443:$ip") ||
		die "$name: no anonymous XMPP session over BOSH through nginx"
	host=$(service_attr "$services" turns host)
	port=$(service_attr "$services" turns port)
	user=$(service_attr "$services" turns username)
	pass=$(service_attr "$services" turns password)
	[[ $host == "$name.ci.invalid" && $port == 5349 && -n $user && -n $pass ]] ||
		die "$name: XEP-0215 services name $host:$port (user '$user'), want $name.ci.invalid:5349 with credentials: $services"
	want=$(printf '%s' "$user" | openssl dgst -sha1 -hmac "${turn_secrets[$name]}" -binary | base64)
	[[ $pass == "$want" ]] || die "$name: prosody's TURN password is not derived from the node's turn.secret (the package's global external_service_secret won)"
	echo "   xmpp: anonymous BOSH session through nginx to prosody 13; XEP-0215 turns $host:$port, password from the node's secret"

	# The same round trip with a real XMPP client (ensemble-xmppcheck, lab): anonymous logins over
	# WebSocket and over BOSH through nginx, a MUC room joined on the conference domain (created
	# first by the focus user, as jicofo does: the package's MUC restricts room creation), and the
	# XEP-0215 TURN entries checked against the node's secret. The focus user's password is set
	# here: the stand-in package, like the real one, keeps it only in jicofo's configuration.
	openssl rand -hex 16 >"$work/focus-$name.pass"
	in_node "$name" prosodyctl register focus auth.meet.jitsi "$(cat "$work/focus-$name.pass")"
	printf '%s' "${turn_secrets[$name]}" >"$work/turn-$name.secret"
	in_net "$work/bin/ensemble-xmppcheck" --websocket-url="wss://$name.ci.invalid/xmpp-websocket" \
		--bosh-url="https://$name.ci.invalid/http-bind" --connect-address="$ip:443" --tls.ca-file="$work/ca.crt" \
		--domain=meet.jitsi --muc-domain=conference.meet.jitsi --creator-jid=focus@auth.meet.jitsi \
		--creator-password-file="$work/focus-$name.pass" --expect-turn-host="$name.ci.invalid" \
		--turn-secret-file="$work/turn-$name.secret" --timeout=30s >"$work/xmppcheck-$name.json" 2>"$work/xmppcheck-$name.log" ||
		{ cat "$work/xmppcheck-$name.json" "$work/xmppcheck-$name.log"; die "$name: ensemble-xmppcheck failed (WebSocket/BOSH login, MUC join or TURN entries)"; }
	echo "   xmpp: ensemble-xmppcheck logged in over WebSocket and BOSH through nginx, joined a MUC room, TURN entries match the node's secret"

	# A public address of the node's own (routed IPs sit on the interface): coturn may not relay there.
	node_net "$name" ip addr add "$own/32" dev host0
	# The allocation over TLS on 5349 (what a browser behind a UDP-blocking network uses); the
	# refusals over plain TCP on 3478, where coturn applies the same checks without a TLS
	# handshake per client.
	# Up to five tries: the client's TLS handshake sometimes stalls or ends in coturn's "internal
	# error" alert (it tries older protocol versions first, which coturn refuses; seen on three
	# tries in a row once); a stalled try ends at its timeout. Every try's output is kept.
	local try
	for try in 1 2 3 4 5; do
		uclient ok "$client" 10 -t -S -p 5349 -u "$user" -w "$pass" -e 93.184.216.34 "$ip"
		{ echo "--- try $try"; cat "$work/uclient-ok.log"; } >>"$work/uclient-ok-tries.log"
		grep -q 'Received relay addr' "$work/uclient-ok.log" && break
	done
	uclient own "$client" 8 -t -p 3478 -u "$user" -w "$pass" -e "$own" "$ip"
	uclient wrong "$client" 8 -t -p 3478 -u "$user" -w "x$pass" -e 93.184.216.34 "$ip"
	uclient tcp "$client" 5 -T -p 3478 -u "$user" -w "$pass" -e 93.184.216.34 "$ip"
	uclient loopback "$client" 8 -t -p 3478 -u "$user" -w "$pass" -e 127.0.0.1 "$ip"
	uclient private "$client" 8 -t -p 3478 -u "$user" -w "$pass" -e "${node_ips[$client]}" "$ip"
	grep -q 'Received relay addr' "$work/uclient-ok.log" || { cat "$work/uclient-ok-tries.log"; die "$name: coturn granted no relay over TLS on 5349 with prosody's credentials"; }
	grep -q 'Cannot complete Allocation' "$work/uclient-wrong.log" || { cat "$work/uclient-wrong.log"; die "$name: coturn did not refuse a wrong password"; }
	grep -q 'error 442' "$work/uclient-tcp.log" || { cat "$work/uclient-tcp.log"; die "$name: coturn did not refuse a TCP relay"; }
	for peer in loopback private; do
		grep -q 'error 403' "$work/uclient-$peer.log" || { cat "$work/uclient-$peer.log"; die "$name: coturn did not refuse a relay to a $peer peer"; }
	done
	# The node's own public address: refused by coturn, or its packets rejected by the firewall.
	out=$(in_node "$name" nft list chain inet filter output)
	out=$(grep -o 'fib daddr type local counter packets [0-9]*' <<<"$out" | grep -o '[0-9]*$' || true)
	if grep -q 'error 403' "$work/uclient-own.log"; then
		out="refused by coturn (403)"
	elif [[ ${out:-0} -gt 0 ]]; then
		out="$out packets rejected by the firewall"
	else
		cat "$work/uclient-own.log"
		die "$name: coturn relayed to the node's own address $own"
	fi
	node_net "$name" ip addr del "$own/32" dev host0
	echo "   turn: relay over TLS on 5349 with those credentials; refused (TCP on 3478): wrong password, TCP relay (442), loopback and private peers (403); to its own address $own: $out"

	if ! out=$(in_node "$name" prosodyctl check config 2>&1) || [[ $out != *'All checks passed'* ]]; then
		echo "$out"
		die "$name: prosodyctl check config reports problems"
	fi
	out=$(in_node "$name" cat /var/log/prosody/prosody.err)
	[[ -z $out ]] || { echo "$out"; die "$name: prosody logged errors"; }
	echo "   prosody: prosodyctl check config passes; error log empty after the round trip"
}

