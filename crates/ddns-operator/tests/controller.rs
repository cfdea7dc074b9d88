//! The real controller against the in-process fake API server, with a
//! recording delivery: what the controller asks of the servers, in which
//! order against its API calls, and what it reports in statuses and
//! Events. Delivery itself is tested against a real BIND in
//! `delivery_*.rs` and end to end in `operator_bind.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::harness::{
    self, Harness, NS, condition, events, fake_api, is_ready, record_json, tokio_test, zone_json,
};
use ddns_core::zone::{Assembly, Date, ZoneName};
use ddns_kube_fake::{FakeApi, Verb};
use ddns_operator::controller::{
    self, Deliverer, DeliveryFailure, FileResult, UpdateResult, UpdateTarget,
};
use ddns_operator::crd::{ARecord, Bind9Instance, DNSZone};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

const SECRET: &str = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="; // 26 bytes, base64

/// A DNS server as the controller sees it through delivery: RRsets by
/// `name TYPE`, and a log of the calls.
#[derive(Default)]
struct Recording {
    rrsets: Mutex<BTreeMap<String, Vec<String>>>,
    calls: Mutex<Vec<String>>,
    fail: AtomicBool,
    updates_with_changes: AtomicUsize,
    /// For each update call: the records of the zone and whether each had
    /// the finalizer at that moment.
    finalizers_at_write: Mutex<Vec<Vec<(String, bool)>>>,
    fake: Mutex<Option<FakeApi>>,
    /// Each `remove`: the zone and the RRsets asked for.
    removals: Mutex<Vec<(String, Vec<String>)>>,
    fail_remove: AtomicBool,
}

fn desired(assembly: &Assembly) -> BTreeMap<String, Vec<String>> {
    assembly
        .rrsets
        .values()
        .map(|set| {
            (
                format!(
                    "{}. {}",
                    set.owner.in_zone(&assembly.zone.name),
                    set.record_type
                ),
                set.values.iter().map(|v| v.presentation()).collect(),
            )
        })
        .collect()
}

#[async_trait]
impl Deliverer for Recording {
    async fn update(
        &self,
        target: &UpdateTarget,
        assembly: &Assembly,
        managed: &BTreeSet<String>,
    ) -> Result<UpdateResult, DeliveryFailure> {
        if let Some(fake) = self.fake.lock().unwrap().as_ref() {
            let records: Vec<ARecord> = fake.list(Some(NS)).unwrap();
            self.finalizers_at_write.lock().unwrap().push(
                records
                    .iter()
                    .map(|r| {
                        let name = r.metadata.name.clone().unwrap_or_default();
                        let has = r
                            .metadata
                            .finalizers
                            .iter()
                            .flatten()
                            .any(|f| f == controller::FINALIZER);
                        (name, has)
                    })
                    .collect(),
            );
        }
        self.calls
            .lock()
            .unwrap()
            .push(format!("update {}", target.instance));
        if self.fail.load(Ordering::SeqCst) {
            return Err(DeliveryFailure {
                message: format!("server {} did not answer", target.server),
                transient: true,
            });
        }
        let want = desired(assembly);
        let mut rrsets = self.rrsets.lock().unwrap();
        let mut changes = 0;
        for (key, values) in &want {
            if rrsets.get(key) != Some(values) {
                rrsets.insert(key.clone(), values.clone());
                changes += 1;
            }
        }
        for key in managed.iter().filter(|k| !want.contains_key(*k)) {
            if rrsets.remove(key).is_some() {
                changes += 1;
            }
        }
        if changes > 0 {
            self.updates_with_changes.fetch_add(1, Ordering::SeqCst);
        }
        Ok(UpdateResult {
            changes,
            managed: want.into_keys().collect(),
        })
    }

    async fn remove(
        &self,
        target: &UpdateTarget,
        zone: &ZoneName,
        managed: &BTreeSet<String>,
    ) -> Result<u32, DeliveryFailure> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("remove {}", target.instance));
        self.removals
            .lock()
            .unwrap()
            .push((zone.to_string(), managed.iter().cloned().collect()));
        if self.fail_remove.load(Ordering::SeqCst) {
            return Err(DeliveryFailure {
                message: format!("server {} refused the removal", target.server),
                transient: true,
            });
        }
        let mut rrsets = self.rrsets.lock().unwrap();
        Ok(managed
            .iter()
            .filter(|k| rrsets.remove(*k).is_some())
            .count() as u32)
    }

    async fn write_zone(
        &self,
        assembly: &Assembly,
        previous: Option<u32>,
        today: Date,
    ) -> Result<FileResult, DeliveryFailure> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("write {}", assembly.zone.name));
        Ok(FileResult {
            serial: ddns_core::zone::next_serial(previous, today),
            written: true,
        })
    }

    async fn remove_zone(&self, zone: &ZoneName) -> Result<(), DeliveryFailure> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("remove-file {zone}"));
        Ok(())
    }

    async fn publish_zone_list(&self, zones: &[ZoneName]) -> Result<bool, DeliveryFailure> {
        let names: Vec<String> = zones.iter().map(ToString::to_string).collect();
        self.calls
            .lock()
            .unwrap()
            .push(format!("zones [{}]", names.join(",")));
        Ok(true)
    }
}

impl Recording {
    fn server(&self) -> BTreeMap<String, Vec<String>> {
        self.rrsets.lock().unwrap().clone()
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

/// The controllers with a recording delivery; a wait that times out
/// shows what the "server" holds and the delivery calls.
fn start(fake: FakeApi, extra: &[(&str, &str)]) -> Harness<Recording> {
    start_with(fake, extra, Arc::default())
}

fn start_with(
    fake: FakeApi,
    extra: &[(&str, &str)],
    delivery: Arc<Recording>,
) -> Harness<Recording> {
    let mut pairs = vec![("DDNS_OPERATOR_ZONE_DIR", "/nonexistent/zones")];
    pairs.extend_from_slice(extra);
    *delivery.fake.lock().unwrap() = Some(fake.clone());
    let explained = Arc::clone(&delivery);
    harness::start(fake, harness::config(&pairs), delivery).explain_with(move || {
        format!(
            "server: {:#?}\ncalls: {:#?}",
            explained.server(),
            explained.calls()
        )
    })
}

fn seed(fake: &FakeApi) {
    fake.insert(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tsig", "namespace": NS},
        "data": {"secret": harness::base64(SECRET)}
    }))
    .unwrap();
    fake.insert(&json!({
        "apiVersion": "ddns.dev/v1alpha1", "kind": "Bind9Instance",
        "metadata": {"name": "primary", "namespace": NS, "labels": {"role": "primary"}},
        "spec": {"address": "127.0.0.1", "port": 5353, "role": "primary",
                 "tsigKeySecretRef": {"name": "tsig", "key": "secret"},
                 "tsigKeyName": "ddns-key", "tsigAlgorithm": "hmac-sha256"}
    }))
    .unwrap();
    fake.insert(&json!({
        "apiVersion": "ddns.dev/v1alpha1", "kind": "Bind9Instance",
        "metadata": {"name": "secondary", "namespace": NS, "labels": {"role": "secondary"}},
        "spec": {"address": "127.0.0.2", "role": "secondary",
                 "tsigKeySecretRef": {"name": "tsig", "key": "secret"},
                 "tsigKeyName": "ddns-key"}
    }))
    .unwrap();
    fake.insert(&zone("example", "example.com", "update"))
        .unwrap();
}

/// The seeded API with one record, `www` (192.0.2.1) in zone `example`.
fn seeded_with_www() -> FakeApi {
    let fake = fake_api();
    seed(&fake);
    fake.insert(&a_record(
        "www",
        "www",
        "example",
        &["192.0.2.1"],
        "2026-01-01T00:00:00Z",
    ))
    .unwrap();
    fake
}

fn zone(name: &str, zone_name: &str, delivery: &str) -> Value {
    json!({
        "apiVersion": "ddns.dev/v1alpha1", "kind": "DNSZone",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"zoneName": zone_name, "ttl": 3600,
                 "soa": {"primaryNs": "ns1.example.net", "adminEmail": "hostmaster@example.com"},
                 "nameServers": ["ns1.example.net"],
                 "instanceSelector": {"matchExpressions": [{"key": "role", "operator": "Exists"}]},
                 "delivery": delivery}
    })
}

fn a_record(name: &str, owner: &str, zone: &str, addresses: &[&str], created: &str) -> Value {
    json!({
        "apiVersion": "ddns.dev/v1alpha1", "kind": "ARecord",
        "metadata": {"name": name, "namespace": NS, "creationTimestamp": created},
        "spec": {"zoneRef": zone, "name": owner, "addresses": addresses}
    })
}

#[test]
fn a_record_is_written_after_its_finalizer_and_reported() {
    tokio_test(async {
        let fake = seeded_with_www();
        let h = start(fake, &[]);
        h.wait_until("the zone to be Ready", |fake, _| {
            is_ready(&zone_json(fake, "example"))
        })
        .await;

        // On the server: the record and the apex NS set; the secondary is
        // never written to.
        let server = h.delivery.server();
        assert_eq!(
            server.get("www.example.com. A"),
            Some(&vec!["192.0.2.1".to_string()])
        );
        assert_eq!(
            server.get("example.com. NS"),
            Some(&vec!["ns1.example.net.".to_string()])
        );
        assert!(
            h.delivery.calls().iter().all(|c| c == "update primary"),
            "{:?}",
            h.delivery.calls()
        );

        // Every write found the record's finalizer already in place.
        let snapshots = h.delivery.finalizers_at_write.lock().unwrap().clone();
        assert!(!snapshots.is_empty());
        for snapshot in &snapshots {
            assert_eq!(snapshot, &vec![("www".to_string(), true)]);
        }

        // The zone's finalizer is the controller's first write of all.
        let writes: Vec<String> = h
            .fake
            .requests()
            .into_iter()
            .filter(|r| {
                r.verb.is_some_and(Verb::is_write) && r.resource.as_deref() != Some("events")
            })
            .map(|r| r.summary())
            .collect();
        assert_eq!(
            writes.first().map(String::as_str),
            Some("patch /apis/ddns.dev/v1alpha1/namespaces/dns/dnszones/example")
        );
        assert!(
            writes
                .contains(&"patch /apis/ddns.dev/v1alpha1/namespaces/dns/arecords/www".to_string()),
            "{writes:#?}"
        );
        assert!(
            h.fake
                .requests()
                .iter()
                .all(|r| !r.is_patch_of_type("application/apply-patch+yaml"))
        );

        let zone = zone_json(&h.fake, "example");
        assert_eq!(zone["status"]["recordCount"], 2);
        assert_eq!(zone["status"]["observedGeneration"], 1);
        assert_eq!(
            zone["status"]["managed"],
            json!(["example.com. NS", "www.example.com. A"])
        );
        assert_eq!(
            zone["status"]["instances"],
            json!([
                {"name": "primary", "result": "Delivered"},
                {"name": "secondary", "result": "Skipped", "message": "secondary: receives the zone by transfer"},
            ])
        );
        assert_eq!(
            condition(&zone, "Degraded").map(|c| c.0),
            Some("False".to_string())
        );
        let record = record_json(&h.fake, "arecords", "www");
        assert_eq!(
            condition(&record, "Ready"),
            Some((
                "True".into(),
                "Delivered".into(),
                "in zone example.com".into()
            ))
        );
        assert_eq!(record["status"]["fqdn"], "www.example.com.");
        assert_eq!(record["status"]["zone"], "example");
        assert_eq!(
            record["metadata"]["finalizers"],
            json!(["ddns.dev/cleanup"])
        );
        h.stop().await;
    });
}

#[test]
fn changes_and_deletions_follow_the_resources_and_a_quiet_round_writes_nothing() {
    tokio_test(async {
        let fake = seeded_with_www();
        fake.insert(&a_record(
            "api",
            "api",
            "example",
            &["192.0.2.7"],
            "2026-01-01T00:00:01Z",
        ))
        .unwrap();
        let h = start(fake, &[]);
        h.wait_until("both records", |_, d| {
            d.server().contains_key("api.example.com. A")
        })
        .await;

        let records: Api<ARecord> = h.api();
        let patch = json!({"spec": {"addresses": ["192.0.2.2", "192.0.2.3"]}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        h.wait_until("the new addresses", |_, d| {
            d.server().get("www.example.com. A")
                == Some(&vec!["192.0.2.2".to_string(), "192.0.2.3".to_string()])
        })
        .await;
        h.wait_until("observedGeneration 2", |fake, _| {
            record_json(fake, "arecords", "www")["status"]["observedGeneration"] == 2
        })
        .await;

        records
            .delete("api", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("api gone from DNS and from the API", |fake, d| {
            !d.server().contains_key("api.example.com. A")
                && record_json(fake, "arecords", "api").is_null()
        })
        .await;
        h.wait_until("managed without api", |fake, _| {
            zone_json(fake, "example")["status"]["managed"]
                == json!(["example.com. NS", "www.example.com. A"])
        })
        .await;

        // A round with nothing to do: the delivery reports no change and
        // the controller writes no status.
        let changes_before = h.delivery.updates_with_changes.load(Ordering::SeqCst);
        let before = h.status_writes();
        let zones: Api<DNSZone> = h.api();
        let touch = json!({"metadata": {"annotations": {"touched": "1"}}});
        let calls_before = h.delivery.calls().len();
        zones
            .patch("example", &PatchParams::default(), &Patch::Merge(&touch))
            .await
            .unwrap();
        h.wait_until("another round", |_, d| d.calls().len() > calls_before)
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            h.delivery.updates_with_changes.load(Ordering::SeqCst),
            changes_before
        );
        assert_eq!(
            h.status_writes(),
            before,
            "{:#?}",
            h.fake
                .requests()
                .iter()
                .rev()
                .take(5)
                .map(|r| r.summary())
                .collect::<Vec<_>>()
        );
        h.stop().await;
    });
}

#[test]
fn conflicts_are_reported_and_not_applied() {
    tokio_test(async {
        let fake = seeded_with_www();
        fake.insert(&a_record(
            "www-copy",
            "WWW",
            "example",
            &["198.51.100.1"],
            "2026-01-02T00:00:00Z",
        ))
        .unwrap();
        fake.insert(&json!({
            "apiVersion": "ddns.dev/v1alpha1", "kind": "CNAMERecord",
            "metadata": {"name": "www-alias", "namespace": NS, "creationTimestamp": "2026-01-03T00:00:00Z"},
            "spec": {"zoneRef": "example", "name": "www", "target": "elsewhere.example.net"}
        }))
        .unwrap();
        fake.insert(&a_record(
            "outside",
            "host.example.org.",
            "example",
            &["192.0.2.9"],
            "2026-01-04T00:00:00Z",
        ))
        .unwrap();
        let h = start(fake, &[]);
        h.wait_until("the zone to be Ready", |fake, _| {
            is_ready(&zone_json(fake, "example"))
        })
        .await;

        assert_eq!(
            h.delivery.server().get("www.example.com. A"),
            Some(&vec!["192.0.2.1".to_string()])
        );
        assert!(!h.delivery.server().contains_key("www.example.com. CNAME"));
        let copy = record_json(&h.fake, "arecords", "www-copy");
        assert_eq!(
            condition(&copy, "Ready"),
            Some((
                "False".into(),
                "AlreadyClaimed".into(),
                "www.example.com A is already claimed by ARecord/www".into()
            ))
        );
        let alias = record_json(&h.fake, "cnamerecords", "www-alias");
        assert_eq!(
            condition(&alias, "Ready").map(|c| c.1),
            Some("CnameConflict".to_string())
        );
        let outside = record_json(&h.fake, "arecords", "outside");
        assert_eq!(
            condition(&outside, "Ready"),
            Some((
                "False".into(),
                "OutsideZone".into(),
                "'host.example.org.' is outside zone example.com".into()
            ))
        );
        let zone = zone_json(&h.fake, "example");
        assert_eq!(
            zone["status"]["conflicts"].as_array().map(Vec::len),
            Some(3)
        );
        assert_eq!(
            condition(&zone, "Degraded").map(|c| c.1),
            Some("RecordConflicts".to_string())
        );
        let (_, _, message) = condition(&zone, "Ready").unwrap();
        assert!(
            message.ends_with("3 record(s) in conflict, see status.conflicts"),
            "{message}"
        );
        h.wait_until("a Warning Event for the conflict", |fake, _| {
            events(fake).iter().any(|e| {
                e["reason"] == "AlreadyClaimed"
                    && e["regarding"]["name"] == "www-copy"
                    && e["type"] == "Warning"
            })
        })
        .await;
        h.stop().await;
    });
}

#[test]
fn deleting_the_zone_removes_its_records_and_orphans_are_reported() {
    tokio_test(async {
        let fake = seeded_with_www();
        fake.insert(&a_record(
            "lost",
            "lost",
            "missing-zone",
            &["192.0.2.5"],
            "2026-01-01T00:00:00Z",
        ))
        .unwrap();
        let h = start(fake, &[]);
        h.wait_until("the zone to be Ready", |fake, _| {
            is_ready(&zone_json(fake, "example"))
        })
        .await;
        h.wait_until("the orphan's status", |fake, _| {
            condition(&record_json(fake, "arecords", "lost"), "Ready")
                == Some((
                    "False".into(),
                    "ZoneNotFound".into(),
                    "DNSZone missing-zone not found in namespace dns".into(),
                ))
        })
        .await;

        let zones: Api<DNSZone> = h.api();
        zones
            .delete("example", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("the zone gone", |fake, _| {
            zone_json(fake, "example").is_null()
        })
        .await;
        assert!(
            h.delivery.calls().contains(&"remove primary".to_string()),
            "{:?}",
            h.delivery.calls()
        );
        assert!(h.delivery.server().is_empty(), "{:?}", h.delivery.server());
        h.wait_until("www reported without a zone", |fake, _| {
            condition(&record_json(fake, "arecords", "www"), "Ready")
                .is_some_and(|c| c.1 == "ZoneNotFound")
        })
        .await;

        // Deleting a record whose zone is gone is not held up.
        let records: Api<ARecord> = h.api();
        records
            .delete("www", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("www gone", |fake, _| {
            record_json(fake, "arecords", "www").is_null()
        })
        .await;
        h.stop().await;
    });
}

#[test]
fn a_failing_server_is_reported_and_retried_and_cleanup_gives_up_in_time() {
    tokio_test(async {
        let fake = seeded_with_www();
        let h = start(fake, &[("DDNS_OPERATOR_CLEANUP_TIMEOUT_SECS", "2")]);
        h.wait_until("the zone to be Ready", |fake, _| {
            is_ready(&zone_json(fake, "example"))
        })
        .await;

        h.delivery.fail.store(true, Ordering::SeqCst);
        let records: Api<ARecord> = h.api();
        let patch = json!({"spec": {"addresses": ["192.0.2.99"]}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        h.wait_until("DeliveryFailed", |fake, _| {
            condition(&zone_json(fake, "example"), "Ready")
                == Some((
                    "False".into(),
                    "DeliveryFailed".into(),
                    "server 127.0.0.1:5353 did not answer".into(),
                ))
        })
        .await;
        let zone = zone_json(&h.fake, "example");
        assert_eq!(
            condition(&zone, "Degraded").map(|c| c.0),
            Some("True".to_string())
        );
        assert_eq!(zone["status"]["instances"][0]["result"], "Failed");
        h.wait_until("a DeliveryFailed Event", |fake, _| {
            events(fake).iter().any(|e| e["reason"] == "DeliveryFailed")
        })
        .await;
        // The old address stays until the server takes the new one.
        assert_eq!(
            h.delivery.server().get("www.example.com. A"),
            Some(&vec!["192.0.2.1".to_string()])
        );

        // The namespace goes: the key's Secret first, then the zone. The
        // finalizer gives up after the cleanup timeout, with an Event.
        h.delivery.fail.store(false, Ordering::SeqCst);
        h.fake.remove("v1", "secrets", Some(NS), "tsig");
        let zones: Api<DNSZone> = h.api();
        zones
            .delete("example", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("the zone gone", |fake, _| {
            zone_json(fake, "example").is_null()
        })
        .await;
        let events = events(&h.fake);
        assert!(
            events.iter().any(|e| e["reason"] == "CleanupFailed"),
            "the failure is reported before giving up"
        );
        let abandoned = events
            .iter()
            .find(|e| e["reason"] == "CleanupAbandoned")
            .expect("CleanupAbandoned Event");
        let note = abandoned["note"].as_str().unwrap();
        assert!(note.contains("Secret tsig not found"), "{note}");
        h.stop().await;
    });
}

/// Regression: every status the controller wrote came back through the
/// watch as a change and reconciled the zone again at once, so a failed
/// delivery was tried a second time (with a second Event) right away
/// instead of after the backoff, and every delivery was followed by a
/// reconcile that read the whole zone from the servers again.
#[test]
fn regression_status_writes_do_not_trigger_reconciles() {
    tokio_test(async {
        let fake = fake_api();
        seed(&fake);
        let mut record = a_record(
            "www",
            "www",
            "example",
            &["192.0.2.1"],
            "2026-01-01T00:00:00Z",
        );
        // Already carrying its finalizer: adding it would be a change of
        // the record, which rightly triggers the zone.
        record["metadata"]["finalizers"] = json!([controller::FINALIZER]);
        fake.insert(&record).unwrap();
        let delivery = Arc::new(Recording::default());
        delivery.fail.store(true, Ordering::SeqCst);
        let h = start_with(fake, &[], delivery);
        h.wait_until("DeliveryFailed", |fake, _| {
            condition(&zone_json(fake, "example"), "Ready").is_some_and(|c| c.1 == "DeliveryFailed")
        })
        .await;
        h.wait_until("the record's status", |fake, _| {
            condition(&record_json(fake, "arecords", "www"), "Ready")
                .is_some_and(|c| c.1 == "ZoneNotDelivered")
        })
        .await;
        // The statuses written above would have come back within the
        // debounce (0.3 s); the retry is due after the backoff (30 s).
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(h.delivery.calls(), ["update primary"]);
        let failures: Vec<Value> = events(&h.fake)
            .into_iter()
            .filter(|e| e["reason"] == "DeliveryFailed")
            .collect();
        assert_eq!(failures.len(), 1);
        assert!(failures[0]["series"].is_null(), "{:#?}", failures[0]);
        h.stop().await;
    });
}

/// Regression: a record deleted while its zone could not be delivered
/// waited in Terminating, held by its finalizer, with nothing on it to say
/// why (only the zone's status did).
#[test]
fn regression_a_record_waiting_for_its_deletion_says_why() {
    tokio_test(async {
        let fake = fake_api();
        seed(&fake);
        for (name, address) in [("www", "192.0.2.1"), ("api", "192.0.2.7")] {
            fake.insert(&a_record(
                name,
                name,
                "example",
                &[address],
                "2026-01-01T00:00:00Z",
            ))
            .unwrap();
        }
        let h = start(fake, &[]);
        h.wait_until("api delivered", |_, d| {
            d.server().contains_key("api.example.com. A")
        })
        .await;

        h.delivery.fail.store(true, Ordering::SeqCst);
        let records: Api<ARecord> = h.api();
        records
            .delete("api", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("the waiting record to say why", |fake, _| {
            condition(&record_json(fake, "arecords", "api"), "Ready")
                == Some((
                    "False".into(),
                    "ZoneNotDelivered".into(),
                    "being deleted: its records stay on the server until zone example.com is delivered again; see DNSZone example".into(),
                ))
        })
        .await;
        let api = record_json(&h.fake, "arecords", "api");
        assert!(api["metadata"]["deletionTimestamp"].is_string());
        assert!(h.delivery.server().contains_key("api.example.com. A"));

        // The server answers again: the record goes from DNS, then from
        // the API (a change of the zone brings the retry forward).
        h.delivery.fail.store(false, Ordering::SeqCst);
        let zones: Api<DNSZone> = h.api();
        let touch = json!({"metadata": {"annotations": {"touched": "1"}}});
        zones
            .patch("example", &PatchParams::default(), &Patch::Merge(&touch))
            .await
            .unwrap();
        h.wait_until("api gone", |fake, d| {
            record_json(fake, "arecords", "api").is_null()
                && !d.server().contains_key("api.example.com. A")
        })
        .await;
        h.stop().await;
    });
}

/// Regression: a zone that could not be delivered (no primary selected)
/// and also held conflicting records had its Degraded reason replaced by
/// RecordConflicts, hiding why nothing reached a server.
#[test]
fn regression_degraded_keeps_the_reason_a_zone_is_not_delivered() {
    tokio_test(async {
        let fake = fake_api();
        seed(&fake);
        let mut lonely = zone("lonely", "example.org", "update");
        lonely["spec"]["instanceSelector"] = json!({"matchLabels": {"role": "none"}});
        fake.insert(&lonely).unwrap();
        fake.insert(&a_record(
            "one",
            "www",
            "lonely",
            &["192.0.2.1"],
            "2026-01-01T00:00:00Z",
        ))
        .unwrap();
        fake.insert(&a_record(
            "two",
            "www",
            "lonely",
            &["192.0.2.2"],
            "2026-01-02T00:00:00Z",
        ))
        .unwrap();
        let h = start(fake, &[]);
        let message = "no Bind9Instance in the namespace matches spec.instanceSelector";
        h.wait_until("NoPrimary", |fake, _| {
            condition(&zone_json(fake, "lonely"), "Ready")
                == Some(("False".into(), "NoPrimary".into(), message.into()))
        })
        .await;
        let zone = zone_json(&h.fake, "lonely");
        assert_eq!(
            condition(&zone, "Degraded"),
            Some(("True".into(), "NoPrimary".into(), message.into()))
        );
        assert_eq!(
            zone["status"]["conflicts"].as_array().map(Vec::len),
            Some(1)
        );
        h.stop().await;
    });
}

/// Regression: two zonefile DNSZones of one zone name (in two namespaces,
/// or a copy) wrote the same file in turn, and deleting either removed
/// the file and the include-file entry the other one still served.
#[test]
fn regression_one_zone_file_per_zone_name() {
    tokio_test(async {
        let fake = fake_api();
        seed(&fake);
        for (name, created) in [
            ("first", "2026-01-01T00:00:00Z"),
            ("second", "2026-01-02T00:00:00Z"),
        ] {
            let mut object = zone(name, "files.example", "zonefile");
            object["metadata"]["creationTimestamp"] = json!(created);
            fake.insert(&object).unwrap();
        }
        let h = start(fake, &[]);
        h.wait_until("first delivered, second waiting", |fake, _| {
            is_ready(&zone_json(fake, "first"))
                && condition(&zone_json(fake, "second"), "Ready")
                    .is_some_and(|c| c.1 == "AlreadyClaimed")
        })
        .await;
        let (_, _, message) = condition(&zone_json(&h.fake, "second"), "Ready").unwrap();
        assert_eq!(
            message,
            "zone files.example is already delivered as a file by DNSZone dns/first; this one waits until that one is deleted"
        );
        let writes = || {
            h.delivery
                .calls()
                .iter()
                .filter(|c| *c == "write files.example")
                .count()
        };
        let before = writes();

        // Deleting the copy leaves the file alone.
        let zones: Api<DNSZone> = h.api();
        zones
            .delete("second", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("second gone", |fake, _| zone_json(fake, "second").is_null())
            .await;
        assert!(
            !h.delivery
                .calls()
                .iter()
                .any(|c| c.starts_with("remove-file")
                    || (c.starts_with("zones [") && !c.contains("files.example"))),
            "{:?}",
            h.delivery.calls()
        );
        assert_eq!(writes(), before, "only the first zone writes the file");
        h.stop().await;
    });
}

/// Regression: deleting a zone whose primary Bind9Instance was already
/// gone (a namespace being deleted removes it at once) finished at once,
/// leaving its records on the server without a word.
#[test]
fn regression_a_zone_whose_server_is_gone_reports_the_records_it_leaves() {
    tokio_test(async {
        let fake = seeded_with_www();
        let h = start(fake, &[("DDNS_OPERATOR_CLEANUP_TIMEOUT_SECS", "2")]);
        h.wait_until("the zone to be Ready", |fake, _| {
            is_ready(&zone_json(fake, "example"))
        })
        .await;
        let instances: Api<Bind9Instance> = h.api();
        instances
            .delete("primary", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("NoPrimary", |fake, _| {
            condition(&zone_json(fake, "example"), "Ready").is_some_and(|c| c.1 == "NoPrimary")
        })
        .await;
        let zones: Api<DNSZone> = h.api();
        zones
            .delete("example", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("the zone gone", |fake, _| {
            zone_json(fake, "example").is_null()
        })
        .await;
        let expected = "no primary Bind9Instance matches spec.instanceSelector any more, so the 1 RRset(s) in status.managed cannot be removed from a server";
        let events = events(&h.fake);
        assert!(
            events
                .iter()
                .any(|e| e["reason"] == "CleanupFailed" && e["note"] == expected),
            "{events:#?}"
        );
        let abandoned = events
            .iter()
            .find(|e| e["reason"] == "CleanupAbandoned")
            .expect("CleanupAbandoned Event");
        assert!(
            abandoned["note"].as_str().unwrap().contains(expected),
            "{abandoned:#?}"
        );
        assert!(h.delivery.server().contains_key("www.example.com. A"));
        h.stop().await;
    });
}

/// Regression: the finalizers the controller puts on new records came back
/// as record changes and ran a second full reconcile (a second read of
/// every RRset from every server) after every start.
#[test]
fn regression_a_start_from_scratch_delivers_once() {
    tokio_test(async {
        let fake = fake_api();
        seed(&fake);
        for (i, name) in ["www", "api", "mail"].iter().enumerate() {
            fake.insert(&a_record(
                name,
                name,
                "example",
                &[&format!("192.0.2.{}", i + 1)],
                "2026-01-01T00:00:00Z",
            ))
            .unwrap();
        }
        let h = start(fake, &[]);
        h.wait_until("every record Ready", |fake, _| {
            ["www", "api", "mail"]
                .iter()
                .all(|name| is_ready(&record_json(fake, "arecords", name)))
        })
        .await;
        for name in ["www", "api", "mail"] {
            assert_eq!(
                record_json(&h.fake, "arecords", name)["metadata"]["finalizers"],
                json!([controller::FINALIZER])
            );
        }
        // Any trigger would have come back within the debounce (0.3 s).
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(h.delivery.calls(), ["update primary"]);
        h.stop().await;
    });
}

/// A record whose finalizer someone took off gets it back at once, not at
/// the next requeue five minutes later: without it, deleting the record
/// would leave its data on the server.
#[test]
fn a_finalizer_taken_off_a_record_is_put_back() {
    tokio_test(async {
        let fake = seeded_with_www();
        let h = start(fake, &[]);
        h.wait_until("the record Ready", |fake, _| {
            is_ready(&record_json(fake, "arecords", "www"))
        })
        .await;
        let records: Api<ARecord> = h.api();
        let strip = json!({"metadata": {"finalizers": null}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&strip))
            .await
            .unwrap();
        h.wait_until("the finalizer back", |fake, _| {
            record_json(fake, "arecords", "www")["metadata"]["finalizers"]
                == json!([controller::FINALIZER])
        })
        .await;
        h.stop().await;
    });
}

fn no_leftovers(zone: &Value) -> bool {
    zone["status"]["leftovers"]
        .as_array()
        .is_none_or(Vec::is_empty)
}

fn server_keys(delivery: &Recording) -> Vec<String> {
    delivery.server().into_keys().collect()
}

/// A zone renamed, or switched to the other delivery, takes what it
/// delivered before off the servers: nothing of the old name stays behind.
#[test]
fn a_new_zone_name_or_delivery_removes_the_earlier_one() {
    tokio_test(async {
        let fake = seeded_with_www();
        let h = start(fake, &[]);
        h.wait_until("the zone Ready", |fake, _| {
            is_ready(&zone_json(fake, "example"))
        })
        .await;
        assert_eq!(
            zone_json(&h.fake, "example")["status"]["delivered"],
            json!({"zoneName": "example.com", "delivery": "update"})
        );
        let zones: Api<DNSZone> = h.api();
        let set = |spec: Value| {
            let zones = zones.clone();
            async move {
                zones
                    .patch(
                        "example",
                        &PatchParams::default(),
                        &Patch::Merge(&json!({"spec": spec})),
                    )
                    .await
                    .unwrap();
            }
        };

        // A new name: delivered under it, removed under the old one.
        set(json!({"zoneName": "example.org"})).await;
        h.wait_until("the zone under its new name only", |fake, d| {
            server_keys(d) == ["example.org. NS", "www.example.org. A"]
                && zone_json(fake, "example")["status"]["delivered"]["zoneName"] == "example.org"
                && no_leftovers(&zone_json(fake, "example"))
        })
        .await;
        assert_eq!(
            h.delivery.removals.lock().unwrap().clone(),
            [(
                "example.com".to_string(),
                vec![
                    "example.com. NS".to_string(),
                    "www.example.com. A".to_string()
                ]
            )]
        );
        let zone = zone_json(&h.fake, "example");
        assert_eq!(
            zone["status"]["delivered"],
            json!({"zoneName": "example.org", "delivery": "update"})
        );
        assert_eq!(
            zone["status"]["managed"],
            json!(["example.org. NS", "www.example.org. A"])
        );
        assert!(is_ready(&zone));
        assert_eq!(
            record_json(&h.fake, "arecords", "www")["status"]["fqdn"],
            "www.example.org."
        );
        assert!(
            events(&h.fake)
                .iter()
                .any(|e| e["reason"] == "EarlierDeliveryRemoved"
                    && e["note"]
                        .as_str()
                        .is_some_and(|n| n.contains("example.com (update)"))),
            "{:#?}",
            events(&h.fake)
        );

        // Update to zonefile: the file is written, the RRsets removed.
        h.delivery.removals.lock().unwrap().clear();
        set(json!({"delivery": "zonefile"})).await;
        h.wait_until("the RRsets gone, the file written", |fake, d| {
            d.server().is_empty()
                && d.calls().contains(&"write example.org".to_string())
                && zone_json(fake, "example")["status"]["delivered"]["delivery"] == "zonefile"
                && no_leftovers(&zone_json(fake, "example"))
                && is_ready(&zone_json(fake, "example"))
        })
        .await;
        assert_eq!(
            h.delivery.removals.lock().unwrap().clone(),
            [(
                "example.org".to_string(),
                vec![
                    "example.org. NS".to_string(),
                    "www.example.org. A".to_string()
                ]
            )]
        );
        let zone = zone_json(&h.fake, "example");
        assert!(
            zone["status"]["managed"]
                .as_array()
                .is_none_or(Vec::is_empty),
            "{zone:#}"
        );
        assert!(zone["status"]["serial"].is_u64());

        // And back: the file and its stanza go, the RRsets come back.
        set(json!({"delivery": "update"})).await;
        h.wait_until("the RRsets back, the file removed", |fake, d| {
            server_keys(d) == ["example.org. NS", "www.example.org. A"]
                && d.calls().contains(&"remove-file example.org".to_string())
                && zone_json(fake, "example")["status"]["delivered"]["delivery"] == "update"
                && no_leftovers(&zone_json(fake, "example"))
        })
        .await;
        let calls = h.delivery.calls();
        let removed = calls
            .iter()
            .rposition(|c| c == "remove-file example.org")
            .unwrap();
        assert_eq!(calls[removed - 1], "zones []", "{calls:#?}");
        h.stop().await;
    });
}

/// A removal that fails is reported, retried, and does not hold up the
/// zone under its new name.
#[test]
fn an_earlier_delivery_that_cannot_be_removed_is_reported_and_retried() {
    tokio_test(async {
        let fake = seeded_with_www();
        let h = start(fake, &[]);
        h.wait_until("the zone Ready", |fake, _| {
            is_ready(&zone_json(fake, "example"))
        })
        .await;
        h.delivery.fail_remove.store(true, Ordering::SeqCst);
        let zones: Api<DNSZone> = h.api();
        zones
            .patch(
                "example",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"zoneName": "example.org"}})),
            )
            .await
            .unwrap();
        h.wait_until("Degraded: the earlier delivery remains", |fake, _| {
            condition(&zone_json(fake, "example"), "Degraded")
                .is_some_and(|c| c.1 == "EarlierDeliveryRemains")
        })
        .await;
        let zone = zone_json(&h.fake, "example");
        assert_eq!(
            condition(&zone, "Degraded").unwrap(),
            (
                "True".to_string(),
                "EarlierDeliveryRemains".to_string(),
                "what the earlier delivery as example.com (update) left is not removed yet: server 127.0.0.1:5353 refused the removal".to_string()
            )
        );
        // The zone is delivered under its new name all the same.
        assert_eq!(
            condition(&zone, "Ready").map(|c| c.0),
            Some("True".to_string())
        );
        assert!(h.delivery.server().contains_key("www.example.org. A"));
        assert!(h.delivery.server().contains_key("www.example.com. A"));
        assert_eq!(zone["status"]["leftovers"][0]["zoneName"], "example.com");
        assert_eq!(
            zone["status"]["leftovers"][0]["managed"],
            json!(["example.com. NS", "www.example.com. A"])
        );

        // The next round removes it.
        h.delivery.fail_remove.store(false, Ordering::SeqCst);
        h.touch_zone("example", "retry").await;
        h.wait_until("the earlier delivery removed", |fake, d| {
            no_leftovers(&zone_json(fake, "example"))
                && !d.server().contains_key("www.example.com. A")
                && condition(&zone_json(fake, "example"), "Degraded")
                    .is_some_and(|c| c.0 == "False")
        })
        .await;
        h.stop().await;
    });
}

/// Two update-mode zones of one name on one server would each undo the
/// other's apex NS set and removals, round after round: the older one
/// updates, the other waits, says why, and takes over as soon as the
/// older one is deleted.
#[test]
fn one_update_zone_per_zone_name_and_server() {
    tokio_test(async {
        let fake = fake_api();
        seed(&fake);
        let mut second = zone("second", "example.com", "update");
        // Newer than `example`, which the fake stamps with the time now.
        second["metadata"]["creationTimestamp"] = json!("2099-01-01T00:00:00Z");
        second["spec"]["nameServers"] = json!(["ns2.example.net"]);
        fake.insert(&second).unwrap();
        fake.insert(&a_record(
            "www",
            "www",
            "second",
            &["192.0.2.9"],
            "2026-01-01T00:00:00Z",
        ))
        .unwrap();
        let h = start(fake, &[]);
        h.wait_until("example delivered, second waiting", |fake, _| {
            is_ready(&zone_json(fake, "example"))
                && condition(&zone_json(fake, "second"), "Ready")
                    .is_some_and(|c| c.1 == "AlreadyClaimed")
        })
        .await;
        let (_, _, message) = condition(&zone_json(&h.fake, "second"), "Ready").unwrap();
        assert_eq!(
            message,
            "zone example.com on 127.0.0.1:5353 is already updated by DNSZone dns/example; this one waits until that one is deleted or points elsewhere"
        );
        assert_eq!(
            h.delivery.server().get("example.com. NS"),
            Some(&vec!["ns1.example.net.".to_string()])
        );
        assert!(!h.delivery.server().contains_key("www.example.com. A"));
        assert_eq!(
            condition(&record_json(&h.fake, "arecords", "www"), "Ready").map(|c| c.1),
            Some("ZoneNotDelivered".to_string())
        );

        // The older zone goes: the other one delivers at once, not at its
        // next requeue (five minutes away).
        let zones: Api<DNSZone> = h.api();
        zones
            .delete("example", &DeleteParams::default())
            .await
            .unwrap();
        h.wait_until("second delivered", |fake, d| {
            is_ready(&zone_json(fake, "second"))
                && d.server().get("www.example.com. A") == Some(&vec!["192.0.2.9".to_string()])
                && d.server().get("example.com. NS") == Some(&vec!["ns2.example.net.".to_string()])
        })
        .await;
        h.stop().await;
    });
}

/// A primary the zone no longer selects keeps nothing of it: its RRsets
/// are removed from that server alone.
#[test]
fn a_primary_left_by_the_selector_is_emptied_of_the_zone() {
    tokio_test(async {
        let fake = fake_api();
        seed(&fake);
        fake.insert(&json!({
            "apiVersion": "ddns.dev/v1alpha1", "kind": "Bind9Instance",
            "metadata": {"name": "primary2", "namespace": NS, "labels": {"role": "primary"}},
            "spec": {"address": "127.0.0.3", "port": 5353, "role": "primary",
                     "tsigKeySecretRef": {"name": "tsig", "key": "secret"},
                     "tsigKeyName": "ddns-key"}
        }))
        .unwrap();
        fake.insert(&a_record(
            "www",
            "www",
            "example",
            &["192.0.2.1"],
            "2026-01-01T00:00:00Z",
        ))
        .unwrap();
        let h = start(fake, &[]);
        h.wait_until("delivered to both primaries", |fake, _| {
            let zone = zone_json(fake, "example");
            is_ready(&zone)
                && zone["status"]["instances"]
                    .as_array()
                    .is_some_and(|i| i.len() == 3)
        })
        .await;
        let instances: Api<Bind9Instance> = h.api();
        instances
            .patch(
                "primary2",
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"labels": {"role": null, "retired": "yes"}}})),
            )
            .await
            .unwrap();
        h.wait_until("primary2 emptied and forgotten", |fake, d| {
            let zone = zone_json(fake, "example");
            d.calls().contains(&"remove primary2".to_string())
                && no_leftovers(&zone)
                && zone["status"]["instances"]
                    .as_array()
                    .is_some_and(|i| i.len() == 2)
        })
        .await;
        let calls = h.delivery.calls();
        assert!(!calls.contains(&"remove primary".to_string()), "{calls:#?}");
        assert_eq!(
            h.delivery.removals.lock().unwrap().clone(),
            [(
                "example.com".to_string(),
                vec![
                    "example.com. NS".to_string(),
                    "www.example.com. A".to_string()
                ]
            )]
        );
        let notes: Vec<Value> = events(&h.fake)
            .into_iter()
            .filter(|e| e["reason"] == "EarlierDeliveryRemoved")
            .map(|e| e["note"].clone())
            .collect();
        assert_eq!(
            notes,
            [json!(
                "removed what the zone's earlier delivery to Bind9Instance(s) primary2 of example.com left on the servers"
            )]
        );
        assert!(is_ready(&zone_json(&h.fake, "example")));
        h.stop().await;
    });
}
