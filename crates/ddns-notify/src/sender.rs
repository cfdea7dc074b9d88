//! Sending: one HTTP client, a timeout per attempt, a bounded number of
//! attempts with back-off, and logs that show the origin only.

use std::time::Duration;

use ddns_tls::describe;
use reqwest::StatusCode;
use tracing::{Instrument, debug, debug_span, warn};

use crate::delivery::Delivery;
use crate::queue::{NotifyStats, Queue};
use crate::{Error, Result};

/// Attempts per request, the first included.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

/// The waits before the second and the third attempt.
pub(crate) const BACKOFF: [Duration; 2] = [Duration::from_secs(2), Duration::from_secs(8)];

/// Bytes of an answer read at most (the body is not used; reading it
/// lets the connection end cleanly).
const MAX_ANSWER: usize = 64 * 1024;

/// Why an attempt failed, in URL-free words.
struct Failure {
    text: String,
    retry: bool,
}

/// The HTTP client and its counters.
pub(crate) struct Sender {
    client: reqwest::Client,
    timeout: Duration,
    stats: NotifyStats,
}

impl Sender {
    /// A client that verifies TLS against the system's roots and those of
    /// `extra_roots_pem`, gives each attempt `timeout`, follows no
    /// redirect and keeps no idle connection (so it arms no timer between
    /// requests).
    pub(crate) fn new(
        extra_roots_pem: Option<&[u8]>,
        timeout: Duration,
        stats: NotifyStats,
    ) -> Result<Self> {
        let tls = ddns_tls::client_config(extra_roots_pem)
            .map_err(|source| Error::TlsSetupFailed { source })?;
        if tls.roots == 0 {
            warn!(
                "no trusted root certificate: https pings and notifications will fail; install ca-certificates or set DDNS_NOTIFY_CA_FILE"
            );
        }
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.config)
            .connect_timeout(timeout)
            .timeout(timeout)
            .pool_max_idle_per_host(0)
            // A redirect could carry a credential-bearing body elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ddns/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::ClientBuildFailed {
                reason: describe(e, timeout),
            })?;
        Ok(Self {
            client,
            timeout,
            stats,
        })
    }

    /// Sends what the queue holds until it is closed and empty.
    pub(crate) async fn work(&self, queue: &Queue) {
        while let Some(delivery) = queue.pop().await {
            // At debug only: the warning of a request given up carries
            // these fields itself.
            let span = debug_span!(
                "notify",
                destination = %delivery.destination,
                kind = delivery.kind,
                event = delivery.event,
            );
            self.deliver(&delivery, queue).instrument(span).await;
        }
    }

    /// Up to [`MAX_ATTEMPTS`] attempts; no retry once the queue is closed
    /// (shutting down) or when the answer says retrying cannot help.
    async fn deliver(&self, delivery: &Delivery, queue: &Queue) {
        for attempt in 1..=MAX_ATTEMPTS {
            let outcome = self.attempt(delivery).await;
            self.stats.attempted();
            let failure = match outcome {
                Ok(status) => {
                    self.stats.succeeded();
                    debug!(status, attempt, "delivered");
                    return;
                }
                Err(failure) => failure,
            };
            let wait = BACKOFF.get(attempt as usize - 1).copied();
            match wait {
                Some(wait) if failure.retry && !queue.is_closed() => {
                    debug!(
                        attempt,
                        retry_in_secs = wait.as_secs(),
                        error = %failure.text,
                        "attempt failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                }
                _ => {
                    self.stats.gave_up();
                    warn!(
                        destination = %delivery.destination,
                        kind = delivery.kind,
                        event = delivery.event,
                        attempts = attempt,
                        error = %failure.text,
                        "ping or notification not delivered"
                    );
                    return;
                }
            }
        }
    }

    async fn attempt(&self, delivery: &Delivery) -> Result<u16, Failure> {
        let prepared = &delivery.request;
        let mut request = self
            .client
            .request(prepared.method.clone(), prepared.url.clone())
            .headers(prepared.headers.clone());
        if let Some(body) = &prepared.body {
            request = request.body(body.clone());
        }
        let mut response = request.send().await.map_err(|e| Failure {
            text: describe(e, self.timeout),
            retry: true,
        })?;
        let status = response.status();
        let mut read = 0;
        while let Ok(Some(chunk)) = response.chunk().await {
            read += chunk.len();
            if read > MAX_ANSWER {
                break;
            }
        }
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            Err(Failure {
                text: format!("answered HTTP {}", status.as_u16()),
                retry: retryable(status),
            })
        }
    }
}

/// Server errors, timeouts and rate limits may pass; other refusals
/// (a wrong token, a deleted check, a redirect) will not.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_refusals_are_retried() {
        for (status, retry) in [
            (500, true),
            (503, true),
            (429, true),
            (408, true),
            (404, false),
            (401, false),
            (301, false),
        ] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            assert_eq!(retryable(status), retry, "{status}");
        }
    }
}
