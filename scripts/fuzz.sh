#!/usr/bin/env bash
# fuzz.sh runs every `func FuzzXxx` target in the module for the given time each.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-30s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	pkg=./$(dirname "${f#./}")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "== $pkg $name ($time)"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "$pkg"
	done
done
