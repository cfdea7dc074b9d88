//! End to end: the real controller against the in-process fake API server,
//! with the real delivery (`BindDeliverer`) into a real BIND9 started by
//! each test. Every step is checked on BIND itself (DNS queries, its UPDATE
//! and QUERY counters, the files it reads, the commands run to reload it)
//! and in the statuses the controller stored.
//!
//! Without BIND, or when not root, the tests are skipped with a message;
//! `DDNS_REQUIRE_SYSTEM_TESTS=1` makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::dns::{answer, blocking, referral};
use common::harness::{
    self, Harness, NS, WAIT, condition, events, fake_api, is_ready, record_json, tokio_test_within,
    zone_json,
};
use ddns_core::zone::{Date, next_serial, rendered_serial};
use ddns_kube_fake::FakeApi;
use ddns_operator::controller::BindDeliverer;
use ddns_operator::crd::{ARecord, CAARecord, DNSZone};
use ddns_testkit::{Bind, BindOptions};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

/// Bounds a whole test; each wait is bounded by [`WAIT`] on its own.
const LIMIT: Duration = Duration::from_secs(300);

fn object(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "ddns.dev/v1alpha1", "kind": kind,
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    })
}

/// Waits until the zone's reconciles stop: none finished for a second.
async fn quiet<D>(h: &Harness<D>) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let before = h.zone_reconciles();
        tokio::time::sleep(Duration::from_secs(1)).await;
        if h.zone_reconciles() == before {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the zone is reconciled again and again\n{}",
            h.report()
        );
    }
}

/// Waits until `check` holds, with named's log in the message otherwise.
async fn wait(
    h: &Harness<BindDeliverer>,
    bind: &Bind,
    what: &str,
    check: impl Fn(&FakeApi) -> bool,
) {
    if !h.poll(|fake, _| check(fake)).await {
        let log = bind.log();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "timed out waiting for {what}\n{}\nnamed's log (last lines first):\n{}",
            h.report(),
            tail.join("\n")
        );
    }
}

fn managed(fake: &FakeApi, zone: &str) -> BTreeSet<String> {
    zone_json(fake, zone)["status"]["managed"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn all_ready(fake: &FakeApi, zone: &str, records: &[(&str, &str)]) -> bool {
    is_ready(&zone_json(fake, zone))
        && records
            .iter()
            .all(|(plural, name)| is_ready(&record_json(fake, plural, name)))
}

/// The records of the update-mode zone, as `(plural, name)`.
const UPDATE_RECORDS: [(&str, &str); 9] = [
    ("arecords", "www"),
    ("aaaarecords", "www-v6"),
    ("txtrecords", "txt"),
    ("mxrecords", "mx"),
    ("srvrecords", "sip"),
    ("caarecords", "caa"),
    ("cnamerecords", "alias"),
    ("nsrecords", "sub"),
    ("arecords", "sub-glue"),
];

fn seed_update_zone(fake: &FakeApi, bind: &Bind, long_text: &str) {
    let key = bind.key("ddns-key");
    let insert = |value: Value| {
        fake.insert(&value).unwrap();
    };
    insert(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tsig", "namespace": NS},
        "data": {"secret": harness::base64(key.secret())}
    }));
    let mut instance = object(
        "Bind9Instance",
        "bind",
        json!({
            "address": bind.addr().ip().to_string(), "port": bind.addr().port(),
            "role": "primary",
            "tsigKeySecretRef": {"name": "tsig", "key": "secret"},
            "tsigKeyName": key.name(), "tsigAlgorithm": key.algorithm(),
        }),
    );
    instance["metadata"]["labels"] = json!({"ddns.dev/server": "test"});
    insert(instance);
    insert(object(
        "DNSZone",
        "example",
        json!({
            "zoneName": "example.test", "ttl": 300,
            "soa": {"primaryNs": "ns1.example.net", "adminEmail": "hostmaster@example.test"},
            // Outside the zone, and not the ns.example.test the server
            // starts with: the first delivery changes the apex NS set.
            "nameServers": ["ns1.example.net", "ns2.example.net"],
            "instanceSelector": {"matchLabels": {"ddns.dev/server": "test"}},
            "delivery": "update",
        }),
    ));
    let zone = |spec: Value| {
        let mut spec = spec;
        spec["zoneRef"] = json!("example");
        spec
    };
    insert(object(
        "ARecord",
        "www",
        zone(json!({"name": "www", "ttl": 60, "addresses": ["192.0.2.1", "192.0.2.2"]})),
    ));
    insert(object(
        "AAAARecord",
        "www-v6",
        zone(json!({"name": "www", "addresses": ["2001:db8::1"]})),
    ));
    insert(object(
        "TXTRecord",
        "txt",
        zone(json!({"name": "txt", "values": [long_text, "hello world"]})),
    ));
    insert(object(
        "MXRecord",
        "mx",
        zone(json!({"name": "@", "preference": 10, "exchange": "mail.example.net."})),
    ));
    insert(object(
        "SRVRecord",
        "sip",
        zone(
            json!({"name": "_sip._tcp", "priority": 10, "weight": 5, "port": 5060,
                    "target": "sip.example.net."}),
        ),
    ));
    insert(object(
        "CAARecord",
        "caa",
        zone(json!({"name": "@", "flags": 0, "tag": "issue", "value": "letsencrypt.org"})),
    ));
    insert(object(
        "CNAMERecord",
        "alias",
        zone(json!({"name": "alias", "target": "www.example.test."})),
    ));
    insert(object(
        "NSRecord",
        "sub",
        zone(json!({"name": "sub", "nameserver": "ns.sub.example.test."})),
    ));
    insert(object(
        "ARecord",
        "sub-glue",
        zone(json!({"name": "ns.sub", "addresses": ["192.0.2.53"]})),
    ));
}

#[test]
fn update_mode_creates_changes_deletes_survives_an_outage_and_cleans_up() {
    let Some(mut bind) = Bind::start("operator_bind_update", BindOptions::new()) else {
        return;
    };
    // Records ddns does not manage, one at a name it manages: they must
    // survive everything below.
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &[
            "update add foreign.example.test 60 A 192.0.2.200",
            "update add www.example.test 60 TXT \"not ours\"",
        ],
    )
    .unwrap();
    let long_text = format!("v={}", "x".repeat(298));
    assert_eq!(long_text.len(), 300);
    let fake = fake_api();
    seed_update_zone(&fake, &bind, &long_text);
    let config = harness::config(&[("DDNS_OPERATOR_DNS_TIMEOUT_SECS", "1")]);
    let delivery = Arc::new(BindDeliverer::new(&config));
    let server = bind.addr().to_string();

    tokio_test_within(LIMIT, async {
        let h = harness::start(fake, config, delivery);

        // Creation: every kind, in one UPDATE.
        wait(&h, &bind, "the zone and its records to be Ready", |fake| {
            all_ready(fake, "example", &UPDATE_RECORDS)
        })
        .await;
        quiet(&h).await;
        assert_eq!(
            blocking(|| bind.update_count()),
            2,
            "the foreign nsupdate and one UPDATE holding every change"
        );
        assert_eq!(
            answer(&bind, "www.example.test", "A"),
            ["192.0.2.1", "192.0.2.2"]
        );
        assert_eq!(answer(&bind, "www.example.test", "AAAA"), ["2001:db8::1"]);
        // Over 255 bytes: two character-strings in one TXT record.
        assert_eq!(
            answer(&bind, "txt.example.test", "TXT"),
            [
                "\"hello world\"".to_string(),
                format!("\"{}\" \"{}\"", &long_text[..255], &long_text[255..]),
            ]
        );
        assert_eq!(
            answer(&bind, "example.test", "MX"),
            ["10 mail.example.net."]
        );
        assert_eq!(
            answer(&bind, "_sip._tcp.example.test", "SRV"),
            ["10 5 5060 sip.example.net."]
        );
        assert_eq!(
            answer(&bind, "example.test", "CAA"),
            ["0 issue \"letsencrypt.org\""]
        );
        assert_eq!(
            answer(&bind, "alias.example.test", "CNAME"),
            ["www.example.test."]
        );
        assert_eq!(
            answer(&bind, "example.test", "NS"),
            ["ns1.example.net.", "ns2.example.net."]
        );
        assert_eq!(
            referral(&bind, "sub.example.test"),
            [
                "ns.sub.example.test. A 192.0.2.53",
                "sub.example.test. NS ns.sub.example.test.",
            ]
        );
        assert_eq!(
            answer(&bind, "www.example.test", "TXT"),
            ["\"not ours\""],
            "foreign data at a managed name is left alone"
        );

        let zone = zone_json(&h.fake, "example");
        let all_managed = [
            "_sip._tcp.example.test. SRV",
            "alias.example.test. CNAME",
            "example.test. CAA",
            "example.test. MX",
            "example.test. NS",
            "ns.sub.example.test. A",
            "sub.example.test. NS",
            "txt.example.test. TXT",
            "www.example.test. A",
            "www.example.test. AAAA",
        ];
        assert_eq!(
            managed(&h.fake, "example"),
            all_managed.iter().map(|s| s.to_string()).collect()
        );
        assert_eq!(zone["status"]["recordCount"], 13);
        assert_eq!(
            zone["status"]["instances"],
            json!([{"name": "bind", "result": "Delivered"}])
        );
        assert_eq!(
            condition(&zone, "Ready"),
            Some((
                "True".into(),
                "Delivered".into(),
                "delivered to 1 primary server(s)".into()
            ))
        );
        assert_eq!(
            condition(&zone, "Degraded").map(|c| (c.0, c.1)),
            Some(("False".into(), "Delivered".into()))
        );
        let www = record_json(&h.fake, "arecords", "www");
        assert_eq!(
            condition(&www, "Ready"),
            Some((
                "True".into(),
                "Delivered".into(),
                "in zone example.test".into()
            ))
        );
        assert_eq!(www["status"]["fqdn"], "www.example.test.");
        assert!(
            events(&h.fake)
                .iter()
                .any(|e| e["reason"] == "Delivered" && e["type"] == "Normal"),
            "a Delivered Event"
        );

        // A change: the new answer, with one more UPDATE.
        let updates = blocking(|| bind.update_count());
        let records: Api<ARecord> = h.api();
        let patch = json!({"spec": {"addresses": ["192.0.2.3"]}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        wait(&h, &bind, "the new address", |fake| {
            answer(&bind, "www.example.test", "A") == ["192.0.2.3"]
                && record_json(fake, "arecords", "www")["status"]["observedGeneration"] == 2
        })
        .await;
        quiet(&h).await;
        assert_eq!(blocking(|| bind.update_count()), updates + 1);
        assert_eq!(zone_json(&h.fake, "example")["status"]["recordCount"], 12);

        // Deleting a record: its answer and its object go.
        let caas: Api<CAARecord> = h.api();
        caas.delete("caa", &DeleteParams::default()).await.unwrap();
        wait(&h, &bind, "the CAA record gone", |fake| {
            record_json(fake, "caarecords", "caa").is_null()
                && answer(&bind, "example.test", "CAA").is_empty()
        })
        .await;
        wait(&h, &bind, "the CAA RRset no longer managed", |fake| {
            !managed(fake, "example").contains("example.test. CAA")
        })
        .await;
        quiet(&h).await;
        assert_eq!(blocking(|| bind.update_count()), updates + 2);

        // A reconcile with nothing to do: BIND is asked, nothing is sent,
        // no status is written.
        let updates = blocking(|| bind.update_count());
        let queries = blocking(|| bind.counter("opcodes", "QUERY"));
        let writes = h.status_writes();
        let reconciles = h.zone_reconciles();
        h.touch_zone("example", "1").await;
        wait(&h, &bind, "another reconcile", |_| {
            h.zone_reconciles() > reconciles
        })
        .await;
        quiet(&h).await;
        assert!(
            blocking(|| bind.counter("opcodes", "QUERY")) > queries,
            "the reconcile read the zone from BIND"
        );
        assert_eq!(blocking(|| bind.update_count()), updates, "no UPDATE");
        assert_eq!(h.status_writes(), writes, "no status write");

        // BIND goes away while a record changes: reported, naming the server.
        blocking(|| bind.stop());
        let patch = json!({"spec": {"addresses": ["192.0.2.4"]}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        wait(&h, &bind, "DeliveryFailed naming the server", |fake| {
            condition(&zone_json(fake, "example"), "Ready").is_some_and(
                |(status, reason, message)| {
                    status == "False" && reason == "DeliveryFailed" && message.contains(&server)
                },
            )
        })
        .await;
        let zone = zone_json(&h.fake, "example");
        assert_eq!(
            condition(&zone, "Degraded").map(|c| (c.0, c.1)),
            Some(("True".into(), "DeliveryFailed".into()))
        );
        assert_eq!(zone["status"]["instances"][0]["result"], "Failed");
        let message = zone["status"]["instances"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.starts_with(&format!("reading zone example.test from {server} failed")),
            "{message}"
        );
        assert_eq!(
            condition(&record_json(&h.fake, "arecords", "www"), "Ready"),
            Some((
                "False".into(),
                "ZoneNotDelivered".into(),
                "zone example.test is not delivered; see DNSZone example".into()
            ))
        );
        assert!(
            events(&h.fake)
                .iter()
                .any(|e| e["reason"] == "DeliveryFailed"
                    && e["type"] == "Warning"
                    && e["note"].as_str().is_some_and(|n| n.contains(&server))),
            "a DeliveryFailed Event naming the server"
        );
        // Nothing was given up: what is managed stays known.
        assert!(managed(&h.fake, "example").contains("www.example.test. A"));

        // BIND comes back: the next reconcile converges. The backoff after
        // a failure is at least 30 s, so a change to the zone brings the
        // reconcile forward.
        blocking(|| bind.start_again());
        h.touch_zone("example", "2").await;
        wait(&h, &bind, "the zone delivered again", |fake| {
            all_ready(fake, "example", &[("arecords", "www")])
                && answer(&bind, "www.example.test", "A") == ["192.0.2.4"]
        })
        .await;
        quiet(&h).await;
        assert_eq!(
            blocking(|| bind.update_count()),
            1,
            "one UPDATE since named restarted"
        );
        assert_eq!(
            zone_json(&h.fake, "example")["status"]["instances"],
            json!([{"name": "bind", "result": "Delivered"}])
        );

        // Deleting the zone removes what it manages, and only that.
        let updates = blocking(|| bind.update_count());
        let zones: Api<DNSZone> = h.api();
        zones
            .delete("example", &DeleteParams::default())
            .await
            .unwrap();
        wait(&h, &bind, "the zone gone", |fake| {
            zone_json(fake, "example").is_null()
        })
        .await;
        assert_eq!(blocking(|| bind.update_count()), updates + 1);
        for (name, rtype) in [
            ("www.example.test", "A"),
            ("www.example.test", "AAAA"),
            ("txt.example.test", "TXT"),
            ("example.test", "MX"),
            ("_sip._tcp.example.test", "SRV"),
            ("alias.example.test", "CNAME"),
            ("ns.sub.example.test", "A"),
        ] {
            assert_eq!(
                answer(&bind, name, rtype),
                Vec::<String>::new(),
                "{name} {rtype}"
            );
        }
        assert!(
            referral(&bind, "sub.example.test")
                .iter()
                .all(|line| !line.starts_with("sub.example.test. NS")),
            "the delegation is gone"
        );
        assert_eq!(answer(&bind, "foreign.example.test", "A"), ["192.0.2.200"]);
        assert_eq!(answer(&bind, "www.example.test", "TXT"), ["\"not ours\""]);
        assert_eq!(
            answer(&bind, "example.test", "TXT"),
            [format!("\"{}\"", bind.token())]
        );
        // A zone keeps an NS set: the last one delivered stays.
        assert_eq!(
            answer(&bind, "example.test", "NS"),
            ["ns1.example.net.", "ns2.example.net."]
        );
        wait(&h, &bind, "records reported without a zone", |fake| {
            condition(&record_json(fake, "arecords", "www"), "Ready")
                .is_some_and(|c| c.1 == "ZoneNotFound")
        })
        .await;
        h.stop().await;
    });
}

/// Renaming an update-mode zone on a real BIND: the records are updated
/// into the new zone and removed from the old one, where foreign data and
/// the apex NS set stay.
#[test]
fn update_mode_rename_moves_the_records_to_the_new_zone() {
    let Some(bind) = Bind::start(
        "operator_bind_rename",
        BindOptions::new().extra_zone("renamed.test"),
    ) else {
        return;
    };
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &["update add foreign.example.test 60 A 192.0.2.200"],
    )
    .unwrap();
    let fake = fake_api();
    seed_update_zone(&fake, &bind, "short");
    let config = harness::config(&[("DDNS_OPERATOR_DNS_TIMEOUT_SECS", "1")]);
    let delivery = Arc::new(BindDeliverer::new(&config));

    tokio_test_within(LIMIT, async {
        let h = harness::start(fake, config, delivery);
        wait(&h, &bind, "the zone and its records to be Ready", |fake| {
            all_ready(fake, "example", &UPDATE_RECORDS)
        })
        .await;
        assert_eq!(
            answer(&bind, "www.example.test", "A"),
            ["192.0.2.1", "192.0.2.2"]
        );

        // The CNAME's target and the delegation's name server are absolute
        // names in the old zone: point them at the new one.
        let aliases: Api<ddns_operator::crd::CNAMERecord> = h.api();
        aliases
            .patch(
                "alias",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"target": "www.renamed.test."}})),
            )
            .await
            .unwrap();
        let delegations: Api<ddns_operator::crd::NSRecord> = h.api();
        delegations
            .patch(
                "sub",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"nameserver": "ns.sub.renamed.test."}})),
            )
            .await
            .unwrap();
        let zones: Api<DNSZone> = h.api();
        zones
            .patch(
                "example",
                &PatchParams::default(),
                &Patch::Merge(&json!({"spec": {"zoneName": "renamed.test"}})),
            )
            .await
            .unwrap();
        wait(&h, &bind, "the records in the new zone only", |fake| {
            let zone = zone_json(fake, "example");
            zone["status"]["delivered"]["zoneName"] == "renamed.test"
                && zone["status"]["leftovers"]
                    .as_array()
                    .is_none_or(Vec::is_empty)
                && all_ready(fake, "example", &UPDATE_RECORDS)
        })
        .await;
        quiet(&h).await;
        assert_eq!(
            answer(&bind, "www.renamed.test", "A"),
            ["192.0.2.1", "192.0.2.2"]
        );
        assert_eq!(
            answer(&bind, "alias.renamed.test", "CNAME"),
            ["www.renamed.test."]
        );
        assert_eq!(
            answer(&bind, "renamed.test", "NS"),
            ["ns1.example.net.", "ns2.example.net."]
        );
        for (name, rtype) in [
            ("www.example.test", "A"),
            ("www.example.test", "AAAA"),
            ("txt.example.test", "TXT"),
            ("example.test", "MX"),
            ("example.test", "CAA"),
            ("alias.example.test", "CNAME"),
            ("_sip._tcp.example.test", "SRV"),
        ] {
            assert!(
                answer(&bind, name, rtype).is_empty(),
                "{name} {rtype} is still in the old zone"
            );
        }
        // The old zone keeps its apex NS set (a zone must have one) and
        // what ddns never managed.
        assert_eq!(
            answer(&bind, "example.test", "NS"),
            ["ns1.example.net.", "ns2.example.net."]
        );
        assert_eq!(answer(&bind, "foreign.example.test", "A"), ["192.0.2.200"]);
        assert_eq!(
            referral(&bind, "sub.renamed.test"),
            [
                "ns.sub.renamed.test. A 192.0.2.53",
                "sub.renamed.test. NS ns.sub.renamed.test.",
            ]
        );
        assert_eq!(
            record_json(&h.fake, "arecords", "www")["status"]["fqdn"],
            "www.renamed.test."
        );
        h.stop().await;
    });
}

/// A file's inode and modification time.
fn identity(path: &Path) -> (u64, i64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.mtime(), meta.mtime_nsec())
}

/// The serials the date rule allows after `previous` today (two dates
/// when the test ran across midnight UTC).
fn allowed_serials(previous: Option<u32>, dates: [Date; 2]) -> Vec<u32> {
    dates.iter().map(|d| next_serial(previous, *d)).collect()
}

fn today() -> Date {
    Date::of(SystemTime::now())
}

fn zone_serial(fake: &FakeApi) -> u32 {
    let serial = &zone_json(fake, "files")["status"]["serial"];
    serial
        .as_u64()
        .and_then(|s| u32::try_from(s).ok())
        .unwrap_or_else(|| panic!("no serial in the status: {serial}"))
}

#[test]
fn zonefile_mode_creates_changes_leaves_alone_and_removes_the_file() {
    let Some(bind) = Bind::start("operator_bind_zonefile", BindOptions::new().rndc(true)) else {
        return;
    };
    let dir = bind.zones_dir().unwrap();
    // rndc through a script that notes each command, so that the test sees
    // which ran.
    let log = bind.dir().join("rndc-commands.log");
    let script = bind.dir().join("rndc-logged");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> {log}\nexec {rndc} \"$@\"\n",
            log = log.display(),
            rndc = bind.rndc_command(&[]).unwrap().join(" ")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let commands = || std::fs::read_to_string(&log).unwrap_or_default();
    let reload = format!("{} reload {{zone}}", script.display());
    let reconfig = format!("{} reconfig", script.display());
    let config = harness::config(&[
        ("DDNS_OPERATOR_ZONE_DIR", dir.to_str().unwrap()),
        ("DDNS_OPERATOR_RELOAD_COMMAND", &reload),
        ("DDNS_OPERATOR_RECONFIG_COMMAND", &reconfig),
    ]);
    let delivery = Arc::new(BindDeliverer::new(&config));
    let file = dir.join("zf.test.zone");
    let include = dir.join("zones.conf");
    let stanza = format!(
        "zone \"zf.test\" {{ type primary; file \"{}\"; }};",
        file.display()
    );

    let fake = fake_api();
    fake.insert(&object(
        "DNSZone",
        "files",
        json!({
            "zoneName": "zf.test", "ttl": 300,
            "soa": {"primaryNs": "ns1.zf.test", "adminEmail": "dns.admin@zf.test"},
            "nameServers": ["ns1.zf.test"],
            "delivery": "zonefile",
        }),
    ))
    .unwrap();
    for (name, owner, address) in [("ns1", "ns1", "192.0.2.53"), ("www", "www", "192.0.2.1")] {
        fake.insert(&object(
            "ARecord",
            name,
            json!({"zoneRef": "files", "name": owner, "addresses": [address]}),
        ))
        .unwrap();
    }

    tokio_test_within(LIMIT, async {
        let before = today();
        let h = harness::start(fake, config, delivery);

        // Creation: the file, the include file, one reconfig, answers.
        wait(&h, &bind, "the zone Ready", |fake| {
            all_ready(fake, "files", &[("arecords", "ns1"), ("arecords", "www")])
        })
        .await;
        quiet(&h).await;
        let first = zone_serial(&h.fake);
        assert!(
            allowed_serials(None, [before, today()]).contains(&first),
            "{first} is not YYYYMMDD00 of today"
        );
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(rendered_serial(&text), Some(first));
        assert!(
            std::fs::read_to_string(&include)
                .unwrap()
                .lines()
                .any(|l| l == stanza),
            "the include file lists the zone"
        );
        assert_eq!(
            commands(),
            "reconfig\n",
            "a new zone is loaded by a reconfig"
        );
        wait(&h, &bind, "BIND to serve the zone", |_| {
            answer(&bind, "www.zf.test", "A") == ["192.0.2.1"]
        })
        .await;
        assert_eq!(
            answer(&bind, "zf.test", "SOA"),
            [format!(
                "ns1.zf.test. dns\\.admin.zf.test. {first} 3600 600 1209600 300"
            )]
        );
        assert_eq!(answer(&bind, "ns1.zf.test", "A"), ["192.0.2.53"]);
        assert_eq!(
            condition(&zone_json(&h.fake, "files"), "Ready"),
            Some((
                "True".into(),
                "Delivered".into(),
                format!("zone file in place with serial {first}")
            ))
        );

        // A change: a new file with the next serial, a reload.
        let file_before = identity(&file);
        let before = today();
        let records: Api<ARecord> = h.api();
        let patch = json!({"spec": {"addresses": ["192.0.2.2"]}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        wait(&h, &bind, "the new address served", |_| {
            answer(&bind, "www.zf.test", "A") == ["192.0.2.2"]
        })
        .await;
        quiet(&h).await;
        let second = zone_serial(&h.fake);
        assert!(
            allowed_serials(Some(first), [before, today()]).contains(&second),
            "{second} does not follow {first} by the date rule"
        );
        assert_ne!(identity(&file).0, file_before.0, "replaced by a rename");
        assert_eq!(
            rendered_serial(&std::fs::read_to_string(&file).unwrap()),
            Some(second)
        );
        assert_eq!(commands(), "reconfig\nreload zf.test\n");
        let soa = answer(&bind, "zf.test", "SOA");
        assert!(
            soa.first()
                .is_some_and(|s| s.split(' ').nth(2) == Some(&second.to_string())),
            "{soa:?}"
        );

        // A reconcile with nothing to do writes nothing and reloads nothing.
        let file_before = identity(&file);
        let include_before = identity(&include);
        let writes = h.status_writes();
        let reconciles = h.zone_reconciles();
        h.touch_zone("files", "1").await;
        wait(&h, &bind, "another reconcile", |_| {
            h.zone_reconciles() > reconciles
        })
        .await;
        quiet(&h).await;
        assert_eq!(identity(&file), file_before, "same inode and mtime");
        assert_eq!(identity(&include), include_before);
        assert_eq!(commands(), "reconfig\nreload zf.test\n", "no command ran");
        assert_eq!(h.status_writes(), writes, "no status write");
        assert_eq!(zone_serial(&h.fake), second);

        // A new name: the zone is served under it from a new file, and the
        // old file and stanza are gone.
        let zones: Api<DNSZone> = h.api();
        let before = today();
        let rename = json!({"spec": {
            "zoneName": "zf2.test",
            "soa": {"primaryNs": "ns1.zf2.test", "adminEmail": "dns.admin@zf2.test"},
            "nameServers": ["ns1.zf2.test"],
        }});
        zones
            .patch("files", &PatchParams::default(), &Patch::Merge(&rename))
            .await
            .unwrap();
        wait(&h, &bind, "the zone served under its new name", |fake| {
            answer(&bind, "www.zf2.test", "A") == ["192.0.2.2"]
                && zone_json(fake, "files")["status"]["delivered"]["zoneName"] == "zf2.test"
        })
        .await;
        quiet(&h).await;
        let renamed = dir.join("zf2.test.zone");
        assert!(!file.exists(), "{} is still there", file.display());
        let third = zone_serial(&h.fake);
        assert!(
            allowed_serials(None, [before, today()]).contains(&third),
            "{third}: a new zone's serial starts from the date rule"
        );
        assert_eq!(
            rendered_serial(&std::fs::read_to_string(&renamed).unwrap()),
            Some(third)
        );
        assert_eq!(
            std::fs::read_to_string(&include)
                .unwrap()
                .lines()
                .filter(|l| l.starts_with("zone "))
                .collect::<Vec<_>>(),
            [format!(
                "zone \"zf2.test\" {{ type primary; file \"{}\"; }};",
                renamed.display()
            )]
        );
        // Two reconfigs: one loads the new zone (the old one still
        // served), the next drops the old one.
        assert_eq!(commands(), "reconfig\nreload zf.test\nreconfig\nreconfig\n");
        assert!(answer(&bind, "www.zf.test", "A").is_empty());
        assert!(answer(&bind, "zf.test", "SOA").is_empty());
        assert!(
            events(&h.fake)
                .iter()
                .any(|e| e["reason"] == "EarlierDeliveryRemoved"),
            "{:#?}",
            events(&h.fake)
        );
        let zone = zone_json(&h.fake, "files");
        assert!(is_ready(&zone), "{zone:#}");
        assert!(
            zone["status"]["leftovers"]
                .as_array()
                .is_none_or(Vec::is_empty)
        );

        // Deleting the zone: out of the include file, reconfigured, file
        // gone, no longer served.
        zones
            .delete("files", &DeleteParams::default())
            .await
            .unwrap();
        wait(&h, &bind, "the zone gone", |fake| {
            zone_json(fake, "files").is_null()
        })
        .await;
        assert!(!renamed.exists(), "{} is still there", renamed.display());
        assert!(
            !std::fs::read_to_string(&include)
                .unwrap()
                .contains("zf2.test"),
            "the include file no longer lists the zone"
        );
        assert_eq!(
            commands(),
            "reconfig\nreload zf.test\nreconfig\nreconfig\nreconfig\n"
        );
        wait(&h, &bind, "BIND to stop serving the zone", |_| {
            answer(&bind, "www.zf2.test", "A").is_empty()
                && answer(&bind, "zf2.test", "SOA").is_empty()
        })
        .await;
        wait(&h, &bind, "records reported without a zone", |fake| {
            condition(&record_json(fake, "arecords", "www"), "Ready")
                .is_some_and(|c| c.1 == "ZoneNotFound")
        })
        .await;
        h.stop().await;
    });
}
