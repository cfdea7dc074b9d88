//! One HTTP client for the API: connection reuse, timeouts, TLS always
//! verified, bearer authentication, strict envelopes, pagination.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ddns_core::Secret;
use ddns_tls::describe;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use tracing::{debug, trace};

use crate::envelope::{Envelope, ResultInfo};
use crate::error::ApiError;

/// The largest body read; a page of 5,000 records is about 2.5 MB.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Pages followed at most by one list, a guard against a server that
/// keeps saying "more".
const MAX_PAGES: u32 = 10_000;

/// The API client: a base URL, the token, one reqwest client.
pub(crate) struct Api {
    http: reqwest::Client,
    base: Url,
    auth: HeaderValue,
    timeout: Duration,
    sent: AtomicU64,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base.as_str())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Api {
    /// A client for the API at `base` (such as
    /// `https://api.cloudflare.com/client/v4`).
    pub(crate) fn new(base: Url, token: &Secret, timeout: Duration) -> Result<Self, String> {
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
            .map_err(|_| "the token holds characters a header cannot carry".to_string())?;
        auth.set_sensitive(true);
        // The system's roots only: the API is public.
        let tls = ddns_tls::client_config(None).map_err(|e| e.to_string())?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.config)
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            // The API never redirects; a redirect is an unexpected answer,
            // not something to follow with the token.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ddns/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| describe(e, timeout))?;
        Ok(Self {
            http,
            base,
            auth,
            timeout,
            sent: AtomicU64::new(0),
        })
    }

    /// How many requests this client has sent.
    pub(crate) fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Sends one request and returns its envelope when the API says
    /// `success`; any other answer is an [`ApiError`].
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<Envelope, ApiError> {
        let url = self.url(segments, query);
        let path = url.path().to_string();
        let mut request = self
            .http
            .request(method.clone(), url)
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body)
                .map_err(|e| ApiError::Network(format!("cannot encode the request: {e}")))?;
            trace!(method = %method, path = %path, body = %String::from_utf8_lossy(&bytes), "request body");
            request = request.header(CONTENT_TYPE, "application/json").body(bytes);
        }
        self.sent.fetch_add(1, Ordering::Relaxed);
        let started = tokio::time::Instant::now();
        let response = request.send().await.map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let html = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("html"));
        let body = read_body(response)
            .await
            .map_err(|e| self.transport_error(e))?;
        debug!(method = %method, path = %path, status, elapsed_ms = started.elapsed().as_millis() as u64, bytes = body.len(), "API call");
        answer(status, html, retry_after.as_deref(), &body)
    }

    fn transport_error(&self, error: reqwest::Error) -> ApiError {
        if error.is_timeout() {
            ApiError::Timeout(format!("no answer within {} ms", self.timeout.as_millis()))
        } else {
            ApiError::Network(describe(error, self.timeout))
        }
    }

    /// GET one object.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let envelope = self.call(Method::GET, segments, query, None).await?;
        typed(envelope)
    }

    /// POST, PATCH or DELETE with an optional JSON body.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> Result<T, ApiError> {
        let envelope = self.call(method, segments, &[], body).await?;
        typed(envelope)
    }

    /// GET a list, following `page` to the end.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        per_page: u32,
    ) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        let mut page = 1u32;
        loop {
            let mut query = query.to_vec();
            query.push(("page", page.to_string()));
            query.push(("per_page", per_page.to_string()));
            let envelope = self.call(Method::GET, segments, &query, None).await?;
            let info: Option<ResultInfo> = envelope.result_info;
            let items: Vec<T> = typed(envelope)?;
            let empty = items.is_empty();
            all.extend(items);
            match info {
                Some(info) if info.has_more() && !empty && page < MAX_PAGES => page += 1,
                _ => break,
            }
        }
        Ok(all)
    }
}

/// What an answer means: its envelope when the API says `success` with a
/// 2xx status, else the classified failure. `html` tells that the body was
/// declared as HTML (a challenge or error page).
pub(crate) fn answer(
    status: u16,
    html: bool,
    retry_after: Option<&str>,
    body: &[u8],
) -> Result<Envelope, ApiError> {
    if status == 429 {
        return Err(ApiError::rate_limited(retry_after));
    }
    let envelope = match Envelope::parse(body) {
        Ok(envelope) => envelope,
        Err(_) if status >= 500 => {
            return Err(ApiError::Server {
                status,
                errors: Vec::new(),
            });
        }
        Err(what) => {
            let what = if html {
                "an HTML page instead of JSON (a challenge or an error page)".to_string()
            } else {
                what
            };
            return Err(ApiError::Unexpected { status, what });
        }
    };
    if envelope.success && (200..300).contains(&status) {
        Ok(envelope)
    } else {
        Err(ApiError::from_answer(status, envelope.errors))
    }
}

pub(crate) fn typed<T: DeserializeOwned>(envelope: Envelope) -> Result<T, ApiError> {
    envelope
        .result()
        .map_err(|what| ApiError::Unexpected { status: 200, what })
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY {
            body.extend_from_slice(&chunk[..MAX_BODY - body.len()]);
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
