# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Sourced by scripts/test-images.sh: the nspawn containers and network namespaces. Commands in
# the test's namespace (in_net), in a container (in_node) or in its network only (node_net);
# stopping a container; waiting for its boot; asserting its units run.

# container_init NAME: the container's PID 1 (systemd), empty if it does not run.
container_init() {
	local pid=${nspawn_pids[$1]:-}
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
	pgrep -P "$pid" -x systemd | head -1 || true
}

stop_container() { # NAME
	local name=$1 pid=${nspawn_pids[$1]:-} init
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		init=$(container_init "$name")
		if [[ -n $init ]]; then nsenter -t "$init" -a systemctl poweroff >/dev/null 2>&1 || true; fi
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			sleep 2
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null || true
	unset "nspawn_pids[$name]"
}

in_net() { ip netns exec "$netns" "$@"; } # COMMAND...: in the test's network namespace
in_node() { enter_node -a "$@"; }           # NAME COMMAND...: in every namespace of the container
node_net() { enter_node -n "$@"; }          # NAME COMMAND...: a host command (curl) in its network only
enter_node() { # NSENTER-FLAG NAME COMMAND...
	local flag=$1 init
	init=$(container_init "$2")
	[[ -n $init ]] || { echo "container $2 does not run" >&2; return 1; }
	shift 2
	nsenter -t "$init" "$flag" "$@"
}

# wait_system NAME WANT: waits for the boot to finish; the state must be WANT.
wait_system() {
	local name=$1 want=$2 state
	poll 50 in_node "$name" systemctl is-system-running >/dev/null 2>&1 || true
	state=$(timeout 120 nsenter -t "$(container_init "$name")" -a systemctl is-system-running --wait || true)
	echo "   $name: system $state"
	[[ $state == "$want" ]] || { dump_node "$name"; die "$name is '$state', not $want"; }
}

dump_node() {
	in_node "$1" systemctl --failed --no-pager || true
	in_node "$1" journalctl -b --no-pager -n 80 || true
}

require_active() { # NAME UNIT...
	local name=$1 unit
	shift
	for unit in "$@"; do
		in_node "$name" systemctl is-active --quiet "$unit" || { dump_node "$name"; die "$name: $unit is not active"; }
	done
}
