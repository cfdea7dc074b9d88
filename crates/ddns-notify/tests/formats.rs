//! Notifications in each format, against a recording server: the exact
//! method, path, headers and body of every request.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::json;
use support::{Driver, Recorded, Recorder, Running};

/// The four notices in the order the monitor raises them: an address
/// change, Degraded and the failed update (one failure), recovered.
async fn drive(driver: &Driver, running: &Running) {
    driver.address("192.0.2.1");
    driver.ready("192.0.2.1");
    driver.address("192.0.2.2");
    driver.fail("HTTP 500");
    driver.written("192.0.2.2");
    running.finish(4).await;
}

fn host_prefixed(text: &str, expected: &str) -> bool {
    text == expected || text.ends_with(&format!(": {expected}"))
}

fn post(request: &Recorded, path: &str, content_type: &str) {
    assert_eq!(request.method, "POST", "{request:?}");
    assert_eq!(request.path, path, "{request:?}");
    assert_eq!(request.header("content-type"), Some(content_type));
}

#[tokio::test(start_paused = true)]
async fn json_documents_for_each_event() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/hooks/canary-json");
    let running = Running::start(&[("DDNS_NOTIFY_WEBHOOK_URL", &url)], &driver.monitor);
    drive(&driver, &running).await;

    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    let mut documents = Vec::new();
    for request in &requests {
        post(request, "/hooks/canary-json", "application/json");
        let mut doc = request.json();
        let object = doc.as_object_mut().unwrap();
        let time = object.remove("time").unwrap();
        let time = time.as_str().unwrap();
        assert!(
            time.len() == 20 && time.ends_with('Z') && &time[10..11] == "T",
            "{time}"
        );
        let host = object.remove("host").unwrap();
        assert!(host.is_string() || host.is_null(), "{host}");
        documents.push(doc);
    }
    assert_eq!(
        documents,
        [
            json!({"version": 1, "event": "address_changed", "family": "ipv4", "from": "192.0.2.1", "to": "192.0.2.2"}),
            json!({"version": 1, "event": "degraded", "reason": "provider failing: HTTP 500"}),
            json!({"version": 1, "event": "update_failed", "record": "home.example.com A", "error": "HTTP 500"}),
            json!({"version": 1, "event": "recovered", "reason": "every record confirmed in 1 consecutive pass(es)"}),
        ]
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn ntfy_gets_text_with_title_priority_tags_and_basic_auth_from_the_url() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server
        .url("/ddns-alerts")
        .replace("http://", "ntfy://alice:canary-pass@");
    let running = Running::start(&[("DDNS_NOTIFY_WEBHOOK_URL", &url)], &driver.monitor);
    drive(&driver, &running).await;

    let requests = server.requests();
    let expected = [
        (
            "ddns: IPv4 address changed",
            "3",
            "globe_with_meridians",
            "the ipv4 address changed from 192.0.2.1 to 192.0.2.2",
        ),
        (
            "ddns: degraded",
            "4",
            "rotating_light",
            "degraded: provider failing: HTTP 500",
        ),
        (
            "ddns: DNS update failed",
            "4",
            "warning",
            "updating home.example.com A failed: HTTP 500",
        ),
        (
            "ddns: recovered",
            "3",
            "white_check_mark",
            "ready again: every record confirmed in 1 consecutive pass(es)",
        ),
    ];
    for (request, (title, priority, tags, text)) in requests.iter().zip(expected) {
        post(request, "/ddns-alerts", "text/plain; charset=utf-8");
        assert_eq!(request.header("title"), Some(title));
        assert_eq!(request.header("priority"), Some(priority));
        assert_eq!(request.header("tags"), Some(tags));
        assert_eq!(
            request.header("authorization"),
            Some("Basic YWxpY2U6Y2FuYXJ5LXBhc3M="),
            "the user part of the URL"
        );
        assert!(host_prefixed(&request.text(), text), "{}", request.text());
    }
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn gotify_is_detected_from_its_path_and_token() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/message?token=canary-app");
    let running = Running::start(&[("DDNS_NOTIFY_WEBHOOK_URL", &url)], &driver.monitor);
    drive(&driver, &running).await;

    let requests = server.requests();
    let expected = [
        ("ddns: IPv4 address changed", 5),
        ("ddns: degraded", 8),
        ("ddns: DNS update failed", 8),
        ("ddns: recovered", 5),
    ];
    for (request, (title, priority)) in requests.iter().zip(expected) {
        post(request, "/message", "application/json");
        assert_eq!(request.query.as_deref(), Some("token=canary-app"));
        let body = request.json();
        assert_eq!(body["title"], title);
        assert_eq!(body["priority"], priority);
        assert_eq!(body.as_object().unwrap().len(), 3, "{body}");
    }
    assert!(host_prefixed(
        requests[0].json()["message"].as_str().unwrap(),
        "the ipv4 address changed from 192.0.2.1 to 192.0.2.2"
    ));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn discord_gets_content_without_mentions() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/api/webhooks/1/canary-discord");
    let running = Running::start(
        &[
            ("DDNS_NOTIFY_WEBHOOK_URL", &url),
            ("DDNS_NOTIFY_FORMAT", "discord"),
        ],
        &driver.monitor,
    );
    drive(&driver, &running).await;

    let requests = server.requests();
    post(
        &requests[0],
        "/api/webhooks/1/canary-discord",
        "application/json",
    );
    let body = requests[0].json();
    assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    let content = body["content"].as_str().unwrap();
    let (title, text) = content.split_once('\n').unwrap();
    assert_eq!(title, "**ddns: IPv4 address changed**");
    assert!(host_prefixed(
        text,
        "the ipv4 address changed from 192.0.2.1 to 192.0.2.2"
    ));
    assert!(
        requests[1].json()["content"]
            .as_str()
            .unwrap()
            .starts_with("**ddns: degraded**\n")
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn slack_gets_text() {
    let server = Recorder::start();
    let driver = Driver::new();
    let url = server.url("/services/T0/B0/canary-slack");
    let running = Running::start(
        &[
            ("DDNS_NOTIFY_WEBHOOK_URL", &url),
            ("DDNS_NOTIFY_FORMAT", "slack"),
        ],
        &driver.monitor,
    );
    drive(&driver, &running).await;

    let requests = server.requests();
    post(
        &requests[3],
        "/services/T0/B0/canary-slack",
        "application/json",
    );
    let body = requests[3].json();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    let (title, text) = body["text"].as_str().unwrap().split_once('\n').unwrap();
    assert_eq!(title, "*ddns: recovered*");
    assert!(host_prefixed(
        text,
        "ready again: every record confirmed in 1 consecutive pass(es)"
    ));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_comma_list_notifies_every_receiver_in_its_own_format() {
    let server = Recorder::start();
    let driver = Driver::new();
    let urls = format!(
        "{}, {}",
        server.url("/hooks/a"),
        server.url("/message?token=canary-app")
    );
    let running = Running::start(&[("DDNS_NOTIFY_WEBHOOK_URL", &urls)], &driver.monitor);
    driver.address("192.0.2.1");
    driver.address("192.0.2.9");
    running.finish(2).await;
    let requests = server.requests();
    assert_eq!(requests[0].path, "/hooks/a");
    assert_eq!(requests[0].json()["event"], "address_changed");
    assert_eq!(requests[1].path, "/message");
    assert_eq!(requests[1].json()["title"], "ddns: IPv4 address changed");
    running.stop().await;
}
