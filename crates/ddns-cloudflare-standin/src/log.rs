//! The record of what clients sent.

use crate::fault::FaultKind;

/// The API's base path; [`LoggedRequest::path`] is given without it.
pub const BASE_PATH: &str = "/client/v4";

/// One request as the stand-in received it.
///
/// Requests are logged in the order they arrived, before any fault, rate
/// limit or authentication check, so every request is there — including
/// refused ones. The `Authorization` header is kept as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedRequest {
    /// Counts up from 0 over the stand-in's life (not reset by
    /// [`StandIn::clear_requests`](crate::StandIn::clear_requests)).
    pub seq: u64,
    /// `GET`, `POST`, …
    pub method: String,
    /// The path without the `/client/v4` prefix, e.g. `/zones/<id>/dns_records`
    /// (the raw path when it does not start with the prefix). Not decoded.
    pub path: String,
    /// The path exactly as received, prefix included.
    pub raw_path: String,
    /// The query string as received, if there was one.
    pub raw_query: Option<String>,
    /// The query's pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body, when it was valid JSON.
    pub body: Option<serde_json::Value>,
    /// The body as text (lossy UTF-8); empty when there was none.
    pub body_text: String,
    /// The status answered; `None` while the request is being handled or when
    /// the connection was dropped.
    pub status: Option<u16>,
    /// The injected fault that hit this request, if any.
    pub fault: Option<FaultKind>,
}

impl LoggedRequest {
    /// The first value of a header (name compared without regard to case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    /// The first value of a query parameter.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the method is one that changes DNS records (`POST`, `PUT`,
    /// `PATCH`, `DELETE`).
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}
