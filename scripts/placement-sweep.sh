#!/usr/bin/env bash
# Regenerates the tables of docs/placement.md: every day shape with 1 and 3 selector replicas,
# on the tuning seeds and, separately, on the evaluation seeds, with the production data path and
# the oracle row; then the ratios of the default policy against the best policy of each run and
# against most-free-cpu. Usage: scripts/placement-sweep.sh [output-dir]
# Cost: 32 runs of about 10 s of CPU each; it runs two at a time (the machine has two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
bin=$(mktemp -d)/ensemble-sim
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/ensemble-sim
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
running=0
for j in "${jobs[@]}"; do
	# shellcheck disable=SC2086
	one $j &
	running=$((running + 1))
	if [ "$running" -ge 2 ]; then wait -n; running=$((running - 1)); fi
done
wait

for set in tuning evaluation; do
	echo "## $set seeds: $([ "$set" = tuning ] && echo "$tuning" || echo "$evaluation") (mean load $load; joins refused / node-min > 90 %)"
	cat "$out"/"$set"-*.csv | awk -F, -v def="$default" -f scripts/placement-ratios.awk
	echo
done
