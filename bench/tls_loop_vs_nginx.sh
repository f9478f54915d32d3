#!/usr/bin/env bash
# TLS on gnet's event loops (package tlsloop, its test server answering a
# fixed 13-byte response) against nginx and HAProxy answering the same, each
# server pinned to core 0 with one worker, hotload pinned to core 1 with one
# thread; interleaved rounds (A B C A B C ...), medians and ratios (issue 13).
#
#   tls_keepalive: small responses over kept-alive TLS connections (hotload
#                  -c 32): server CPU microseconds per request.
#   tls_handshake: a new TLS connection per request, no resumption (hotload
#                  --no-keepalive): full handshakes per server CPU-second.
#   tls_resume:    the same with session tickets (hotload --tls-resume): resumed
#                  handshakes per server CPU-second.
#
# Same ECDSA P-256 certificate, TLS 1.3, X25519 only for every contender (Go
# would otherwise pick the X25519MLKEM768 hybrid; nginx: ssl_ecdh_curve,
# HAProxy: curves). Server CPU is user+system time from /proc (the process and
# its children) over each hotload run, divided by what hotload counted.
#
#   bench/tls_loop_vs_nginx.sh                   # 5 rounds of 10 s
#   ROUNDS=3 DURATION=5 SCENARIOS="tls_keepalive" bench/tls_loop_vs_nginx.sh
#
# nginx and HAProxy come from apt (installed when running as root); a missing
# one is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
CONNS=${CONNS:-32}
SCENARIOS=${SCENARIOS:-"tls_keepalive tls_handshake tls_resume"}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
OUT=${OUT:-bench/results/tls_loop_vs_nginx}
declare -A PORT=([tlsloop]=18443 [nginx]=18444 [haproxy]=18445)

have() { command -v "$1" >/dev/null 2>&1; }
if ! have nginx || ! have haproxy; then
	if [ "$(id -u)" = 0 ] && have apt-get; then
		echo "installing nginx and haproxy with apt-get" >&2
		apt-get update -qq >/dev/null && apt-get install -y -qq nginx haproxy >/dev/null || true
	fi
fi
mkdir -p "$OUT" bin
go build -o bin/hotload ./cmd/hotload
go test -c -o bin/tlsloop.test ./tlsloop

dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

# One ECDSA P-256 certificate for everyone.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
	-keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
cat "$dir/cert.pem" "$dir/key.pem" >"$dir/combined.pem"

contenders="tlsloop"
# tlsloop: one event loop; GOMAXPROCS follows the affinity (1), so one
# handshake worker.
TLSLOOP_SERVE=1 taskset -c "$SERVER_CPU" bin/tlsloop.test -addr "127.0.0.1:${PORT[tlsloop]}" \
	-cert "$dir/cert.pem" -key "$dir/key.pem" -curves x25519 -tickets=true >"$dir/tlsloop.log" 2>&1 &
pids+=($!)
declare -A PID=([tlsloop]=$!)

if have nginx; then
	cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
worker_rlimit_nofile 16384;
events { worker_connections 8192; multi_accept on; }
http {
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server_tokens off;
    server {
        listen 127.0.0.1:${PORT[nginx]} ssl backlog=4096;
        ssl_certificate $dir/cert.pem;
        ssl_certificate_key $dir/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_ecdh_curve X25519;
        ssl_session_cache off;
        ssl_session_tickets on;
        default_type text/plain;
        location / { return 200 "Hello, world!"; }
    }
}
CONF
	taskset -c "$SERVER_CPU" nginx -c "$dir/nginx.conf" -p "$dir" &
	pids+=($!)
	PID[nginx]=$!
	contenders="$contenders nginx"
else
	echo "skipping nginx: not installed (apt-get install nginx)" >&2
fi

if have haproxy; then
	cat >"$dir/haproxy.cfg" <<CONF
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    timeout connect 5s
    timeout client 300s
    timeout server 300s
frontend tls
    bind 127.0.0.1:${PORT[haproxy]} ssl crt $dir/combined.pem curves X25519 ssl-min-ver TLSv1.2 prefer-client-ciphers
    http-request return status 200 content-type text/plain string "Hello, world!"
CONF
	taskset -c "$SERVER_CPU" haproxy -db -f "$dir/haproxy.cfg" >"$dir/haproxy.log" 2>&1 &
	pids+=($!)
	PID[haproxy]=$!
	contenders="$contenders haproxy"
else
	echo "skipping haproxy: not installed (apt-get install haproxy)" >&2
fi

for c in $contenders; do
	for _ in $(seq 100); do
		curl -fsk "https://127.0.0.1:${PORT[$c]}/" >/dev/null 2>&1 && break
		sleep 0.1
	done
	curl -fsk "https://127.0.0.1:${PORT[$c]}/" >/dev/null || { echo "$c does not answer on ${PORT[$c]}" >&2; exit 1; }
done

# cpu PID: clock ticks of user+system time of PID and its children.
cpu() {
	local total=0 p
	for p in $1 $(pgrep -P "$1" || true); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo "$total"
}
hz=$(getconf CLK_TCK)

# run SCENARIO CONTENDER ROUND: appends "scenario contender round count cpu_s".
run() {
	local s=$1 c=$2 r=$3 log="$OUT/$1-$2-r$3" flags=""
	case $s in
	tls_keepalive) flags="" ;;
	tls_handshake) flags="--no-keepalive" ;;
	tls_resume) flags="--no-keepalive --tls-resume" ;;
	esac
	local before after
	before=$(cpu "${PID[$c]}")
	# shellcheck disable=SC2086
	taskset -c "$CLIENT_CPU" bin/hotload -t 1 -c "$CONNS" -d "${DURATION}s" --insecure --tls-version 1.3 \
		--tls-curves x25519 $flags --json "$log.json" "https://127.0.0.1:${PORT[$c]}/" >"$log.txt" 2>&1
	after=$(cpu "${PID[$c]}")
	python3 - "$log.json" "$s" "$c" "$r" "$before" "$after" "$hz" <<'PY'
import json, sys
rep = json.load(open(sys.argv[1]))
s, c, r, before, after, hz = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
errors = rep["figures"].get("errors", 0)
n = rep["tls"]["handshakes"] if s != "tls_keepalive" else rep["figures"]["requests"]
resumed = rep["tls"]["resumed"]
print(s, c, r, n, (after - before) / hz, errors, resumed, rep["figures"]["rps"])
PY
}

results="$OUT/raw.txt"
: >"$results"
for r in $(seq "$ROUNDS"); do
	for s in $SCENARIOS; do
		for c in $contenders; do
			run "$s" "$c" "$r" | tee -a "$results"
		done
	done
done

python3 - "$results" <<'PY'
import sys, statistics as st, collections
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = collections.defaultdict(list)
for s, c, r, n, cpu, errors, resumed, rps in rows:
    n, cpu = float(n), float(cpu)
    by[(s, c)].append(dict(n=n, cpu=cpu, errors=int(errors), resumed=int(resumed), rps=float(rps)))
print()
for s in dict.fromkeys(k[0] for k in by):
    base = {}
    print(s)
    if s == "tls_keepalive":
        print("  %-8s %12s %16s %12s %8s" % ("server", "req/s (med)", "CPU us/req (med)", "vs nginx", "errors"))
    else:
        print("  %-8s %12s %20s %12s %8s %8s" % ("server", "conn/s (med)", "handshakes/CPU-s (med)", "vs nginx", "resumed", "errors"))
    for c in ("tlsloop", "nginx", "haproxy"):
        v = by.get((s, c))
        if not v:
            continue
        if s == "tls_keepalive":
            m = st.median(x["cpu"] / x["n"] * 1e6 for x in v if x["n"])
        else:
            m = st.median(x["n"] / x["cpu"] for x in v if x["cpu"])
        base[c] = m
        rps = st.median(x["rps"] for x in v)
        errs = sum(x["errors"] for x in v)
        ratio = m / base["nginx"] if "nginx" in base else float("nan")
        if c == "tlsloop":
            ratio = float("nan")
        if s == "tls_keepalive":
            print("  %-8s %12.0f %16.2f %12s %8d" % (c, rps, m, "", errs))
        else:
            print("  %-8s %12.0f %20.0f %12s %8d %8d" % (c, rps, m, "", sum(x["resumed"] for x in v), errs))
    # Ratios per round (each round's contenders ran back to back, so they
    # share its noise), then their median; and the ratio of the medians.
    def fig(x):
        return x["cpu"] / x["n"] * 1e6 if s == "tls_keepalive" else x["n"] / x["cpu"]
    for peer in ("nginx", "haproxy"):
        if peer in base and "tlsloop" in base:
            pairs = [fig(a) / fig(b) for a, b in zip(by[(s, "tlsloop")], by[(s, peer)]) if a["n"] and a["cpu"] and b["n"] and b["cpu"]]
            print("  tlsloop/%s: %.2fx (median of medians), %.2fx (median of per-round ratios: %s)" % (
                peer, base["tlsloop"] / base[peer], st.median(pairs), " ".join("%.2f" % p for p in pairs)))
    print("  per round:", " ".join("%s=%s" % (c, ",".join("%.2f" % ((x["cpu"] / x["n"] * 1e6) if s == "tls_keepalive" else (x["n"] / x["cpu"])) for x in by[(s, c)] if x["n"] and x["cpu"])) for c in ("tlsloop", "nginx", "haproxy") if (s, c) in by))
PY
