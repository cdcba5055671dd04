# shellcheck shell=bash disable=SC2154,SC2034 # the globals are set and read by scripts/test-images.sh
# Sourced by scripts/test-images.sh: how the run is driven. die, the stage runner (step, timed,
# background, await and the timings they record), poll, and the EXIT trap that stops every
# container and process the run started and removes its work directory.

die() { echo "test-images: $*" >&2; exit 1; }

timings=()
timing() { # NAME START: records a step's wall time since START
	timings+=("$(awk -v n="$1" -v a="$2" -v b="$EPOCHREALTIME" 'BEGIN{printf "%-12s %6.1f s", n, b - a}')")
}
timed() { # NAME FUNCTION ARGS...: one check inside a step; its time is listed under the step's
	local name=$1 start=$EPOCHREALTIME
	shift
	"$@"
	timing "  $name" "$start"
}
step() { # step NAME FUNCTION: runs it, records its wall time
	local name=$1 start
	shift
	echo "== $name"
	start=$EPOCHREALTIME
	"$@"
	timing "$name" "$start"
}

background() { # NAME FUNCTION: runs it beside the next steps; its output waits in a log for await
	local name=$1
	shift
	echo "== $name (in the background)"
	# shellcheck disable=SC2004 # an associative array's key
	bg_starts[$name]=$EPOCHREALTIME
	("$@") >"$work/$name.step.log" 2>&1 &
	# shellcheck disable=SC2004 # an associative array's key
	bg_pids[$name]=$!
}
await() { # NAME: waits for a background step, prints its output, fails if it failed
	local name=$1 rc=0
	wait "${bg_pids[$name]}" || rc=$?
	unset "bg_pids[$name]"
	echo "== $name (awaited)"
	cat "$work/$name.step.log"
	[[ $rc == 0 ]] || die "$name failed"
	timing "$name" "${bg_starts[$name]}"
}

kill_tree() { # PID: the process and everything it started
	local child
	for child in $(pgrep -P "$1"); do kill_tree "$child"; done
	kill "$1" 2>/dev/null || true
}

# poll TRIES COMMAND...: runs COMMAND every 0.2 s until it succeeds.
poll() {
	local tries=$1
	shift
	for _ in $(seq "$tries"); do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}

cleanup() {
	local rc=$? name pid
	set +e
	for pid in "${bg_pids[@]}"; do kill_tree "$pid"; wait "$pid" 2>/dev/null; done
	for name in "${!nspawn_pids[@]}"; do stop_container "$name"; done
	for pid in "${host_pids[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
	for name in node-a node-b node-c; do ip netns del "$netns-$name" 2>/dev/null; done
	ip netns del "$netns" 2>/dev/null
	# nspawn mounts in its own namespace; this only catches what leaked into the host's.
	findmnt -rn -o TARGET | grep -F "$work/" | sort -r | while read -r m; do umount -l "$m"; done
	if [[ ${ENSEMBLE_IMAGES_KEEP:-} == 1 ]]; then
		echo "test-images: kept $work"
	else
		[[ $rc == 0 ]] || echo "test-images: ENSEMBLE_IMAGES_KEEP=1 keeps the roots and logs of $work" >&2
		rm -rf --one-file-system "$work"
	fi
	exit "$rc"
}
