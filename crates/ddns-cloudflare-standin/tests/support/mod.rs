//! A small HTTP client for talking to the stand-in in tests.

#![allow(dead_code, unreachable_pub)]

use ddns_cloudflare_standin::StandIn;
use reqwest::Method;
use serde_json::Value;

/// The token every test registers as a full-access user token.
pub const TOKEN: &str = "test-token-0123456789";

/// A status, the `Content-Type` header and the parsed body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    /// The code of the first error.
    pub fn code(&self) -> u64 {
        self.body["errors"][0]["code"].as_u64().unwrap_or(0)
    }

    /// The message of the first error.
    pub fn message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }

    /// Asserts a refusal with this status and first error code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {:#}",
            self.body
        );
        assert_eq!(self.body["success"], false);
        assert_eq!(self.body["result"], Value::Null);
    }

    /// Asserts success and returns `result`.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert_eq!(self.status, 200, "unexpected answer: {:#}", self.body);
        assert_eq!(self.body["success"], true);
        &self.body["result"]
    }
}

/// Sends `method path` (relative to `/client/v4`) with the token, if any, and
/// a JSON body, if any.
pub async fn call(
    cf: &StandIn,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = builder()
        .build()
        .unwrap()
        .request(method, format!("{}{path}", cf.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    answer(request.send().await.unwrap()).await
}

/// Reads an answer, whose body must be JSON.
pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer is not JSON ({e}): {text}"));
    Answer {
        status,
        content_type,
        headers,
        body,
    }
}

/// With the test token.
pub async fn get(cf: &StandIn, path: &str) -> Answer {
    call(cf, "GET", path, Some(TOKEN), None).await
}

/// With the test token.
pub async fn send(cf: &StandIn, method: &str, path: &str, body: Value) -> Answer {
    call(cf, method, path, Some(TOKEN), Some(body)).await
}

/// A client builder. The workspace builds reqwest with rustls and no
/// default crypto provider (the product picks ring); give it that one.
pub fn builder() -> reqwest::ClientBuilder {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy()
}
