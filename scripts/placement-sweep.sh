#!/usr/bin/env bash
# Regenerates the numbers in docs/placement.md: the default scenario at three loads, the plot,
# and the knob sweeps. Usage: scripts/placement-sweep.sh [output-dir]   (about two minutes on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs}
bin=$(mktemp -d)/ensemble-sim
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" ./cmd/ensemble-sim
sim() { "$bin" --no-progress "$@"; }

for load in 0.6 0.8 0.95; do
	echo "## mean load $load"
	sim --mean-load "$load"
	echo
done
echo "## mean load 0.8, three selector replicas"
sim --mean-load 0.8 --selector.replicas 3
echo
echo "## mean load 0.8, the original service's data path (15 s scrape, 1 m rate, 30 s poll)"
sim --mean-load 0.8 --view.scrape-interval 15s --view.rate-window 1m --view.poll-interval 30s --load.max-age 2m
echo
echo "## mean load 0.8, zero delay (ideal)"
sim --mean-load 0.8 --view.zero-delay
echo
sim --mean-load 0.8 --policy most-free-cpu --policy p2c --plot.file "$out/placement-load.png" >/dev/null
echo "wrote $out/placement-load.png"
echo

echo "## knobs at mean load 0.8 (policy,replicas,window,cost,high-water: node-min>90%, joins refused)"
for replicas in 1 3; do
	for policy in least-loaded p2c; do
		for knobs in "90s 0" "30s 0.15" "90s 0.15" "180s 0.15" "90s 0.05" "90s 0.25" "90s 0.5"; do
			set -- $knobs
			sim --mean-load 0.8 --policy "$policy" --selector.replicas "$replicas" --selector.pending-window "$1" \
				--selector.room-cost "$2" --output.format csv | awk -F, -v k="$policy,$replicas,$1,$2,0.8" 'NR==2 { print k ": " $2 ", " $8 }'
		done
		for hw in 0.7 0.9; do
			sim --mean-load 0.8 --policy "$policy" --selector.replicas "$replicas" --selector.high-water "$hw" \
				--output.format csv | awk -F, -v k="$policy,$replicas,default,default,$hw" 'NR==2 { print k ": " $2 ", " $8 }'
		done
	done
done
