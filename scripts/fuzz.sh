#!/usr/bin/env bash
# fuzz.sh runs every `func FuzzXxx` target in the repository for the given time each, from the
# Go module (main or nested, e.g. tools/tofu-scaleway) that holds it.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-30s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do
	dir=$(dirname "${f#./}")
	mod=$dir
	while [[ $mod != . && ! -f $mod/go.mod ]]; do mod=$(dirname "$mod"); done
	pkg=./${dir#"$mod"}
	pkg=${pkg/#.\/\//./}
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "== $mod $pkg $name ($time)"
		(cd "$mod" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$time" "$pkg")
	done
done
