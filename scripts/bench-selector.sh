#!/usr/bin/env bash
# Benchmark the selector's room lookup (GET /api/v1/rooms/{room}) with wrk, against a real Consul dev
# agent holding 1,000 registered nodes, with both room stores (memory, consul) and two mixes, each
# against a baseline measured in the same run:
#   joins: every lookup joins one of BENCH_BOUND (1,000) rooms bound during a warm-up, as the
#          participants after a meeting's first do. Baseline: a bare net/http handler returning a
#          fixed room JSON. Goals: requests/s >= 0.7 of bare, p99 <= 1.5x bare's.
#   new:   every lookup opens a new room (a unique name): placement plus one binding. Baseline: a bare
#          handler doing one Consul KV create-only check-and-set per request. Goal (consul store):
#          requests/s >= 0.8 of that loop.
# At wrk's rate the new mix opens thousands of meetings a second, far beyond any real fleet: every
# node's pending account passes the high-water mark within a second, so it also measures placement
# on a saturated fleet. Prints requests/s, p99, server CPU per request and errors of each.
#
# usage: scripts/bench-selector.sh [BIN_DIR]     (BIN_DIR holds ensemble-selector and
#        ensemble-benchfleet; default ./bin)
# env:   BENCH_DURATION (10s) BENCH_THREADS (1) BENCH_CONNECTIONS (8) BENCH_NODES (1000) BENCH_ROUNDS (2)
#        BENCH_BOUND (1000) BENCH_STORES ("memory consul") BENCH_MIXES ("joins new")
#        SELECTOR_ENV (e.g. "env GOGC=400": a command prefix for the selector, for experiments)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-bin}
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_THREADS:-1}
CONNS=${BENCH_CONNECTIONS:-8}
NODES=${BENCH_NODES:-1000}
ROUNDS=${BENCH_ROUNDS:-2}
BOUND=${BENCH_BOUND:-1000}
STORES=${BENCH_STORES:-memory consul}
MIXES=${BENCH_MIXES:-joins new}

for tool in wrk curl; do
	command -v "$tool" >/dev/null || { echo "bench-selector: $tool not found (run scripts/install-deps.sh)" >&2; exit 1; }
done
for cmd in ensemble-selector ensemble-benchfleet; do
	[[ -x $BIN/$cmd ]] || { echo "bench-selector: $BIN/$cmd missing (run make build)" >&2; exit 1; }
done

work=$(mktemp -d)
sel_pid=""
fleet_pid=""
stop_selector() {
	[[ -n $sel_pid ]] && kill "$sel_pid" 2>/dev/null && wait "$sel_pid" 2>/dev/null || true
	sel_pid=""
}
cleanup() {
	stop_selector
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

mkfifo "$work/ctl"
"$BIN/ensemble-benchfleet" --nodes "$NODES" <"$work/ctl" >"$work/fleet.out" 2>"$work/fleet.err" &
fleet_pid=$!
exec 3>"$work/ctl"
wait_for grep -q '^READY=1' "$work/fleet.out" || { cat "$work/fleet.err" >&2; exit 1; }
CONSUL_HTTP_ADDR=$(sed -n 's/^CONSUL_HTTP_ADDR=//p' "$work/fleet.out")
BARE_URL=$(sed -n 's/^BARE_URL=//p' "$work/fleet.out")
BARE_CAS_URL=$(sed -n 's/^BARE_CAS_URL=//p' "$work/fleet.out")

# start_selector STORE: sets SEL_URL and sel_pid. Prometheus is deliberately absent (closed port): with
# no load data the selector places by pending accounts, the same code path; the benchmark measures
# the HTTP + binding + placement cost.
start_selector() {
	: >"$work/selector.log"
	CONSUL_HTTP_ADDR=$CONSUL_HTTP_ADDR ${SELECTOR_ENV:-} "$BIN/ensemble-selector" --web.listen-address=127.0.0.1:0 --nodes.insecure-unbound \
		--prometheus.url=http://127.0.0.1:1 --rooms.store="$1" --rooms.consul-prefix="bench-$1-$RANDOM/" --log.level=info \
		>"$work/selector.log" 2>&1 &
	sel_pid=$!
	wait_for grep -q 'msg=listening' "$work/selector.log" || { cat "$work/selector.log" >&2; exit 1; }
	SEL_URL=http://$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$work/selector.log" | head -1)
	wait_for curl -sf "$SEL_URL/-/ready"
	count_nodes() { [[ $(curl -sf "$SEL_URL/api/v1/nodes" | grep -o '"id":' | wc -l) -eq $NODES ]]; }
	wait_for count_nodes
}

# joins.lua: each request joins one of $BOUND rooms (bound by the warm-up run). new.lua: each request
# opens a room no one asked for before (unique per thread, run and time).
cat >"$work/joins.lua" <<LUA
function init(args) math.randomseed(os.time()) end
function request() return wrk.format("GET", "/api/v1/rooms/bound-" .. math.random(1, $BOUND)) end
LUA
cat >"$work/new.lua" <<'LUA'
local n = 0
function setup(thread) n = n + 1; thread:set("seed", n) end
local opened, prefix = 0, ""
function init(args)
	math.randomseed(os.time() * 1000 + (seed or 0))
	prefix = "m" .. os.time() .. "-" .. (seed or 0) .. "-" .. math.random(1, 1000000) .. "-"
end
function request()
	opened = opened + 1
	return wrk.format("GET", "/api/v1/rooms/" .. prefix .. opened)
end
LUA

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# run NAME URL PID MIX: one wrk run; appends "NAME rps p99_ms errors cpu_us_per_request" to results.
# The server's CPU time per request is less sensitive to other load on the machine than requests/s.
run() {
	local out before after
	before=$(cpu_ticks "$3")
	out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -s "$work/$4.lua" "$2")
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

echo "bench-selector: $NODES nodes in Consul, wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS rounds, stores: $STORES, mixes: $MIXES" >&2
for store in $STORES; do
	start_selector "$store"
	for mix in $MIXES; do
		if [[ $mix == joins ]]; then # bind the rooms first; not measured
			wrk -t"$THREADS" -c"$CONNS" -d5s -s "$work/joins.lua" "$SEL_URL" >/dev/null
		fi
		base=$BARE_URL
		[[ $mix == new ]] && base=$BARE_CAS_URL
		for _ in $(seq "$ROUNDS"); do
			run "$store/$mix" "$SEL_URL" "$sel_pid" "$mix"
			run "bare-$store/$mix" "$base" "$fleet_pid" "$mix" # paired with this store's rounds
		done
	done
	stop_selector
done

awk '
	{ rps[$1] += $2; n[$1]++; if ($3 > p99[$1]) p99[$1] = $3; errs[$1] += $4; cpu[$1] += $5; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
	END {
		printf "| run | requests/s (mean) | p99 ms (worst) | CPU us/request | errors | ratio to baseline | p99 / baseline p99 | goal |\n|---|---|---|---|---|---|---|---|\n"
		ok = 1
		for (i = 1; i <= k; i++) {
			name = order[i]; split(name, part, "/"); base = "bare-" part[1] "/" part[2]
			r = rps[name] / n[name]; b = rps[base] / n[base]
			goal = ""
			if (part[1] !~ /^bare-/) {
				if (part[2] == "joins") { goal = ">= 0.7, p99 <= 1.5x"; met = (r / b >= 0.7 && p99[name] <= 1.5 * p99[base]) }
				else if (part[1] == "consul") { goal = ">= 0.8"; met = (r / b >= 0.8) }
				else met = 1
				if (goal != "") goal = goal (met ? " (met)" : " (NOT met)")
				if (!met || errs[name] > 0) ok = 0
				printf "| %s | %.0f | %.2f | %.1f | %d | %.2f | %.2f | %s |\n", name, r, p99[name], cpu[name] / n[name], errs[name], r / b, p99[name] / p99[base], goal
			} else {
				printf "| %s (baseline: %s) | %.0f | %.2f | %.1f | %d | | | |\n", name, part[2] == "new" ? "one Consul KV create-only CAS" : "fixed JSON", r, p99[name], cpu[name] / n[name], errs[name]
			}
		}
		printf "\nGoals %s.\n", ok ? "met" : "NOT met"
	}' "$work/results"
