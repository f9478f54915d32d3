#!/usr/bin/env bash
# hotload's own ceiling against wrk (and vegeta, hey) on the same target:
# nginx answering `return 200 "hello"` with one worker pinned to core 0, each
# generator pinned to core 1 with one thread, interleaved rounds (A B A B),
# medians and ratios. CPU per request is the generator's user+sys time
# (/usr/bin/time) divided by the requests it completed.
#
#   bench/loadgen_vs_wrk.sh                 # 3 rounds, -c 64 and -c 256, 10 s each
#   ROUNDS=5 DURATION=5 CONNS="64" bench/loadgen_vs_wrk.sh
#   PEERS="wrk" bench/loadgen_vs_wrk.sh     # skip vegeta and hey
#
# Peers: nginx and wrk from apt (installed when running as root), vegeta and
# hey with `go install` into /tmp/bin. A missing peer is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"64 256"}
PEERS=${PEERS:-"wrk vegeta hey"}
PORT=${PORT:-18480}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-bench/results/loadgen_vs_wrk}
URL="http://127.0.0.1:$PORT/"
export PATH="/tmp/bin:$PATH"

mkdir -p "$OUT" bin
go build -o bin/hotload ./cmd/hotload

have() { command -v "$1" >/dev/null 2>&1; }
if ! have nginx || ! have wrk; then
	if [ "$(id -u)" = 0 ] && have apt-get; then
		echo "installing nginx and wrk with apt-get" >&2
		apt-get update -qq >/dev/null && apt-get install -y -qq nginx wrk >/dev/null
	fi
fi
have nginx || { echo "nginx not installed: cannot run this comparison (apt-get install nginx)" >&2; exit 1; }
have vegeta || GOBIN=/tmp/bin go install github.com/tsenart/vegeta/v12@v12.13.0 >/dev/null 2>&1 || true
have hey || GOBIN=/tmp/bin go install github.com/rakyll/hey@v0.1.4 >/dev/null 2>&1 || true
peers=""
for p in $PEERS; do
	if have "$p"; then peers="$peers $p"; else echo "skipping $p: not installed" >&2; fi
done

# nginx: one worker, fixed body, no logging, keep-alive without limits.
ngx=$(mktemp -d)
cat >"$ngx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $ngx/nginx.pid;
error_log $ngx/error.log;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen 127.0.0.1:$PORT reuseport backlog=4096;
        location / { return 200 "hello"; }
    }
}
CONF
taskset -c "$SERVER_CPU" nginx -c "$ngx/nginx.conf" -p "$ngx" &
ngx_pid=$!
trap 'kill $ngx_pid 2>/dev/null; wait $ngx_pid 2>/dev/null; rm -rf "$ngx"' EXIT
for _ in $(seq 50); do curl -fs "$URL" >/dev/null 2>&1 && break; sleep 0.1; done

# run TOOL CONNS ROUND: prints "tool conns round rps cpu_seconds".
run() {
	local tool=$1 c=$2 r=$3 log="$OUT/$1-c$2-r$3"
	local t="/usr/bin/time -f %U+%S -o $log.time taskset -c $CLIENT_CPU"
	case $tool in
	hotload) $t bin/hotload -t 1 -c "$c" -d "${DURATION}s" "$URL" >"$log.txt" 2>&1 ;;
	wrk) $t wrk -t 1 -c "$c" -d "${DURATION}s" "$URL" >"$log.txt" 2>&1 ;;
	hey) $t hey -z "${DURATION}s" -c "$c" "$URL" >"$log.txt" 2>&1 ;;
	vegeta) echo "GET $URL" | GOMAXPROCS=1 $t vegeta attack -rate=0 -max-workers="$c" -workers="$c" \
		-connections="$c" -duration="${DURATION}s" >"$log.bin" 2>"$log.txt"
		vegeta report <"$log.bin" >>"$log.txt"; rm -f "$log.bin" ;;
	esac
	local rps
	case $tool in
	vegeta) rps=$(awk -F'[],]+' '/^Requests/ {gsub(/ /,"",$0); split($0,a,"]"); split(a[2],v,","); print v[3]}' "$log.txt") ;;
	*) rps=$(awk '/Requests\/sec:/ {print $2}' "$log.txt") ;;
	esac
	echo "$tool $c $r ${rps:-0} $(tail -1 "$log.time" | bc)"
}

results="$OUT/raw.txt"
: >"$results"
for r in $(seq "$ROUNDS"); do
	for c in $CONNS; do
		for tool in hotload $peers; do
			run "$tool" "$c" "$r" | tee -a "$results"
		done
	done
done

python3 - "$results" "$DURATION" <<'PY'
import sys, statistics as st, collections
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
dur = float(sys.argv[2])
by = collections.defaultdict(list)
for tool, c, r, rps, cpu in rows:
    rps, cpu = float(rps), float(cpu)
    by[(tool, int(c))].append((rps, cpu / max(rps * dur, 1) * 1e6))
print()
print("%-8s %6s %12s %14s %14s %16s" % ("tool", "conns", "req/s (med)", "cpu/req us", "hotload/tool", "cpu/req vs tool"))
for (tool, c) in sorted(by, key=lambda k: (k[1], k[0] != "hotload", k[0])):
    rps = st.median(v[0] for v in by[(tool, c)])
    cpr = st.median(v[1] for v in by[(tool, c)])
    h = by.get(("hotload", c))
    hr = st.median(v[0] for v in h) if h else 0
    hc = st.median(v[1] for v in h) if h else 0
    print("%-8s %6d %12.0f %14.2f %13.2fx %15.2fx" % (tool, c, rps, cpr, hr / rps if rps else 0, hc / cpr if cpr else 0))
PY
