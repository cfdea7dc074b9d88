//! One test per engine rule.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::fake::{FakeProvider, Harness, Op, ip, record, settings, settle};
use crate::engine::{DdnsEngine, RecordOutcome};
use crate::error::Error;
use crate::provider::ProviderError;
use crate::record::IpFamily::{V4, V6};
use crate::source::{AddressSnapshot, IpEvent};
use crate::state::{MemoryStateStore, RecordState, StateSnapshot, StateStore, unix_now};

const A: &str = "a.example.com/A";
const B: &str = "b.example.com/A";
const C: &str = "c.example.com/A";

fn three() -> Vec<crate::record::Record> {
    vec![
        record("a.example.com", V4),
        record("b.example.com", V4),
        record("c.example.com", V4),
    ]
}

#[tokio::test(start_paused = true)]
async fn writes_a_new_address_once_and_never_rewrites_an_unchanged_one() {
    let provider = FakeProvider::new(true);
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")]);
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(
        provider.writes().len(),
        1,
        "the same address is not written twice"
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_record_already_holding_the_address_is_not_written() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1"]);
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    assert!(provider.writes().is_empty());
    assert_eq!(
        provider.calls().iter().filter(|c| c.op == Op::Read).count(),
        1
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn records_are_written_in_configuration_order_and_one_failure_stops_none() {
    let provider = FakeProvider::new(true);
    let h = Harness::start(settings(three()), provider.clone()).await;
    // b's first write fails permanently; c must still be written.
    provider.fail_next_for(B, || {
        ProviderError::permanent("NOTZONE: b is not in the zone")
    });
    h.observe("192.0.2.7").await;
    let order: Vec<String> = provider.writes().iter().map(|c| c.key.clone()).collect();
    assert_eq!(order, vec![A, B, C]);
    assert_eq!(provider.published(A), vec![ip("192.0.2.7")]);
    assert!(provider.published(B).is_empty());
    assert_eq!(provider.published(C), vec![ip("192.0.2.7")]);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn extra_values_of_the_owned_name_and_type_are_replaced() {
    let provider = FakeProvider::new(true);
    provider.publish(A, &["192.0.2.1", "198.51.100.9"]);
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    assert_eq!(
        provider.writes().len(),
        1,
        "two values are not 'holds the address'"
    );
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")]);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_change_inside_the_minimum_interval_is_written_when_it_ends() {
    let provider = FakeProvider::new(true);
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    let start = Instant::now();
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(5)).await;
    h.observe("192.0.2.2").await;
    sleep(Duration::from_secs(5)).await;
    h.observe("192.0.2.3").await;
    assert_eq!(provider.writes().len(), 1, "held back by the interval");
    sleep(Duration::from_secs(60)).await;
    let writes = provider.writes();
    assert_eq!(writes.len(), 2, "the held-back change was not forgotten");
    assert_eq!(
        writes[1].address,
        Some(ip("192.0.2.3")),
        "the latest address wins, 192.0.2.2 is skipped"
    );
    let gap = writes[1].at - writes[0].at;
    assert!(
        gap >= Duration::from_secs(60) && gap < Duration::from_secs(61),
        "{gap:?}"
    );
    assert!(writes[0].at - start < Duration::from_secs(1));
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn an_interval_of_zero_writes_every_change() {
    let provider = FakeProvider::new(true);
    let mut s = settings(vec![record("a.example.com", V4)]);
    s.min_update_interval = Duration::ZERO;
    let h = Harness::start(s, provider.clone()).await;
    for last in 1..=5 {
        h.observe(&format!("192.0.2.{last}")).await;
    }
    assert_eq!(provider.writes().len(), 5);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn failed_writes_do_not_start_the_interval() {
    let provider = FakeProvider::new(true);
    provider.fail_next(Op::Write, false, || ProviderError::transient("SERVFAIL"));
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(3)).await; // the retry (2 s back-off at most) succeeds
    let writes = provider.writes();
    assert_eq!(writes.len(), 2);
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")]);
    let success = writes[1].at;
    h.observe("192.0.2.2").await;
    sleep(Duration::from_secs(70)).await;
    let writes = provider.writes();
    assert_eq!(writes.len(), 3);
    let gap = writes[2].at - success;
    assert!(
        gap >= Duration::from_secs(60) && gap < Duration::from_secs(61),
        "interval counts from the success: {gap:?}"
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_stored_write_time_in_the_future_is_clamped_to_now() {
    let provider = FakeProvider::new(true);
    let store = Arc::new(MemoryStateStore::default());
    let mut state = StateSnapshot::default();
    state.records.insert(
        A.into(),
        RecordState {
            address: ip("192.0.2.1"),
            written_at: unix_now() + 100_000,
        },
    );
    store.save(&state).await.expect("save");
    let start = Instant::now();
    let h = Harness::start_with_store(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
        store,
    )
    .await;
    h.observe("192.0.2.2").await;
    assert!(
        provider.writes().is_empty(),
        "inside the interval that started now"
    );
    sleep(Duration::from_secs(61)).await;
    let writes = provider.writes();
    assert_eq!(
        writes.len(),
        1,
        "written 60 s after start, not after the bogus future time"
    );
    assert!(writes[0].at - start <= Duration::from_secs(61));
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn the_interval_survives_a_restart() {
    let provider = FakeProvider::new(true);
    let store = Arc::new(MemoryStateStore::default());
    let mut state = StateSnapshot::default();
    state.records.insert(
        A.into(),
        RecordState {
            address: ip("192.0.2.1"),
            written_at: unix_now() - 30,
        },
    );
    store.save(&state).await.expect("save");
    let start = Instant::now();
    let h = Harness::start_with_store(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
        store,
    )
    .await;
    h.observe("192.0.2.2").await;
    assert!(provider.writes().is_empty());
    sleep(Duration::from_secs(40)).await;
    let writes = provider.writes();
    assert_eq!(writes.len(), 1);
    let waited = writes[0].at - start;
    assert!(
        waited >= Duration::from_secs(29) && waited <= Duration::from_secs(31),
        "{waited:?}"
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn transient_failures_back_off_exponentially_with_jitter() {
    let provider = FakeProvider::new(true);
    for _ in 0..4 {
        provider.fail_next(Op::Write, false, || {
            ProviderError::transient("connection refused")
        });
    }
    let mut s = settings(vec![record("a.example.com", V4)]);
    s.breaker_threshold = 100;
    let h = Harness::start(s, provider.clone()).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(120)).await;
    let writes = provider.writes();
    assert_eq!(writes.len(), 5, "four failures, then success");
    let expected = [2.0, 4.0, 8.0, 16.0];
    for (i, pair) in writes.windows(2).enumerate() {
        let gap = (pair[1].at - pair[0].at).as_secs_f64();
        assert!(
            gap >= expected[i] * 0.75 - 0.01 && gap <= expected[i] + 0.01,
            "retry {i}: {gap}"
        );
    }
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")]);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn retry_after_pauses_every_record() {
    let provider = FakeProvider::new(true);
    provider.fail_next(Op::Write, false, || {
        ProviderError::rate_limited("429 Too Many Requests", Some(Duration::from_secs(30)))
    });
    let h = Harness::start(settings(three()), provider.clone()).await;
    h.observe("192.0.2.1").await;
    assert_eq!(
        provider.writes().len(),
        1,
        "the rate limit stops the other records too"
    );
    sleep(Duration::from_secs(29)).await;
    assert_eq!(provider.writes().len(), 1);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(provider.writes().len(), 4);
    for key in [A, B, C] {
        assert_eq!(provider.published(key), vec![ip("192.0.2.1")]);
    }
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn after_a_timeout_the_record_is_read_back_before_writing_again() {
    let provider = FakeProvider::new(true);
    // The write times out but lands at the server anyway.
    provider.fail_next(Op::Write, true, || {
        ProviderError::timeout("no answer within 5 s")
    });
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(10)).await;
    let ops: Vec<Op> = provider.calls().iter().map(|c| c.op).collect();
    assert_eq!(
        ops,
        vec![Op::Read, Op::Write, Op::Read],
        "read back, and no second write since it landed"
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried_until_the_address_changes() {
    let provider = FakeProvider::new(true);
    provider.fail_next(Op::Write, false, || {
        ProviderError::permanent("REFUSED: update not allowed")
    });
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(24 * 3600)).await;
    assert_eq!(
        provider.writes().len(),
        1,
        "no retry loop on a permanent error"
    );
    h.observe("192.0.2.2").await;
    sleep(Duration::from_secs(61)).await;
    assert_eq!(provider.writes().len(), 2);
    assert_eq!(provider.published(A), vec![ip("192.0.2.2")]);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_permanent_error_is_tried_again_at_the_recheck() {
    let provider = FakeProvider::new(true);
    provider.fail_next(Op::Write, false, || ProviderError::permanent("NOTAUTH"));
    let mut s = settings(vec![record("a.example.com", V4)]);
    s.recheck_interval = Some(Duration::from_secs(600));
    let h = Harness::start(s, provider.clone()).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(599)).await;
    assert_eq!(provider.writes().len(), 1);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(provider.writes().len(), 2);
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")]);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_provider_that_keeps_failing_is_paused_then_probed() {
    let provider = FakeProvider::new(true);
    for _ in 0..40 {
        provider.fail_next(Op::Write, false, || {
            ProviderError::transient("503 Service Unavailable")
        });
    }
    let mut records = three();
    records.push(record("d.example.com", V4));
    records.push(record("e.example.com", V4));
    let h = Harness::start(settings(records), provider.clone()).await;
    h.observe("192.0.2.1").await;
    // Five records fail once each: the breaker opens after the fifth.
    assert_eq!(provider.writes().len(), 5);
    sleep(Duration::from_secs(59)).await;
    assert_eq!(provider.writes().len(), 5, "paused for the first minute");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(provider.writes().len(), 6, "one probe, not a burst");
    sleep(Duration::from_secs(3600)).await;
    let in_an_hour = provider.writes().len();
    assert!(in_an_hour < 20, "paused probes stay rare: {in_an_hour}");
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn the_breaker_closes_when_the_provider_answers_again() {
    let provider = FakeProvider::new(true);
    for _ in 0..5 {
        provider.fail_next(Op::Write, false, || ProviderError::transient("503"));
    }
    let mut records = three();
    records.push(record("d.example.com", V4));
    records.push(record("e.example.com", V4));
    let h = Harness::start(settings(records), provider.clone()).await;
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(65)).await;
    for key in [A, B, C, "d.example.com/A", "e.example.com/A"] {
        assert_eq!(provider.published(key), vec![ip("192.0.2.1")], "{key}");
    }
    assert_eq!(provider.writes().len(), 10);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn losing_the_address_never_touches_a_record() {
    let provider = FakeProvider::new(true);
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    h.send(IpEvent::Lost(V4));
    settle().await;
    sleep(Duration::from_secs(3600)).await;
    assert_eq!(provider.writes().len(), 1);
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")]);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_pending_write_is_dropped_when_its_address_is_lost() {
    let provider = FakeProvider::new(true);
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    h.observe("192.0.2.2").await; // deferred by the interval
    h.send(IpEvent::Lost(V4));
    settle().await;
    sleep(Duration::from_secs(120)).await;
    assert_eq!(
        provider.writes().len(),
        1,
        "an address that went away is not published late"
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn drift_is_put_back_at_the_recheck() {
    let provider = FakeProvider::new(true);
    let mut s = settings(vec![record("a.example.com", V4)]);
    s.recheck_interval = Some(Duration::from_secs(3600));
    let h = Harness::start(s, provider.clone()).await;
    h.observe("192.0.2.1").await;
    provider.publish(A, &["203.0.113.66"]); // changed by hand
    sleep(Duration::from_secs(3599)).await;
    assert_eq!(provider.published(A), vec![ip("203.0.113.66")]);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")], "put back");
    assert_eq!(provider.writes().len(), 2);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn rechecks_due_close_together_are_read_in_one_pass() {
    let provider = FakeProvider::new(true);
    let mut s = settings(vec![
        record("a.example.com", V4),
        record("b.example.com", V4),
    ]);
    s.recheck_interval = Some(Duration::from_secs(3600));
    let h = Harness::start(s, provider.clone()).await;
    provider.fail_next_for(B, || ProviderError::transient("blip"));
    h.observe("192.0.2.1").await;
    sleep(Duration::from_secs(10)).await;
    assert_eq!(
        provider.published(B),
        vec![ip("192.0.2.1")],
        "B written on retry"
    );
    let reads = |key: &str| {
        provider
            .calls()
            .iter()
            .filter(|c| c.op == Op::Read && c.key == key)
            .count()
    };
    let (a, b) = (reads(A), reads(B));
    // A's re-check is due at 3600 s, B's a few seconds later (its write
    // was retried): both are read when A's is due.
    sleep(Duration::from_secs(3600 - 10 + 1)).await;
    assert_eq!(reads(A), a + 1);
    assert_eq!(reads(B), b + 1, "B is read in the same pass as A");
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn families_are_independent() {
    let provider = FakeProvider::new(true);
    let records = vec![record("a.example.com", V4), record("a.example.com", V6)];
    let h = Harness::start(settings(records), provider.clone()).await;
    provider.fail_next_for(A, || ProviderError::permanent("A rejected"));
    h.observe("192.0.2.1").await;
    h.observe("2001:db8::1").await;
    assert!(provider.published(A).is_empty());
    assert_eq!(
        provider.published("a.example.com/AAAA"),
        vec![ip("2001:db8::1")]
    );
    h.send(IpEvent::Lost(V6));
    settle().await;
    sleep(Duration::from_secs(61)).await;
    h.observe("192.0.2.2").await;
    assert_eq!(
        provider.published(A),
        vec![ip("192.0.2.2")],
        "the IPv6 loss does not hold IPv4 back"
    );
    assert_eq!(
        provider.published("a.example.com/AAAA"),
        vec![ip("2001:db8::1")]
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn rejected_credentials_at_start_stop_the_engine() {
    let provider = FakeProvider::new(true);
    provider.fail_credential_check(|| {
        ProviderError::credentials("the server rejected TSIG key ddns-key: BADSIG")
    });
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    assert!(h.finished());
    let err = h.result().await.expect_err("credentials rejected");
    assert!(matches!(err, Error::CredentialsRejected { .. }));
    assert!(err.is_configuration());
    assert_eq!(
        err.to_string(),
        "provider fake rejected the credentials: the server rejected TSIG key ddns-key: BADSIG"
    );
}

#[tokio::test(start_paused = true)]
async fn an_ambiguous_credential_check_is_not_fatal() {
    let provider = FakeProvider::new(true);
    provider.fail_credential_check(|| ProviderError::transient("HTML challenge page"));
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    assert_eq!(provider.published(A), vec![ip("192.0.2.1")]);
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn rejected_credentials_during_a_run_mark_records_failed_and_keep_running() {
    let provider = FakeProvider::new(true);
    let h = Harness::start(settings(three()), provider.clone()).await;
    h.observe("192.0.2.1").await;
    assert_eq!(provider.writes().len(), 3);
    sleep(Duration::from_secs(61)).await;
    provider.fail_next(Op::Write, false, || {
        ProviderError::credentials("token revoked")
    });
    h.observe("192.0.2.2").await;
    sleep(Duration::from_secs(3600)).await;
    assert!(!h.finished(), "the daemon keeps running");
    assert_eq!(
        provider.writes().len(),
        4,
        "one rejection stops the pass, no hammering"
    );
    h.observe("192.0.2.3").await;
    assert_eq!(provider.writes().len(), 7, "a new address tries again");
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_provider_relies_on_the_state_store_across_restarts() {
    let provider = FakeProvider::new(false);
    let store = Arc::new(MemoryStateStore::default());
    let h = Harness::start_with_store(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
        store.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    assert_eq!(provider.writes().len(), 1);
    h.stop().await.expect("clean stop");
    let h = Harness::start_with_store(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
        store,
    )
    .await;
    h.observe("192.0.2.1").await;
    assert_eq!(
        provider.writes().len(),
        1,
        "no write after a restart with nothing changed"
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn due_records_go_out_in_one_batch_when_the_provider_batches() {
    let provider = FakeProvider::with_batch(true, 100);
    let h = Harness::start(settings(three()), provider.clone()).await;
    h.observe("192.0.2.1").await;
    let batches: Vec<_> = provider
        .calls()
        .into_iter()
        .filter(|c| c.op == Op::Batch)
        .collect();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].key, "3 changes");
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn a_burst_beyond_capacity_coalesces_and_ends_on_the_last_address() {
    let provider = FakeProvider::new(true);
    provider.set_write_delay(Duration::from_secs(1));
    let mut s = settings(vec![record("a.example.com", V4)]);
    s.event_capacity = 4;
    s.min_update_interval = Duration::ZERO;
    let h = Harness::start(s, provider.clone()).await;
    h.observe("192.0.2.1").await; // the engine is now busy in a 1 s write
    for i in 0..5000u32 {
        let address = std::net::Ipv4Addr::from(0xC633_6400 + (i % 250)); // 198.51.100.x
        h.send(IpEvent::Observed(address.into()));
    }
    h.send(IpEvent::Observed(ip("203.0.113.77")));
    sleep(Duration::from_secs(30)).await;
    assert_eq!(provider.published(A), vec![ip("203.0.113.77")]);
    assert!(h.engine.intake_stats().coalesced > 0);
    assert!(
        provider.writes().len() < 20,
        "writes: {}",
        provider.writes().len()
    );
    h.stop().await.expect("clean stop");
}

#[tokio::test(start_paused = true)]
async fn shutdown_interrupts_a_slow_write() {
    let provider = FakeProvider::new(true);
    provider.set_write_delay(Duration::from_secs(3600));
    let h = Harness::start(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
    )
    .await;
    h.observe("192.0.2.1").await;
    let stopped = tokio::time::timeout(Duration::from_secs(1), h.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))));
}

#[tokio::test(start_paused = true)]
async fn an_idle_engine_arms_no_timer() {
    let provider = FakeProvider::new(true);
    let engine = DdnsEngine::new(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
        Arc::new(MemoryStateStore::default()),
    );
    let mut runner = super::super::runner::Runner::new(&engine, super::super::runner::Mode::Daemon)
        .await
        .expect("start");
    runner.set_addresses(AddressSnapshot {
        v4: Some(ip("192.0.2.1")),
        v6: None,
    });
    runner.converge().await.expect("converge");
    assert_eq!(
        runner.next_deadline(),
        None,
        "nothing pending, no recheck: no wakeup at all"
    );

    let mut s = settings(vec![record("a.example.com", V4)]);
    s.recheck_interval = Some(Duration::from_secs(3600));
    let engine = DdnsEngine::new(s, provider, Arc::new(MemoryStateStore::default()));
    let mut runner = super::super::runner::Runner::new(&engine, super::super::runner::Mode::Daemon)
        .await
        .expect("start");
    runner.set_addresses(AddressSnapshot {
        v4: Some(ip("192.0.2.1")),
        v6: None,
    });
    runner.converge().await.expect("converge");
    let next = runner
        .next_deadline()
        .expect("the recheck is the only timer");
    assert_eq!(next - Instant::now(), Duration::from_secs(3600));
    assert!(!runner.gate_open());
}

#[tokio::test(start_paused = true)]
async fn once_ignores_the_interval_and_reports_each_record() {
    let provider = FakeProvider::new(true);
    provider.publish(B, &["192.0.2.1"]);
    provider.fail_next_for(C, || ProviderError::transient("SERVFAIL"));
    let store = Arc::new(MemoryStateStore::default());
    let mut state = StateSnapshot::default();
    state.records.insert(
        A.into(),
        RecordState {
            address: ip("192.0.2.9"),
            written_at: unix_now(),
        },
    );
    store.save(&state).await.expect("save");
    let mut records = three();
    records.push(record("a.example.com", V6));
    let engine = DdnsEngine::new(settings(records), provider.clone(), store);
    let snapshot = AddressSnapshot {
        v4: Some(ip("192.0.2.1")),
        v6: None,
    };
    let report = engine
        .run_once(snapshot, Duration::from_secs(60))
        .await
        .expect("once");
    let outcomes: Vec<RecordOutcome> = report.records.iter().map(|(_, o)| o.clone()).collect();
    assert_eq!(
        outcomes,
        vec![
            RecordOutcome::Updated(ip("192.0.2.1")),
            RecordOutcome::Unchanged(ip("192.0.2.1")),
            RecordOutcome::Updated(ip("192.0.2.1")),
            RecordOutcome::NoAddress,
        ]
    );
    assert!(!report.all_ok());
    assert_eq!(
        report.to_string().lines().last(),
        Some("a.example.com AAAA: no address of this family was found; record left alone")
    );
}

#[tokio::test(start_paused = true)]
async fn once_reports_a_rate_limit_without_waiting_for_it() {
    let provider = FakeProvider::new(true);
    provider.fail_next(Op::Write, false, || {
        ProviderError::rate_limited("429 Too Many Requests", Some(Duration::from_secs(300)))
    });
    let engine = DdnsEngine::new(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
        Arc::new(MemoryStateStore::default()),
    );
    let start = Instant::now();
    let snapshot = AddressSnapshot {
        v4: Some(ip("192.0.2.1")),
        v6: None,
    };
    let report = engine
        .run_once(snapshot, Duration::from_secs(60))
        .await
        .expect("once");
    assert!(Instant::now() - start < Duration::from_secs(1));
    assert_eq!(provider.writes().len(), 1);
    assert_eq!(
        report.to_string(),
        "a.example.com A: rate limited, nothing written: 429 Too Many Requests (retry after 300s)\n"
    );
}

#[tokio::test(start_paused = true)]
async fn once_gives_up_on_transient_errors_when_the_budget_ends() {
    let provider = FakeProvider::new(true);
    for _ in 0..100 {
        provider.fail_next(Op::Write, false, || {
            ProviderError::transient("connection refused")
        });
    }
    let engine = DdnsEngine::new(
        settings(vec![record("a.example.com", V4)]),
        provider.clone(),
        Arc::new(MemoryStateStore::default()),
    );
    let snapshot = AddressSnapshot {
        v4: Some(ip("192.0.2.1")),
        v6: None,
    };
    let start = Instant::now();
    let report = engine
        .run_once(snapshot, Duration::from_secs(30))
        .await
        .expect("once");
    assert!(Instant::now() - start <= Duration::from_secs(30));
    assert!(provider.writes().len() >= 3, "retried within the budget");
    let text = report.to_string();
    assert!(
        text.starts_with("a.example.com A: failed: still failing after"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("connection refused"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn an_interface_identifier_is_published_with_the_detected_prefix() {
    let provider = FakeProvider::new(true);
    let host = crate::record::HostId::new("::1:2:3:4".parse().unwrap(), 64);
    let records = vec![
        record("nas.example.com", V6).with_host_id(host),
        record("router.example.com", V6),
    ];
    let h = Harness::start(settings(records), provider.clone()).await;
    h.observe("2001:db8:aa:bb:9:9:9:9").await;
    assert_eq!(
        provider.published("nas.example.com/AAAA"),
        vec![ip("2001:db8:aa:bb:1:2:3:4")]
    );
    assert_eq!(
        provider.published("router.example.com/AAAA"),
        vec![ip("2001:db8:aa:bb:9:9:9:9")]
    );
    // A new address in the same prefix changes nothing for the host.
    sleep(Duration::from_secs(61)).await;
    h.observe("2001:db8:aa:bb:8:8:8:8").await;
    assert_eq!(provider.writes_for("nas.example.com/AAAA"), 1);
    // A new delegated prefix moves it.
    sleep(Duration::from_secs(61)).await;
    h.observe("2001:db8:cc:dd::5").await;
    assert_eq!(
        provider.published("nas.example.com/AAAA"),
        vec![ip("2001:db8:cc:dd:1:2:3:4")]
    );
    h.stop().await.expect("clean stop");
}
