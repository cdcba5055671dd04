#!/usr/bin/env bash
# Compare the per-node exporter stack a Jitsi operator runs today with Ensemble's single exporter, in one
# run, against the same real nginx:
#   theirs: Debian's prometheus-node-exporter (collectors cpu, loadavg, meminfo, netdev only)
#           + prometheus-nginx-exporter
#   ours:   one ensemble-exporter doing all of that plus the JVB collector (against the JVB emulator),
#           and ensemble-sidecar, which serves the same collectors plus its own metrics (Consul
#           registration, drain, health probes). The sidecar is what a node runs.
# Each exporter is scraped N times (sequentially, over one kept-alive connection, as Prometheus does).
# CPU is utime+stime from /proc/PID/stat, RSS is VmRSS from /proc/PID/status after the scrapes.
# Prints seconds of CPU per 1,000 scrapes and RSS for each process, then ours / theirs combined
# (goals: CPU <= 0.35, RSS <= 0.5), and the same ratios for the sidecar.
#
# The sidecar is pointed at a Consul address where nothing listens (the scrapes do not touch Consul):
# its registration then retries in the background with a backoff that grows to --consul.resync-interval,
# a few attempts during the measurement. A real agent would add one registration and a blocking query
# per resync instead.
#
# BENCH_BASELINE=path/to/ensemble-exporter adds a row for another build of ours (say, the previous commit's),
# scraped in the same run, and prints its ratios too, so a change is measured against its baseline.
# BENCH_SIDECAR_BASELINE=path/to/ensemble-sidecar does the same for the sidecar.
#
# usage: scripts/bench-exporters.sh   env: BENCH_SCRAPES (2000, at most 20000), BENCH_BASELINE, BENCH_SIDECAR_BASELINE
set -euo pipefail
cd "$(dirname "$0")/.."

N=${BENCH_SCRAPES:-2000}
baseline=${BENCH_BASELINE:-}
side_baseline=${BENCH_SIDECAR_BASELINE:-}
for b in BENCH_BASELINE="$baseline" BENCH_SIDECAR_BASELINE="$side_baseline"; do
	if [[ -n ${b#*=} && ! -x ${b#*=} ]]; then
		echo "bench-exporters: $b is not an executable" >&2
		exit 2
	fi
done
if ! [[ $N =~ ^[0-9]+$ ]] || ((N < 100 || N > 20000)); then
	echo "bench-exporters: BENCH_SCRAPES must be 100..20000" >&2
	exit 2
fi
for tool in nginx prometheus-node-exporter prometheus-nginx-exporter curl go python3; do
	command -v "$tool" >/dev/null || { echo "bench-exporters: $tool not found (run scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()         # every process this script starts
sidecar_pids=() # the sidecars among them
# running PID: the process exists and is not a zombie waiting for us.
running() { [[ -r /proc/$1/stat ]] && [[ $(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) != Z ]]; }
# cleanup stops every process started, whatever way the script ends: SIGTERM; a second SIGTERM
# to the sidecars, whose first one starts a drain that would wait for the emulator's meetings;
# SIGKILL to whatever still runs 10 s later.
cleanup() {
	trap - EXIT INT TERM
	local p left
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	sleep 0.2
	for p in "${sidecar_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for _ in $(seq 50); do
		left=0
		for p in "${pids[@]}"; do running "$p" && left=1; done
		((left)) || break
		sleep 0.2
	done
	for p in "${pids[@]}"; do
		if running "$p"; then
			echo "bench-exporters: PID $p ignored SIGTERM; killing it" >&2
			kill -KILL "$p" 2>/dev/null || true
		fi
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for CMD...: poll for up to 30 s.
wait_for() {
	for _ in $(seq 150); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "bench-exporters: timed out waiting for: $*" >&2
	return 1
}

echo "building ensemble-exporter, ensemble-sidecar and ensemble-jvbemu..." >&2
# Built as `make build` ships them: static (CGO_ENABLED=0; a cgo build maps libc and ld.so, about
# 2 MiB more RSS), with -trimpath, and without inlining in start-up-only packages
# (scripts/agent-gcflags.sh; about 0.8 MiB less RSS).
mapfile -t gcflags < <(scripts/agent-gcflags.sh)
CGO_ENABLED=0 go build -trimpath "${gcflags[@]}" -o "$work/ensemble-exporter" ./cmd/ensemble-exporter
CGO_ENABLED=0 go build -trimpath "${gcflags[@]}" -o "$work/ensemble-sidecar" ./cmd/ensemble-sidecar
go build -o "$work/ensemble-jvbemu" ./cmd/lab/ensemble-jvbemu

# nginx with stub_status on a free port.
nginx_port=$(free_port)
mkdir -p "$work/nginx/tmp" "$work/nginx/html"
cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp/body;
  proxy_temp_path $work/nginx/tmp/proxy;
  fastcgi_temp_path $work/nginx/tmp/fastcgi;
  uwsgi_temp_path $work/nginx/tmp/uwsgi;
  scgi_temp_path $work/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/nginx/html;
    location = /nginx_status { stub_status; allow 127.0.0.1; deny all; }
  }
}
EOF
nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" 2>"$work/nginx.log" &
pids+=($!)
stub="http://127.0.0.1:$nginx_port/nginx_status"
wait_for curl -sf "$stub"

# The JVB emulator with three conferences (6, 4 and 2 endpoints).
"$work/ensemble-jvbemu" --web.listen-address=127.0.0.1:0 --conference=6 --conference=4 --conference=2 \
	>"$work/jvbemu.out" 2>"$work/jvbemu.log" &
pids+=($!)
wait_for grep -q '^listening on http://' "$work/jvbemu.out"
jvb=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/jvbemu.out" | head -1)

node_port=$(free_port)
prometheus-node-exporter --collector.disable-defaults --collector.cpu --collector.loadavg \
	--collector.meminfo --collector.netdev --web.listen-address="127.0.0.1:$node_port" >"$work/node.log" 2>&1 &
node_pid=$!
pids+=($node_pid)
nginxexp_port=$(free_port)
prometheus-nginx-exporter -nginx.scrape-uri="$stub" -web.listen-address="127.0.0.1:$nginxexp_port" \
	>"$work/nginxexp.log" 2>&1 &
nginxexp_pid=$!
pids+=($nginxexp_pid)
# start_ours VAR ARGS...: start our exporter with ARGS; sets ${VAR}_pid and ${VAR}_url.
start_ours() {
	local var=$1 log="$work/$1.log" bin="$work/ensemble-exporter"
	shift
	if [[ $var == base ]]; then bin=$baseline; fi
	"$bin" --web.listen-address=127.0.0.1:0 --collector.nginx.scrape-uri="$stub" \
		--collector.jvb.url="$jvb" "$@" 2>"$log" &
	pids+=($!)
	printf -v "${var}_pid" %s "$!"
	wait_for grep -q 'msg=listening address=' "$log"
	printf -v "${var}_url" %s "http://$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$log" | head -1)/metrics"
}
start_ours ours
start_ours ours_rt --web.exporter-metrics
# start_sidecar VAR ARGS...: the sidecar with the same collectors; sets ${VAR}_pid and ${VAR}_url.
start_sidecar() {
	local var=$1 log="$work/$1.log" bin="$work/ensemble-sidecar"
	shift
	if [[ $var == side_base ]]; then bin=$side_baseline; fi
	# Each sidecar gets its own control listener: the default, 127.0.0.1:9106, fits one.
	CONSUL_HTTP_ADDR=127.0.0.1:$(free_port) "$bin" --web.listen-address=127.0.0.1:0 \
		--web.control-address=127.0.0.1:0 --node.public-url=https://bench.invalid --consul.service-id=bench \
		--collector.nginx.scrape-uri="$stub" --collector.jvb.url="$jvb" "$@" 2>"$log" &
	pids+=($!)
	sidecar_pids+=($!)
	printf -v "${var}_pid" %s "$!"
	wait_for grep -q 'msg=listening address=' "$log"
	printf -v "${var}_url" %s "http://$(sed -n 's/.*msg=listening address=\([^ ]*\).*/\1/p' "$log" | head -1)/metrics"
}
start_sidecar side
start_sidecar side_rt --web.exporter-metrics
names=(node nginxexp ours ours_rt side side_rt)
if [[ -n $baseline ]]; then
	start_ours base
	names+=(base)
fi
if [[ -n $side_baseline ]]; then
	start_sidecar side_base
	names+=(side_base)
fi
node_url="http://127.0.0.1:$node_port/metrics"
nginxexp_url="http://127.0.0.1:$nginxexp_port/metrics"
wait_for curl -sf "$node_url"
wait_for curl -sf "$nginxexp_url"

# Each exporter must actually be reading its sources, or the comparison means nothing.
# (Bodies go through variables: with pipefail, `curl | grep -q` fails when grep stops reading early.)
expect() { # URL REGEX WHAT
	local body
	body=$(curl -sf "$1") || { echo "bench-exporters: $3: GET $1 failed" >&2; exit 1; }
	grep -q "$2" <<<"$body" || { echo "bench-exporters: $3 (no line matching $2 in $1)" >&2; exit 1; }
}
expect "$ours_url" '^ensemble_jvb_up 1' "our JVB collector is not up"
expect "$ours_url" '^ensemble_nginx_up 1' "our nginx collector is not up"
expect "$side_url" '^ensemble_jvb_up 1' "the sidecar's JVB collector is not up"
expect "$side_url" '^ensemble_nginx_up 1' "the sidecar's nginx collector is not up"
expect "$side_rt_url" '^go_goroutines ' "the sidecar with --web.exporter-metrics has no go_* metrics"
if [[ -n $baseline ]]; then expect "$base_url" '^ensemble_jvb_up 1' "the baseline's JVB collector is not up"; fi
if [[ -n $side_baseline ]]; then expect "$side_base_url" '^ensemble_jvb_up 1' "the sidecar baseline's JVB collector is not up"; fi
expect "$nginxexp_url" '^nginx_up 1' "nginx-exporter is not up"
expect "$node_url" '^node_load1 ' "node-exporter has no load average"

# cpu_ticks PID: utime + stime (fields 14 and 15 of /proc/PID/stat; the command name may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

# scrape URL COUNT: COUNT sequential GETs over one connection, with Prometheus's timeout header.
scrape() {
	local args=() i
	for ((i = 0; i < $2; i++)); do args+=("$1"); done
	curl -sf -H 'X-Prometheus-Scrape-Timeout-Seconds: 10' -H 'Accept: text/plain;version=0.0.4' \
		-o /dev/null "${args[@]}" >/dev/null
}

hz=$(getconf CLK_TCK)
declare -A cpu rss
for name in "${names[@]}"; do
	case $name in
	node) pid=$node_pid url=$node_url ;;
	nginxexp) pid=$nginxexp_pid url=$nginxexp_url ;;
	ours) pid=$ours_pid url=$ours_url ;;
	ours_rt) pid=$ours_rt_pid url=$ours_rt_url ;;
	side) pid=$side_pid url=$side_url ;;
	side_rt) pid=$side_rt_pid url=$side_rt_url ;;
	base) pid=$base_pid url=$base_url ;;
	side_base) pid=$side_base_pid url=$side_base_url ;;
	esac
	scrape "$url" 50 # warm up: connections, caches, first GC cycles
	before=$(cpu_ticks "$pid")
	scrape "$url" "$N"
	after=$(cpu_ticks "$pid")
	cpu[$name]=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$N" 'BEGIN {printf "%.3f", t / hz * 1000 / n}')
	rss[$name]=$(rss_kib "$pid")
done

theirs_cpu=$(awk -v a="${cpu[node]}" -v b="${cpu[nginxexp]}" 'BEGIN {printf "%.3f", a + b}')
theirs_rss=$((rss[node] + rss[nginxexp]))
cpu_ratio=$(awk -v o="${cpu[ours]}" -v t="$theirs_cpu" 'BEGIN {printf "%.2f", (t > 0 ? o / t : 0)}')
rss_ratio=$(awk -v o="${rss[ours]}" -v t="$theirs_rss" 'BEGIN {printf "%.2f", o / t}')
side_cpu_ratio=$(awk -v o="${cpu[side]}" -v t="$theirs_cpu" 'BEGIN {printf "%.2f", (t > 0 ? o / t : 0)}')
side_rss_ratio=$(awk -v o="${rss[side]}" -v t="$theirs_rss" 'BEGIN {printf "%.3f", o / t}')
side_rt_cpu_ratio=$(awk -v o="${cpu[side_rt]}" -v t="$theirs_cpu" 'BEGIN {printf "%.2f", (t > 0 ? o / t : 0)}')

cat <<EOF
exporter comparison, $N scrapes each, $(nproc) CPUs, $(date -u +%Y-%m-%dT%H:%MZ)

| process | CPU s / 1,000 scrapes | RSS MiB |
|---|---:|---:|
| prometheus-node-exporter $(prometheus-node-exporter --version 2>&1 | sed -n 's/.*version \([^ ]*\).*/\1/p' | head -1) (cpu, loadavg, meminfo, netdev) | ${cpu[node]} | $(awk -v k="${rss[node]}" 'BEGIN {printf "%.1f", k / 1024}') |
| prometheus-nginx-exporter | ${cpu[nginxexp]} | $(awk -v k="${rss[nginxexp]}" 'BEGIN {printf "%.1f", k / 1024}') |
| theirs combined | $theirs_cpu | $(awk -v k="$theirs_rss" 'BEGIN {printf "%.1f", k / 1024}') |
| ensemble-exporter (cpu, memory, network, nginx, jvb) | ${cpu[ours]} | $(awk -v k="${rss[ours]}" 'BEGIN {printf "%.1f", k / 1024}') |
| ensemble-exporter --web.exporter-metrics (adds go_*, process_*; not in the ratio) | ${cpu[ours_rt]} | $(awk -v k="${rss[ours_rt]}" 'BEGIN {printf "%.1f", k / 1024}') |
| ensemble-sidecar (same collectors + its own metrics) | ${cpu[side]} | $(awk -v k="${rss[side]}" 'BEGIN {printf "%.1f", k / 1024}') |
| ensemble-sidecar --web.exporter-metrics (its old default) | ${cpu[side_rt]} | $(awk -v k="${rss[side_rt]}" 'BEGIN {printf "%.1f", k / 1024}') |

ours / theirs: CPU $cpu_ratio (goal <= 0.35), RSS $rss_ratio (goal <= 0.5)
sidecar / theirs: CPU $side_cpu_ratio, RSS $side_rss_ratio; with --web.exporter-metrics CPU $side_rt_cpu_ratio
EOF
if [[ -n $baseline ]]; then
	awk -v o="${cpu[base]}" -v t="$theirs_cpu" -v r="${rss[base]}" -v tr="$theirs_rss" -v c="${cpu[ours]}" -v b="$baseline" 'BEGIN {
		printf "baseline %s: CPU %.3f s / 1,000 scrapes, RSS %.1f MiB; baseline / theirs: CPU %.2f, RSS %.2f; ours / baseline: CPU %.2f\n",
			b, o, r / 1024, (t > 0 ? o / t : 0), r / tr, (o > 0 ? c / o : 0)
	}'
fi
if [[ -n $side_baseline ]]; then
	awk -v o="${cpu[side_base]}" -v t="$theirs_cpu" -v r="${rss[side_base]}" -v tr="$theirs_rss" -v c="${cpu[side]}" -v s="${rss[side]}" -v b="$side_baseline" 'BEGIN {
		printf "sidecar baseline %s: CPU %.3f s / 1,000 scrapes, RSS %.1f MiB; baseline / theirs: CPU %.2f, RSS %.3f; sidecar / baseline: CPU %.2f, RSS %.3f\n",
			b, o, r / 1024, (t > 0 ? o / t : 0), r / tr, (o > 0 ? c / o : 0), s / r
	}'
fi
