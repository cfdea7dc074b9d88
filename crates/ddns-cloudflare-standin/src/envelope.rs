//! The response envelope `{success, errors, messages, result[, result_info]}`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

/// One entry of `errors` (or of an `error_chain`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorItem {
    code: u32,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    error_chain: Vec<ErrorItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<Value>,
}

/// An error answer: a status and the `errors` array.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    errors: Vec<ErrorItem>,
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        ApiError {
            status,
            errors: vec![ErrorItem {
                code,
                message: message.into(),
                error_chain: Vec::new(),
                source: None,
            }],
            retry_after: None,
        }
    }

    pub(crate) fn bad_request(code: u32, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// Adds an entry to the first error's `error_chain`.
    pub(crate) fn chain(mut self, code: u32, message: impl Into<String>) -> Self {
        if let Some(first) = self.errors.first_mut() {
            first.error_chain.push(ErrorItem {
                code,
                message: message.into(),
                error_chain: Vec::new(),
                source: None,
            });
        }
        self
    }

    /// Adds a second (third, …) error.
    pub(crate) fn also(mut self, code: u32, message: impl Into<String>) -> Self {
        self.errors.push(ErrorItem {
            code,
            message: message.into(),
            error_chain: Vec::new(),
            source: None,
        });
        self
    }

    /// Points the first error at a place in the request body (JSON pointer).
    pub(crate) fn pointer(mut self, pointer: impl Into<String>) -> Self {
        if let Some(first) = self.errors.first_mut() {
            first.source = Some(json!({ "pointer": pointer.into() }));
        }
        self
    }

    /// Puts `prefix` (such as `/posts/2`) in front of the first error's
    /// pointer, or makes it the pointer when there is none.
    pub(crate) fn within(mut self, prefix: &str) -> Self {
        if let Some(first) = self.errors.first_mut() {
            let inner = first
                .source
                .as_ref()
                .and_then(|s| s.get("pointer"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            first.source = Some(json!({ "pointer": format!("{prefix}{inner}") }));
        }
        self
    }

    pub(crate) fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn retry_after(mut self, secs: Option<u64>) -> Self {
        self.retry_after = secs;
        self
    }

    // The common answers.

    pub(crate) fn authentication_error() -> Self {
        ApiError::new(StatusCode::FORBIDDEN, 10000, "Authentication error")
    }

    pub(crate) fn invalid_token() -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, 1000, "Invalid API Token")
    }

    pub(crate) fn bad_authorization_header() -> Self {
        ApiError::bad_request(6003, "Invalid request headers")
            .chain(6111, "Invalid format for Authorization header")
    }

    /// The answer for an unknown object identifier in the path.
    pub(crate) fn could_not_route(path: &str) -> Self {
        ApiError::bad_request(
            7003,
            format!("Could not route to {path}, perhaps your object identifier is invalid?"),
        )
        .also(7000, "No route for that URI")
    }

    pub(crate) fn no_route() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 7000, "No route for that URI")
    }

    pub(crate) fn method_not_allowed() -> Self {
        ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            7001,
            "Method not allowed for that URI",
        )
    }

    pub(crate) fn record_not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, 81044, "Record does not exist.")
    }

    pub(crate) fn invalid_query(message: impl Into<String>) -> Self {
        ApiError::bad_request(1004, message)
    }

    pub(crate) fn invalid_body(detail: impl Into<String>, pointer: &str) -> Self {
        ApiError::bad_request(9207, "Request body is invalid.")
            .chain(9207, detail)
            .pointer(pointer)
    }

    pub(crate) fn rate_limited(retry_after: Option<u64>) -> Self {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            971,
            "Please wait and consider throttling your request speed",
        )
        .retry_after(retry_after)
    }

    /// Whether the first error has this code (for unit tests).
    #[cfg(test)]
    pub(crate) fn code(&self) -> u32 {
        self.errors.first().map(|e| e.code).unwrap_or(0)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "success": false,
            "errors": self.errors,
            "messages": [],
            "result": null,
        });
        let mut response = json_response(self.status, &body);
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A JSON answer with exactly this body.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// A successful answer with `result`.
pub(crate) fn ok(result: Value) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "success": true, "errors": [], "messages": [], "result": result }),
    )
}

/// `result_info` of a list answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct ResultInfo {
    pub(crate) page: usize,
    pub(crate) per_page: usize,
    pub(crate) count: usize,
    pub(crate) total_count: usize,
    pub(crate) total_pages: usize,
}

/// A successful list answer.
pub(crate) fn ok_list(result: Vec<Value>, info: ResultInfo) -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "success": true,
            "errors": [],
            "messages": [],
            "result": result,
            "result_info": info,
        }),
    )
}

pub(crate) type ApiResult = Result<Response, ApiError>;
