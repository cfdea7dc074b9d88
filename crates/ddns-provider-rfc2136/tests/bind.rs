//! The RFC 2136 provider against a real BIND9 started by each test.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ddns_core::config::Env;
use ddns_core::{
    AddressSnapshot, DdnsEngine, DnsProvider, EngineSettings, ErrorScope, IpFamily,
    MemoryStateStore, ProviderFactory, Record, RecordChange, RecordOutcome,
};
use ddns_provider_rfc2136::Rfc2136Factory;
use ddns_testkit::{Bind, BindOptions};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn record(name: &str, family: IpFamily) -> Record {
    Record::new(name.parse().unwrap(), family)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The environment for `bind` signed with its key `key`, plus `extra`.
fn env_for(bind: &Bind, key: Option<&str>, extra: &[(&str, &str)]) -> Env {
    let mut pairs: Vec<(String, String)> =
        vec![("DDNS_RFC2136_SERVER".into(), bind.addr().to_string())];
    if let Some(name) = key {
        let key = bind.key(name);
        pairs.push(("DDNS_RFC2136_TSIG_KEY_NAME".into(), key.name().into()));
        pairs.push(("DDNS_RFC2136_TSIG_ALGORITHM".into(), key.algorithm().into()));
        pairs.push(("DDNS_RFC2136_TSIG_SECRET".into(), key.secret().into()));
    }
    pairs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Env::from_pairs(pairs)
}

fn provider(env: &Env) -> Arc<dyn DnsProvider> {
    let plan = Rfc2136Factory.configure(env).unwrap();
    runtime().block_on(plan.build()).unwrap()
}

fn change(name: &str, address: &str) -> RecordChange {
    let address = ip(address);
    RecordChange::new(record(name, IpFamily::of(&address)), address)
}

#[test]
fn creates_replaces_and_reads_a_and_aaaa_in_one_message_each() {
    let Some(bind) = Bind::start("creates_replaces_and_reads", BindOptions::new()) else {
        return;
    };
    let provider = provider(&env_for(&bind, Some("ddns-key"), &[]));
    let rt = runtime();
    rt.block_on(provider.check_credentials()).unwrap();

    rt.block_on(provider.update(&change("host.example.test", "192.0.2.1")))
        .unwrap();
    assert_eq!(bind.query("host.example.test", "A"), ["192.0.2.1"]);
    assert_eq!(bind.update_count(), 1);

    rt.block_on(provider.update(&change("host.example.test", "192.0.2.2")))
        .unwrap();
    assert_eq!(
        bind.query("host.example.test", "A"),
        ["192.0.2.2"],
        "replaced, not added"
    );
    assert_eq!(bind.update_count(), 2, "one UPDATE per change");

    rt.block_on(provider.update(&change("host.example.test", "2001:db8::7")))
        .unwrap();
    assert_eq!(bind.query("host.example.test", "AAAA"), ["2001:db8::7"]);
    assert_eq!(
        bind.query("host.example.test", "A"),
        ["192.0.2.2"],
        "the A RRset is untouched"
    );

    let read = rt
        .block_on(provider.read(&record("host.example.test", IpFamily::V4)))
        .unwrap();
    assert_eq!(read, Some(vec![ip("192.0.2.2")]));
    let none = rt
        .block_on(provider.read(&record("absent.example.test", IpFamily::V6)))
        .unwrap();
    assert_eq!(none, Some(vec![]));
}

#[test]
fn extra_values_are_replaced_by_the_single_address() {
    let options = BindOptions::new()
        .record("multi IN A 198.51.100.1")
        .record("multi IN A 198.51.100.2");
    let Some(bind) = Bind::start("extra_values_are_replaced", options) else {
        return;
    };
    let provider = provider(&env_for(&bind, Some("ddns-key"), &[]));
    runtime()
        .block_on(provider.update(&change("multi.example.test", "192.0.2.9")))
        .unwrap();
    assert_eq!(bind.query("multi.example.test", "A"), ["192.0.2.9"]);
}

#[test]
fn every_supported_tsig_algorithm_signs_and_verifies() {
    let options = BindOptions::new()
        .key("k256", "hmac-sha256")
        .key("k384", "hmac-sha384")
        .key("k512", "hmac-sha512");
    let Some(bind) = Bind::start("every_supported_tsig_algorithm", options) else {
        return;
    };
    let rt = runtime();
    for (n, key) in ["k256", "k384", "k512"].into_iter().enumerate() {
        let provider = provider(&env_for(&bind, Some(key), &[]));
        rt.block_on(provider.check_credentials()).unwrap();
        let address = format!("192.0.2.{}", n + 1);
        rt.block_on(provider.update(&change(&format!("{key}.example.test"), &address)))
            .unwrap();
        assert_eq!(bind.query(&format!("{key}.example.test"), "A"), [address]);
    }
    // The key file form works the same.
    let file = bind.key("k384").file().to_str().unwrap().to_string();
    let env = env_for(&bind, None, &[("DDNS_RFC2136_TSIG_KEY_FILE", &file)]);
    rt.block_on(provider(&env).update(&change("file.example.test", "192.0.2.77")))
        .unwrap();
    assert_eq!(bind.query("file.example.test", "A"), ["192.0.2.77"]);
}

#[test]
fn a_wrong_secret_is_a_credentials_error_naming_badsig() {
    let Some(bind) = Bind::start("a_wrong_secret_is_a_credentials_error", BindOptions::new())
    else {
        return;
    };
    let wrong = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZyE=";
    let env = env_for(
        &bind,
        None,
        &[
            ("DDNS_RFC2136_TSIG_KEY_NAME", "ddns-key"),
            ("DDNS_RFC2136_TSIG_SECRET", wrong),
        ],
    );
    let provider = provider(&env);
    let rt = runtime();
    let err = rt.block_on(provider.check_credentials()).unwrap_err();
    assert!(err.is_credentials(), "{err}");
    assert_eq!(
        err.to_string(),
        "the server rejected TSIG key ddns-key: BADSIG; the secret does not match the server's key"
    );
    let err = rt
        .block_on(provider.update(&change("host.example.test", "192.0.2.1")))
        .unwrap_err();
    assert!(
        err.is_credentials() && err.scope() == ErrorScope::Provider,
        "{err}"
    );
    assert!(bind.query("host.example.test", "A").is_empty());
    assert!(!err.to_string().contains(wrong));
}

#[test]
fn an_unknown_key_name_is_badkey() {
    let Some(bind) = Bind::start("an_unknown_key_name_is_badkey", BindOptions::new()) else {
        return;
    };
    let secret = bind.key("ddns-key").secret().to_string();
    let env = env_for(
        &bind,
        None,
        &[
            ("DDNS_RFC2136_TSIG_KEY_NAME", "nobody"),
            ("DDNS_RFC2136_TSIG_SECRET", &secret),
        ],
    );
    let err = runtime()
        .block_on(provider(&env).check_credentials())
        .unwrap_err();
    assert!(err.is_credentials());
    assert!(
        err.to_string()
            .starts_with("the server rejected TSIG key nobody: BADKEY"),
        "{err}"
    );
}

#[test]
fn a_zone_the_key_may_not_update_is_refused_permanently() {
    let Some(bind) = Bind::start(
        "a_zone_the_key_may_not_update",
        BindOptions::new().other_zone(true),
    ) else {
        return;
    };
    let provider = provider(&env_for(&bind, Some("ddns-key"), &[]));
    let rt = runtime();
    let err = rt
        .block_on(provider.update(&change("host.other.test", "192.0.2.1")))
        .unwrap_err();
    assert!(err.is_permanent() && !err.is_credentials(), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("answered UPDATE of zone other.test. with REFUSED"),
        "{text}"
    );
    assert!(text.contains("grant the key updates in the zone"), "{text}");

    let err = rt
        .block_on(provider.update(&change("host.elsewhere.invalid", "192.0.2.1")))
        .unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("no zone on"), "{err}");
}

#[test]
fn a_configured_zone_limits_the_records() {
    let Some(bind) = Bind::start("a_configured_zone_limits_the_records", BindOptions::new()) else {
        return;
    };
    let provider = provider(&env_for(
        &bind,
        Some("ddns-key"),
        &[("DDNS_RFC2136_ZONE", "example.test")],
    ));
    assert!(provider.supports_record(&record("a.example.test", IpFamily::V4)));
    assert!(!provider.supports_record(&record("a.example.org", IpFamily::V4)));
    runtime()
        .block_on(provider.update(&change("deep.sub.example.test", "192.0.2.3")))
        .unwrap();
    assert_eq!(bind.query("deep.sub.example.test", "A"), ["192.0.2.3"]);
}

#[test]
fn a_server_that_is_down_is_transient_and_recovers() {
    let Some(mut bind) = Bind::start("a_server_that_is_down", BindOptions::new()) else {
        return;
    };
    let env = env_for(
        &bind,
        Some("ddns-key"),
        &[("DDNS_RFC2136_TIMEOUT_SECS", "1")],
    );
    let provider = provider(&env);
    let rt = runtime();
    bind.stop();
    let err = rt
        .block_on(provider.update(&change("host.example.test", "192.0.2.5")))
        .unwrap_err();
    assert!(
        err.is_transient() && err.scope() == ErrorScope::Provider,
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains(&bind.addr().to_string()),
        "names the server: {text}"
    );
    bind.start_again();
    rt.block_on(provider.update(&change("host.example.test", "192.0.2.5")))
        .unwrap();
    assert_eq!(bind.query("host.example.test", "A"), ["192.0.2.5"]);
}

#[test]
fn a_truncated_answer_is_asked_again_over_tcp() {
    let mut options = BindOptions::new().max_udp_size(512);
    for n in 1..=60 {
        options = options.record(&format!("big IN A 198.51.100.{n}"));
    }
    let Some(bind) = Bind::start("a_truncated_answer_is_asked_again_over_tcp", options) else {
        return;
    };
    let provider = provider(&env_for(&bind, Some("ddns-key"), &[]));
    let values = runtime()
        .block_on(provider.read(&record("big.example.test", IpFamily::V4)))
        .unwrap()
        .unwrap();
    assert_eq!(values.len(), 60, "all 60 values, which only fit over TCP");
    assert!(
        bind.counter("nsstats", "TruncatedResp") >= 1,
        "the UDP answer was truncated"
    );
}

#[test]
fn tcp_only_transport_works() {
    let Some(bind) = Bind::start("tcp_only_transport_works", BindOptions::new()) else {
        return;
    };
    let provider = provider(&env_for(
        &bind,
        Some("ddns-key"),
        &[("DDNS_RFC2136_TRANSPORT", "tcp")],
    ));
    runtime()
        .block_on(provider.update(&change("tcp.example.test", "192.0.2.8")))
        .unwrap();
    assert_eq!(bind.query("tcp.example.test", "A"), ["192.0.2.8"]);
}

#[test]
fn unsigned_updates_work_when_the_server_allows_them() {
    let options = BindOptions::new().allow_unsigned_updates(true);
    let Some(bind) = Bind::start("unsigned_updates_work", options) else {
        return;
    };
    let provider = provider(&env_for(&bind, None, &[]));
    let rt = runtime();
    rt.block_on(provider.check_credentials()).unwrap();
    rt.block_on(provider.update(&change("open.example.test", "192.0.2.4")))
        .unwrap();
    assert_eq!(bind.query("open.example.test", "A"), ["192.0.2.4"]);
}

#[test]
fn prerequisites_protect_a_value_someone_else_changed() {
    let Some(bind) = Bind::start("prerequisites_protect", BindOptions::new()) else {
        return;
    };
    let provider = provider(&env_for(
        &bind,
        Some("ddns-key"),
        &[("DDNS_RFC2136_PREREQUISITE", "expected")],
    ));
    let rt = runtime();
    rt.block_on(provider.update(&change("shared.example.test", "192.0.2.1")))
        .unwrap();
    bind.nsupdate(
        Some("ddns-key"),
        "example.test",
        &[
            "update delete shared.example.test A",
            "update add shared.example.test 60 A 203.0.113.9",
        ],
    )
    .unwrap();
    let mut stale = change("shared.example.test", "192.0.2.2");
    stale.expected = Some(vec![ip("192.0.2.1")]);
    let err = rt.block_on(provider.update(&stale)).unwrap_err();
    assert!(err.is_permanent(), "{err}");
    assert!(err.to_string().contains("a prerequisite failed"), "{err}");
    assert_eq!(
        bind.query("shared.example.test", "A"),
        ["203.0.113.9"],
        "someone else's value is kept"
    );
    let mut current = change("shared.example.test", "192.0.2.2");
    current.expected = Some(vec![ip("203.0.113.9")]);
    rt.block_on(provider.update(&current)).unwrap();
    assert_eq!(bind.query("shared.example.test", "A"), ["192.0.2.2"]);
}

#[test]
fn changes_due_together_travel_in_one_update() {
    let Some(bind) = Bind::start("changes_due_together", BindOptions::new()) else {
        return;
    };
    let provider = provider(&env_for(&bind, Some("ddns-key"), &[]));
    let changes: Vec<RecordChange> = (1..=20)
        .map(|n| change(&format!("h{n}.example.test"), &format!("192.0.2.{n}")))
        .collect();
    let results = runtime().block_on(provider.update_many(&changes));
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(bind.update_count(), 1, "one message, one journal entry");
    assert_eq!(bind.query("h20.example.test", "A"), ["192.0.2.20"]);
}

fn engine(bind: &Bind, records: Vec<Record>, recheck: Option<Duration>) -> DdnsEngine {
    let mut settings = EngineSettings::new(records);
    settings.recheck_interval = recheck;
    settings.min_update_interval = Duration::ZERO;
    DdnsEngine::new(
        settings,
        provider(&env_for(bind, Some("ddns-key"), &[])),
        Arc::new(MemoryStateStore::default()),
    )
}

#[test]
fn a_record_that_already_holds_the_address_gets_no_update() {
    let options = BindOptions::new().record("home IN A 192.0.2.44");
    let Some(bind) = Bind::start("a_record_that_already_holds_the_address", options) else {
        return;
    };
    let engine = engine(&bind, vec![record("home.example.test", IpFamily::V4)], None);
    let snapshot = AddressSnapshot {
        v4: Some(ip("192.0.2.44")),
        v6: None,
    };
    let report = runtime()
        .block_on(engine.run_once(snapshot, Duration::from_secs(10)))
        .unwrap();
    assert_eq!(
        report.records[0].1,
        RecordOutcome::Unchanged(ip("192.0.2.44"))
    );
    assert_eq!(bind.update_count(), 0, "no UPDATE was sent");
}

#[test]
fn a_record_changed_by_hand_is_put_back_at_the_recheck() {
    let Some(bind) = Bind::start("a_record_changed_by_hand_is_put_back", BindOptions::new()) else {
        return;
    };
    let engine = engine(
        &bind,
        vec![record("drift.example.test", IpFamily::V4)],
        Some(Duration::from_secs(1)),
    );
    let rt = runtime();
    rt.block_on(async {
        let source = Arc::new(FixedSource(ip("192.0.2.60")));
        let bindings = vec![ddns_core::SourceBinding::new(source, vec![IpFamily::V4])];
        let run = engine.run(bindings, std::future::pending());
        tokio::pin!(run);
        let check = async {
            wait_for(|| bind.query("drift.example.test", "A") == ["192.0.2.60"]).await;
            bind.nsupdate(
                Some("ddns-key"),
                "example.test",
                &[
                    "update delete drift.example.test A",
                    "update add drift.example.test 60 A 203.0.113.1",
                ],
            )
            .unwrap();
            assert_eq!(bind.query("drift.example.test", "A"), ["203.0.113.1"]);
            wait_for(|| bind.query("drift.example.test", "A") == ["192.0.2.60"]).await;
        };
        tokio::select! {
            result = &mut run => panic!("engine stopped: {result:?}"),
            () = check => {}
        }
    });
}

async fn wait_for(mut condition: impl FnMut() -> bool) {
    for _ in 0..100 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("condition not met within 10 s");
}

/// A source that reports one address and then nothing.
struct FixedSource(IpAddr);

#[async_trait::async_trait]
impl ddns_core::IpSource for FixedSource {
    fn name(&self) -> &str {
        "fixed"
    }

    async fn current(&self) -> Result<AddressSnapshot, ddns_core::SourceError> {
        Ok(AddressSnapshot {
            v4: Some(self.0),
            v6: None,
        })
    }

    fn watch(
        &self,
    ) -> futures_util::stream::BoxStream<'static, Result<ddns_core::IpEvent, ddns_core::SourceError>>
    {
        use futures_util::StreamExt;
        let event = ddns_core::IpEvent::Observed(self.0);
        futures_util::stream::iter([Ok(event)])
            .chain(futures_util::stream::pending())
            .boxed()
    }
}
