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
#   systemd:  systemd-analyze, which verifies the unit and rates its hardening
#             (deploy/systemd); nothing is started
#   ShellCheck: lints deploy/install-systemd.sh
#   file:     tells that the container images' binaries are static
#   util-linux: setpriv and unshare, to run ddnsd and ddns-operator without
#             privileges in an otherwise empty root directory (as in the
#             container images)
#   python3-venv: the virtual environment of kubernetes-validate and jsonschema (Kubernetes
#             manifest schemas, from PyPI)
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
	systemd
	shellcheck
	file
	util-linux
	python3-venv
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

# Kubernetes manifests (crates/ddnsd/tests/deploy_k8s.rs,
# crates/ddns-operator/tests/manifests.rs): kubernetes-validate checks them
# against the API schemas it bundles (no cluster, no network at test time);
# jsonschema runs scripts/validate-crs.py, which checks the operator's
# example resources against its generated CRD schemas. From PyPI, pinned, in
# a virtual environment under target/.
k8s_venv="$repo_root/target/venv-k8s"
k8s_validate_version=1.37.0
jsonschema_version=4.26.0
install_k8s_validator() {
	if [[ "$("$k8s_venv/bin/kubernetes-validate" --version 2>/dev/null)" == "$k8s_validate_version" ]] &&
		"$k8s_venv/bin/python3" -c "import importlib.metadata as m, sys; sys.exit(m.version('jsonschema') != '$jsonschema_version')" 2>/dev/null; then
		return 0
	fi
	log "installing kubernetes-validate $k8s_validate_version and jsonschema $jsonschema_version into target/venv-k8s"
	rm -rf "$k8s_venv"
	if ! python3 -m venv "$k8s_venv" ||
		! "$k8s_venv/bin/pip" install --quiet --disable-pip-version-check \
			"kubernetes-validate==$k8s_validate_version" "jsonschema==$jsonschema_version"; then
		log "cannot install kubernetes-validate; the Kubernetes manifest tests will skip,"
		log "or fail under DDNS_REQUIRE_SYSTEM_TESTS=1"
	fi
}
install_k8s_validator
export DDNS_K8S_VALIDATE="$k8s_venv/bin/kubernetes-validate"

# Only the caller decides whether system tests may skip; never set it here.
if [[ -n "${DDNS_REQUIRE_SYSTEM_TESTS:-}" ]]; then
	export DDNS_REQUIRE_SYSTEM_TESTS
	log "DDNS_REQUIRE_SYSTEM_TESTS=$DDNS_REQUIRE_SYSTEM_TESTS: a missing prerequisite fails instead of skipping"
fi

status=0

# The container images' binaries (deploy/docker/Dockerfile and
# deploy/operator/Dockerfile run the same commands): static, so that they
# run alone in a `FROM scratch` image. A target directory of their own
# keeps them from invalidating the other builds; a fresh build takes about
# 2 minutes on 2 cores for ddnsd, 4 for ddns-operator. One cargo command
# each, as in the Dockerfiles: built together, their dependencies' features
# would be unified and the binaries would not be the images'. The
# tests/container.rs of each crate runs its binary.
static_target=x86_64-unknown-linux-gnu
if [[ -n "${DDNS_STATIC_BINARY:-}" ]]; then
	log "DDNS_STATIC_BINARY=$DDNS_STATIC_BINARY: using that static binary"
	export DDNS_STATIC_BINARY
elif [[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]]; then
	log "building the static binary (target/static)"
	if RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked -p ddnsd \
		--target "$static_target" --target-dir target/static; then
		export DDNS_STATIC_BINARY="$repo_root/target/static/$static_target/release/ddnsd"
	else
		status=1
	fi
else
	log "not x86_64 Linux: the container tests skip (or fail under DDNS_REQUIRE_SYSTEM_TESTS=1)"
fi
if [[ -n "${DDNS_OPERATOR_STATIC_BINARY:-}" ]]; then
	log "DDNS_OPERATOR_STATIC_BINARY=$DDNS_OPERATOR_STATIC_BINARY: using that static binary"
	export DDNS_OPERATOR_STATIC_BINARY
elif [[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]]; then
	log "building the operator's static binary (target/static)"
	if RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked -p ddns-operator \
		--target "$static_target" --target-dir target/static; then
		export DDNS_OPERATOR_STATIC_BINARY="$repo_root/target/static/$static_target/release/ddns-operator"
	else
		status=1
	fi
fi

cargo nextest run --workspace --all-targets --no-fail-fast "$@" || status=$?
# nextest does not run doctests; run them even when a test above failed.
cargo test --workspace --doc || status=$?
# Every log event the code can emit is documented in docs/OBSERVABILITY.md.
python3 scripts/log-events.py --check || status=$?
exit "$status"
