# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Checks against the running fleet (called by boot_fleet): nginx, config.js without a page, a
# node whose prosody stops leaves selection, a selector spreads new rooms over both nodes, the
# broken node never reaches Consul and says why, a Consul agent restart keeps the registration,
# a rotated sidecar token is applied at the next boot, which changes no other file.

# nginx: the room page over TLS by the node's name, a plain-HTTP redirect to the node's own name
# whatever Host was sent, no version in the Server header.
check_nginx() { # NAME
	local name=$1 ip=${node_ips[$1]} page
	page=$(in_net curl -sf --max-time 5 --cacert "$work/ca.crt" --resolve "$name.ci.invalid:443:$ip" \
		"https://$name.ci.invalid/some-room") || die "$name: no room page over TLS"
	grep -q 'ensemble stand-in jitsi-meet' <<<"$page" || die "$name: the room page is not Jitsi Meet's index"
	imagecheck redirect --url="http://$ip/some-room" --host=evil.example \
		--location-prefix="https://$name.ci.invalid/some-room" --server=nginx >/dev/null ||
		die "$name: the HTTP redirect does not go to the node's own name, or nginx shows its version"
	echo "   nginx: room page over TLS, redirect to its own name (Host ignored), no version"
}

# config.js as the mobile apps load it: fetched through the node's nginx and evaluated in a bare
# context (Node's vm: no location, no window, no document). It must not throw, and its hosts and
# service URLs must be the internal domain and this node's public name. A config that reads
# location (what the role used to write) must throw there: the evaluator can fail.
eval_config_js() { # FILE: prints the config's fields as JSON, or fails
	node -e '
const vm = require("vm"), fs = require("fs");
const box = {};
vm.runInNewContext(fs.readFileSync(process.argv[1], "utf8"), box, { timeout: 2000 });
const c = box.config;
console.log(JSON.stringify({ domain: c.hosts.domain, muc: c.hosts.muc, bosh: c.bosh, websocket: c.websocket }));
' "$1"
}
check_config_js() { # NAME
	local name=$1 ip=${node_ips[$1]} got want
	in_net curl -sf --max-time 5 --cacert "$work/ca.crt" --resolve "$name.ci.invalid:443:$ip" \
		-H 'User-Agent: Jitsi Meet SDK' "https://$name.ci.invalid/config.js" >"$work/$name-config.js" || die "$name: no config.js"
	got=$(eval_config_js "$work/$name-config.js" 2>&1) || { echo "$got" >&2; die "$name: config.js throws without a page"; }
	want="{\"domain\":\"meet.jitsi\",\"muc\":\"conference.meet.jitsi\",\"bosh\":\"https://$name.ci.invalid/http-bind\",\"websocket\":\"wss://$name.ci.invalid/xmpp-websocket\"}"
	[[ $got == "$want" ]] || die "$name: config.js evaluates to $got, want $want"
	printf '%s\nconfig.websocket = "wss://" + location.host + "/xmpp-websocket";\n' "$(cat "$work/$name-config.js")" >"$work/location-config.js"
	! eval_config_js "$work/location-config.js" >/dev/null 2>&1 || die "a config.js that reads location evaluates without a page: the check proves nothing"
	echo "   config.js: evaluates without location/window (node vm): domain meet.jitsi, muc conference.meet.jitsi, BOSH and WebSocket at $name.ci.invalid"
}

# A node whose prosody is down leaves selection (its /health fails, Consul's check with it) and
# comes back when prosody does. Needs the sidecar's prosody probe (--health.prosody).
node_failing() { imagecheck --timeout=60s passing --not="https://$1.ci.invalid" >/dev/null; } # NAME, within 60 s
check_prosody_down() { # NAME
	local name=$1
	# Not `--help | grep -q`: grep's early exit would kill the sidecar with SIGPIPE (pipefail).
	if [[ $("$work/bin/ensemble-sidecar" --help 2>&1) != *--health.prosody* ]]; then
		echo "   prosody down: NOT RUN: this ensemble-sidecar has no prosody probe (--health.prosody) yet" >&2
		return 0
	fi
	in_node "$name" systemctl stop prosody
	node_failing "$name" || die "$name is still passing with prosody stopped"
	in_node "$name" systemctl start prosody
	both_passing || die "$name is not passing again after prosody started"
	echo "   $name: prosody stopped -> out of selection (Consul check failing); started -> passing again"
}

# A selector in this namespace (the control host's place) reading the real Consul server and
# each node's sidecar: new rooms land on both nodes, each redirect names the node it chose.
check_selector() {
	ip netns exec "$netns" env CONSUL_HTTP_ADDR=127.0.0.1:8500 CONSUL_HTTP_TOKEN="$selector_token" "$work/bin/ensemble-selector" \
		--web.listen-address=127.0.0.1:18080 --nodes.allowed-domains=ci.invalid --load.source=direct --rooms.store=consul \
		>"$work/selector.log" 2>&1 &
	host_pids+=($!)
	# Ready within 30 s; then 12 new rooms, each redirected to node-a's or node-b's name followed by
	# the room, and each node gets at least one.
	local spread
	spread=$(imagecheck --timeout=30s spread --url=http://127.0.0.1:18080 --rooms=12 \
		--node=https://node-a.ci.invalid --node=https://node-b.ci.invalid) ||
		{ tail -20 "$work/selector.log"; die "the selector is not ready, or did not spread new rooms over both nodes by their names"; }
	echo "   selector: $spread, each redirected to its node's name"
}

# The broken node: its first boot names the missing field in the journal and on /health, and it
# never appears in Consul (its agent does not even start).
check_broken() { # NAME
	local name=$1 health
	wait_system "$name" degraded
	in_node "$name" journalctl -u ensemble-firstboot --no-pager | grep -q 'ensemble.consul.agent_token' ||
		{ in_node "$name" journalctl -u ensemble-firstboot --no-pager; die "$name: the journal does not name the missing field"; }
	health=$(node_net "$name" curl -s --max-time 5 -w ' %{http_code}' http://127.0.0.1:9105/health || true)
	[[ $health == *ensemble.consul.agent_token*' 503' ]] || die "$name: /health does not say why (got: $health)"
	imagecheck node-absent --node="$name" >/dev/null || die "$name appears in Consul"
	! in_node "$name" systemctl is-active --quiet consul || die "$name: consul runs without a configuration"
	echo "   $name (no agent_token): not in Consul; journal and /health (503) name ensemble.consul.agent_token"
}

# outputs_state NAME: checksum and mtime of every file the first boot writes.
outputs_state() {
	# shellcheck disable=SC2016 # expanded by the container's shell
	in_node "$1" sh -c 'for f in $(python3 -c "import json; [print(o[\"dest\"]) for o in json.load(open(\"/etc/ensemble/firstboot/outputs.json\"))]") /etc/ssl/ensemble/node.crt /etc/ssl/ensemble/node.key; do
		printf "%s %s\n" "$(sha256sum "$f" | cut -c1-16)" "$(stat -c "%Y %a %U:%G %n" "$f")"; done'
}

reboot_node() { # NAME WANT
	stop_container "$1"
	install_user_data "$1"
	boot_node "$1"
	wait_system "$1" running
}

# The CreateIndex of NAME's jitsi service in the catalog: a registration made anew gets a new one.
service_created() { imagecheck created --public-url="https://$1.ci.invalid"; } # NAME

# A restart of a node's Consul agent keeps the node's registration: the agent does not leave the
# cluster on SIGTERM (leave_on_terminate = false; a client's default is to leave, which deregisters
# the node's services), so the service keeps its CreateIndex, and it passes again.
check_agent_restart() { # NAME
	local name=$1 before after
	before=$(service_created "$name") || die "$name: no single jitsi service in the catalog"
	in_node "$name" systemctl restart consul || die "$name: the Consul agent does not restart"
	both_passing || die "$name is not passing again after its Consul agent restarted"
	after=$(service_created "$name") || die "$name: no single jitsi service in the catalog after its Consul agent restarted"
	[[ $after == "$before" ]] ||
		die "$name: a restart of its Consul agent registered the service anew (CreateIndex $before -> $after): the agent left the cluster"
	echo "   $name: Consul agent restarted, registration kept (CreateIndex $before), passing again"
}

# A new sidecar token in the user-data is applied at the next boot; the old one is deleted first,
# so passing again proves the node registered with the new one. The reboot also proves the first
# boot idempotent: every other rendered file keeps its content, mode, owner and mtime (one reboot
# for both; a reboot with unchanged user-data was a separate step before).
check_rotation() { # NAME
	local name=$1 old=${sidecar_accessors[$1]} new before after token=/etc/ensemble-sidecar/consul-token
	new_sidecar_token "$name" "sidecar $name rotated"
	new=${sidecar_tokens[$name]}
	write_user_data "$name"
	acl token delete -accessor-id "$old" >/dev/null || die "could not delete the old token of $name"
	before=$(outputs_state "$name" | grep -v " $token\$")
	reboot_node "$name"
	after=$(outputs_state "$name")
	[[ $(grep -v " $token\$" <<<"$after") == "$before" ]] ||
		{ diff <(echo "$before") <(grep -v " $token\$" <<<"$after"); die "$name: a reboot changed rendered files other than the rotated token"; }
	grep -q " $token\$" <<<"$after" || die "$name: the token file is not among the first boot's outputs"
	[[ $(in_node "$name" cat "$token") == "$new" ]] || die "$name: the rotated token was not written"
	both_passing || { in_node "$name" journalctl -u ensemble-sidecar --no-pager -n 20; die "$name is not passing with its rotated token"; }
	echo "   $name rebooted: rotated sidecar token applied (old one deleted), no other rendered file changed (content, mode, owner, mtime), passing again"
}
