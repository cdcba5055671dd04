#!/usr/bin/env bash
# Benchmark the selector's room lookup (GET /api/v1/rooms/{room}) with wrk, against a real Consul dev
# agent holding 1,000 registered nodes, and compare it in the same run with a bare net/http handler that
# returns a fixed room JSON. Prints requests/s of both, their ratio (goal >= 0.7), p99 latency of both
# (goal <= 5 ms), the server CPU time per request of both and the error count (goal 0).
#
# Workload: meetings, not random names. A lookup opens a new meeting with probability BENCH_NEW_SHARE
# (0.25: a meeting averages 4.2 participants in the simulator's day, and each participant's join is one
# lookup); otherwise it joins one of the BENCH_RECENT (2,000) meetings opened last by the same wrk
# thread, as late joiners do. So a quarter of the lookups bind a new room and place it, and the rest
# find a binding. At wrk's rate that is thousands of new meetings a second, far beyond any real fleet:
# every node's pending account passes the high-water mark within a second, so the run also measures
# placement on a saturated fleet.
#
# usage: scripts/bench-selector.sh [BIN_DIR]     (BIN_DIR holds ensemble-selector; default ./bin)
# env:   BENCH_DURATION (10s) BENCH_THREADS (1) BENCH_CONNECTIONS (8) BENCH_NODES (1000) BENCH_ROUNDS (2)
#        BENCH_NEW_SHARE (0.25) BENCH_RECENT (2000)
#        SELECTOR_ENV (e.g. "env GOGC=400": a command prefix for the selector, for experiments)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-bin}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNECTIONS:-8}
NODES=${BENCH_NODES:-1000}
ROUNDS=${BENCH_ROUNDS:-2}
NEW_SHARE=${BENCH_NEW_SHARE:-0.25}
RECENT=${BENCH_RECENT:-2000}

for tool in wrk curl go; do
	command -v "$tool" >/dev/null || { echo "bench-selector: $tool not found (run scripts/install-deps.sh)" >&2; exit 1; }
done
[[ -x $BIN/ensemble-selector ]] || { echo "bench-selector: $BIN/ensemble-selector missing (run make build)" >&2; exit 1; }

work=$(mktemp -d)
sel_pid=""
fleet_pid=""
cleanup() {
	[[ -n $sel_pid ]] && kill "$sel_pid" 2>/dev/null && wait "$sel_pid" 2>/dev/null || true
	exec 3>&- 2>/dev/null || true # closing benchfleet's stdin stops it and its Consul
	[[ -n $fleet_pid ]] && wait "$fleet_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# wait_for CMD... : poll up to 60 s.
wait_for() {
	for _ in $(seq 300); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "bench-selector: timed out waiting for: $*" >&2
	return 1
}

go build -o "$work/benchfleet" ./selector/internal/benchfleet
mkfifo "$work/ctl"
"$work/benchfleet" --nodes "$NODES" <"$work/ctl" >"$work/fleet.out" 2>"$work/fleet.err" &
fleet_pid=$!
exec 3>"$work/ctl"
wait_for grep -q '^READY=1' "$work/fleet.out" || { cat "$work/fleet.err" >&2; exit 1; }
CONSUL_HTTP_ADDR=$(sed -n 's/^CONSUL_HTTP_ADDR=//p' "$work/fleet.out")
BARE_URL=$(sed -n 's/^BARE_URL=//p' "$work/fleet.out")

# Prometheus is deliberately absent (closed port): with no load data the selector places by pending
# accounts, the same code path; the benchmark measures the HTTP + binding + placement cost.
CONSUL_HTTP_ADDR=$CONSUL_HTTP_ADDR ${SELECTOR_ENV:-} "$BIN/ensemble-selector" --web.listen-address=127.0.0.1:0 \
	--prometheus.url=http://127.0.0.1:1 --rooms.store=memory --selector.policy=p2c --log.level=info \
	>"$work/selector.log" 2>&1 &
sel_pid=$!
wait_for grep -q 'msg=listening' "$work/selector.log" || { cat "$work/selector.log" >&2; exit 1; }
SEL_URL=http://$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$work/selector.log" | head -1)
wait_for curl -sf "$SEL_URL/-/ready"
count_nodes() { [[ $(curl -sf "$SEL_URL/api/v1/nodes" | grep -o '"id":' | wc -l) -eq $NODES ]]; }
wait_for count_nodes

cat >"$work/rooms.lua" <<LUA
-- Each wrk thread opens a new meeting with probability $NEW_SHARE, else joins one of the $RECENT
-- meetings it opened last. Names are unique per thread and per run (the round and the time).
local n = 0
function setup(thread) n = n + 1; thread:set("seed", n) end
local opened, recent, prefix = 0, {}, ""
function init(args)
	math.randomseed(os.time() * 1000 + (seed or 0))
	prefix = "m" .. os.time() .. "-" .. (seed or 0) .. "-" .. math.random(1, 1000000) .. "-"
end
function request()
	local room
	if opened == 0 or math.random() < $NEW_SHARE then
		opened = opened + 1
		room = prefix .. opened
		recent[(opened - 1) % $RECENT + 1] = room
	else
		room = recent[math.random(1, math.min(opened, $RECENT))]
	end
	return wrk.format("GET", "/api/v1/rooms/" .. room)
end
LUA

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# run NAME URL PID: one wrk run; appends "NAME rps p99_ms errors cpu_us_per_request" to results. The
# server's CPU time per request is less sensitive to other load on the machine than requests/s.
run() {
	local out before after
	before=$(cpu_ticks "$3")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/rooms.lua" "$2")
	after=$(cpu_ticks "$3")
	echo "$out" >>"$work/wrk.log"
	echo "bench-selector: $1: $(grep -E 'Requests/sec|^ +99%' <<<"$out" | tr -s ' ' | tr '\n' ' ')" >&2
	awk -v name="$1" -v ticks=$((after - before)) -v hz="$TICK" '
		/ requests in / { reqs = $1 }
		/Requests\/sec:/ { rps = $2 }
		$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
			p99 = (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : (u == "m") ? v * 60000 : v }
		/Non-2xx or 3xx responses:/ { errs += $NF }
		/Socket errors:/ { gsub(/,/, ""); errs += $4 + $6 + $8 + $10 }
		END { printf "%s %s %.3f %d %.2f\n", name, rps, p99, errs, ticks / hz * 1e6 / reqs }' <<<"$out" >>"$work/results"
}

echo "bench-selector: $NODES nodes in Consul, wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, new meetings $NEW_SHARE of lookups (joins among the last $RECENT), selector $SEL_URL vs bare $BARE_URL" >&2
curl -sf "$SEL_URL/api/v1/rooms/warm-up" >/dev/null
for _ in $(seq "$ROUNDS"); do
	run selector "$SEL_URL" "$sel_pid"
	run bare "$BARE_URL" "$fleet_pid"
done

awk -v nodes="$NODES" '
	{ rps[$1] += $2; n[$1]++; if ($3 > p99[$1]) p99[$1] = $3; errs[$1] += $4; cpu[$1] += $5 }
	END {
		s = rps["selector"] / n["selector"]; b = rps["bare"] / n["bare"]
		printf "| metric | selector | bare net/http | goal |\n|---|---|---|---|\n"
		printf "| requests/s (mean of %d runs) | %.0f | %.0f | |\n", n["selector"], s, b
		printf "| ratio selector/bare | %.2f | | >= 0.7 |\n", s / b
		printf "| p99 latency, worst run (ms) | %.2f | %.2f | <= 5 |\n", p99["selector"], p99["bare"]
		printf "| server CPU per request (us, mean) | %.1f | %.1f | |\n", cpu["selector"] / n["selector"], cpu["bare"] / n["bare"]
		printf "| ratio of CPU per request selector/bare | %.2f | | |\n", cpu["selector"] / cpu["bare"]
		printf "| errors (non-2xx + socket) | %d | %d | 0 |\n", errs["selector"], errs["bare"]
		ok = (s / b >= 0.7 && p99["selector"] <= 5 && errs["selector"] == 0)
		printf "\nGoals %s (%d nodes in Consul).\n", ok ? "met" : "NOT met", nodes
	}' "$work/results"
