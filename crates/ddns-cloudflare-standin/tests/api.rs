//! The stand-in's API over real HTTP: envelope, authentication, permissions,
//! zones, record listing and filters, writes and their validation, batches,
//! and the request log.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashSet;

use ddns_cloudflare_standin::{
    Access, DnsRecord, Plan, RecordSpec, StandIn, TokenSpec, TokenStatus, ZoneSpec, ZoneStatus,
};
use serde_json::{Value, json};
use support::{TOKEN, call, get, send};

async fn standin_with_zone() -> (StandIn, String) {
    let cf = StandIn::start().await;
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    (cf, zone)
}

fn is_hex32(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn verify_answers_the_envelope_with_the_token_status() {
    let cf = StandIn::start().await;
    let id = cf.add_token(TOKEN, TokenSpec::user());
    let answer = get(&cf, "/user/tokens/verify").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "application/json");
    assert!(answer.headers.contains_key("cf-ray"));
    assert_eq!(
        answer.body,
        json!({
            "success": true,
            "errors": [],
            "messages": [],
            "result": { "id": id, "status": "active" },
        })
    );
}

#[tokio::test]
async fn authentication_errors_follow_the_real_api() {
    let cf = StandIn::start().await;
    cf.add_token(TOKEN, TokenSpec::user());
    cf.add_token("disabled", TokenSpec::user().status(TokenStatus::Disabled));
    let account = cf.add_account("Other");
    cf.add_token("account-token", TokenSpec::account(&account));

    // No header, or not a bearer token.
    let answer = call(&cf, "GET", "/zones", None, None).await;
    answer.assert_error(400, 6003);
    assert_eq!(answer.message(), "Invalid request headers");
    assert_eq!(answer.body["errors"][0]["error_chain"][0]["code"], 6111);
    assert_eq!(
        answer.body["errors"][0]["error_chain"][0]["message"],
        "Invalid format for Authorization header"
    );
    let basic = support::builder()
        .build()
        .unwrap()
        .get(format!("{}/zones", cf.url()))
        .header("authorization", format!("Basic {TOKEN}"))
        .send()
        .await
        .unwrap();
    support::answer(basic).await.assert_error(400, 6003);

    // Unknown token: 401 at the verify endpoint, 403 elsewhere.
    let answer = call(&cf, "GET", "/user/tokens/verify", Some("nope"), None).await;
    answer.assert_error(401, 1000);
    assert_eq!(answer.message(), "Invalid API Token");
    let answer = call(&cf, "GET", "/zones", Some("nope"), None).await;
    answer.assert_error(403, 10000);
    assert_eq!(answer.message(), "Authentication error");

    // An account token is invalid at the user endpoint, valid at its account's.
    call(
        &cf,
        "GET",
        "/user/tokens/verify",
        Some("account-token"),
        None,
    )
    .await
    .assert_error(401, 1000);
    let path = format!("/accounts/{account}/tokens/verify");
    let answer = call(&cf, "GET", &path, Some("account-token"), None).await;
    assert_eq!(answer.ok()["status"], "active");
    let other = format!("/accounts/{}/tokens/verify", cf.default_account_id());
    call(&cf, "GET", &other, Some("account-token"), None)
        .await
        .assert_error(401, 1000);
    call(&cf, "GET", &path, Some(TOKEN), None)
        .await
        .assert_error(401, 1000);

    // A disabled token verifies as disabled and can do nothing else.
    let answer = call(&cf, "GET", "/user/tokens/verify", Some("disabled"), None).await;
    assert_eq!(answer.ok()["status"], "disabled");
    call(&cf, "GET", "/zones", Some("disabled"), None)
        .await
        .assert_error(403, 10000);
}

#[tokio::test]
async fn permissions_limit_what_a_token_sees_and_changes() {
    let cf = StandIn::start().await;
    let seen = cf.add_zone("seen.example");
    let hidden = cf.add_zone("hidden.example");
    let other_account = cf.add_account("Other");
    let foreign = cf.add_zone_with(ZoneSpec::new("foreign.example").account(&other_account));
    cf.add_token("narrow", TokenSpec::user().only_zones(&[&seen]));
    cf.add_token("read-only", TokenSpec::user().dns_edit(Access::None));
    cf.add_token("account", TokenSpec::account(&other_account));

    let names = |answer: &support::Answer| -> Vec<String> {
        answer
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|z| z["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let answer = call(&cf, "GET", "/zones", Some("narrow"), None).await;
    assert_eq!(names(&answer), ["seen.example"]);
    call(
        &cf,
        "GET",
        &format!("/zones/{hidden}/dns_records"),
        Some("narrow"),
        None,
    )
    .await
    .assert_error(403, 10000);
    call(
        &cf,
        "GET",
        &format!("/zones/{hidden}"),
        Some("narrow"),
        None,
    )
    .await
    .assert_error(403, 10000);

    let answer = call(&cf, "GET", "/zones", Some("account"), None).await;
    assert_eq!(names(&answer), ["foreign.example"]);
    call(
        &cf,
        "GET",
        &format!("/zones/{seen}/dns_records"),
        Some("account"),
        None,
    )
    .await
    .assert_error(403, 10000);
    let answer = call(&cf, "GET", "/accounts", Some("account"), None).await;
    assert_eq!(answer.ok().as_array().unwrap().len(), 1);
    assert_eq!(answer.ok()[0]["id"], other_account.as_str());

    let record = json!({"type": "A", "name": "h", "content": "192.0.2.1"});
    let path = format!("/zones/{foreign}/dns_records");
    call(&cf, "GET", &path, Some("read-only"), None).await.ok();
    call(&cf, "POST", &path, Some("read-only"), Some(record.clone()))
        .await
        .assert_error(403, 10000);
    assert!(cf.records(&foreign).is_empty());
    call(&cf, "POST", &path, Some("account"), Some(record))
        .await
        .ok();
    assert_eq!(cf.records(&foreign).len(), 1);
}

#[tokio::test]
async fn zones_filter_paginate_and_refuse_what_is_not_documented() {
    let cf = StandIn::start().await;
    cf.add_token(TOKEN, TokenSpec::user());
    let id = cf.add_zone("example.com");
    cf.add_zone_with(
        ZoneSpec::new("pending.example")
            .status(ZoneStatus::Pending)
            .plan(Plan::Pro),
    );
    for i in 0..6 {
        cf.add_zone(&format!("zone{i}.example"));
    }

    let answer = get(&cf, "/zones?name=example.com").await;
    let zones = answer.ok().as_array().unwrap();
    assert_eq!(zones.len(), 1);
    assert_eq!(zones[0]["id"], id.as_str());
    assert!(is_hex32(&zones[0]["id"]));
    assert_eq!(zones[0]["status"], "active");
    assert_eq!(zones[0]["account"]["id"], cf.default_account_id().as_str());
    assert_eq!(
        answer.body["result_info"],
        json!({"page": 1, "per_page": 20, "count": 1, "total_count": 1, "total_pages": 1})
    );
    let answer = get(&cf, "/zones?status=pending").await;
    assert_eq!(answer.ok()[0]["name"], "pending.example");

    let answer = get(&cf, "/zones?per_page=5&page=2").await;
    assert_eq!(
        answer.body["result_info"],
        json!({"page": 2, "per_page": 5, "count": 3, "total_count": 8, "total_pages": 2})
    );

    let answer = get(&cf, "/zones/00000000000000000000000000000000").await;
    answer.assert_error(400, 7003);
    assert_eq!(
        answer.message(),
        "Could not route to /client/v4/zones/00000000000000000000000000000000, perhaps your object identifier is invalid?"
    );
    assert_eq!(answer.body["errors"][1]["code"], 7000);
    assert_eq!(answer.body["errors"][1]["message"], "No route for that URI");
    assert_eq!(
        get(&cf, &format!("/zones/{id}")).await.ok()["name"],
        "example.com"
    );

    for bad in ["per_page=51", "per_page=4", "page=0", "page=x"] {
        get(&cf, &format!("/zones?{bad}"))
            .await
            .assert_error(400, 1004);
    }
    let answer = get(&cf, "/zones?nme=example.com").await;
    answer.assert_error(400, 1004);
    assert!(answer.message().contains("`nme`"), "{}", answer.message());
    get(&cf, "/zones?name=example.com&name=x.com")
        .await
        .assert_error(400, 1004);
    get(&cf, "/nowhere").await.assert_error(404, 7000);
}

#[tokio::test]
async fn records_paginate_with_exact_result_info() {
    let (cf, zone) = standin_with_zone().await;
    for i in 0..250 {
        cf.add_record(&zone, "A", &format!("h{i:03}"), "192.0.2.1");
    }
    let mut ids = HashSet::new();
    for (page, count) in [(1, 100), (2, 100), (3, 50)] {
        let answer = get(
            &cf,
            &format!("/zones/{zone}/dns_records?per_page=100&page={page}"),
        )
        .await;
        let records = answer.ok().as_array().unwrap();
        assert_eq!(records.len(), count);
        assert_eq!(
            answer.body["result_info"],
            json!({"page": page, "per_page": 100, "count": count, "total_count": 250, "total_pages": 3})
        );
        ids.extend(records.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(ids.len(), 250);
    let answer = get(
        &cf,
        &format!("/zones/{zone}/dns_records?per_page=100&page=4"),
    )
    .await;
    assert_eq!(answer.ok().as_array().unwrap().len(), 0);
    assert_eq!(answer.body["result_info"]["total_pages"], 3);
    let answer = get(&cf, &format!("/zones/{zone}/dns_records")).await;
    assert_eq!(answer.body["result_info"]["per_page"], 100);
    assert_eq!(answer.ok()[0]["name"], "h000.example.com");
}

#[tokio::test]
async fn name_filters_match_exactly_and_unknown_parameters_are_refused() {
    let (cf, zone) = standin_with_zone().await;
    cf.add_record(&zone, "A", "home.example.com", "192.0.2.1");
    cf.add_record(&zone, "AAAA", "home", "2001:db8::1");
    cf.add_record(&zone, "A", "homework.example.com", "192.0.2.2");
    cf.add_record(&zone, "A", "sub.home.example.com", "192.0.2.3");
    let names = |query: &str| {
        let cf = &cf;
        let zone = &zone;
        let query = query.to_owned();
        async move {
            let answer = get(cf, &format!("/zones/{zone}/dns_records?{query}")).await;
            answer
                .ok()
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    format!(
                        "{} {}",
                        r["type"].as_str().unwrap(),
                        r["name"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names("name=home.example.com").await,
        ["A home.example.com", "AAAA home.example.com"]
    );
    assert_eq!(names("name=HOME.example.com").await.len(), 2);
    assert_eq!(
        names("name.exact=home.example.com&type=A").await,
        ["A home.example.com"]
    );
    assert_eq!(names("type=AAAA").await, ["AAAA home.example.com"]);
    assert_eq!(
        names("name.endswith=.home.example.com").await,
        ["A sub.home.example.com"]
    );
    assert_eq!(names("content=192.0.2.2").await, ["A homework.example.com"]);
    assert_eq!(
        names("match=any&type=AAAA&content=192.0.2.2").await,
        ["A homework.example.com", "AAAA home.example.com"]
    );
    assert!(names("name=home").await.is_empty());

    let path = format!("/zones/{zone}/dns_records");
    let answer = get(&cf, &format!("{path}?zone_name=example.com")).await;
    answer.assert_error(400, 1004);
    assert!(
        answer.message().contains("`zone_name`"),
        "{}",
        answer.message()
    );
    let answer = get(&cf, &format!("{path}?search=home")).await;
    answer.assert_error(400, 1004);
    assert!(
        answer.message().contains("not implemented"),
        "{}",
        answer.message()
    );
    get(&cf, &format!("{path}?per_page=4"))
        .await
        .assert_error(400, 1004);
    get(&cf, &format!("{path}?type=BOGUS"))
        .await
        .assert_error(400, 1004);
    get(&cf, &format!("{path}?proxied=yes"))
        .await
        .assert_error(400, 1004);
}

#[tokio::test]
async fn create_returns_the_full_record_and_completes_names() {
    let (cf, zone) = standin_with_zone().await;
    let path = format!("/zones/{zone}/dns_records");
    let answer = send(
        &cf,
        "POST",
        &path,
        json!({"type": "A", "name": "Home", "content": "192.0.2.1"}),
    )
    .await;
    let record = answer.ok().clone();
    assert!(is_hex32(&record["id"]));
    assert_eq!(record["zone_id"], zone.as_str());
    assert_eq!(record["zone_name"], "example.com");
    assert_eq!(record["name"], "home.example.com");
    assert_eq!(record["type"], "A");
    assert_eq!(record["content"], "192.0.2.1");
    assert_eq!(record["ttl"], 1);
    assert_eq!(record["proxied"], false);
    assert_eq!(record["proxiable"], true);
    assert_eq!(record["comment"], Value::Null);
    assert_eq!(record["tags"], json!([]));
    assert_eq!(record["meta"], json!({}));
    assert!(record["created_on"].as_str().unwrap().ends_with('Z'));
    let parsed: DnsRecord = serde_json::from_value(record.clone()).unwrap();
    assert_eq!(cf.records(&zone), std::slice::from_ref(&parsed));

    let answer = get(&cf, &format!("{path}/{}", parsed.id)).await;
    assert_eq!(answer.ok(), &record);

    let apex = send(
        &cf,
        "POST",
        &path,
        json!({"type": "AAAA", "name": "@", "content": "2001:DB8::1"}),
    )
    .await;
    assert_eq!(apex.ok()["name"], "example.com");
    assert_eq!(apex.ok()["content"], "2001:db8::1");

    let answer = call(
        &cf,
        "DELETE",
        &format!("{path}/{}", parsed.id),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(answer.ok(), &json!({"id": parsed.id}));
    assert!(cf.record(&parsed.id).is_none());
    call(
        &cf,
        "DELETE",
        &format!("{path}/{}", parsed.id),
        Some(TOKEN),
        None,
    )
    .await
    .assert_error(404, 81044);
}

#[tokio::test]
async fn patch_keeps_unnamed_fields_and_put_resets_them() {
    let (cf, zone) = standin_with_zone().await;
    let id = cf.add_record_with(
        &zone,
        RecordSpec::new("A", "home", "192.0.2.1")
            .ttl(300)
            .comment("keep me"),
    );
    let proxied = cf.add_record_with(
        &zone,
        RecordSpec::new("A", "www", "192.0.2.9").proxied(true),
    );
    let path = format!("/zones/{zone}/dns_records");

    let patched = send(
        &cf,
        "PATCH",
        &format!("{path}/{id}"),
        json!({"content": "192.0.2.2"}),
    )
    .await;
    let patched = patched.ok();
    assert_eq!(patched["content"], "192.0.2.2");
    assert_eq!(patched["ttl"], 300);
    assert_eq!(patched["comment"], "keep me");
    assert_eq!(patched["name"], "home.example.com");
    let patched = send(
        &cf,
        "PATCH",
        &format!("{path}/{proxied}"),
        json!({"content": "192.0.2.10"}),
    )
    .await;
    assert_eq!(patched.ok()["proxied"], true);

    let put = send(
        &cf,
        "PUT",
        &format!("{path}/{id}"),
        json!({"type": "A", "name": "home.example.com", "content": "192.0.2.3"}),
    )
    .await;
    let put = put.ok();
    assert_eq!(put["content"], "192.0.2.3");
    assert_eq!(put["ttl"], 1);
    assert_eq!(put["comment"], Value::Null);
    assert_eq!(put["proxied"], false);
    assert_eq!(put["id"], id.as_str());
    let put = send(
        &cf,
        "PUT",
        &format!("{path}/{proxied}"),
        json!({"type": "A", "name": "www", "content": "192.0.2.10"}),
    )
    .await;
    assert_eq!(put.ok()["proxied"], false);

    // PUT needs the whole record.
    send(
        &cf,
        "PUT",
        &format!("{path}/{id}"),
        json!({"type": "A", "name": "home"}),
    )
    .await
    .assert_error(400, 9005);
    assert_eq!(cf.record(&id).unwrap().content, "192.0.2.3");

    send(
        &cf,
        "PATCH",
        &format!("{path}/ffffffffffffffffffffffffffffffff"),
        json!({"content": "192.0.2.4"}),
    )
    .await
    .assert_error(404, 81044);
    get(&cf, &format!("{path}/ffffffffffffffffffffffffffffffff"))
        .await
        .assert_error(404, 81044);
}

#[tokio::test]
async fn invalid_writes_are_refused_with_the_api_codes() {
    let (cf, zone) = standin_with_zone().await;
    let existing = cf.add_record(&zone, "A", "home", "192.0.2.1");
    let path = format!("/zones/{zone}/dns_records");
    let cases = [
        (
            json!({"type": "A", "name": "h", "content": "192.0.2.256"}),
            9005,
            "Content for A record must be a valid IPv4 address.",
        ),
        (
            json!({"type": "AAAA", "name": "h", "content": "192.0.2.1"}),
            9006,
            "Content for AAAA record must be a valid IPv6 address.",
        ),
        (
            json!({"type": "A", "name": "h", "content": "192.0.2.1", "ttl": 10}),
            9021,
            "TTL must be between 30 and 86400 seconds, or 1 for Automatic.",
        ),
        (
            json!({"type": "A", "name": "h", "content": "192.0.2.1", "ttl": "300"}),
            9207,
            "Request body is invalid.",
        ),
        (
            json!({"type": "A", "name": "h", "content": "192.0.2.1", "ttl_seconds": 300}),
            9207,
            "Request body is invalid.",
        ),
        (
            json!({"type": "A", "name": "home", "content": "192.0.2.1"}),
            81058,
            "An identical record already exists.",
        ),
        (
            json!({"type": "CNAME", "name": "home", "content": "target.example.net"}),
            81053,
            "An A, AAAA, or CNAME record with that host already exists.",
        ),
        (
            json!({"type": "TXT", "name": "t", "content": "x", "proxied": true}),
            9004,
            "This record type cannot be proxied.",
        ),
        (
            json!({"type": "A", "name": "h", "content": "192.0.2.1", "comment": "x".repeat(101)}),
            9101,
            "",
        ),
        (
            json!({"type": "A", "name": "h", "content": "192.0.2.1", "tags": ["owner:ddns"]}),
            9103,
            "",
        ),
        (
            json!(["not", "an", "object"]),
            9207,
            "Request body is invalid.",
        ),
    ];
    for (body, code, message) in cases {
        let answer = send(&cf, "POST", &path, body.clone()).await;
        answer.assert_error(400, code);
        if !message.is_empty() {
            assert_eq!(answer.message(), message, "for {body}");
        }
    }
    let answer = send(
        &cf,
        "POST",
        &path,
        json!({"type": "A", "name": "h", "content": "192.0.2.1", "ttl_seconds": 3}),
    )
    .await;
    assert_eq!(
        answer.body["errors"][0]["source"]["pointer"],
        "/ttl_seconds"
    );
    send(
        &cf,
        "PATCH",
        &format!("{path}/{existing}"),
        json!({"content": "::1"}),
    )
    .await
    .assert_error(400, 9005);
    assert_eq!(
        cf.records(&zone).len(),
        1,
        "a refused write changed nothing"
    );

    // Content type and JSON.
    let client = support::builder().build().unwrap();
    let response = client
        .post(format!("{}{path}", cf.url()))
        .bearer_auth(TOKEN)
        .body(r#"{"type":"A","name":"h","content":"192.0.2.7"}"#)
        .send()
        .await
        .unwrap();
    let answer = support::answer(response).await;
    answer.assert_error(400, 6003);
    assert_eq!(answer.body["errors"][0]["error_chain"][0]["code"], 6105);
    let response = client
        .post(format!("{}{path}", cf.url()))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"type":"A","#)
        .send()
        .await
        .unwrap();
    let answer = support::answer(response).await;
    answer.assert_error(400, 6007);
    assert_eq!(answer.message(), "Malformed JSON in request body");
    assert_eq!(cf.records(&zone).len(), 1);

    // Pro zones take longer comments and tags.
    let pro = cf.add_zone_with(ZoneSpec::new("pro.example").plan(Plan::Pro));
    let answer = send(
        &cf,
        "POST",
        &format!("/zones/{pro}/dns_records"),
        json!({"type": "A", "name": "h", "content": "192.0.2.1", "comment": "x".repeat(101), "tags": ["owner:ddns"]}),
    )
    .await;
    assert_eq!(answer.ok()["tags"], json!(["owner:ddns"]));
}

#[tokio::test]
async fn a_failing_batch_changes_nothing() {
    let (cf, zone) = standin_with_zone().await;
    let old = cf.add_record(&zone, "A", "home", "192.0.2.1");
    let kept = cf.add_record_with(
        &zone,
        RecordSpec::new("AAAA", "home", "2001:db8::1").ttl(300),
    );
    let before = cf.records(&zone);
    let path = format!("/zones/{zone}/dns_records/batch");

    let answer = send(
        &cf,
        "POST",
        &path,
        json!({
            "deletes": [{"id": old}],
            "patches": [{"id": kept, "content": "2001:db8::2"}],
            "posts": [
                {"type": "A", "name": "home", "content": "192.0.2.2"},
                {"type": "A", "name": "other", "content": "not an address"},
            ],
        }),
    )
    .await;
    answer.assert_error(400, 9005);
    assert_eq!(
        answer.body["errors"][0]["source"]["pointer"],
        "/posts/1/content"
    );
    assert_eq!(
        cf.records(&zone),
        before,
        "the deletes and patches were undone"
    );

    // Deleting a record and creating its replacement in one batch works,
    // since deletes run first.
    let answer = send(
        &cf,
        "POST",
        &path,
        json!({
            "deletes": [{"id": old}],
            "patches": [{"id": kept, "content": "2001:db8::2"}],
            "posts": [{"type": "A", "name": "home", "content": "192.0.2.1", "comment": "replacement"}],
        }),
    )
    .await;
    let result = answer.ok();
    assert_eq!(result["deletes"][0]["id"], old.as_str());
    assert_eq!(result["deletes"][0]["content"], "192.0.2.1");
    assert_eq!(result["patches"][0]["content"], "2001:db8::2");
    assert_eq!(result["patches"][0]["ttl"], 300);
    assert_eq!(result["puts"], json!([]));
    assert_eq!(result["posts"][0]["comment"], "replacement");
    let after = cf.records(&zone);
    assert_eq!(after.len(), 2);
    assert!(cf.record(&old).is_none());

    // A patch of a record deleted earlier in the same batch fails.
    let answer = send(
        &cf,
        "POST",
        &path,
        json!({"deletes": [{"id": kept}], "patches": [{"id": kept, "ttl": 60}]}),
    )
    .await;
    answer.assert_error(400, 81044);
    assert_eq!(cf.records(&zone), after);

    // More operations than the Free plan allows.
    let posts: Vec<Value> = (0..201)
        .map(|i| json!({"type": "A", "name": format!("n{i}"), "content": "192.0.2.1"}))
        .collect();
    send(&cf, "POST", &path, json!({"posts": posts}))
        .await
        .assert_error(400, 81070);
    send(&cf, "POST", &path, json!({"posts": [], "updates": []}))
        .await
        .assert_error(400, 9207);
    assert_eq!(cf.records(&zone), after);
}

#[tokio::test]
async fn every_request_is_logged_as_sent() {
    let (cf, zone) = standin_with_zone().await;
    let path = format!("/zones/{zone}/dns_records");
    send(
        &cf,
        "POST",
        &path,
        json!({"type": "A", "name": "h", "content": "192.0.2.1"}),
    )
    .await
    .ok();
    get(&cf, &format!("{path}?type=A&name=h.example.com"))
        .await
        .ok();
    call(&cf, "GET", "/zones", Some("unknown"), None).await;

    let log = cf.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].method, "POST");
    assert_eq!(log[0].path, path);
    assert_eq!(log[0].raw_path, format!("/client/v4{path}"));
    assert_eq!(log[0].bearer_token(), Some(TOKEN));
    assert_eq!(
        log[0].header("Authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(log[0].header("content-type"), Some("application/json"));
    assert_eq!(
        log[0].body,
        Some(json!({"type": "A", "name": "h", "content": "192.0.2.1"}))
    );
    assert_eq!(log[0].status, Some(200));
    assert_eq!(
        log[1].query,
        [
            ("type".to_owned(), "A".to_owned()),
            ("name".to_owned(), "h.example.com".to_owned())
        ]
    );
    assert_eq!(log[1].body, None);
    assert_eq!(log[2].status, Some(403));
    assert_eq!(log[2].bearer_token(), Some("unknown"));

    cf.clear_requests();
    assert!(cf.requests().is_empty());
    get(&cf, "/zones").await.ok();
    assert_eq!(cf.requests()[0].seq, 3);
}

#[tokio::test]
async fn changes_by_hand_show_through_the_api_and_are_not_logged() {
    let (cf, zone) = standin_with_zone().await;
    let id = cf.add_record(&zone, "A", "home", "192.0.2.1");
    cf.set_content(&id, "198.51.100.7");
    let answer = get(&cf, &format!("/zones/{zone}/dns_records/{id}")).await;
    assert_eq!(answer.ok()["content"], "198.51.100.7");
    cf.delete_record(&id);
    get(&cf, &format!("/zones/{zone}/dns_records/{id}"))
        .await
        .assert_error(404, 81044);
    cf.remove_zone(&zone);
    get(&cf, &format!("/zones/{zone}/dns_records"))
        .await
        .assert_error(400, 7003);
    assert_eq!(cf.requests().len(), 3);
}
