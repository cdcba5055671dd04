#!/usr/bin/env bash
# Does the default placement policy hold on day shapes it was never tuned on? Draws day shapes
# (ensemble-sim --draw.seed: random mixes of office meetings, classes, family calls, webinars and
# flash crowds on random fleet sizes and day lengths, docs/placement.md) from a TUNING seed range
# and from a HELD-OUT range (never used for tuning), runs each at 1, 2 and 3 selector replicas with
# every policy and the oracle on the production data path, and prints per set and replica count the
# WORST ratio of the default policy to the best deployable policy of the run (the oracle excluded),
# on refused joins and on node-minutes over 90 %, and the worst ratio of the default to the oracle.
# Usage: scripts/placement-generalize.sh [output-dir]
# Environment: TUNING_SEEDS, HELDOUT_SEEDS, REPLICAS, MAX_NODES (200), MAX_DAY (10h), POLICY_FLAGS
# (extra ensemble-sim flags, e.g. to try a knob on the tuning set).
# Cost with the defaults: 16 shapes x 3 replica counts, each run a few seconds of CPU; about
# 5 minutes on two shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
bin=$(mktemp -d)/ensemble-sim
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/tools/ensemble-sim
default=$(sed -n 's/^const DefaultPolicy = "\(.*\)"/\1/p' selector/placement/policy.go)
tuning=${TUNING_SEEDS:-1 2 3 4 5 6 7 8}
heldout=${HELDOUT_SEEDS:-1001 1002 1003 1004 1005 1006 1007 1008}
replicas=${REPLICAS:-1 2 3}
max_nodes=${MAX_NODES:-200}
max_day=${MAX_DAY:-10h}

one() { # set seed replicas
	# shellcheck disable=SC2086
	"$bin" --no-progress --draw.seed "$2" --draw.max-nodes "$max_nodes" --draw.max-day "$max_day" \
		--selector.replicas "$3" --output.format csv ${POLICY_FLAGS:-} >"$out/$1-s$2-r$3.csv"
}
jobs=()
for set in tuning heldout; do
	seeds=$tuning
	[ "$set" = heldout ] && seeds=$heldout
	for seed in $seeds; do for r in $replicas; do jobs+=("$set $seed $r"); done; done
done
# shellcheck source=scripts/placement-jobs.sh
. scripts/placement-jobs.sh
two_at_a_time "${jobs[@]}"

for set in tuning heldout; do
	echo "## $set seeds: $([ "$set" = tuning ] && echo "$tuning" || echo "$heldout") (fleets <= $max_nodes nodes, days <= $max_day)"
	cat "$out"/"$set"-*.csv | awk -F, -v def="$default" '
	$1 == "scenario" { for (i = 1; i <= NF; i++) col[$i] = i; next }
	{
		key = $col["scenario"] " r" $col["replicas"]; r = $col["replicas"]
		if (!(key in seen)) { seen[key] = 1; order[++n] = key; rep[key] = r; nodes[key] = $col["nodes"]; load[key] = $col["busiest_hour_load"] }
		pol = $col["policy"]; j = $col["joins_refused"] + 0; m = $col["node_minutes_over_90"] + 0
		if (pol == "oracle") { oj[key] = j; om[key] = m; next }
		if (!(key in bj) || j < bj[key]) { bj[key] = j; bjp[key] = pol }
		if (!(key in bm) || m < bm[key]) { bm[key] = m; bmp[key] = pol }
		if (pol == def) { dj[key] = j; dm[key] = m }
	}
	# ratio is a / b; 1 when both are 0; a / 1 when only b is 0 (a count against none).
	function ratio(a, b) { if (b == 0) return a == 0 ? 1 : a; return a / b }
	function up(arr, k, v, run) { if (!(k in arr) || v > arr[k]) { arr[k] = v; at[k, length(run)] = run } }
	END {
		print "| run | nodes | load | " def " joins / node-min | best joins (policy) | best node-min (policy) | oracle joins / node-min | " def "/best joins | " def "/best node-min | " def "/oracle joins | " def "/oracle node-min |"
		print "|---|---:|---:|---|---|---|---|---:|---:|---:|---:|"
		for (k = 1; k <= n; k++) {
			key = order[k]; r = rep[key]
			a = ratio(dj[key], bj[key]); b = ratio(dm[key], bm[key]); c = ratio(dj[key], oj[key]); d = ratio(dm[key], om[key])
			printf "| %s | %s | %.2f | %d / %.0f | %d (%s) | %.0f (%s) | %d / %.0f | %.2f | %.2f | %.2f | %.2f |\n", key, nodes[key], load[key], dj[key], dm[key], bj[key], bjp[key], bm[key], bmp[key], oj[key], om[key], a, b, c, d
			if (!(r in wa) || a > wa[r]) { wa[r] = a; wak[r] = key }
			if (!(r in wb) || b > wb[r]) { wb[r] = b; wbk[r] = key }
			if (!(r in wc) || c > wc[r]) { wc[r] = c; wck[r] = key }
			if (!(r in wd) || d > wd[r]) { wd[r] = d; wdk[r] = key }
			rs[r] = 1
		}
		print ""
		print "| replicas | worst " def "/best joins | worst " def "/best node-min | worst " def "/oracle joins | worst " def "/oracle node-min |"
		print "|---:|---|---|---|---|"
		for (r = 1; r <= 64; r++) if (r in rs)
			printf "| %d | %.2f (%s) | %.2f (%s) | %.2f (%s) | %.2f (%s) |\n", r, wa[r], wak[r], wb[r], wbk[r], wc[r], wck[r], wd[r], wdk[r]
	}'
	echo
done
