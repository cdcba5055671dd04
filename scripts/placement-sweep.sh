#!/usr/bin/env bash
# Regenerates the tables of docs/placement.md: every day shape with 1 and 3 selector replicas,
# on the tuning seeds and, separately, on the evaluation seeds, with the production data path and
# the oracle row; then the ratios of the default policy against the best policy of each run and
# against most-free-cpu. Usage: scripts/placement-sweep.sh [output-dir]
# Node-minutes over 90 % count, on the node that turned them away, the demand of the participants
# refused at the ceiling (the CSV's node_minutes_over_90_served has the served demand alone).
# Cost: 32 runs of about 10 s of CPU each, two at a time (the machine has two cores), then short
# runs for the regions and autoscaling tables: about 30 minutes on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
bin=$(mktemp -d)/ensemble-sim
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/tools/ensemble-sim
default=$(sed -n 's/^const DefaultPolicy = "\(.*\)"/\1/p' selector/placement/policy.go)
tuning=${TUNING_SEEDS:-1 2}
evaluation=${EVALUATION_SEEDS:-3 4}
shapes=${SHAPES:-office classes flash plateau}
load=${MEAN_LOAD:-0.8}

one() { # set shape replicas seed
	"$bin" --no-progress --name "$1" --shape "$2" --selector.replicas "$3" --seed "$4" --mean-load "$load" \
		--output.format csv >"$out/$1-$2-r$3-s$4.csv"
}
jobs=()
for set in tuning evaluation; do
	seeds=$tuning
	[ "$set" = evaluation ] && seeds=$evaluation
	for shape in $shapes; do for replicas in 1 3; do for seed in $seeds; do
		jobs+=("$set $shape $replicas $seed")
	done; done; done
done
# shellcheck source=scripts/placement-jobs.sh
. scripts/placement-jobs.sh
two_at_a_time "${jobs[@]}"

for set in tuning evaluation; do
	echo "## $set seeds: $([ "$set" = tuning ] && echo "$tuning" || echo "$evaluation") (mean load $load; joins refused / node-min > 90 %)"
	cat "$out"/"$set"-*.csv | awk -F, -v def="$default" -f scripts/placement-ratios.awk
	echo
done

# The sections below read one result row of a CSV; cols (an awk rule) maps its header's names to
# column numbers in c, so they do not depend on the columns' order.
cols='NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } '

# Regions: two regions of 50 nodes whose days are 3 h apart (12 h simulated), region-aware vs blind.
first=${tuning%% *}
echo "## two regions, days 3 h apart (12 h simulated, mean load $load, seed $first; best-of-d)"
echo "| seed | placement | joins refused | node-min > 90 % | rooms spilled | participants served in the other region |"
echo "|---|---|---|---|---|---|"
for seed in $first; do
	for mode in aware blind; do
		flag=""
		[ "$mode" = blind ] && flag=--regions.blind
		# shellcheck disable=SC2086
		"$bin" --no-progress --seed "$seed" --mean-load "$load" --regions 2 --day 12h --policy best-of-d --no-oracle $flag \
			--output.format csv | awk -F, -v s="$seed" -v m="$mode" "$cols"'NR == 2 { printf "| %s | %s | %s | %.0f | %s | %s |\n", s, m, $c["joins_refused"], $c["node_minutes_over_90"], $c["rooms_spilled"], $c["remote_joins"] }'
	done
done
echo

# Autoscaling: the fixed fleet, fixed fleets 10 % and 20 % larger (same workload), and the autoscaler
# from its default floor (a tenth of the fleet) and from a floor of 30 nodes.
echo "## autoscaling vs fixed fleets (mean load $load on 100 nodes, seed $first; best-of-d)"
echo "| shape | seed | fleet | joins refused | node-min > 90 % | node-hours |"
echo "|---|---|---|---|---|---|"
for shape in office plateau weekday; do for seed in $first; do
	day=8h
	[[ $shape == weekday ]] && day=24h # the one shape with a night, where a scaler saves
	factor=$("$bin" --no-progress --seed "$seed" --shape "$shape" --day "$day" --mean-load "$load" --policy best-of-d --no-oracle --output.format json |
		sed -n 's/.*"load_factor": \([0-9.e+-]*\).*/\1/p')
	for fleet in 100 110 120 auto auto-floor-30; do
		case $fleet in
		auto) args=(--nodes 100 --autoscale) ;;
		auto-floor-30) args=(--nodes 100 --autoscale --autoscale.min-nodes 30) ;;
		*) args=(--nodes "$fleet") ;;
		esac
		"$bin" --no-progress --seed "$seed" --shape "$shape" --day "$day" --load "$factor" --policy best-of-d --no-oracle "${args[@]}" \
			--output.format csv | awk -F, -v s="$seed" -v sh="$shape" -v f="$fleet" "$cols"'NR == 2 { printf "| %s | %s | %s | %s | %.0f | %.0f |\n", sh, s, f, $c["joins_refused"], $c["node_minutes_over_90"], $c["node_hours"] }'
	done
done; done
