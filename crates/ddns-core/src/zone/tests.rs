//! Assembly rules, the golden zone file, and the property that whatever
//! the claims, the rendered zone loads in BIND's `named-checkzone`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

use proptest::prelude::*;

use super::*;

fn zone_name() -> ZoneName {
    ZoneName::parse("example.com").unwrap_or_else(|e| panic!("{e}"))
}

fn host(s: &str) -> HostName {
    HostName::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

fn spec(name_servers: &[&str]) -> ZoneSpec {
    ZoneSpec {
        name: zone_name(),
        ttl: 3600,
        soa: Soa {
            primary_ns: host("ns1.example.com"),
            mailbox: Mailbox::parse("john.doe@example.com").unwrap_or_else(|e| panic!("{e}")),
            refresh: 7200,
            retry: 900,
            expire: 1_209_600,
            negative_ttl: 300,
        },
        name_servers: name_servers.iter().map(|n| host(n)).collect(),
    }
}

fn claim(source: &str, owner: &str, ttl: Option<u32>, values: Vec<RecordData>) -> Claim {
    Claim {
        source: source.into(),
        owner: Owner::parse(owner, &zone_name()).unwrap_or_else(|e| panic!("{e}")),
        ttl,
        values,
    }
}

fn a(text: &str) -> RecordData {
    RecordData::A(text.parse().unwrap_or(Ipv4Addr::UNSPECIFIED))
}

fn golden_claims() -> Vec<Claim> {
    vec![
        claim("ARecord/ns1", "ns1", None, vec![a("192.0.2.53")]),
        claim(
            "ARecord/www",
            "www",
            Some(300),
            vec![a("192.0.2.2"), a("192.0.2.1")],
        ),
        claim(
            "AAAARecord/www",
            "www",
            Some(300),
            vec![RecordData::Aaaa(
                "2001:db8::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED),
            )],
        ),
        claim("ARecord/apex", "@", None, vec![a("192.0.2.10")]),
        claim(
            "CNAMERecord/blog",
            "blog",
            None,
            vec![RecordData::Cname(host("www.example.com"))],
        ),
        claim(
            "MXRecord/mx-b",
            "@",
            None,
            vec![RecordData::Mx {
                preference: 20,
                exchange: host("mx2.example.net"),
            }],
        ),
        claim(
            "MXRecord/mx-a",
            "@",
            Some(600),
            vec![RecordData::Mx {
                preference: 10,
                exchange: host("mx1.example.net"),
            }],
        ),
        claim(
            "TXTRecord/spf",
            "@",
            None,
            vec![
                RecordData::Txt("v=spf1 include:_spf.example.net ~all".into()),
                RecordData::Txt(format!("k={}", "A".repeat(300))),
            ],
        ),
        claim(
            "TXTRecord/dmarc",
            "_dmarc",
            None,
            vec![RecordData::Txt("v=DMARC1; p=none".into())],
        ),
        claim(
            "SRVRecord/sip",
            "_sip._tcp",
            Some(60),
            vec![RecordData::Srv {
                priority: 10,
                weight: 5,
                port: 5060,
                target: host("sip.example.com"),
            }],
        ),
        claim("ARecord/sip", "sip", None, vec![a("192.0.2.20")]),
        claim(
            "NSRecord/sub-1",
            "sub",
            None,
            vec![RecordData::Ns(host("ns.sub.example.com"))],
        ),
        claim(
            "NSRecord/sub-2",
            "sub",
            None,
            vec![RecordData::Ns(host("ns.example.net"))],
        ),
        claim("ARecord/sub-glue", "ns.sub", None, vec![a("192.0.2.99")]),
        claim(
            "CAARecord/issue",
            "@",
            None,
            vec![RecordData::Caa {
                flags: 0,
                tag: "issue".into(),
                value: "letsencrypt.org".into(),
            }],
        ),
        claim("ARecord/wild", "*.dev", None, vec![a("192.0.2.77")]),
    ]
}

#[test]
fn golden_zone_file() {
    let assembly = assemble(
        &spec(&["ns1.example.com", "ns2.example.net"]),
        &golden_claims(),
    );
    assert_eq!(assembly.conflicts, vec![]);
    assert_eq!(assembly.problems, Vec::<String>::new());
    let text = render(&assembly, 2_026_112_801);
    if std::env::var("DDNS_WRITE_GOLDEN").is_ok_and(|v| v == "1") {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/zone/golden/example.com.zone"
        );
        std::fs::write(path, &text).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    assert_eq!(text, include_str!("golden/example.com.zone"));
    assert_eq!(rendered_serial(&text), Some(2_026_112_801));
    assert!(same_content(&assembly, &render(&assembly, 7)));
    assert_eq!(assembly.record_count(), 20);
    check_zone(&text).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn rendering_ignores_claim_order_within_a_set() {
    let mut claims = golden_claims();
    let first = render(&assemble(&spec(&["ns1.example.com"]), &claims), 1);
    claims.reverse();
    // Reversing changes which of two conflicting claims wins, but there
    // are none here, so the output is the same.
    let second = render(&assemble(&spec(&["ns1.example.com"]), &claims), 1);
    assert_eq!(first, second);
}

#[test]
fn cname_beside_other_data_loses_to_the_earlier_claim() {
    let zone = spec(&["ns1.example.net"]);
    let claims = vec![
        claim("ARecord/www", "www", None, vec![a("192.0.2.1")]),
        claim(
            "CNAMERecord/www",
            "www",
            None,
            vec![RecordData::Cname(host("x.example.net"))],
        ),
        claim(
            "CNAMERecord/blog",
            "blog",
            None,
            vec![RecordData::Cname(host("x.example.net"))],
        ),
        claim(
            "TXTRecord/blog",
            "blog",
            None,
            vec![RecordData::Txt("x".into())],
        ),
        claim(
            "CNAMERecord/apex",
            "@",
            None,
            vec![RecordData::Cname(host("x.example.net"))],
        ),
    ];
    let assembly = assemble(&zone, &claims);
    let messages: Vec<(String, &str, ConflictKind)> = assembly
        .conflicts
        .iter()
        .map(|c| (c.source.clone(), c.message.as_str(), c.kind))
        .collect();
    assert_eq!(
        messages,
        vec![
            (
                "CNAMERecord/www".into(),
                "www.example.com already holds A records (from ARecord/www); a CNAME must be the only record at its name",
                ConflictKind::CnameAndOtherData
            ),
            (
                "TXTRecord/blog".into(),
                "blog.example.com is a CNAME (from CNAMERecord/blog); no other record can share its name",
                ConflictKind::CnameAndOtherData
            ),
            (
                "CNAMERecord/apex".into(),
                "a CNAME cannot be at the zone's apex example.com, which holds the SOA and NS records",
                ConflictKind::CnameAndOtherData
            ),
        ]
    );
    let text = render(&assembly, 1);
    assert!(text.contains("www\t3600\tIN\tA\t192.0.2.1\n"), "{text}");
    assert!(
        text.contains("blog\t3600\tIN\tCNAME\tx.example.net.\n"),
        "{text}"
    );
    assert!(!text.contains("TXT"), "{text}");
    assert_eq!(assembly.conflicts[0].kind.reason(), "CnameConflict");
}

#[test]
fn two_claims_of_one_name_and_type() {
    let zone = spec(&["ns1.example.net"]);
    let mx = |p| RecordData::Mx {
        preference: p,
        exchange: host("mx.example.net"),
    };
    let claims = vec![
        claim("ARecord/old", "www", None, vec![a("192.0.2.1")]),
        claim("ARecord/new", "WWW", None, vec![a("192.0.2.2")]),
        claim("MXRecord/a", "@", Some(600), vec![mx(10)]),
        claim("MXRecord/b", "@", Some(300), vec![mx(20)]),
        claim("MXRecord/c", "@", None, vec![mx(10)]),
    ];
    let assembly = assemble(&zone, &claims);
    let messages: Vec<&str> = assembly
        .conflicts
        .iter()
        .map(|c| c.message.as_str())
        .collect();
    assert_eq!(
        messages,
        vec![
            "www.example.com A is already claimed by ARecord/old",
            "example.com MX 10 mx.example.net. is already claimed by MXRecord/a",
        ]
    );
    assert!(assembly.conflict_of("ARecord/new").is_some());
    let text = render(&assembly, 1);
    assert!(text.contains("www\t3600\tIN\tA\t192.0.2.1\n"), "{text}");
    // Two resources build one MX set, with the lower TTL for both.
    assert!(
        text.contains("@\t300\tIN\tMX\t10 mx.example.net.\n@\t300\tIN\tMX\t20 mx.example.net.\n"),
        "{text}"
    );
    let sources: Vec<&str> = assembly.applied_sources().into_iter().collect();
    assert_eq!(sources, vec!["ARecord/old", "MXRecord/a", "MXRecord/b"]);
}

#[test]
fn delegations_keep_only_glue_below_them() {
    let zone = spec(&["ns1.example.net"]);
    let claims = vec![
        claim("ARecord/inside", "host.sub", None, vec![a("192.0.2.5")]),
        claim("ARecord/glue", "ns.sub", None, vec![a("192.0.2.6")]),
        claim(
            "TXTRecord/at-cut",
            "sub",
            None,
            vec![RecordData::Txt("x".into())],
        ),
        claim(
            "NSRecord/sub",
            "sub",
            None,
            vec![RecordData::Ns(host("ns.sub.example.com"))],
        ),
        claim(
            "NSRecord/wild",
            "*.w",
            None,
            vec![RecordData::Ns(host("ns.example.net"))],
        ),
        claim(
            "NSRecord/apex",
            "@",
            None,
            vec![RecordData::Ns(host("ns.example.net"))],
        ),
        claim("ARecord/underscore", "_x", None, vec![a("192.0.2.7")]),
    ];
    let assembly = assemble(&zone, &claims);
    let messages: Vec<(&str, &str)> = assembly
        .conflicts
        .iter()
        .map(|c| (c.source.as_str(), c.message.as_str()))
        .collect();
    assert_eq!(
        messages,
        vec![
            (
                "NSRecord/wild",
                "*.w.example.com is a wildcard, which cannot hold NS records"
            ),
            (
                "NSRecord/apex",
                "the apex NS records come from the DNSZone's nameServers; an NSRecord delegates a name below the apex"
            ),
            (
                "ARecord/inside",
                "host.sub.example.com is at or below the delegation sub.example.com, where it would not be served (only glue addresses of its name servers belong there)"
            ),
            (
                "TXTRecord/at-cut",
                "sub.example.com is at or below the delegation sub.example.com, where it would not be served (only glue addresses of its name servers belong there)"
            ),
            (
                "ARecord/underscore",
                "_x.example.com is not a host name ('_' is not allowed in the owner of A records)"
            ),
        ]
    );
    assert!(render(&assembly, 1).contains("ns.sub\t3600\tIN\tA\t192.0.2.6\n"));
}

#[test]
fn in_zone_name_servers_need_addresses() {
    let assembly = assemble(
        &spec(&["ns1.example.com", "ns2.example.com", "ns.example.net"]),
        &[claim(
            "CNAMERecord/ns2",
            "ns2",
            None,
            vec![RecordData::Cname(host("ns.example.net"))],
        )],
    );
    assert_eq!(
        assembly.problems,
        vec![
            "name server ns1.example.com is inside the zone but has no A or AAAA record; add an ARecord or AAAARecord for it".to_string(),
            "name server ns2.example.com is a CNAME, which a name server must not be".to_string(),
        ]
    );
    assert_eq!(
        assemble(&spec(&[]), &[]).problems,
        vec!["the zone has no name servers; list at least one in nameServers".to_string()]
    );
}

// ---------------------------------------------------------------------------
// named-checkzone

/// Runs `named-checkzone -k fail -i full` on `text`. Without the tool the
/// check is skipped, unless DDNS_REQUIRE_SYSTEM_TESTS=1.
fn check_zone(text: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("zone");
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    let output = match Command::new("named-checkzone")
        .args(["-q", "-k", "fail", "-i", "full", "example.com"])
        .arg(&path)
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            if std::env::var("DDNS_REQUIRE_SYSTEM_TESTS").is_ok_and(|v| v == "1") {
                return Err(format!("named-checkzone: {e}"));
            }
            eprintln!("skipped: named-checkzone is not installed ({e})");
            return Ok(());
        }
    };
    if output.status.success() {
        return Ok(());
    }
    let verbose = Command::new("named-checkzone")
        .args(["-k", "fail", "-i", "full", "example.com"])
        .arg(&path)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    Err(format!(
        "named-checkzone refused the zone:\n{verbose}\n{text}"
    ))
}

fn arb_label() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("www".to_string()),
        Just("mail".to_string()),
        Just("ns1".to_string()),
        Just("sub".to_string()),
        Just("ns.sub".to_string()),
        Just("_dmarc".to_string()),
        Just("_sip._tcp".to_string()),
        Just("*".to_string()),
        Just("*.dev".to_string()),
        Just("@".to_string()),
        "[a-z][a-z0-9-]{0,10}[a-z0-9]",
    ]
}

fn arb_host() -> impl Strategy<Value = HostName> {
    prop_oneof![
        Just(host("ns1.example.com")),
        Just(host("www.example.com")),
        Just(host("ns.sub.example.com")),
        Just(host("mail.example.net")),
        "[a-z]{1,8}\\.example\\.(com|org)".prop_map(|s| host(&s)),
    ]
}

fn arb_data() -> impl Strategy<Value = RecordData> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|o| RecordData::A(Ipv4Addr::from(o))),
        any::<[u8; 16]>().prop_map(|o| RecordData::Aaaa(Ipv6Addr::from(o))),
        arb_host().prop_map(RecordData::Cname),
        proptest::collection::vec(any::<u8>(), 0..600)
            .prop_map(|b| RecordData::Txt(String::from_utf8_lossy(&b).into_owned())),
        (any::<u16>(), arb_host()).prop_map(|(preference, exchange)| RecordData::Mx {
            preference,
            exchange
        }),
        arb_host().prop_map(RecordData::Ns),
        (any::<u16>(), any::<u16>(), any::<u16>(), arb_host()).prop_map(
            |(priority, weight, port, target)| RecordData::Srv {
                priority,
                weight,
                port,
                target
            }
        ),
        (
            any::<u8>(),
            "issue|issuewild|iodef|[a-z0-9]{1,15}",
            "[ -~]{0,40}"
        )
            .prop_map(|(flags, tag, value)| RecordData::Caa { flags, tag, value }),
    ]
}

fn arb_claims() -> impl Strategy<Value = Vec<Claim>> {
    proptest::collection::vec(
        (
            arb_label(),
            proptest::option::of(0u32..=86_400),
            arb_data(),
            1usize..3,
        ),
        0..40,
    )
    .prop_map(|items| {
        items
            .into_iter()
            .enumerate()
            .filter_map(|(i, (label, ttl, data, copies))| {
                let owner = Owner::parse(&label, &zone_name()).ok()?;
                // Several values of the same type: vary A and TXT.
                let values = (0..copies)
                    .map(|n| match &data {
                        RecordData::A(a) => {
                            RecordData::A(Ipv4Addr::from(u32::from(*a).wrapping_add(n as u32)))
                        }
                        RecordData::Txt(t) => RecordData::Txt(format!("{t}{n}")),
                        other => other.clone(),
                    })
                    .collect();
                Some(Claim {
                    source: format!("Record/r{i}"),
                    owner,
                    ttl,
                    values,
                })
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_claims_render_to_a_zone_bind_loads(claims in arb_claims()) {
        let zone = spec(&["ns1.example.net", "ns2.example.org"]);
        let assembly = assemble(&zone, &claims);
        prop_assert!(assembly.problems.is_empty());
        let text = render(&assembly, 2_026_112_800);
        prop_assert_eq!(&text, &render(&assemble(&zone, &claims), 2_026_112_800));
        prop_assert!(same_content(&assembly, &text));
        if let Err(e) = check_zone(&text) {
            prop_assert!(false, "{}", e);
        }
        // Every claim is either applied or reported, never both, never lost.
        let applied = assembly.applied_sources();
        for claim in &claims {
            let reported = assembly.conflict_of(&claim.source).is_some();
            prop_assert!(applied.contains(claim.source.as_str()) != reported, "{}", claim.source);
        }
    }
}
