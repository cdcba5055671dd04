# Sourced by scripts/placement-*.sh: runs the caller's function `one` once per job, two at a time
# (the machine has two cores). Each job is one string of words, passed to `one` as arguments.
two_at_a_time() {
	local running=0 j
	for j in "$@"; do
		# shellcheck disable=SC2086
		one $j &
		running=$((running + 1))
		if [ "$running" -ge 2 ]; then wait -n; running=$((running - 1)); fi
	done
	wait
}
