//! The provider against the strict API stand-in: what it sends, and what
//! it makes of every kind of answer.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ddns_cloudflare_standin::{
    Access, Fault, FaultKind, LoggedRequest, RecordSpec, StandIn, TokenSpec, TokenStatus, ZoneSpec,
};
use ddns_core::config::Env;
use ddns_core::{
    DnsProvider, DomainName, ErrorScope, IpFamily, ProviderErrorKind, ProviderFactory, Record,
    RecordChange,
};
use ddns_provider_cloudflare::CloudflareFactory;
use serde_json::json;

const TOKEN: &str = "cf-test-token-8c1d2e3f4a5b6c7d8e9f";

async fn provider(cf: &StandIn, extra: &[(&str, &str)]) -> Arc<dyn DnsProvider> {
    let url = cf.url();
    let mut pairs = vec![
        ("DDNS_PROVIDER_API_TOKEN", TOKEN),
        ("DDNS_CLOUDFLARE_API_URL", url.as_str()),
        ("DDNS_CLOUDFLARE_TIMEOUT_SECS", "2"),
    ];
    pairs.extend_from_slice(extra);
    CloudflareFactory
        .configure(&Env::from_pairs(pairs))
        .expect("valid configuration")
        .build()
        .await
        .expect("built")
}

fn record(name: &str, family: IpFamily) -> Record {
    Record::new(name.parse::<DomainName>().expect("name"), family)
}

fn a(name: &str) -> Record {
    record(name, IpFamily::V4)
}

fn change(record: &Record, address: &str) -> RecordChange {
    RecordChange::new(record.clone(), address.parse().expect("address"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

fn writes(cf: &StandIn) -> Vec<LoggedRequest> {
    cf.requests().into_iter().filter(|r| r.is_write()).collect()
}

fn summary(requests: &[LoggedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// A stand-in with the test token, the zone example.com and its id.
async fn setup() -> (StandIn, String) {
    let cf = StandIn::start().await;
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    (cf, zone)
}

#[tokio::test]
async fn every_request_carries_the_bearer_token_and_asks_for_json() {
    let (cf, zone) = setup().await;
    cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.1");
    let p = provider(&cf, &[]).await;
    p.check_credentials().await.expect("token accepted");
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("written");
    let sent = cf.requests();
    assert!(sent.len() >= 3, "{:?}", summary(&sent));
    for request in &sent {
        assert_eq!(request.bearer_token(), Some(TOKEN), "{}", request.path);
        assert_eq!(request.header("accept"), Some("application/json"));
        assert!(
            request
                .header("user-agent")
                .is_some_and(|ua| ua.starts_with("ddns/")),
            "{:?}",
            request.header("user-agent")
        );
    }
    let patch = sent.iter().find(|r| r.method == "PATCH").expect("a PATCH");
    assert_eq!(patch.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn a_user_token_is_verified_once() {
    let (cf, _) = setup().await;
    let p = provider(&cf, &[]).await;
    p.check_credentials().await.expect("accepted");
    assert_eq!(summary(&cf.requests()), vec!["GET /user/tokens/verify"]);
}

#[tokio::test]
async fn an_account_token_is_verified_under_its_account() {
    let cf = StandIn::start().await;
    let account = cf.default_account_id();
    cf.add_token(TOKEN, TokenSpec::account(&account));
    let p = provider(&cf, &[]).await;
    p.check_credentials()
        .await
        .expect("accepted as an account token");
    assert_eq!(
        summary(&cf.requests()),
        vec![
            "GET /user/tokens/verify".to_string(),
            "GET /accounts".to_string(),
            format!("GET /accounts/{account}/tokens/verify"),
        ]
    );

    // With the account given, the listing of accounts is skipped.
    cf.clear_requests();
    let p = provider(&cf, &[("DDNS_CLOUDFLARE_ACCOUNT_ID", &account)]).await;
    p.check_credentials().await.expect("accepted");
    assert_eq!(
        summary(&cf.requests()),
        vec![
            "GET /user/tokens/verify".to_string(),
            format!("GET /accounts/{account}/tokens/verify"),
        ]
    );
}

#[tokio::test]
async fn a_rejected_token_is_a_credentials_error_that_names_the_permissions() {
    let cf = StandIn::start().await;
    let p = provider(&cf, &[]).await;
    let error = p.check_credentials().await.expect_err("unknown token");
    assert_eq!(error.kind(), ProviderErrorKind::Credentials);
    let message = error.to_string();
    assert!(
        message.contains("code 1000: Invalid API Token"),
        "{message}"
    );
    assert!(
        message.contains("Zone:Read and DNS:Edit"),
        "the message must say which permissions are needed: {message}"
    );
    assert!(!message.contains(TOKEN));
}

#[tokio::test]
async fn a_disabled_or_expired_token_says_so() {
    for (status, word) in [
        (TokenStatus::Disabled, "disabled"),
        (TokenStatus::Expired, "expired"),
    ] {
        let cf = StandIn::start().await;
        cf.add_token(TOKEN, TokenSpec::user().status(status));
        let p = provider(&cf, &[]).await;
        let error = p.check_credentials().await.expect_err(word);
        assert_eq!(error.kind(), ProviderErrorKind::Credentials);
        assert!(
            error
                .to_string()
                .contains(&format!("the API token is {word}")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn ambiguous_answers_at_start_are_transient() {
    let cases = [
        (FaultKind::HtmlChallenge { status: 403 }, "an HTML page"),
        (FaultKind::Garbage, "the body is not JSON"),
        (FaultKind::Drop, "cannot reach the API"),
        (
            FaultKind::Status {
                status: 503,
                code: 10001,
                message: "Service unavailable".into(),
            },
            "HTTP 503 (server error)",
        ),
    ];
    for (kind, expected) in cases {
        let (cf, _) = setup().await;
        cf.inject(Fault::new(kind.clone()));
        let p = provider(&cf, &[]).await;
        let error = p.check_credentials().await.expect_err("fault");
        assert_eq!(
            error.kind(),
            ProviderErrorKind::Transient,
            "{kind:?}: {error}"
        );
        assert!(error.to_string().contains(expected), "{kind:?}: {error}");
        p.check_credentials()
            .await
            .expect("accepted once the API answers");
    }
}

#[tokio::test]
async fn an_unreachable_api_is_transient() {
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}/client/v4", listener.local_addr().expect("addr"))
    };
    let p = CloudflareFactory
        .configure(&Env::from_pairs([
            ("DDNS_PROVIDER_API_TOKEN", TOKEN),
            ("DDNS_CLOUDFLARE_API_URL", url.as_str()),
        ]))
        .expect("valid")
        .build()
        .await
        .expect("built");
    let error = p.check_credentials().await.expect_err("nothing listens");
    assert_eq!(error.kind(), ProviderErrorKind::Transient);
    assert!(
        error.to_string().contains("cannot reach the API"),
        "{error}"
    );
    assert!(!error.to_string().contains("/client/v4"), "{error}");
}

#[tokio::test]
async fn the_deepest_zone_holds_the_record() {
    let (cf, example) = setup().await;
    let sub = cf.add_zone("sub.example.com");
    let p = provider(&cf, &[]).await;
    p.update(&change(&a("vpn.sub.example.com"), "198.51.100.7"))
        .await
        .expect("created");
    assert!(
        cf.records(&example).is_empty(),
        "nothing in the parent zone"
    );
    let created = cf.records(&sub);
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].name, "vpn.sub.example.com");
    assert_eq!(created[0].content, "198.51.100.7");
    assert_eq!(created[0].ttl, 1, "new records get an automatic TTL");
    assert!(!created[0].proxied);

    let sent = cf.requests();
    assert_eq!(sent[0].path, "/zones");
    assert_eq!(sent[0].query_param("per_page"), Some("50"));
    assert_eq!(sent[0].query_param("page"), Some("1"));
    let post = sent.iter().find(|r| r.method == "POST").expect("POST");
    assert_eq!(post.path, format!("/zones/{sub}/dns_records"));
    assert_eq!(
        post.body,
        Some(
            json!({"type": "A", "name": "vpn.sub.example.com", "content": "198.51.100.7", "ttl": 1, "proxied": false})
        )
    );

    // A name with no zone fails for good, saying what was tried.
    let error = p
        .update(&change(&a("www.example.org"), "198.51.100.7"))
        .await
        .expect_err("no zone");
    assert_eq!(error.kind(), ProviderErrorKind::Permanent);
    assert!(
        error
            .to_string()
            .contains("no zone the API token can see holds www.example.org (tried www.example.org, example.org)"),
        "{error}"
    );
}

#[tokio::test]
async fn zone_lists_and_record_lists_are_followed_to_the_last_page() {
    let cf = StandIn::start().await;
    cf.add_token(TOKEN, TokenSpec::user());
    for i in 0..60 {
        cf.add_zone(&format!("zone{i:02}.example"));
    }
    let zone = cf.add_zone("zz-last.example");
    // 150 records of one name and type: two pages of 100.
    for i in 0..150 {
        cf.add_record(
            &zone,
            "A",
            "vpn.zz-last.example",
            &format!("192.0.2.{}", i % 250 + 1),
        );
    }
    cf.add_record(&zone, "A", "other.zz-last.example", "192.0.2.250");
    let p = provider(&cf, &[]).await;
    let values = p
        .read(&a("vpn.zz-last.example"))
        .await
        .expect("read")
        .expect("readable");
    assert_eq!(values.len(), 150);
    let sent = cf.requests();
    let zone_pages: Vec<_> = sent
        .iter()
        .filter(|r| r.path == "/zones")
        .map(|r| r.query_param("page").unwrap_or_default().to_string())
        .collect();
    assert_eq!(zone_pages, vec!["1", "2"]);
    let record_pages: Vec<_> = sent
        .iter()
        .filter(|r| r.path.ends_with("/dns_records"))
        .collect();
    assert_eq!(record_pages.len(), 2);
    for request in &record_pages {
        assert_eq!(
            request.query_param("name.exact"),
            Some("vpn.zz-last.example")
        );
        assert_eq!(request.query_param("type"), Some("A"));
        assert_eq!(request.query_param("per_page"), Some("100"));
    }

    // The write keeps one record and removes the other 149 in one batch
    // (150 operations are within the 200 of a batch); other names stay.
    cf.clear_requests();
    p.update(&change(&a("vpn.zz-last.example"), "192.0.2.1"))
        .await
        .expect("written");
    let remaining = cf.records(&zone);
    let vpn: Vec<_> = remaining
        .iter()
        .filter(|r| r.name == "vpn.zz-last.example")
        .collect();
    assert_eq!(vpn.len(), 1);
    assert_eq!(vpn[0].content, "192.0.2.1");
    assert!(remaining.iter().any(|r| r.name == "other.zz-last.example"));
    let batch = writes(&cf);
    assert_eq!(
        summary(&batch),
        vec![format!("POST /zones/{zone}/dns_records/batch")]
    );
    let body = batch[0].body.as_ref().expect("body");
    assert_eq!(body["deletes"].as_array().map(Vec::len), Some(149));
    assert!(
        body.get("patches").is_none(),
        "the kept record already holds the address"
    );
}

#[tokio::test]
async fn an_update_changes_only_the_content_and_keeps_everything_else() {
    let (cf, zone) = setup().await;
    let id = cf.add_record_with(
        &zone,
        RecordSpec::new("A", "vpn.example.com", "192.0.2.1")
            .ttl(300)
            .comment("set by hand"),
    );
    let proxied_id = cf.add_record_with(
        &zone,
        RecordSpec::new("AAAA", "web.example.com", "2001:db8::1").proxied(true),
    );
    let p = provider(&cf, &[]).await;
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("written");
    p.update(&change(
        &record("web.example.com", IpFamily::V6),
        "2001:db8::7",
    ))
    .await
    .expect("written");
    let patches: Vec<_> = writes(&cf);
    assert_eq!(
        summary(&patches),
        vec![
            format!("PATCH /zones/{zone}/dns_records/{id}"),
            format!("PATCH /zones/{zone}/dns_records/{proxied_id}"),
        ]
    );
    assert_eq!(patches[0].body, Some(json!({"content": "198.51.100.7"})));
    assert_eq!(patches[1].body, Some(json!({"content": "2001:db8::7"})));
    let vpn = cf.record(&id).expect("same id");
    assert_eq!(
        (
            vpn.content.as_str(),
            vpn.ttl,
            vpn.comment.as_deref(),
            vpn.proxied
        ),
        ("198.51.100.7", 300, Some("set by hand"), false)
    );
    let web = cf.record(&proxied_id).expect("same id");
    assert!(web.proxied, "the proxy status set by hand is kept");
    assert!(!p.dns_shows_published(&record("web.example.com", IpFamily::V6)));
    assert!(p.dns_shows_published(&a("vpn.example.com")));
    assert!(
        !p.dns_shows_published(&a("unknown.example.com")),
        "a record never listed may be proxied"
    );
}

#[tokio::test]
async fn configured_settings_are_written_with_the_change() {
    let (cf, zone) = setup().await;
    let id = cf.add_record_with(
        &zone,
        RecordSpec::new("A", "vpn.example.com", "192.0.2.1")
            .ttl(300)
            .proxied(true),
    );
    let p = provider(
        &cf,
        &[
            ("DDNS_CLOUDFLARE_PROXIED", "false"),
            ("DDNS_TTL", "120"),
            ("DDNS_CLOUDFLARE_COMMENT", "managed by ddns"),
        ],
    )
    .await;
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("written");
    p.update(&change(&a("new.example.com"), "198.51.100.7"))
        .await
        .expect("created");
    let sent = writes(&cf);
    assert_eq!(
        sent[0].body,
        Some(
            json!({"content": "198.51.100.7", "ttl": 120, "proxied": false, "comment": "managed by ddns"})
        )
    );
    assert_eq!(
        sent[1].body,
        Some(
            json!({"type": "A", "name": "new.example.com", "content": "198.51.100.7", "ttl": 120, "proxied": false, "comment": "managed by ddns"})
        )
    );
    let vpn = cf.record(&id).expect("kept");
    assert_eq!((vpn.ttl, vpn.proxied), (120, false));
    assert!(p.dns_shows_published(&a("vpn.example.com")));
}

#[tokio::test]
async fn nothing_is_written_when_the_record_holds_the_address() {
    let (cf, zone) = setup().await;
    cf.add_record(&zone, "A", "vpn.example.com", "198.51.100.7");
    let p = provider(&cf, &[]).await;
    let values = p.read(&a("vpn.example.com")).await.expect("read");
    assert_eq!(values, Some(vec![ip("198.51.100.7")]));
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("nothing to do");
    assert!(writes(&cf).is_empty(), "{:?}", summary(&cf.requests()));
}

#[tokio::test]
async fn a_record_changed_by_hand_is_seen_and_put_back() {
    let (cf, zone) = setup().await;
    let id = cf.add_record(&zone, "A", "vpn.example.com", "198.51.100.7");
    let p = provider(&cf, &[]).await;
    assert_eq!(
        p.read(&a("vpn.example.com")).await.expect("read"),
        Some(vec![ip("198.51.100.7")])
    );
    cf.set_content(&id, "203.0.113.99");
    assert_eq!(
        p.read(&a("vpn.example.com")).await.expect("read"),
        Some(vec![ip("203.0.113.99")])
    );
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("put back");
    assert_eq!(cf.record(&id).expect("same id").content, "198.51.100.7");
}

#[tokio::test]
async fn a_record_deleted_by_hand_is_listed_again_and_created() {
    let (cf, zone) = setup().await;
    let id = cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.1");
    let p = provider(&cf, &[]).await;
    p.read(&a("vpn.example.com")).await.expect("read");
    cf.delete_record(&id);
    cf.clear_requests();
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("recreated");
    let sent = summary(&cf.requests());
    assert_eq!(
        sent,
        vec![
            format!("PATCH /zones/{zone}/dns_records/{id}"),
            format!("GET /zones/{zone}/dns_records"),
            format!("POST /zones/{zone}/dns_records"),
        ]
    );
    let now = cf.records(&zone);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].content, "198.51.100.7");
}

#[tokio::test]
async fn a_zone_that_vanished_is_found_again() {
    let (cf, zone) = setup().await;
    cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.1");
    let p = provider(&cf, &[]).await;
    p.read(&a("vpn.example.com")).await.expect("read");
    // The zone is deleted and added again: it gets a new ID.
    cf.remove_zone(&zone);
    let again = cf.add_zone("example.com");
    let error = p
        .update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect_err("the cached zone ID is gone");
    assert_eq!(error.kind(), ProviderErrorKind::Transient);
    assert!(error.to_string().contains("code 7003"), "{error}");
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("the zone is looked up again");
    assert_eq!(cf.records(&again)[0].content, "198.51.100.7");
}

#[tokio::test]
async fn duplicates_are_removed_and_other_records_untouched() {
    let (cf, zone) = setup().await;
    let first = cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.1");
    cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.2");
    cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.3");
    let aaaa = cf.add_record(&zone, "AAAA", "vpn.example.com", "2001:db8::1");
    let txt = cf.add_record(&zone, "TXT", "vpn.example.com", "\"hello\"");
    let other = cf.add_record(&zone, "A", "mail.example.com", "192.0.2.9");
    let p = provider(&cf, &[]).await;
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("written");
    let sent = writes(&cf);
    assert_eq!(
        summary(&sent),
        vec![format!("POST /zones/{zone}/dns_records/batch")]
    );
    let body = sent[0].body.as_ref().expect("body");
    assert_eq!(body["deletes"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        body["patches"],
        json!([{"id": first, "content": "198.51.100.7"}])
    );
    let records = cf.records(&zone);
    let vpn_a: Vec<_> = records
        .iter()
        .filter(|r| r.name == "vpn.example.com" && r.record_type == "A")
        .collect();
    assert_eq!(vpn_a.len(), 1);
    assert_eq!(
        (vpn_a[0].id.as_str(), vpn_a[0].content.as_str()),
        (first.as_str(), "198.51.100.7")
    );
    for id in [aaaa, txt, other] {
        assert!(cf.record(&id).is_some(), "{id} must not be touched");
    }
}

#[tokio::test]
async fn many_records_take_one_listing_and_batches_of_two_hundred() {
    let (cf, zone) = setup().await;
    let records: Vec<Record> = (0..450).map(|i| a(&format!("h{i}.example.com"))).collect();
    for r in &records[..300] {
        cf.add_record(&zone, "A", r.name().as_str(), "192.0.2.1");
    }
    let p = provider(&cf, &[]).await;
    let read = p.read_many(&records).await;
    assert!(read.iter().all(Result::is_ok));
    assert_eq!(read[0].as_ref().ok(), Some(&Some(vec![ip("192.0.2.1")])));
    assert_eq!(read[449].as_ref().ok(), Some(&Some(Vec::new())));
    let lists: Vec<_> = cf
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/dns_records"))
        .collect();
    assert_eq!(lists.len(), 1, "one listing for the zone");
    assert_eq!(lists[0].query_param("type"), Some("A"));
    assert_eq!(lists[0].query_param("name.exact"), None);

    cf.clear_requests();
    let changes: Vec<RecordChange> = records.iter().map(|r| change(r, "198.51.100.7")).collect();
    let results = p.update_many(&changes).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let sent = cf.requests();
    assert!(
        sent.iter().all(|r| r.path.ends_with("/batch")),
        "the listing is fresh, so only batches go out: {:?}",
        summary(&sent)
    );
    let sizes: Vec<usize> = sent
        .iter()
        .map(|r| {
            let body = r.body.as_ref().expect("body");
            ["deletes", "patches", "posts"]
                .iter()
                .map(|k| body.get(*k).and_then(|v| v.as_array()).map_or(0, Vec::len))
                .sum()
        })
        .collect();
    assert_eq!(sizes, vec![200, 200, 50]);
    assert!(
        cf.records(&zone)
            .iter()
            .all(|r| r.content == "198.51.100.7")
    );
    assert_eq!(cf.records(&zone).len(), 450);
}

#[tokio::test]
async fn a_refused_batch_is_retried_change_by_change() {
    let (cf, zone) = setup().await;
    for name in ["a", "b", "c"] {
        cf.add_record(&zone, "A", &format!("{name}.example.com"), "192.0.2.1");
    }
    let p = provider(&cf, &[]).await;
    cf.inject(
        Fault::new(FaultKind::Status {
            status: 400,
            code: 9005,
            message: "Content for A record must be a valid IPv4 address.".into(),
        })
        .path_contains("/batch"),
    );
    let changes: Vec<RecordChange> = ["a", "b", "c"]
        .iter()
        .map(|n| change(&a(&format!("{n}.example.com")), "198.51.100.7"))
        .collect();
    let results = p.update_many(&changes).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let sent: Vec<String> = summary(&writes(&cf));
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent[0].ends_with("/batch"));
    assert!(
        sent[1..].iter().all(|s| s.starts_with("PATCH ")),
        "{sent:?}"
    );
}

#[tokio::test]
async fn rate_limits_pause_the_whole_api() {
    let (cf, zone) = setup().await;
    cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.1");
    let p = provider(&cf, &[]).await;
    cf.inject(Fault::new(FaultKind::RateLimited {
        retry_after_secs: Some(7),
    }));
    let error = p.read(&a("vpn.example.com")).await.expect_err("429");
    assert_eq!(error.kind(), ProviderErrorKind::RateLimited);
    assert_eq!(error.scope(), ErrorScope::Provider);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));

    cf.inject(Fault::new(FaultKind::RateLimited {
        retry_after_secs: None,
    }));
    let error = p.read(&a("vpn.example.com")).await.expect_err("429");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(300)));
    assert!(error.to_string().contains("without Retry-After"), "{error}");
}

#[tokio::test]
async fn every_error_class_is_told_apart() {
    let (cf, zone) = setup().await;
    cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.1");
    let p = provider(&cf, &[]).await;
    p.read(&a("vpn.example.com")).await.expect("zone known");
    let cases = [
        (
            FaultKind::Status {
                status: 500,
                code: 10001,
                message: "Internal error".into(),
            },
            ProviderErrorKind::Transient,
            "HTTP 500 (server error), code 10001: Internal error",
        ),
        (
            FaultKind::Delay(Duration::from_secs(4)),
            ProviderErrorKind::Timeout,
            "no answer within 2000 ms",
        ),
        (
            FaultKind::Drop,
            ProviderErrorKind::Transient,
            "cannot reach the API",
        ),
        (
            FaultKind::HtmlChallenge { status: 403 },
            ProviderErrorKind::Transient,
            "an HTML page instead of JSON",
        ),
        (
            FaultKind::Status {
                status: 400,
                code: 9005,
                message: "Content for A record must be a valid IPv4 address.".into(),
            },
            ProviderErrorKind::Permanent,
            "HTTP 400, code 9005: Content for A record must be a valid IPv4 address.",
        ),
        (
            FaultKind::Status {
                status: 403,
                code: 10000,
                message: "Authentication error".into(),
            },
            ProviderErrorKind::Credentials,
            "code 10000: Authentication error; the API token needs the permissions Zone:Read and DNS:Edit",
        ),
    ];
    for (kind, expected_kind, expected_text) in cases {
        cf.inject(Fault::new(kind.clone()).method("PATCH"));
        let error = p
            .update(&change(&a("vpn.example.com"), "198.51.100.7"))
            .await
            .expect_err("fault");
        assert_eq!(error.kind(), expected_kind, "{kind:?}: {error}");
        let text = error.to_string();
        assert!(
            text.starts_with("Cloudflare: writing vpn.example.com A: "),
            "{text}"
        );
        assert!(text.contains(expected_text), "{kind:?}: {text}");
        assert!(!text.contains(TOKEN));
    }
    p.update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect("written once the API answers");
}

#[tokio::test]
async fn a_token_without_dns_edit_is_refused_with_the_permission_named() {
    let cf = StandIn::start().await;
    let zone = cf.add_zone_with(ZoneSpec::new("example.com"));
    cf.add_token(TOKEN, TokenSpec::user().dns_edit(Access::None));
    cf.add_record(&zone, "A", "vpn.example.com", "192.0.2.1");
    let p = provider(&cf, &[]).await;
    p.check_credentials()
        .await
        .expect("the token itself is valid");
    let error = p
        .update(&change(&a("vpn.example.com"), "198.51.100.7"))
        .await
        .expect_err("no DNS:Edit");
    assert_eq!(error.kind(), ProviderErrorKind::Credentials);
    assert!(error.to_string().contains("DNS:Edit"), "{error}");
}
