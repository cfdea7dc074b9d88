//! update delivery against a real BIND9 started by each test: answers are
//! checked with DNS queries, UPDATE messages with named's own counter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod delivery_support;

use std::collections::BTreeSet;
use std::time::Duration;

use ddns_core::Secret;
use ddns_core::zone::{RecordData, ZoneName};
use ddns_dns::hickory_proto::rr::{Name, RData, RecordType};
use ddns_dns::{Client, Transport, TsigAlgorithm, TsigKey};
use ddns_operator::delivery::{DeliveryError, ManagedRrset, UpdateTarget, update};
use ddns_testkit::{Bind, BindOptions};
use delivery_support::{a, aaaa, assembly, claim, host, managed, runtime, spec, strings, txt};

/// The test zone's name servers: outside the zone, so no address record
/// is needed for them, and different from the `ns.example.test.` the
/// server starts with, so the first delivery changes the apex NS set.
const NS: [&str; 2] = ["ns1.example.net", "ns2.example.net"];

fn key(bind: &Bind) -> TsigKey {
    let text = std::fs::read_to_string(bind.key("ddns-key").file()).unwrap();
    TsigKey::from_key_file(&text).unwrap()
}

fn target(bind: &Bind) -> UpdateTarget {
    let mut target = UpdateTarget::new(bind.addr(), key(bind));
    target.query_timeout = Duration::from_secs(1);
    target.update_timeout = Duration::from_secs(5);
    target
}

/// What the server holds, read with the zone-data query (which also sees
/// delegations and glue), as `(TTL, values)`.
fn served(bind: &Bind, name: &str, record_type: RecordType) -> (Option<u32>, Vec<RData>) {
    let client = Client::new(
        bind.addr(),
        Some(key(bind)),
        Transport::Udp,
        Duration::from_secs(2),
    );
    let name = Name::from_ascii(name).unwrap();
    let answer = runtime()
        .block_on(client.query_zone_data(&name, record_type))
        .unwrap();
    (answer.ttl, answer.values)
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

#[test]
fn creates_changes_and_deletes_only_managed_rrsets_and_sends_nothing_when_up_to_date() {
    let Some(bind) = Bind::start("update_creates_changes_deletes", BindOptions::new()) else {
        return;
    };
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &["update add foreign.example.test 60 A 192.0.2.200"],
    )
    .unwrap();
    let target = target(&bind);
    let rt = runtime();
    let zone = spec("example.test", 300, &NS);
    let long_text = format!("{}ünïcødé \"and\" quotes", "v".repeat(300));
    let mut claims = vec![
        claim(&zone, "www", Some(60), vec![a("192.0.2.1"), a("192.0.2.2")]),
        claim(&zone, "www", None, vec![aaaa("2001:db8::1")]),
        claim(
            &zone,
            "@",
            None,
            vec![RecordData::Mx {
                preference: 10,
                exchange: host("mx.example.net"),
            }],
        ),
        claim(
            &zone,
            "_sip._tcp",
            None,
            vec![RecordData::Srv {
                priority: 1,
                weight: 2,
                port: 5060,
                target: host("sip.example.net"),
            }],
        ),
        claim(&zone, "@", None, vec![txt(&long_text)]),
        claim(
            &zone,
            "@",
            None,
            vec![RecordData::Caa {
                flags: 0,
                tag: "issue".into(),
                value: "letsencrypt.org".into(),
            }],
        ),
        claim(
            &zone,
            "@",
            None,
            vec![RecordData::Caa {
                flags: 128,
                tag: "tbs".into(),
                value: "Unknown; x=1".into(),
            }],
        ),
        claim(
            &zone,
            "alias",
            None,
            vec![RecordData::Cname(host("www.example.test"))],
        ),
        claim(
            &zone,
            "sub",
            None,
            vec![RecordData::Ns(host("ns.sub.example.test"))],
        ),
        claim(&zone, "ns.sub", None, vec![a("192.0.2.53")]),
        claim(&zone, "*.wild", None, vec![a("192.0.2.77")]),
    ];

    // Creation.
    let first = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &claims),
            &BTreeSet::new(),
        ))
        .unwrap();
    let expected_managed = [
        "*.wild.example.test. A",
        "_sip._tcp.example.test. SRV",
        "alias.example.test. CNAME",
        // By name, then by type in the zone file's order.
        "example.test. NS",
        "example.test. MX",
        "example.test. TXT",
        "example.test. CAA",
        "ns.sub.example.test. A",
        "sub.example.test. NS",
        "www.example.test. A",
        "www.example.test. AAAA",
    ];
    assert_eq!(strings(&first.managed), expected_managed);
    assert_eq!(
        first.replaced.len(),
        expected_managed.len(),
        "{:?}",
        first.replaced
    );
    assert!(first.deleted.is_empty());
    assert_eq!(first.updates_sent, 1, "every change in one message");
    assert_eq!(first.queries_sent, 1 + expected_managed.len());
    assert_eq!(bind.update_count(), 2, "the foreign nsupdate and ours");

    assert_eq!(
        bind.query("www.example.test", "A"),
        ["192.0.2.1", "192.0.2.2"]
    );
    assert_eq!(bind.query("www.example.test", "AAAA"), ["2001:db8::1"]);
    assert_eq!(bind.query("example.test", "MX"), ["10 mx.example.net."]);
    assert_eq!(
        bind.query("_sip._tcp.example.test", "SRV"),
        ["1 2 5060 sip.example.net."]
    );
    assert_eq!(
        bind.query("example.test", "CAA"),
        ["0 issue \"letsencrypt.org\"", "128 tbs \"Unknown; x=1\""]
    );
    assert_eq!(
        bind.query("example.test", "NS"),
        ["ns1.example.net.", "ns2.example.net."]
    );
    assert_eq!(
        bind.query("alias.example.test", "CNAME"),
        ["www.example.test."]
    );
    assert_eq!(
        bind.query("anything.wild.example.test", "A"),
        ["192.0.2.77"]
    );
    let (ttl, values) = served(&bind, "www.example.test.", RecordType::A);
    assert_eq!(ttl, Some(60));
    assert_eq!(values.len(), 2);
    let (_, values) = served(&bind, "example.test.", RecordType::TXT);
    let texts: Vec<Vec<u8>> = values
        .iter()
        .filter_map(|v| match v {
            RData::TXT(t) => Some(t.txt_data.iter().flat_map(|s| s.to_vec()).collect()),
            _ => None,
        })
        .collect();
    assert_eq!(
        texts,
        [long_text.as_bytes().to_vec()],
        "the long UTF-8 value comes back whole; the apex TXT set is managed, so \
         the token the server started with there is replaced"
    );
    // The delegation and its glue, which the server answers as a referral.
    let (_, delegation) = served(&bind, "sub.example.test.", RecordType::NS);
    assert_eq!(delegation.len(), 1, "{delegation:?}");
    let (_, glue) = served(&bind, "ns.sub.example.test.", RecordType::A);
    assert_eq!(glue.len(), 1, "{glue:?}");

    // A requeue with nothing to do sends no UPDATE.
    let again = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &claims),
            &first.managed,
        ))
        .unwrap();
    assert!(again.is_unchanged(), "{again:?}");
    assert_eq!(again.updates_sent, 0);
    assert_eq!(again.managed, first.managed);
    assert_eq!(bind.update_count(), 2, "no UPDATE for an up-to-date zone");

    // Change: new addresses for www, a new TTL for the apex TXT set.
    claims[0] = claim(&zone, "www", Some(60), vec![a("192.0.2.3")]);
    claims[4] = claim(&zone, "@", Some(120), vec![txt(&long_text)]);
    let changed = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &claims),
            &again.managed,
        ))
        .unwrap();
    assert_eq!(
        sorted(changed.replaced.iter().map(ToString::to_string).collect()),
        ["example.test. TXT", "www.example.test. A"]
    );
    assert_eq!(changed.updates_sent, 1);
    assert_eq!(bind.update_count(), 3);
    assert_eq!(bind.query("www.example.test", "A"), ["192.0.2.3"]);
    assert_eq!(served(&bind, "example.test.", RecordType::TXT).0, Some(120));

    // Deletion: the CNAME and the CAA records are no longer claimed.
    claims.retain(|c| {
        !matches!(
            c.values.first(),
            Some(RecordData::Cname(_) | RecordData::Caa { .. })
        )
    });
    let deleted = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &claims),
            &changed.managed,
        ))
        .unwrap();
    assert_eq!(
        strings(&deleted.deleted.iter().cloned().collect()),
        ["alias.example.test. CNAME", "example.test. CAA"]
    );
    assert!(deleted.replaced.is_empty(), "{:?}", deleted.replaced);
    assert_eq!(deleted.updates_sent, 1);
    assert!(bind.query("alias.example.test", "CNAME").is_empty());
    assert!(bind.query("example.test", "CAA").is_empty());
    assert_eq!(deleted.managed.len(), expected_managed.len() - 2);

    // Nothing unmanaged was touched.
    assert_eq!(bind.query("foreign.example.test", "A"), ["192.0.2.200"]);
    assert_eq!(
        bind.query("ns.example.test", "A"),
        [bind.addr().ip().to_string()]
    );

    // Removing the zone removes exactly the managed RRsets but the apex NS.
    let removed = rt
        .block_on(update::remove(&target, &zone.name, &deleted.managed))
        .unwrap();
    assert_eq!(
        strings(&removed.kept.iter().cloned().collect()),
        ["example.test. NS"]
    );
    assert_eq!(removed.deleted.len(), deleted.managed.len() - 1);
    assert_eq!(removed.updates_sent, 1);
    for (name, kind) in [
        ("www.example.test", "A"),
        ("www.example.test", "AAAA"),
        ("example.test", "MX"),
        ("_sip._tcp.example.test", "SRV"),
        ("anything.wild.example.test", "A"),
    ] {
        assert!(bind.query(name, kind).is_empty(), "{name} {kind} removed");
    }
    assert!(
        served(&bind, "sub.example.test.", RecordType::NS)
            .1
            .is_empty()
    );
    assert_eq!(
        bind.query("example.test", "NS"),
        ["ns1.example.net.", "ns2.example.net."],
        "the zone keeps its NS records"
    );
    assert!(bind.query("example.test", "TXT").is_empty());
    assert_eq!(bind.query("foreign.example.test", "A"), ["192.0.2.200"]);
    assert!(bind.query("example.test", "SOA")[0].starts_with("ns.example.test."));
    let updates = bind.update_count();
    let nothing = rt
        .block_on(update::remove(&target, &zone.name, &BTreeSet::new()))
        .unwrap();
    assert_eq!(nothing.updates_sent, 0);
    assert_eq!(bind.update_count(), updates);
}

#[test]
fn previously_managed_rrsets_no_longer_desired_are_deleted_and_strays_ignored() {
    let Some(bind) = Bind::start("update_previously_managed", BindOptions::new()) else {
        return;
    };
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &[
            "update add gone.example.test 60 A 192.0.2.9",
            "update add foreign.example.test 60 A 192.0.2.200",
        ],
    )
    .unwrap();
    let zone = spec("example.test", 300, &NS);
    let claims = [claim(&zone, "www", None, vec![a("192.0.2.1")])];
    let previously = managed(&[
        "example.test. NS",
        "gone.example.test. A",
        "x.example.org. A",
    ]);
    let report = runtime()
        .block_on(update::deliver(
            &target(&bind),
            &assembly(&zone, &claims),
            &previously,
        ))
        .unwrap();
    assert_eq!(
        strings(&report.deleted.iter().cloned().collect()),
        ["gone.example.test. A"]
    );
    assert_eq!(
        strings(&report.ignored.iter().cloned().collect()),
        ["x.example.org. A"]
    );
    assert_eq!(
        strings(&report.managed),
        ["example.test. NS", "www.example.test. A"]
    );
    assert_eq!(report.updates_sent, 1);
    assert!(bind.query("gone.example.test", "A").is_empty());
    assert_eq!(bind.query("www.example.test", "A"), ["192.0.2.1"]);
    assert_eq!(bind.query("foreign.example.test", "A"), ["192.0.2.200"]);
}

#[test]
fn a_server_that_is_down_is_a_transient_error_and_the_next_delivery_converges() {
    let Some(mut bind) = Bind::start("update_server_down", BindOptions::new()) else {
        return;
    };
    let target = target(&bind);
    let zone = spec("example.test", 300, &NS);
    let zone_assembly = assembly(&zone, &[claim(&zone, "www", None, vec![a("192.0.2.1")])]);
    bind.stop();
    let error = runtime()
        .block_on(update::deliver(&target, &zone_assembly, &BTreeSet::new()))
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.reason(), "ServerUnreachable");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "reading zone example.test from {} failed: ",
            bind.addr()
        )),
        "{message}"
    );

    bind.start_again();
    let report = runtime()
        .block_on(update::deliver(&target, &zone_assembly, &BTreeSet::new()))
        .unwrap();
    assert_eq!(report.replaced.len(), 2, "{report:?}");
    assert_eq!(bind.query("www.example.test", "A"), ["192.0.2.1"]);
    let again = runtime()
        .block_on(update::deliver(&target, &zone_assembly, &report.managed))
        .unwrap();
    assert!(again.is_unchanged());
}

#[test]
fn refusals_and_a_wrong_key_are_permanent_with_a_hint() {
    let Some(bind) = Bind::start("update_refusals", BindOptions::new().other_zone(true)) else {
        return;
    };
    let rt = runtime();
    let target = target(&bind);

    // A zone the server serves but the key may not update.
    let other = spec("other.test", 300, &NS);
    let error = rt
        .block_on(update::deliver(
            &target,
            &assembly(&other, &[claim(&other, "www", None, vec![a("192.0.2.1")])]),
            &BTreeSet::new(),
        ))
        .unwrap_err();
    assert!(error.is_permanent(), "{error}");
    assert_eq!(error.reason(), "UpdateFailed");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "UPDATE of zone other.test on {} failed (message 1 of 1, 2 RRset changes): ",
            bind.addr()
        )),
        "{message}"
    );
    assert!(message.contains("REFUSED"), "{message}");
    assert!(
        message.contains(
            "named.conf on SERVER needs: zone \"other.test\" { type primary; file \"...\"; update-policy { grant \"ddns-key\" zonesub ANY; }; };"
                .replace("SERVER", &bind.addr().to_string())
                .as_str()
        ),
        "{message}"
    );

    // A zone the server does not serve at all.
    let missing = spec("missing.test", 300, &NS);
    let error = rt
        .block_on(update::deliver(
            &target,
            &assembly(&missing, &[]),
            &BTreeSet::new(),
        ))
        .unwrap_err();
    assert!(
        matches!(error, DeliveryError::ZoneNotServed { .. }),
        "{error}"
    );
    assert!(error.is_permanent());
    assert_eq!(
        error.to_string(),
        format!(
            "{} does not serve zone missing.test as an authoritative server; named.conf there needs the zone as a primary that key ddns-key may update (and an allow-query that admits this client): zone \"missing.test\" {{ type primary; file \"...\"; update-policy {{ grant \"ddns-key\" zonesub ANY; }}; }};",
            bind.addr()
        )
    );

    // A key whose secret the server does not know.
    let wrong = TsigKey::new(
        "ddns-key",
        TsigAlgorithm::HmacSha256,
        &Secret::new("d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE="),
    )
    .unwrap();
    let zone = spec("example.test", 300, &NS);
    let updates = bind.update_count();
    let error = rt
        .block_on(update::deliver(
            &UpdateTarget::new(bind.addr(), wrong),
            &assembly(&zone, &[]),
            &BTreeSet::new(),
        ))
        .unwrap_err();
    assert!(error.is_credentials(), "{error}");
    assert!(error.is_permanent());
    assert_eq!(error.reason(), "TsigKeyRejected");
    let message = error.to_string();
    assert!(message.contains("BADSIG"), "{message}");
    assert!(
        message.contains("tsigKeyName, tsigAlgorithm and Secret must match named.conf's key \"ddns-key\" { algorithm hmac-sha256;"),
        "{message}"
    );
    assert_eq!(bind.update_count(), updates, "nothing sent after the check");
}

#[test]
fn a_new_ttl_of_the_apex_ns_set_converges() {
    let Some(bind) = Bind::start("update_apex_ns_ttl", BindOptions::new()) else {
        return;
    };
    let rt = runtime();
    let target = target(&bind);
    for ttl in [300, 900] {
        let zone = spec("example.test", ttl, &NS);
        let report = rt
            .block_on(update::deliver(
                &target,
                &assembly(&zone, &[]),
                &BTreeSet::new(),
            ))
            .unwrap();
        assert_eq!(
            strings(&report.replaced.iter().cloned().collect()),
            ["example.test. NS"]
        );
        let (served_ttl, values) = served(&bind, "example.test.", RecordType::NS);
        assert_eq!((served_ttl, values.len()), (Some(ttl), 2));
        let again = rt
            .block_on(update::deliver(
                &target,
                &assembly(&zone, &[]),
                &report.managed,
            ))
            .unwrap();
        assert!(again.is_unchanged(), "TTL {ttl}: {again:?}");
    }
}

#[test]
fn a_thousand_records_go_in_three_messages_and_a_requeue_sends_none() {
    let Some(bind) = Bind::start("update_thousand", BindOptions::new()) else {
        return;
    };
    let rt = runtime();
    let target = target(&bind);
    let zone = spec("example.test", 300, &NS);
    let mut claims: Vec<_> = (0..1000)
        .map(|i| {
            claim(
                &zone,
                &format!("h{i}"),
                Some(60),
                vec![a(&format!("198.51.{}.{}", i / 250, i % 250 + 1))],
            )
        })
        .collect();
    let report = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &claims),
            &BTreeSet::new(),
        ))
        .unwrap();
    assert_eq!(
        report.replaced.len(),
        1001,
        "1,000 A sets and the apex NS set"
    );
    assert_eq!(report.updates_sent, 3, "500 changes per message");
    assert_eq!(report.queries_sent, 1002);
    assert_eq!(bind.update_count(), 3);
    assert_eq!(bind.query("h999.example.test", "A"), ["198.51.3.250"]);

    let again = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &claims),
            &report.managed,
        ))
        .unwrap();
    assert!(again.is_unchanged());
    assert_eq!(bind.update_count(), 3);

    claims[500] = claim(&zone, "h500", Some(60), vec![a("203.0.113.5")]);
    let one = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &claims),
            &again.managed,
        ))
        .unwrap();
    assert_eq!(
        strings(&one.replaced.iter().cloned().collect()),
        ["h500.example.test. A"]
    );
    assert_eq!(one.updates_sent, 1);
    assert_eq!(bind.update_count(), 4);
    assert_eq!(bind.query("h500.example.test", "A"), ["203.0.113.5"]);
}

#[test]
fn managed_strings_from_a_status_round_trip() {
    let zone = ZoneName::parse("example.test").unwrap();
    let set: BTreeSet<ManagedRrset> = managed(&["www.example.test. A", "example.test. NS"]);
    assert!(set.iter().all(|r| r.is_in(&zone)));
    let again: BTreeSet<ManagedRrset> = strings(&set).iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(again, set);
}

/// Regression: a name added with the values a managed wildcard already
/// answers for it looked up to date and was never written; deleting the
/// wildcard then left the name without an answer.
#[test]
fn a_name_that_only_a_managed_wildcard_answered_for_survives_the_wildcard() {
    let Some(bind) = Bind::start("update_wildcard_cover", BindOptions::new()) else {
        return;
    };
    let rt = runtime();
    let target = target(&bind);
    let zone = spec("example.test", 300, &NS);
    let wildcard = claim(&zone, "*.dev", None, vec![a("192.0.2.7")]);
    let named = claim(&zone, "x.dev", None, vec![a("192.0.2.7")]);

    let first = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, std::slice::from_ref(&wildcard)),
            &BTreeSet::new(),
        ))
        .unwrap();
    // x.dev is answered by the wildcard with the same value: nothing to send.
    let second = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &[wildcard.clone(), named.clone()]),
            &first.managed,
        ))
        .unwrap();
    assert!(second.is_unchanged(), "{second:?}");
    assert_eq!(bind.query("x.dev.example.test", "A"), ["192.0.2.7"]);

    // The wildcard goes: x.dev is written as well, and still answers.
    let third = rt
        .block_on(update::deliver(
            &target,
            &assembly(&zone, &[named]),
            &second.managed,
        ))
        .unwrap();
    assert_eq!(
        strings(&third.deleted.iter().cloned().collect()),
        ["*.dev.example.test. A"]
    );
    assert_eq!(
        strings(&third.replaced.iter().cloned().collect()),
        ["x.dev.example.test. A"]
    );
    assert_eq!(bind.query("x.dev.example.test", "A"), ["192.0.2.7"]);
    assert!(bind.query("y.dev.example.test", "A").is_empty());
}
