#!/usr/bin/env bash
# The long reliability run: the state-store tests of
# crates/ddnsd/tests/reliability_state.rs with 40 crash rounds (two SIGKILLs
# each) and every truncation length of the state file, and the provider
# faults of reliability_faults.rs including the minutes-long ones (429
# without Retry-After, the circuit breaker), and the event storm of
# reliability_load.rs with 100,000 address changes (10,000 in the short
# form), instead of the short forms the default `cargo nextest run` (CI)
# runs. See docs/RELIABILITY.md.
#
#   scripts/reliability.sh                        # the whole long run
#   scripts/reliability.sh -E 'test(sigkill)'     # extra arguments go to cargo nextest
#   DDNS_RELIABILITY_ROUNDS=200 scripts/reliability.sh
#   DDNS_RELIABILITY_SEED=<n> scripts/reliability.sh  # replay a failure's seed
#
# More reliability test files join by being listed in `tests` below. The
# run uses a nextest profile of its own, `reliability`, which ends a hung
# test after 20 minutes instead of the default profile's 5: long scenarios
# wait out real back-offs.
#
# Needs root for the full-disk and permission tests (tmpfs in a private
# mount namespace, setpriv) and for the event storm (a network namespace
# and BIND9); without root they skip, or fail under
# DDNS_REQUIRE_SYSTEM_TESTS=1. Each test prints its figures (lines starting
# with RELIABILITY) at the end of the run.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

tests=(
	reliability_state
	reliability_faults
	reliability_load
)

export DDNS_RELIABILITY_ROUNDS="${DDNS_RELIABILITY_ROUNDS:-40}"
export DDNS_RELIABILITY_FULL=1

test_args=()
for name in "${tests[@]}"; do
	test_args+=(--test "$name")
done

tool_config="$(mktemp --suffix=.toml)"
trap 'rm -f "$tool_config"' EXIT
printf '%s\n' \
	'[profile.reliability]' \
	'slow-timeout = { period = "60s", terminate-after = 20 }' >"$tool_config"

printf 'reliability.sh: %s rounds, full truncation sweep, %s cores\n' \
	"$DDNS_RELIABILITY_ROUNDS" "$(nproc)" >&2
start=$SECONDS
cargo nextest run -p ddnsd "${test_args[@]}" \
	--tool-config-file "reliability:$tool_config" --profile reliability \
	--no-fail-fast --success-output final "$@"
printf 'reliability.sh: done in %ss\n' "$((SECONDS - start))" >&2
