#!/usr/bin/env bash
# Runs every ddns benchmark and prints its figures (docs/BENCHMARKS.md
# quotes them). Needs root: each part runs in a network namespace of its
# own, which is removed on exit, also after an error or Ctrl-C.
#
#   sudo bench/run-all.sh           # the published figures (~49 min after the build)
#   sudo bench/run-all.sh --quick   # a smoke test (~8 min after the build)
#
# 1. ddns-latency (crates/ddns-bench): netlink request -> provider call, in
#    process, for an added address and for a replaced one.
# 2. bench/daemon.py: the release ddnsd binary with the dry-run provider:
#    size, start-up, idle memory and CPU, reaction to `ip addr add`, shutdown,
#    and the idle cost of the metrics endpoint (DDNS_METRICS_ADDR), unscraped,
#    scraped once and after 100 scrapes (~2 min).
# 3. bench/rfc2136.py: address change -> BIND9 answers the new address, for
#    ddnsd with the rfc2136 provider and for Debian's ddclient (nsupdate),
#    side by side on one namespace and one BIND (~23 min of the total, most
#    of it waiting for ddclient's 60 s polls). Needs bind9 and bind9-utils;
#    without ddclient installed, it measures ddnsd alone.
# 4. bench/detect.py: the public address behind NAT (http source, three local
#    echo services, dry-run provider): reconnect -> new address detected, and
#    the requests and wake-ups of an idle daemon over 10 min (~11 min).
# 5. ddns-cloudflare-load (crates/ddns-bench): 1,000 Cloudflare records
#    through the real engine and provider against an in-process API stand-in
#    limited to 1,200 requests / 5 min: requests and time for start-up, an
#    address change and one re-check (~3.2 min; quick: 200 records, ~2.3 min),
#    then the same change one record at a time until the limit (under 1 s).
#    No namespace, no root needed for this part.
# 8. bench/scale.py: one ddnsd with 1 to 10,000 records against BIND
#    (rfc2136) and the Cloudflare stand-in (served by a small program the
#    script builds): time to converge, requests, CPU and memory, fitted
#    against N; beside it `ddnsd once` and ddclient (nsupdate) doing the same
#    work into BIND (~13 min; quick: up to 1,000 records, one run, ~2 min).
#    Needs bind9; without ddclient installed, ddnsd alone.
# 9. ddns-zone-render, ddns-operator-update, ddns-operator-e2e
#    (crates/ddns-bench): the operator's zone work, its delivery, and the
#    real process against the fake API and BIND (~5 min; quick ~2 min).
#    Needs bind9 for the last two.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

quick=()
iterations=1000
# ddns-cloudflare-load: --quiet-secs must pass the provider's 60 s listing
# cache, and --recheck-secs must be above --quiet-secs.
cloudflare=()
case "${1:-}" in
--quick)
	quick=(--quick)
	iterations=200
	cloudflare=(--records 200 --quiet-secs 61 --recheck-secs 70)
	;;
"") ;;
*)
	echo "usage: bench/run-all.sh [--quick]" >&2
	exit 2
	;;
esac

if [[ $EUID -ne 0 ]]; then
	echo "run-all.sh: needs root, to create network namespaces" >&2
	exit 1
fi
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${HOME:-/root}/.cargo/bin/cargo" ]]; then
	PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi

netns="ddnsb-lat-$$"
cleanup() {
	if ip netns list | grep -qw "$netns"; then
		ip netns del "$netns"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== machine"
echo "$(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), Linux $(uname -r)"
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"

echo
echo "== building"
cargo build --release --package ddns-bench --package ddnsd --package ddns-operator
latency="${CARGO_TARGET_DIR:-$repo_root/target}/release/ddns-latency"

echo
echo "== netlink event -> provider call, in process (goal: p99 under 1 ms)"
ip netns add "$netns"
ip -n "$netns" link add v0 type veth peer name v1
for link in lo v0 v1; do
	ip -n "$netns" link set "$link" up
done
for mode in add replace; do
	ip netns exec "$netns" "$latency" --mode "$mode" --iterations "$iterations"
done
ip netns exec "$netns" "$latency" --mode add --iterations "$iterations" --settle-ms 0
cleanup

echo
echo "== the ddnsd binary (dry-run provider, netlink source)"
python3 bench/daemon.py --binary "${CARGO_TARGET_DIR:-$repo_root/target}/release/ddnsd" "${quick[@]}"

echo
echo "== address change -> BIND answers: ddnsd (rfc2136) beside ddclient (nsupdate)"
if ! command -v named >/dev/null 2>&1 && [[ ! -x /usr/sbin/named ]]; then
	echo "skipped: BIND is not installed (apt-get install bind9 bind9-utils)"
else
	rfc2136=(--binary "${CARGO_TARGET_DIR:-$repo_root/target}/release/ddnsd" "${quick[@]}")
	if ! command -v ddclient >/dev/null 2>&1 && [[ ! -x /usr/sbin/ddclient ]]; then
		echo "ddclient is not installed (apt-get install ddclient): ddnsd alone"
		rfc2136+=(--no-ddclient)
	fi
	python3 bench/rfc2136.py "${rfc2136[@]}"
fi

echo
echo "== public address behind NAT: reconnect -> detected, idle requests (http source, dry-run)"
python3 bench/detect.py --binary "${CARGO_TARGET_DIR:-$repo_root/target}/release/ddnsd" "${quick[@]}"

echo
echo "== Cloudflare: many records against the API's limit (in-process stand-in, 1,200 requests / 5 min)"
cloudflare_load="${CARGO_TARGET_DIR:-$repo_root/target}/release/ddns-cloudflare-load"
"$cloudflare_load" "${cloudflare[@]}"
"$cloudflare_load" --per-record

echo
echo "== scale: 1 to 10,000 records in one daemon, BIND and the Cloudflare stand-in, beside ddclient"
if ! command -v named >/dev/null 2>&1 && [[ ! -x /usr/sbin/named ]]; then
	echo "skipped: BIND is not installed (apt-get install bind9 bind9-utils)"
else
	scale=(--binary "${CARGO_TARGET_DIR:-$repo_root/target}/release/ddnsd" "${quick[@]}")
	if ! command -v ddclient >/dev/null 2>&1 && [[ ! -x /usr/sbin/ddclient ]]; then
		echo "ddclient is not installed (apt-get install ddclient): ddnsd alone"
		scale+=(--no-ddclient)
	fi
	python3 bench/scale.py "${scale[@]}"
fi

echo
echo "== the Kubernetes operator: a 10,000-record zone rendered, 1,000 records into BIND (delivery alone, then the ddns-operator process end to end), memory and idle cost"
release="${CARGO_TARGET_DIR:-$repo_root/target}/release"
"$release/ddns-zone-render" --runs 51
if ! command -v named >/dev/null 2>&1 && [[ ! -x /usr/sbin/named ]]; then
	echo "skipped: BIND is not installed (apt-get install bind9 bind9-utils bind9-dnsutils)"
elif ((${#quick[@]})); then
	"$release/ddns-operator-update" --runs 3
	"$release/ddns-operator-e2e" --large 2000 --idle-secs 10 --runs 2
else
	"$release/ddns-operator-update" --runs 9
	"$release/ddns-operator-e2e"
fi
