//! Unit tests of the pure parts: managed-set strings, record conversion,
//! planning and batching.

use std::collections::{BTreeMap, BTreeSet};

use ddns_core::zone::{
    Assembly, Claim, HostName, Mailbox, Owner, RecordData, RecordType, Soa, ZoneName, ZoneSpec,
    assemble,
};
use ddns_dns::RrsetChange;
use ddns_dns::hickory_proto::rr::RData;
use ddns_dns::hickory_proto::rr::rdata::{A, NS};
use ddns_dns::hickory_proto::serialize::binary::{BinDecoder, BinEncodable, Restrict};

use super::managed::{ManagedRrset, managed_after_failure, managed_set};
use super::plan::{self, Action, Observed, PlannedChange};
use super::rdata::{self, DesiredRrset};

fn zone_name() -> ZoneName {
    ZoneName::parse("example.com").unwrap_or_else(|e| panic!("{e}"))
}

fn host(name: &str) -> HostName {
    HostName::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn claim(owner: &str, ttl: Option<u32>, values: Vec<RecordData>) -> Claim {
    Claim {
        source: format!("Test/{owner}"),
        owner: Owner::parse(owner, &zone_name()).unwrap_or_else(|e| panic!("{e}")),
        ttl,
        values,
    }
}

fn a(last: u8) -> RecordData {
    RecordData::A([192, 0, 2, last].into())
}

fn assembly(claims: &[Claim]) -> Assembly {
    let spec = ZoneSpec {
        name: zone_name(),
        ttl: 3600,
        soa: Soa {
            primary_ns: host("ns1.example.net"),
            mailbox: Mailbox::parse("hostmaster@example.com").unwrap_or_else(|e| panic!("{e}")),
            refresh: 3600,
            retry: 600,
            expire: 604_800,
            negative_ttl: 300,
        },
        name_servers: vec![host("ns1.example.net"), host("ns2.example.net")],
    };
    assemble(&spec, claims)
}

fn rrset(text: &str) -> ManagedRrset {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn desired(assembly: &Assembly) -> Vec<DesiredRrset> {
    rdata::desired(assembly).unwrap_or_else(|e| panic!("{e}"))
}

/// What a server that holds exactly `sets` answers.
fn holding(sets: &[DesiredRrset]) -> BTreeMap<ManagedRrset, Observed> {
    sets.iter()
        .map(|s| {
            (
                s.key.clone(),
                Observed {
                    values: s.values.clone(),
                    ttl: Some(s.ttl),
                },
            )
        })
        .collect()
}

fn summary(changes: &[PlannedChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let verb = match (&c.action, &c.change) {
                (Action::Delete, _) => "delete",
                (Action::Replace, RrsetChange::Edit { .. }) => "edit",
                (Action::Replace, _) => "replace",
            };
            format!("{verb} {}", c.rrset)
        })
        .collect()
}

#[test]
fn managed_rrsets_round_trip_through_status_strings() {
    for text in [
        "www.example.com. A",
        "example.com. NS",
        "*.dev.example.com. AAAA",
        "_sip._tcp.example.com. SRV",
        "example.com. CAA",
    ] {
        assert_eq!(rrset(text).to_string(), text);
    }
    assert_eq!(
        rrset("  WWW.Example.COM.   txt ").to_string(),
        "www.example.com. TXT"
    );
    let owner = Owner::parse("www", &zone_name()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ManagedRrset::new(&zone_name(), &owner, RecordType::A).map(|r| r.to_string()),
        Some("www.example.com. A".to_string())
    );
    assert_eq!(
        ManagedRrset::new(&zone_name(), &Owner::apex(), RecordType::Soa),
        None
    );
}

#[test]
fn malformed_status_strings_are_refused_with_a_reason() {
    let error = |text: &str| {
        text.parse::<ManagedRrset>()
            .map(|r| r.to_string())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        error("www.example.com."),
        "'www.example.com.' is not 'NAME TYPE' (such as 'www.example.com. A')"
    );
    assert_eq!(
        error("www.example.com. A extra"),
        "'www.example.com. A extra' is not 'NAME TYPE' (such as 'www.example.com. A')"
    );
    assert_eq!(
        error("www.example.com A"),
        "'www.example.com' in 'www.example.com A': the name must be absolute, ending with '.'"
    );
    assert_eq!(
        error("www.example.com. PTR"),
        "'PTR' in 'www.example.com. PTR' is not a record type ddns manages"
    );
    assert_eq!(
        error("example.com. SOA"),
        "'example.com. SOA': the SOA is never a managed RRset"
    );
    assert_eq!(
        error("a..example.com. A"),
        "'a..example.com.' in 'a..example.com. A': label '' is not valid"
    );
    assert_eq!(
        error("a.*.example.com. A"),
        "'a.*.example.com.' in 'a.*.example.com. A': label '*' is not valid"
    );
    assert_eq!(
        error(". A"),
        "'.' in '. A': the root is not a name in a zone"
    );
    assert!(error("").contains("is not 'NAME TYPE'"));
    let long = format!("{}.example.com. A", "a.".repeat(130));
    assert!(error(&long).contains("longer than 253"), "{}", error(&long));
}

#[test]
fn zone_membership_apex_ns_and_wildcard_cover() {
    let zone = zone_name();
    assert!(rrset("example.com. A").is_in(&zone));
    assert!(rrset("a.b.example.com. A").is_in(&zone));
    assert!(!rrset("notexample.com. A").is_in(&zone));
    assert!(!rrset("example.org. A").is_in(&zone));
    assert!(rrset("example.com. NS").is_apex_ns(&zone));
    assert!(!rrset("sub.example.com. NS").is_apex_ns(&zone));
    let wildcard = rrset("*.example.com. A");
    assert!(rrset("a.example.com. A").is_covered_by(&wildcard));
    assert!(rrset("a.b.example.com. A").is_covered_by(&wildcard));
    assert!(!rrset("*.example.com. A").is_covered_by(&wildcard));
    assert!(!rrset("example.com. A").is_covered_by(&wildcard));
    assert!(!rrset("a.example.com. A").is_covered_by(&rrset("b.example.com. A")));
}

#[test]
fn values_become_message_data_that_survives_the_wire() {
    let caa = RecordData::Caa {
        flags: 128,
        tag: "tbs".into(),
        value: "anything; goes=\"here\" ü".into(),
    };
    let long_txt = RecordData::Txt(format!("{}ü", "x".repeat(300)));
    let values = [
        a(1),
        RecordData::Aaaa("2001:db8::1".parse().unwrap_or_else(|e| panic!("{e}"))),
        RecordData::Cname(host("www.example.com")),
        RecordData::Mx {
            preference: 10,
            exchange: host("mx.example.net"),
        },
        RecordData::Srv {
            priority: 1,
            weight: 2,
            port: 5060,
            target: host("."),
        },
        caa.clone(),
        long_txt.clone(),
        RecordData::Txt(String::new()),
    ];
    for value in &values {
        let data = rdata::rdata(value).unwrap_or_else(|e| panic!("{e}"));
        let bytes = data.to_bytes().unwrap_or_else(|e| panic!("{e}"));
        let record_type = data.record_type();
        let mut decoder = BinDecoder::new(&bytes);
        let length = Restrict::new(u16::try_from(bytes.len()).unwrap_or(0));
        let back = RData::read(&mut decoder, record_type, length)
            .unwrap_or_else(|e| panic!("{value:?}: {e}"));
        assert_eq!(back, data, "{value:?}");
    }
    let RData::CAA(caa) = rdata::rdata(&caa).unwrap_or_else(|e| panic!("{e}")) else {
        panic!("not CAA");
    };
    assert!(caa.issuer_critical);
    assert_eq!(caa.flags(), 128);
    assert_eq!(caa.tag, "tbs");
    assert_eq!(caa.value, "anything; goes=\"here\" ü".as_bytes());
    let RData::TXT(txt) = rdata::rdata(&long_txt).unwrap_or_else(|e| panic!("{e}")) else {
        panic!("not TXT");
    };
    let lengths: Vec<usize> = txt.txt_data.iter().map(|s| s.len()).collect();
    assert_eq!(lengths, [255, 47]);
    // The apex NS set comes from the zone; the SOA is never a desired set.
    let sets = desired(&assembly(&[]));
    assert_eq!(sets.len(), 1);
    assert!(sets[0].apex_ns);
    assert_eq!(sets[0].key.to_string(), "example.com. NS");
}

#[test]
fn nothing_to_do_plans_nothing() {
    let zone = assembly(&[
        claim("www", Some(300), vec![a(1), a(2)]),
        claim("@", None, vec![RecordData::Txt("v=spf1 -all".into())]),
    ]);
    let sets = desired(&zone);
    assert!(plan::plan(&sets, &holding(&sets), &[]).is_empty());

    // The server's order of values does not matter.
    let mut reordered = holding(&sets);
    for answer in reordered.values_mut() {
        answer.values.reverse();
    }
    assert!(plan::plan(&sets, &reordered, &[]).is_empty());
}

#[test]
fn missing_changed_and_ttl_changed_sets_are_replaced() {
    let zone = assembly(&[
        claim("new", None, vec![a(1)]),
        claim("changed", None, vec![a(2)]),
        claim("ttl", Some(60), vec![a(3)]),
        claim("same", None, vec![a(4)]),
    ]);
    let sets = desired(&zone);
    let mut server = holding(&sets);
    server.remove(&rrset("new.example.com. A"));
    server.insert(
        rrset("changed.example.com. A"),
        Observed {
            values: vec![RData::A(A::new(192, 0, 2, 99))],
            ttl: Some(3600),
        },
    );
    server.insert(
        rrset("ttl.example.com. A"),
        Observed {
            values: vec![RData::A(A::new(192, 0, 2, 3))],
            ttl: Some(3600),
        },
    );
    let changes = plan::plan(&sets, &server, &[]);
    assert_eq!(
        summary(&changes),
        [
            "replace changed.example.com. A",
            "replace new.example.com. A",
            "replace ttl.example.com. A",
        ]
    );
    let RrsetChange::Replace {
        ttl,
        values,
        expect,
        ..
    } = &changes[2].change
    else {
        panic!("not a replacement");
    };
    assert_eq!((*ttl, values.len(), expect), (60, 1, &None));
}

#[test]
fn stale_sets_are_deleted_first() {
    let zone = assembly(&[claim(
        "www",
        None,
        vec![RecordData::Cname(host("web.example.net"))],
    )]);
    let sets = desired(&zone);
    let mut server = holding(&sets);
    server.remove(&rrset("www.example.com. CNAME"));
    let stale = [rrset("www.example.com. A"), rrset("old.example.com. TXT")];
    let changes = plan::plan(&sets, &server, &stale);
    assert_eq!(
        summary(&changes),
        [
            "delete www.example.com. A",
            "delete old.example.com. TXT",
            "replace www.example.com. CNAME",
        ]
    );
}

#[test]
fn the_apex_ns_set_changes_record_by_record() {
    let zone = assembly(&[]);
    let sets = desired(&zone);
    let ns = |n: &str| RData::NS(NS(rdata::dns_name(n).unwrap_or_else(|e| panic!("{e}"))));
    let mut server = BTreeMap::new();
    server.insert(
        rrset("example.com. NS"),
        Observed {
            values: vec![ns("ns1.example.net."), ns("old.example.net.")],
            ttl: Some(3600),
        },
    );
    let changes = plan::plan(&sets, &server, &[]);
    assert_eq!(summary(&changes), ["edit example.com. NS"]);
    let RrsetChange::Edit {
        add, remove, ttl, ..
    } = &changes[0].change
    else {
        panic!("not an edit");
    };
    assert_eq!(*ttl, 3600);
    assert_eq!(add, &[ns("ns1.example.net."), ns("ns2.example.net.")]);
    assert_eq!(remove, &[ns("old.example.net.")]);
}

#[test]
fn a_name_a_managed_wildcard_may_answer_for_is_rewritten_when_anything_changes() {
    let zone = assembly(&[
        claim("*", None, vec![a(7)]),
        claim("x", None, vec![a(7)]),
        claim("y", None, vec![a(8)]),
        claim("z", None, vec![RecordData::Txt("z".into())]),
    ]);
    let sets = desired(&zone);
    let server = holding(&sets);
    // Everything as desired: x's answer may be the wildcard's, but what
    // clients see is right, so nothing is sent.
    assert!(plan::plan(&sets, &server, &[]).is_empty());

    // Something else changes (z): x is written too, y (other values than
    // the wildcard's) is not.
    let mut changed = server.clone();
    changed.remove(&rrset("z.example.com. TXT"));
    assert_eq!(
        summary(&plan::plan(&sets, &changed, &[])),
        ["replace z.example.com. TXT", "replace x.example.com. A"]
    );

    // A managed wildcard being deleted: every name it covers that looks
    // right is written.
    let without_wildcard = assembly(&[claim("x", None, vec![a(7)]), claim("y", None, vec![a(8)])]);
    let sets = desired(&without_wildcard);
    let changes = plan::plan(&sets, &holding(&sets), &[rrset("*.example.com. A")]);
    assert_eq!(
        summary(&changes),
        [
            "delete *.example.com. A",
            "replace x.example.com. A",
            "replace y.example.com. A",
        ]
    );
}

#[test]
fn changes_are_batched_by_size_and_count_in_order() {
    let claims: Vec<Claim> = (0..1200)
        .map(|i| claim(&format!("h{i}"), None, vec![a((i % 250) as u8)]))
        .collect();
    let zone = assembly(&claims);
    let sets = desired(&zone);
    let changes = plan::plan(&sets, &BTreeMap::new(), &[]);
    assert_eq!(changes.len(), 1201, "every A set and the apex NS set");
    let batches = plan::batches(&changes);
    assert_eq!(
        batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
        [500, 500, 201]
    );
    let flat: Vec<&PlannedChange> = batches.iter().flat_map(|b| b.iter()).collect();
    assert!(
        flat.iter().zip(&changes).all(|(a, b)| *a == b),
        "order kept"
    );

    // By size: big TXT sets go two to a message, and one bigger than the
    // limit goes alone.
    let big = "t".repeat(16_000);
    let huge: Vec<RecordData> = (0..3)
        .map(|i| RecordData::Txt(format!("{i}{big}")))
        .collect();
    let zone = assembly(&[
        claim("t1", None, vec![RecordData::Txt(big.clone())]),
        claim("t2", None, vec![RecordData::Txt(big.clone())]),
        claim("t3", None, vec![RecordData::Txt(big.clone())]),
        claim("t4", None, huge),
    ]);
    let sets = desired(&zone);
    let changes = plan::plan(&sets, &BTreeMap::new(), &[]);
    let sizes: Vec<usize> = plan::batches(&changes).iter().map(|b| b.len()).collect();
    // The apex NS set, t1 and t2 (16 KiB each) fill a message; t3 and t4
    // (48 KiB, over the limit on its own) go alone.
    assert_eq!(sizes, [3, 1, 1], "{:?}", summary(&changes));
    assert!(changes.iter().all(|c| c.size > 0));

    assert!(plan::batches(&[]).is_empty());
    let one = &changes[..1];
    assert_eq!(plan::batches_within(one, 1, 1).len(), 1);
}

#[test]
fn the_managed_set_after_success_and_after_failure() {
    let zone = assembly(&[claim("www", None, vec![a(1)])]);
    let managed: Vec<String> = managed_set(&zone).iter().map(ToString::to_string).collect();
    assert_eq!(managed, ["example.com. NS", "www.example.com. A"]);
    let previously: BTreeSet<ManagedRrset> = [
        rrset("old.example.com. A"),
        rrset("elsewhere.example.org. A"),
    ]
    .into();
    let after: Vec<String> = managed_after_failure(&zone, &previously)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        after,
        [
            "example.com. NS",
            "old.example.com. A",
            "www.example.com. A"
        ]
    );
}

#[test]
fn a_txt_value_of_arbitrary_bytes_is_kept_whole() {
    let text = "ünïcødé \"quoted\" \\ and a tab\t".repeat(20);
    let RData::TXT(txt) =
        rdata::rdata(&RecordData::Txt(text.clone())).unwrap_or_else(|e| panic!("{e}"))
    else {
        panic!("not TXT");
    };
    let joined: Vec<u8> = txt
        .txt_data
        .iter()
        .flat_map(|s| s.iter().copied())
        .collect();
    assert_eq!(joined, text.as_bytes());
    assert!(txt.txt_data.iter().all(|s| s.len() <= 255));
}
