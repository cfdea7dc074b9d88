//! Leader election against the fake API server: two replicas, one
//! leader; the leader stops and the other takes over; no server-side
//! apply on the way.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ddns_kube_fake::FakeApi;
use ddns_operator::leader::{self, LeaseSettings};
use k8s_openapi::api::coordination::v1::Lease;
use tokio::sync::watch;

fn settings(identity: &str, seconds: u64) -> LeaseSettings {
    LeaseSettings {
        name: "ddns-operator".into(),
        namespace: "ddns-system".into(),
        identity: identity.into(),
        duration: Duration::from_secs(seconds),
    }
}

async fn wait(what: &str, check: impl Fn() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_and_a_takeover_when_it_stops() {
    let fake = FakeApi::new();
    let (a_lead_tx, a_lead) = watch::channel(false);
    let (b_lead_tx, b_lead) = watch::channel(false);
    let (a_stop_tx, a_stop) = watch::channel(false);
    let (b_stop_tx, b_stop) = watch::channel(false);
    let a = tokio::spawn(leader::run(
        fake.client(),
        settings("replica-a", 10),
        a_lead_tx,
        a_stop,
    ));
    wait("replica-a to lead", || *a_lead.borrow()).await;
    let b = tokio::spawn(leader::run(
        fake.client(),
        settings("replica-b", 10),
        b_lead_tx,
        b_stop,
    ));

    // B keeps trying while A renews (every third of the 10 s lease) and
    // never leads.
    for _ in 0..80 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(*a_lead.borrow() && !*b_lead.borrow(), "exactly one leader");
    }
    let lease: Lease = fake
        .get(Some("ddns-system"), "ddns-operator")
        .unwrap()
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-a"));
    assert_eq!(spec.lease_duration_seconds, Some(10));

    // A stops and releases the lease; B takes it over.
    a_stop_tx.send_replace(true);
    a.await.unwrap();
    assert!(!*a_lead.borrow());
    wait("replica-b to lead", || *b_lead.borrow()).await;
    let lease: Lease = fake
        .get(Some("ddns-system"), "ddns-operator")
        .unwrap()
        .unwrap();
    let spec = lease.spec.unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("replica-b"));
    assert_eq!(spec.lease_transitions, Some(1));

    b_stop_tx.send_replace(true);
    b.await.unwrap();
    assert!(
        fake.requests()
            .iter()
            .all(|r| !r.is_patch_of_type("application/apply-patch+yaml")),
        "no server-side apply"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_cannot_renew_stands_down() {
    let fake = FakeApi::new();
    let (lead_tx, lead) = watch::channel(false);
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(leader::run(
        fake.client(),
        settings("replica-a", 3),
        lead_tx,
        stop,
    ));
    wait("leading", || *lead.borrow()).await;
    // Every later request to the API fails: the leader must stop leading
    // before its lease could be taken over (3 s).
    fake.fail_times(ddns_kube_fake::RequestMatcher::any(), 503, 1000);
    wait("standing down", || !*lead.borrow()).await;
    stop_tx.send_replace(true);
    task.await.unwrap();
}
