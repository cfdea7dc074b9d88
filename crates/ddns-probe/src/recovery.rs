//! The recovery request: one HTTP request to a URL the operator chose (a
//! smart plug's power-cycle URL, a webhook), never followed to another.

use std::fmt;
use std::time::Duration;

use ddns_tls::describe;
use reqwest::Url;

use crate::error::{Error, Result};

/// How long the recovery request may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// `DDNS_RECOVERY_METHOD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// `GET`.
    Get,
    /// `POST`, with an empty body.
    Post,
}

impl Method {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `scheme://host[:port]` of a URL: what logs and messages may show (the
/// path, the query and the user information may hold a credential).
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Sends the request. Holds the URL: no `Debug`.
pub(crate) struct RecoveryRequest {
    http: reqwest::Client,
    url: Url,
    method: Method,
    origin: String,
}

impl RecoveryRequest {
    /// A client for `url`; reads the system's root certificates now.
    pub(crate) fn new(url: Url, method: Method) -> Result<Self> {
        let setup = |reason: String| Error::RecoverySetup { reason };
        let tls = ddns_tls::client_config(None).map_err(|e| setup(e.to_string()))?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.config)
            .connect_timeout(REQUEST_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // One request now and then: nothing to keep open between them.
            .pool_max_idle_per_host(0)
            // A redirect would send the request (and what the URL
            // carries) somewhere the operator did not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ddns/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| setup(describe(e, REQUEST_TIMEOUT)))?;
        Ok(Self {
            http,
            origin: origin(&url),
            url,
            method,
        })
    }

    /// `scheme://host[:port]`.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }

    /// The method.
    pub(crate) fn method(&self) -> Method {
        self.method
    }

    /// Sends the request and returns the answer's status, whatever it is.
    pub(crate) async fn send(&self) -> Result<u16> {
        let request = match self.method {
            Method::Get => self.http.get(self.url.clone()),
            // Said explicitly: some servers refuse a POST without a length.
            Method::Post => self
                .http
                .post(self.url.clone())
                .header(reqwest::header::CONTENT_LENGTH, "0"),
        };
        let response = request.send().await.map_err(|e| Error::RecoveryFailed {
            origin: self.origin.clone(),
            reason: describe(e, REQUEST_TIMEOUT),
        })?;
        Ok(response.status().as_u16())
    }
}

#[cfg(test)]
mod tests;
