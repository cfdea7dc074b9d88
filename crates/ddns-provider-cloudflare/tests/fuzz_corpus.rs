//! Replays fuzz/corpus/cloudflare_response as ordinary tests: every input
//! that mattered to the fuzzer keeps running in CI, each keeps the fuzz
//! target's properties, and each named seed keeps its outcome. An input is
//! the HTTP status as two big-endian bytes, then the body. With
//! `DDNS_WRITE_SEEDS=1` it first writes the seeds built here, shaped after
//! real API v4 answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ddns_provider_cloudflare::fuzzing::parse_answer;

/// The fuzz target's bound on a message.
const MAX_MESSAGE: usize = 4096;

use ddns_testkit::replay_corpus as replay;

/// The status and body an input stands for, as the fuzz target reads it.
fn split(data: &[u8]) -> (u16, &[u8]) {
    match data {
        [high, low, body @ ..] => (u16::from_be_bytes([*high, *low]), body),
        _ => (200, data),
    }
}

fn answer(status: u16, body: &str) -> Vec<u8> {
    let mut out = status.to_be_bytes().to_vec();
    out.extend_from_slice(body.as_bytes());
    out
}

const RECORD: &str = r#"{"id":"372e67954025e0ba6aaa6d586b9e0b59","zone_id":"023e105f4ecef8ad9ca31a8372d0c353","zone_name":"example.com","name":"home.example.com","type":"A","content":"198.51.100.4","proxiable":true,"proxied":false,"ttl":1,"settings":{},"meta":{},"comment":"managed by ddns","tags":[],"created_on":"2014-01-01T05:20:00.12345Z","modified_on":"2014-01-01T05:20:00.12345Z"}"#;

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let list = format!(
        r#"{{"success":true,"errors":[],"messages":[],"result":[{RECORD},{}],"result_info":{{"page":1,"per_page":100,"count":2,"total_count":2,"total_pages":1}}}}"#,
        RECORD
            .replace("\"A\"", "\"AAAA\"")
            .replace("198.51.100.4", "2001:db8::4")
    );
    let single = format!(r#"{{"success":true,"errors":[],"messages":[],"result":{RECORD}}}"#);
    let long_message = format!(
        r#"{{"success":false,"errors":[{{"code":1004,"message":"{}"}}],"result":null}}"#,
        "DNS Validation Error ".repeat(250)
    );
    let many_errors = format!(
        r#"{{"success":false,"errors":[{}],"result":null}}"#,
        vec![r#"{"code":9005,"message":"Content for A record is invalid."}"#; 100].join(",")
    );
    let huge_wrong_type = format!(
        r#"{{"success":true,"errors":[],"result":{}}}"#,
        RECORD.replace(r#""ttl":1"#, &format!(r#""ttl":"{}""#, "9".repeat(5000)))
    );
    let nested = |depth: usize| {
        format!(
            r#"{{"success":true,"errors":[],"result":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    vec![
        ("seed-list-with-result-info", answer(200, &list)),
        ("seed-single-record", answer(200, &single)),
        (
            "seed-empty-list",
            answer(
                200,
                r#"{"success":true,"errors":[],"messages":[],"result":[],"result_info":{"page":1,"per_page":100,"count":0,"total_count":0,"total_pages":0}}"#,
            ),
        ),
        (
            "seed-auth-error-chain-6003-6111",
            answer(
                400,
                r#"{"success":false,"errors":[{"code":6003,"message":"Invalid request headers","error_chain":[{"code":6111,"message":"Invalid format for Authorization header"}]}],"messages":[],"result":null}"#,
            ),
        ),
        (
            "seed-invalid-token-401",
            answer(
                401,
                r#"{"success":false,"errors":[{"code":1000,"message":"Invalid API Token"}],"messages":[],"result":null}"#,
            ),
        ),
        (
            "seed-record-gone-81044",
            answer(
                404,
                r#"{"result":null,"success":false,"errors":[{"code":81044,"message":"Record does not exist."}],"messages":[]}"#,
            ),
        ),
        (
            "seed-record-exists-81058",
            answer(
                400,
                r#"{"result":null,"success":false,"errors":[{"code":81058,"message":"An identical record already exists."}],"messages":[]}"#,
            ),
        ),
        (
            "seed-rate-limited-429",
            answer(
                429,
                r#"{"success":false,"errors":[{"code":971,"message":"Please wait and consider throttling your request speed"}],"messages":[],"result":null}"#,
            ),
        ),
        (
            "seed-rate-limited-429-html",
            answer(429, "<html><body>Too Many Requests</body></html>"),
        ),
        (
            "seed-server-error-no-codes-502",
            answer(
                502,
                r#"{"success":false,"errors":[],"messages":[],"result":null}"#,
            ),
        ),
        (
            "seed-html-challenge-403",
            answer(
                403,
                "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title></head><body><noscript>Enable JavaScript and cookies to continue</noscript></body></html>",
            ),
        ),
        ("seed-truncated-json", answer(200, &list[..list.len() / 2])),
        ("seed-empty-body", answer(200, "")),
        ("seed-one-byte", b"{".to_vec()),
        (
            "seed-success-as-string",
            answer(200, r#"{"success":"true","errors":[],"result":[]}"#),
        ),
        (
            "seed-ttl-as-string",
            answer(
                200,
                &format!(
                    r#"{{"success":true,"errors":[],"result":[{}]}}"#,
                    RECORD.replace(r#""ttl":1"#, r#""ttl":"1""#)
                ),
            ),
        ),
        (
            "seed-result-missing-fields",
            answer(200, r#"{"success":true,"errors":[],"result":{"id":7}}"#),
        ),
        (
            "seed-code-huge-number",
            answer(
                400,
                r#"{"success":false,"errors":[{"code":99999999999999999999999,"message":"x"}],"result":null}"#,
            ),
        ),
        (
            "seed-ttl-float-exponent",
            answer(
                200,
                &format!(
                    r#"{{"success":true,"errors":[],"result":[{}]}}"#,
                    RECORD.replace(r#""ttl":1"#, r#""ttl":1e400"#)
                ),
            ),
        ),
        (
            "seed-unicode-and-control-messages",
            answer(
                403,
                r#"{"success":false,"errors":[{"code":10000,"message":"Authentication error \u202eesrever\u0007\u001b[31m 🚫 ошибка 認証"}],"result":null}"#,
            ),
        ),
        ("seed-long-message", answer(400, &long_message)),
        ("seed-many-errors", answer(400, &many_errors)),
        ("seed-huge-wrong-type", answer(200, &huge_wrong_type)),
        ("seed-nested-100", answer(200, &nested(100))),
        ("seed-nested-1000", answer(200, &nested(1000))),
        (
            "seed-success-on-404",
            answer(404, r#"{"success":true,"errors":[],"result":[]}"#),
        ),
        (
            "seed-failure-on-200",
            answer(
                200,
                r#"{"success":false,"errors":[{"code":1004,"message":"DNS Validation Error"}],"result":null}"#,
            ),
        ),
    ]
}

fn outcome(data: &[u8]) -> String {
    let (status, body) = split(data);
    match parse_answer(status, body) {
        Ok(()) => "ok".to_string(),
        Err(message) => message,
    }
}

#[test]
fn cloudflare_response_corpus_keeps_its_properties_and_seeds_their_outcome() {
    let seeds = seeds();
    let files = replay("cloudflare_response", &seeds);
    assert!(files.len() >= seeds.len(), "{} inputs", files.len());
    let mut outcomes = Vec::new();
    for (name, bytes) in &files {
        let (status, body) = split(bytes);
        let result = parse_answer(status, body);
        if let Err(message) = &result {
            assert!(!message.is_empty(), "{name}");
        }
        if !(200..300).contains(&status) {
            assert!(result.is_err(), "{name}: a success on HTTP {status}");
        }
        outcomes.push((name.clone(), outcome(bytes)));
    }
    // Each seed's outcome, cut to its first 300 characters.
    let expected: &[(&str, &str)] = &[
        ("seed-list-with-result-info", "ok"),
        ("seed-single-record", "ok"),
        ("seed-empty-list", "ok"),
        (
            "seed-auth-error-chain-6003-6111",
            "HTTP 400, code 6003: Invalid request headers; code 6111: Invalid format for Authorization header",
        ),
        (
            "seed-invalid-token-401",
            "HTTP 401, code 1000: Invalid API Token",
        ),
        (
            "seed-record-gone-81044",
            "HTTP 404, code 81044: Record does not exist.",
        ),
        (
            "seed-record-exists-81058",
            "HTTP 400, code 81058: An identical record already exists.",
        ),
        (
            "seed-rate-limited-429",
            "rate limited (HTTP 429) without Retry-After; waiting the documented 300s window",
        ),
        (
            "seed-rate-limited-429-html",
            "rate limited (HTTP 429) without Retry-After; waiting the documented 300s window",
        ),
        ("seed-server-error-no-codes-502", "HTTP 502 (server error)"),
        (
            "seed-html-challenge-403",
            "unexpected answer (HTTP 403): the body is not JSON",
        ),
        (
            "seed-truncated-json",
            "unexpected answer (HTTP 200): the body is not JSON",
        ),
        (
            "seed-empty-body",
            "unexpected answer (HTTP 200): the body is not JSON",
        ),
        (
            "seed-one-byte",
            "unexpected answer (HTTP 200): the body is not JSON",
        ),
        (
            "seed-success-as-string",
            "unexpected answer (HTTP 200): the body is not an API envelope: invalid type: string \"true\", expected a boolean at line 1 column 17",
        ),
        (
            "seed-ttl-as-string",
            "unexpected answer (HTTP 200): unexpected result: invalid type: string \"1\", expected u32",
        ),
        (
            "seed-result-missing-fields",
            "unexpected answer (HTTP 200): unexpected result: invalid type: integer `7`, expected a string",
        ),
        (
            "seed-code-huge-number",
            "unexpected answer (HTTP 400): the body is not an API envelope: invalid type: floating point `1e+23`, expected u32 at line 1 column 58",
        ),
        (
            "seed-ttl-float-exponent",
            "unexpected answer (HTTP 200): the body is not JSON",
        ),
        (
            "seed-unicode-and-control-messages",
            "HTTP 403, code 10000: Authentication error esrever[31m 🚫 ошибка 認証",
        ),
        (
            "seed-long-message",
            "HTTP 400, code 1004: DNS Validation Error DNS Validation Error DNS Validation Error DNS Validation Error DNS Validation Error DNS Validation Error DNS Validation Error DNS Validation Error DNS Validation Error DNS Validat…",
        ),
        (
            "seed-many-errors",
            "HTTP 400, code 9005: Content for A record is invalid.; code 9005: Content for A record is invalid.; code 9005: Content for A record is invalid.; code 9005: Content for A record is invalid.; code 9005: Content for A record is invalid.; and 95 more",
        ),
        (
            "seed-huge-wrong-type",
            "unexpected answer (HTTP 200): unexpected result: invalid type: string \"9999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999999",
        ),
        (
            "seed-nested-100",
            "unexpected answer (HTTP 200): unexpected result: invalid type: sequence, expected a string",
        ),
        (
            "seed-nested-1000",
            "unexpected answer (HTTP 200): the body is not JSON",
        ),
        (
            "seed-success-on-404",
            "unexpected answer (HTTP 404): an error answer without error codes",
        ),
        (
            "seed-failure-on-200",
            "HTTP 200, code 1004: DNS Validation Error",
        ),
    ];
    assert_eq!(expected.len(), seeds.len(), "every seed has an expectation");
    let mut wrong = Vec::new();
    for (name, _) in &seeds {
        let (_, actual) = outcomes.iter().find(|(file, _)| file == name).unwrap();
        let wanted = expected
            .iter()
            .find(|(seed, _)| seed == name)
            .map(|(_, o)| *o);
        let shown: String = actual.chars().take(300).collect();
        if wanted != Some(shown.as_str()) {
            wrong.push(format!(
                "(\"{name}\", {shown:?}), // {} bytes in all",
                actual.len()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "seeds with another outcome:\n{}",
        wrong.join("\n")
    );
}

/// Regression (found with the seeds `seed-many-errors` and
/// `seed-huge-wrong-type`): the message a user reads must stay short
/// whatever the body. Each API message is cut to 200 characters, but the
/// number of errors is not bounded, and serde's type errors quote a whole
/// string value of any length.
#[test]
fn answer_messages_stay_short_whatever_the_body() {
    let mut long = Vec::new();
    for (name, bytes) in replay("cloudflare_response", &seeds()) {
        let (status, body) = split(&bytes);
        if let Err(message) = parse_answer(status, body)
            && message.len() > MAX_MESSAGE
        {
            long.push(format!("{name}: a message of {} bytes", message.len()));
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}
