//! What every request goes through before the API proper: the log, injected
//! faults, the rate limit and authentication.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Notify;

use crate::envelope::ApiError;
use crate::fault::{FaultKind, take_fault};
use crate::log::{BASE_PATH, LoggedRequest};
use crate::model::{TokenOwner, TokenSpec, TokenStatus};
use crate::state::{Inner, Shared, ZoneEntry, lock};

/// The largest body read (a full batch of 3,500 records fits easily).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Put in each request's extensions by the connection that carries it; a
/// [`FaultKind::Drop`] uses it to close that connection unanswered.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionKiller(pub(crate) Arc<Notify>);

/// The authenticated token, put in the request's extensions for the handlers.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub(crate) token_id: String,
    pub(crate) spec: TokenSpec,
}

impl Caller {
    fn owns(&self, zone: &ZoneEntry) -> bool {
        match &self.spec.owner {
            TokenOwner::User => true,
            TokenOwner::Account(account) => zone.account_id == *account,
        }
    }

    /// Zone: Read on the zone.
    pub(crate) fn can_read(&self, zone: &ZoneEntry) -> bool {
        self.owns(zone) && self.spec.zone_read.covers(&zone.id)
    }

    /// Zone: Read and DNS: Edit on the zone.
    pub(crate) fn can_edit(&self, zone: &ZoneEntry) -> bool {
        self.can_read(zone) && self.spec.dns_edit.covers(&zone.id)
    }
}

/// The middleware around every route.
pub(crate) async fn gate(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await;
    let method = parts.method.as_str().to_owned();
    let raw_path = parts.uri.path().to_owned();
    let (seq, fault) = {
        let mut inner = lock(&shared);
        let seq = inner.next_request_seq;
        inner.next_request_seq += 1;
        let fault = take_fault(&mut inner.faults, &method, &raw_path);
        let logged = log_entry(
            seq,
            &parts.method,
            &parts.uri,
            &parts.headers,
            &body,
            &fault,
        );
        inner.requests.push(logged);
        (seq, fault)
    };
    let Ok(body) = body else {
        let response = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            6004,
            "Request body is too large",
        )
        .into_response();
        return finish(&shared, seq, response);
    };

    let early = match fault {
        Some(FaultKind::Drop) => {
            if let Some(killer) = parts.extensions.get::<ConnectionKiller>() {
                killer.0.notify_one();
                // The connection is about to be dropped, and this future with
                // it: nothing is ever answered.
                return std::future::pending::<Response>().await;
            }
            Some(
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    10001,
                    "stand-in: no connection to drop",
                )
                .into_response(),
            )
        }
        Some(FaultKind::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(other) => Some(fault_response(other)),
        None => None,
    };
    if let Some(response) = early {
        return finish(&shared, seq, response);
    }

    let admitted = {
        let mut inner = lock(&shared);
        match inner.rate.check(Instant::now()) {
            Err(retry_after) => Err(ApiError::rate_limited(Some(retry_after))),
            Ok(()) => authenticate(&inner, &parts.headers, raw_path.ends_with("/tokens/verify")),
        }
    };
    let response = match admitted {
        Err(error) => error.into_response(),
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, Body::from(body))).await
        }
    };
    finish(&shared, seq, response)
}

/// Adds the headers Cloudflare always sends and logs the status.
fn finish(shared: &Shared, seq: u64, mut response: Response) -> Response {
    let ray = format!("{:016x}-LHR", fastrand::u64(..));
    if let Ok(value) = HeaderValue::from_str(&ray) {
        response.headers_mut().insert("cf-ray", value);
    }
    let mut inner = lock(shared);
    if let Some(logged) = inner.requests.iter_mut().rev().find(|r| r.seq == seq) {
        logged.status = Some(response.status().as_u16());
    }
    response
}

fn log_entry(
    seq: u64,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: &Result<Bytes, axum::Error>,
    fault: &Option<FaultKind>,
) -> LoggedRequest {
    let raw_path = uri.path().to_owned();
    let path = match raw_path.strip_prefix(BASE_PATH) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest.to_owned(),
        _ => raw_path.clone(),
    };
    let query = uri
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let headers = headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes: &[u8] = body.as_ref().map(|b| b.as_ref()).unwrap_or_default();
    LoggedRequest {
        seq,
        method: method.as_str().to_owned(),
        path,
        raw_path,
        raw_query: uri.query().map(str::to_owned),
        query,
        headers,
        body: serde_json::from_slice(bytes).ok(),
        body_text: String::from_utf8_lossy(bytes).into_owned(),
        status: None,
        fault: fault.clone(),
    }
}

/// Checks `Authorization: Bearer <token>`. At the verify endpoints an unknown
/// token is "Invalid API Token" (401) and an inactive one passes (the handler
/// reports its status); elsewhere both are "Authentication error" (403).
fn authenticate(inner: &Inner, headers: &HeaderMap, verify: bool) -> Result<Caller, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(ApiError::bad_authorization_header());
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or_else(ApiError::bad_authorization_header)?;
    let Some(entry) = inner.tokens.get(token) else {
        return Err(if verify {
            ApiError::invalid_token()
        } else {
            ApiError::authentication_error()
        });
    };
    if !verify && entry.spec.status != TokenStatus::Active {
        return Err(ApiError::authentication_error());
    }
    Ok(Caller {
        token_id: entry.id.clone(),
        spec: entry.spec.clone(),
    })
}

fn fault_response(kind: FaultKind) -> Response {
    let status_of =
        |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match kind {
        FaultKind::Status {
            status,
            code,
            message,
        } => ApiError::new(status_of(status), code, message).into_response(),
        FaultKind::RateLimited { retry_after_secs } => {
            ApiError::rate_limited(retry_after_secs).into_response()
        }
        FaultKind::HtmlChallenge { status } => {
            let mut response = raw_response(
                status_of(status),
                "text/html; charset=UTF-8",
                CHALLENGE_PAGE.to_owned(),
            );
            response
                .headers_mut()
                .insert("cf-mitigated", HeaderValue::from_static("challenge"));
            response
        }
        FaultKind::Garbage => raw_response(
            StatusCode::OK,
            "application/json",
            r#"{"success":true,"errors":[],"messages":[],"result":{"id":"#.to_owned(),
        ),
        FaultKind::Raw {
            status,
            content_type,
            body,
        } => raw_response(status_of(status), &content_type, body),
        // Handled by the caller; answered like a server bug should they get here.
        FaultKind::Drop | FaultKind::Delay(_) => raw_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            String::new(),
        ),
    }
}

fn raw_response(status: StatusCode, content_type: &str, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("text/plain"));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, content_type);
    response
}

const CHALLENGE_PAGE: &str = "<!DOCTYPE html><html lang=\"en-US\"><head><title>Just a moment...</title>\
<meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\"></head>\
<body><div class=\"main-wrapper\" role=\"main\"><div class=\"main-content\">\
<noscript>Enable JavaScript and cookies to continue</noscript></div></div></body></html>";
