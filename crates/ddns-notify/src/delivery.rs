//! One request to send: what it is for, where it goes (shown by origin
//! only), and the request itself.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

/// An HTTP request ready to send. Not `Debug`: its URL may hold a
/// credential.
pub(crate) struct Prepared {
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Option<Vec<u8>>,
}

impl Prepared {
    /// A GET without body.
    pub(crate) fn get(url: Url) -> Self {
        Self {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            body: None,
        }
    }

    /// A POST of `body` as `content_type`.
    pub(crate) fn post(url: Url, content_type: &'static str, body: Vec<u8>) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static(content_type),
        );
        Self {
            method: Method::POST,
            url,
            headers,
            body: Some(body),
        }
    }

    /// Adds a header whose value is free text: anything a header cannot
    /// carry (non-ASCII, control characters) becomes `?`.
    pub(crate) fn with_text_header(mut self, name: &'static str, value: &str) -> Self {
        let clean: String = value
            .chars()
            .map(|c| {
                if c == ' ' || c.is_ascii_graphic() {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&clean) {
            self.headers.insert(HeaderName::from_static(name), value);
        }
        self
    }
}

/// A request and what the logs say about it.
pub(crate) struct Delivery {
    /// `scheme://host[:port]` of the receiver.
    pub(crate) destination: String,
    /// The receiver's kind: `healthchecks`, `uptime-kuma`, or a
    /// notification format (`json`, `ntfy`, …).
    pub(crate) kind: &'static str,
    /// What is told: `start`, `success`, `fail`, `address_changed`, …
    pub(crate) event: &'static str,
    /// The request.
    pub(crate) request: Prepared,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[test]
    fn text_headers_carry_only_what_a_header_can() {
        let url = Url::parse("https://x.example/").unwrap();
        let prepared = Prepared::get(url).with_text_header("title", "ddns: café\nok");
        assert_eq!(prepared.headers["title"], "ddns: caf??ok");
    }
}
