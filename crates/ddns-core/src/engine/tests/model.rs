//! Property test: random address events, random provider failures, random
//! timing. Whatever happens, the engine ends on the last address, never
//! writes a record faster than the interval allows, and never writes an
//! address a record already holds.

use std::time::Duration;

use proptest::prelude::*;
use tokio::time::sleep;

use super::fake::{FakeProvider, Harness, Op, ip, record, settings};
use crate::provider::ProviderError;
use crate::record::IpFamily::{V4, V6};
use crate::source::IpEvent;

#[derive(Debug, Clone)]
enum Step {
    Observe(u8),
    Observe6(u8),
    Lose4,
    FailNextWrite(u8),
    Wait(u16),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u8..6).prop_map(Step::Observe),
        2 => (1u8..4).prop_map(Step::Observe6),
        1 => Just(Step::Lose4),
        2 => (0u8..4).prop_map(Step::FailNextWrite),
        4 => (0u16..200).prop_map(Step::Wait),
    ]
}

fn error(kind: u8) -> ProviderError {
    match kind {
        0 => ProviderError::transient("SERVFAIL"),
        1 => ProviderError::timeout("no answer"),
        2 => ProviderError::rate_limited("429", Some(Duration::from_secs(7))),
        _ => ProviderError::transient("connection reset"),
    }
}

fn run_model(steps: Vec<Step>, interval_secs: u64) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let provider = FakeProvider::new(true);
        let mut s = settings(vec![
            record("a.example.com", V4),
            record("b.example.com", V4),
            record("a.example.com", V6),
        ]);
        s.min_update_interval = Duration::from_secs(interval_secs);
        s.breaker_threshold = 4;
        let h = Harness::start(s, provider.clone()).await;
        let mut last4 = None;
        let mut last6 = None;
        for step in steps {
            match step {
                Step::Observe(n) => {
                    let address = ip(&format!("192.0.2.{n}"));
                    last4 = Some(address);
                    h.send(IpEvent::Observed(address));
                }
                Step::Observe6(n) => {
                    let address = ip(&format!("2001:db8::{n}"));
                    last6 = Some(address);
                    h.send(IpEvent::Observed(address));
                }
                Step::Lose4 => {
                    last4 = None;
                    h.send(IpEvent::Lost(V4));
                }
                Step::FailNextWrite(kind) => {
                    provider.fail_next(Op::Write, kind == 1, move || error(kind))
                }
                Step::Wait(secs) => sleep(Duration::from_secs(u64::from(secs))).await,
            }
        }
        // Long enough for every interval, back-off and breaker pause to end,
        // and for the scripted failures to run out.
        for _ in 0..20 {
            sleep(Duration::from_secs(1000)).await;
        }

        for (key, last) in [
            ("a.example.com/A", last4),
            ("b.example.com/A", last4),
            ("a.example.com/AAAA", last6),
        ] {
            if let Some(address) = last {
                prop_assert_eq!(
                    provider.published(key),
                    vec![address],
                    "{} ends on the last address",
                    key
                );
            }
            let successes = provider.successes_of(key);
            for pair in successes.windows(2) {
                let gap = pair[1].at - pair[0].at;
                prop_assert!(
                    gap >= Duration::from_secs(interval_secs),
                    "{}: writes {:?} and {:?} only {:?} apart",
                    key,
                    pair[0].address,
                    pair[1].address,
                    gap
                );
            }
        }
        prop_assert_eq!(
            provider.redundant_writes(),
            0,
            "no write of an address already held"
        );
        let _ = h.stop().await;
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn the_engine_always_ends_on_the_last_address(
        steps in prop::collection::vec(step(), 1..40),
        interval in prop_oneof![Just(0u64), Just(60u64), Just(300u64)],
    ) {
        run_model(steps, interval)?;
    }
}
