#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test of
# the workspace (unit, integration, binary and doc tests).
#
#   scripts/test.sh                  # everything
#   scripts/test.sh -E 'test(netns)' # extra arguments go to cargo nextest
#
# Tests that need root or network namespaces skip with a message when they
# cannot run. With DDNS_REQUIRE_SYSTEM_TESTS=1 in the environment (.ci/run
# sets it) a missing prerequisite fails the test instead.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

# Debian packages the tests use. Add to this list, not to the logic below.
#   iproute2: `ip netns` and veth pairs for the netlink source tests
#   procps:   ps, pgrep, kill and sysctl for tests that start the daemon
#   bind9, bind9-utils, bind9-dnsutils: a real named per RFC 2136 test
#             (named, tsig-keygen, named-checkconf/-checkzone, dig, nsupdate)
#   openssl:  the CA and certificate of named's DNS-over-HTTPS listener
#   curl:     named's statistics channel inside a network namespace
#   faketime: runs ddnsd with a shifted clock, for the TSIG BADTIME test
#   python3:  static echo services (http.server) for the http source tests
#   miniupnpd-nftables, nftables: a real NAT-PMP / PCP / UPnP-IGD gateway
#             for the router detectors' tests (the tests create its chains)
#   prometheus: promtool, which checks the metrics text and the example
#             alert rules (docs/alerts); a container does not start its service
packages=(
	iproute2
	procps
	bind9
	bind9-utils
	bind9-dnsutils
	openssl
	curl
	faketime
	miniupnpd-nftables
	nftables
	python3
	prometheus
)

log() {
	printf 'test.sh: %s\n' "$*" >&2
}

missing_packages() {
	local package status
	for package in "$@"; do
		status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
		if [[ "$status" != "install ok installed" ]]; then
			printf '%s\n' "$package"
		fi
	done
}

# Runs apt-get quietly (its output is shown only when it fails), waiting for
# a dpkg lock that a fresh machine's unattended upgrades may hold.
quiet_apt() {
	local output
	output="$(mktemp)"
	if ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get -o DPkg::Lock::Timeout=300 "$@" >"$output" 2>&1; then
		cat "$output" >&2
		rm -f "$output"
		return 1
	fi
	rm -f "$output"
}

install_packages() {
	if ! command -v dpkg-query >/dev/null 2>&1; then
		log "not a Debian system; make sure these are installed: ${packages[*]}"
		return 0
	fi
	local missing=()
	mapfile -t missing < <(missing_packages "${packages[@]}")
	if ((${#missing[@]} == 0)); then
		return 0
	fi
	as_root=()
	if ((EUID != 0)); then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			as_root=(sudo -n)
		else
			log "missing packages: ${missing[*]}; run as root (or with sudo) to install them"
			log "tests that need them will skip, or fail under DDNS_REQUIRE_SYSTEM_TESTS=1"
			return 0
		fi
	fi
	log "installing: ${missing[*]}"
	quiet_apt update
	quiet_apt install -y --no-install-recommends "${missing[@]}"
}

# CI may run with a PATH that lacks rustup's directory.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "${HOME:-/root}/.cargo/bin/cargo" ]]; then
	PATH="${HOME:-/root}/.cargo/bin:$PATH"
fi
if ! cargo nextest --version >/dev/null 2>&1; then
	log "cargo-nextest is not installed: cargo install cargo-nextest --locked"
	exit 1
fi

as_root=()
install_packages

# Only the caller decides whether system tests may skip; never set it here.
if [[ -n "${DDNS_REQUIRE_SYSTEM_TESTS:-}" ]]; then
	export DDNS_REQUIRE_SYSTEM_TESTS
	log "DDNS_REQUIRE_SYSTEM_TESTS=$DDNS_REQUIRE_SYSTEM_TESTS: a missing prerequisite fails instead of skipping"
fi

status=0
cargo nextest run --workspace --all-targets --no-fail-fast "$@" || status=$?
# nextest does not run doctests; run them even when a test above failed.
cargo test --workspace --doc || status=$?
# Every log event the code can emit is documented in docs/OBSERVABILITY.md.
python3 scripts/log-events.py --check || status=$?
exit "$status"
