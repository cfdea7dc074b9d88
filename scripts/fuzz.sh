#!/usr/bin/env bash
# Runs the fuzz targets for a while each (long runs stay out of CI; CI only
# replays the corpus in fuzz/corpus as ordinary tests).
#
#   scripts/fuzz.sh            # every target, 60 s each
#   scripts/fuzz.sh 600        # every target, 10 minutes each
#   scripts/fuzz.sh 60 dns_response
#
# Needs the nightly toolchain and cargo-fuzz (installed here when missing).
# New inputs that raise coverage are added to fuzz/corpus/TARGET; commit the
# interesting ones, and any crash input in fuzz/artifacts becomes a test.
# A crash does not end the run (libFuzzer's -fork=1 -ignore_crashes=1): the
# corpus may hold regression inputs that still fail, and one known crash
# must not hide the rest. The script fails when a target left a new crash.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
	targets=(dns_response tsig_key_file echo_body natpmp_response pcp_response env_config cloudflare_response operator_manifests)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
	cargo install cargo-fuzz --locked
fi
if ! rustup toolchain list | grep -q '^nightly'; then
	rustup toolchain install nightly --profile minimal
fi

status=0
for target in "${targets[@]}"; do
	echo "==> fuzzing $target for ${seconds}s"
	mkdir -p "fuzz/artifacts/$target"
	before=$(ls "fuzz/artifacts/$target")
	cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
		-max_total_time="$seconds" -max_len=8192 -fork=1 -ignore_crashes=1
	after=$(ls "fuzz/artifacts/$target")
	if [[ "$after" != "$before" ]]; then
		echo "==> $target: new crash inputs in fuzz/artifacts/$target:"
		comm -13 <(echo "$before") <(echo "$after")
		status=1
	fi
done
exit "$status"
