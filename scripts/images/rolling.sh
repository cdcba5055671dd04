# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Stage rolling: jitsi.yml (serial 1, drain through the sidecar's control listener) runs against
# the two nodes over SSH with a conference on one: no bridge restarts while it has conferences,
# both nodes end serving; a changed first-boot template applies without a reboot or restarts; a
# node whose sidecar is down fails the play.

bridge_started() { in_node "$1" systemctl show -p ActiveEnterTimestampMonotonic --value jitsi-videobridge2; }
# drain_is NAME STATE [TIMEOUT]: the node's sidecar says STATE on its control listener (GET /drain),
# now or within TIMEOUT.
drain_is() { node_imagecheck "$1" --timeout="${3:-0s}" drain --want="$2" >/dev/null; }

rolling() {
	# The control listener is shared contract #2 (the sidecar's --web.control-address).
	# Not `--help | grep -q`: grep's early exit would kill the sidecar with SIGPIPE (pipefail).
	if [[ $("$work/bin/ensemble-sidecar" --help 2>&1) != *--web.control-address* ]]; then
		echo "   rolling: NOT RUN: this ensemble-sidecar has no --web.control-address (control listener) yet" >&2
		return 0
	fi
	printf '[jitsi]\nnode-a ansible_host=%s\nnode-b ansible_host=%s\n[jitsi:vars]\nansible_user=root\nansible_ssh_private_key_file=%s\nansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"\n' \
		"${node_ips[node-a]}" "${node_ips[node-b]}" "$work/ssh-key" >"$work/fleet.ini"
	# A change that needs a bridge restart on both (their jvb.conf lost the role's block), and a
	# conference on node-a.
	local name
	for name in node-a node-b; do
		sed -i '/BEGIN ANSIBLE MANAGED BLOCK ensemble/,/END ANSIBLE MANAGED BLOCK ensemble/d' "$work/$name/etc/jitsi/videobridge/jvb.conf"
	done
	# node-a runs an older first-boot template, applied: the play must bring the new one into
	# effect without a reboot (nginx serves the redirect it renders).
	local tmpl=/etc/ensemble/firstboot/templates/nginx-redirect.conf.tmpl
	# shellcheck disable=SC2016 # nginx's variable
	printf 'return 301 https://old-template.invalid$request_uri;\n' | tee "$work/node-a$tmpl" >"$work/node-a/etc/nginx/snippets/ensemble-redirect.conf"
	in_node node-a systemctl reload nginx
	redirects_to node-a old-template.invalid || die "node-a: the older template's redirect is not in effect"
	declare -A others_before=()
	for name in node-a node-b; do others_before[$name]=$(started "$name" prosody coturn consul nginx); done
	local conf a_before b_before
	conf=$(node_net node-a curl -sf --max-time 5 -X POST -H 'Content-Type: application/json' -d '{"size":3}' \
		http://127.0.0.1:8080/emulator/conferences | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
	[[ -n $conf ]] || die "could not start a conference on node-a"
	a_before=$(bridge_started node-a)
	b_before=$(bridge_started node-b)
	# The play reaches the nodes over SSH from this namespace; the package install is skipped
	# (the test network has no Debian mirror).
	(cd "$repo/ansible" && exec ip netns exec "$netns" ansible-playbook -i "$work/fleet.ini" -e @"$work/vars.yml" \
		-e jitsi_sidecar_binary_src="$work/bin/ensemble-sidecar" -e jitsi_drain_poll=1 -e jitsi_drain_timeout=120 \
		--skip-tags jitsi_install jitsi.yml) >"$work/rolling.log" 2>&1 &
	local play=$!
	drain_is node-a draining 60s || { kill "$play" 2>/dev/null || true; tail -30 "$work/rolling.log"; die "node-a did not start draining"; }
	# While the meeting lasts the play waits; the bridge keeps running.
	sleep 3
	if ! drain_is node-a draining || [[ $(bridge_started node-a) != "$a_before" ]]; then
		kill "$play" 2>/dev/null || true
		die "node-a's bridge restarted or its drain ended while it had a conference"
	fi
	[[ $(bridge_started node-b) == "$b_before" ]] || { kill "$play" 2>/dev/null || true; die "node-b changed before node-a was done (serial)"; }
	node_net node-a curl -sf --max-time 5 -X DELETE "http://127.0.0.1:8080/emulator/conferences/$conf" >/dev/null
	wait "$play" || { tail -40 "$work/rolling.log"; die "jitsi.yml failed (log: $work/rolling.log)"; }
	for name in node-a node-b; do
		drain_is "$name" serving || die "$name is not serving after the rolling change"
	done
	[[ $(bridge_started node-a) != "$a_before" && $(bridge_started node-b) != "$b_before" ]] ||
		die "the rolling change did not restart the bridges"
	both_passing || die "the nodes are not both passing after the rolling change"
	echo "   rolling: node-a drained and waited for its conference, then each bridge restarted in turn; both serving and passing"
	redirects_to node-a node-a.ci.invalid || die "node-a: the role's first-boot template did not take effect without a reboot"
	for name in node-a node-b; do
		[[ $(started "$name" prosody coturn consul nginx) == "${others_before[$name]}" ]] ||
			die "$name: applying user-data restarted prosody, coturn, consul or nginx (Requires= on ensemble-firstboot)"
	done
	echo "   rolling: node-a's changed first-boot template applied and nginx reloaded, no reboot; prosody, coturn, consul, nginx not restarted"
	timed sidecar-down check_rolling_sidecar_down node-b
}

started() { # NAME UNIT...: when each unit last entered active (a restart changes it)
	local name=$1 unit
	shift
	for unit in "$@"; do in_node "$name" systemctl show -p ActiveEnterTimestampMonotonic --value "$unit"; done
}
redirects_to() { # NAME HOST: plain HTTP to the node redirects to https://HOST/, within 10 s
	imagecheck --timeout=10s redirect --url="http://${node_ips[$1]}/room" --location-prefix="https://$2/room" >/dev/null
}

# A node whose sidecar is down cannot be drained: the play fails (it does not skip the drain)
# and says what state the node is in and how to bring it back.
check_rolling_sidecar_down() { # NAME
	local name=$1
	in_node "$name" systemctl stop ensemble-sidecar
	if (cd "$repo/ansible" && exec ip netns exec "$netns" ansible-playbook -i "$work/fleet.ini" -l "$name" -e @"$work/vars.yml" \
		-e jitsi_sidecar_binary_src="$work/bin/ensemble-sidecar" --skip-tags jitsi_install jitsi.yml) >"$work/rolling-down.log" 2>&1; then
		die "jitsi.yml went on with $name's sidecar down"
	fi
	if ! grep -q "ensemble-sidecar on $name is inactive" "$work/rolling-down.log" || ! grep -q '/undrain' "$work/rolling-down.log"; then
		tail -30 "$work/rolling-down.log"
		die "jitsi.yml failed on $name's stopped sidecar without saying its state and the undrain command"
	fi
	in_node "$name" systemctl start ensemble-sidecar
	both_passing || die "$name is not passing again after its sidecar started"
	echo "   rolling: $name's sidecar stopped: jitsi.yml fails, naming the state and the undrain command"
}
