#!/usr/bin/env bash
# Runs ddnsd on this machine with nothing at stake: the dry-run provider
# (it writes no DNS, it logs each change it would make) and the netlink
# source watching this machine's interfaces. Stop it with Ctrl-C.
#
#   scripts/run-here.sh          # run the daemon
#   scripts/run-here.sh check    # print the effective configuration
#   scripts/run-here.sh once     # one pass, then exit
#
# Any DDNS_* variable you export is passed through, for example:
#   DDNS_RECORDS=a.example.org,b.example.org scripts/run-here.sh
#   DDNS_LOG_LEVEL=debug DDNS_IP_FAMILIES=ipv6 scripts/run-here.sh
#
# Without DDNS_IP_SOURCE_INTERFACE only globally routable addresses count
# (no private, CGNAT, ULA, link-local or documentation ranges). A VM or a
# machine behind NAT may have none, and then the daemon waits quietly.
# To follow every global-scope address of an interface, whatever its range:
#   DDNS_IP_SOURCE_INTERFACE=eth0 scripts/run-here.sh
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

if ! command -v cargo >/dev/null 2>&1; then
	if [[ -x "${HOME:-/root}/.cargo/bin/cargo" ]]; then
		PATH="${HOME:-/root}/.cargo/bin:$PATH"
	else
		echo "run-here.sh: cargo not found; install Rust (https://rustup.rs) and try again" >&2
		exit 1
	fi
fi

cargo build --release --package ddnsd --bin ddnsd
binary="${CARGO_TARGET_DIR:-$repo_root/target}/release/ddnsd"

# This script is for trying ddns safely: it never talks to a real provider.
if [[ -n "${DDNS_PROVIDER_TYPE:-}" && "${DDNS_PROVIDER_TYPE}" != "dry-run" ]]; then
	echo "run-here.sh: ignoring DDNS_PROVIDER_TYPE=${DDNS_PROVIDER_TYPE}; this script always uses dry-run" >&2
fi
export DDNS_PROVIDER_TYPE=dry-run
export DDNS_RECORDS="${DDNS_RECORDS:-home.example.com}"
export DDNS_IP_FAMILIES="${DDNS_IP_FAMILIES:-ipv4,ipv6}"
export DDNS_IP_SOURCE_TYPE="${DDNS_IP_SOURCE_TYPE:-netlink}"

if [[ -z "${DDNS_IP_SOURCE_INTERFACE:-}" ]]; then
	echo "run-here.sh: only globally routable addresses count; to follow every global-scope address of an interface, set DDNS_IP_SOURCE_INTERFACE=eth0 (or another name from 'ip -brief address')" >&2
fi

# exec, so that Ctrl-C and SIGTERM reach the daemon itself.
exec "$binary" "$@"
