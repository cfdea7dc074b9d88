//! Health-check pings: healthchecks.io-style URLs and Uptime Kuma push
//! monitors.

use reqwest::Url;

use crate::delivery::{Delivery, Prepared};
use crate::endpoint::Endpoint;
use crate::message::truncate;

/// Uptime Kuma shows `msg`; a long reason is cut to this many characters.
const KUMA_MSG_MAX: usize = 200;

/// The kind of monitoring service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// `GET {url}/start`, `GET {url}`, `GET {url}/fail`.
    Healthchecks,
    /// `GET {url}?status=up|down&msg=…&ping=`.
    UptimeKuma,
}

impl Service {
    /// The word used in logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Service::Healthchecks => "healthchecks",
            Service::UptimeKuma => "uptime-kuma",
        }
    }
}

/// A monitoring service and its ping URL.
#[derive(Debug, Clone)]
pub(crate) struct PingTarget {
    pub(crate) service: Service,
    pub(crate) endpoint: Endpoint,
}

impl PingTarget {
    fn delivery(&self, event: &'static str, url: Url) -> Delivery {
        Delivery {
            destination: self.endpoint.origin().to_string(),
            kind: self.service.as_str(),
            event,
            request: Prepared::get(url),
        }
    }

    /// The ping that says the daemon started; Uptime Kuma has none.
    pub(crate) fn start(&self) -> Option<Delivery> {
        match self.service {
            Service::Healthchecks => {
                Some(self.delivery("start", with_segment(self.endpoint.url(), "start")))
            }
            Service::UptimeKuma => None,
        }
    }

    /// The ping that says all is well; `message` is what Uptime Kuma shows.
    pub(crate) fn success(&self, message: &str) -> Delivery {
        let url = match self.service {
            Service::Healthchecks => self.endpoint.url().clone(),
            Service::UptimeKuma => kuma(self.endpoint.url(), "up", message),
        };
        self.delivery("success", url)
    }

    /// The ping that says the daemon is failing, and why (Uptime Kuma
    /// shows the reason; healthchecks.io gets a plain `/fail`).
    pub(crate) fn fail(&self, reason: &str) -> Delivery {
        let url = match self.service {
            Service::Healthchecks => with_segment(self.endpoint.url(), "fail"),
            Service::UptimeKuma => kuma(self.endpoint.url(), "down", reason),
        };
        self.delivery("fail", url)
    }
}

/// `url` with one more path segment, its query kept.
fn with_segment(url: &Url, segment: &str) -> Url {
    let mut url = url.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(segment);
    }
    url
}

/// `url` with `status`, `msg` and an empty `ping`, replacing any given;
/// other parameters are kept.
fn kuma(url: &Url, status: &str, message: &str) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(key, _)| !matches!(key.as_ref(), "status" | "msg" | "ping"))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect();
    let mut url = url.clone();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair("status", status)
        .append_pair("msg", &truncate(message, KUMA_MSG_MAX))
        .append_pair("ping", "");
    url
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn target(service: Service, url: &str) -> PingTarget {
        PingTarget {
            service,
            endpoint: Endpoint::parse("U", url, false).unwrap(),
        }
    }

    #[test]
    fn healthchecks_urls_keep_their_query() {
        let hc = target(
            Service::Healthchecks,
            "https://hc-ping.com/k3y/backup/?create=1",
        );
        assert_eq!(
            hc.start().unwrap().request.url.as_str(),
            "https://hc-ping.com/k3y/backup/start?create=1"
        );
        assert_eq!(
            hc.fail("x").request.url.as_str(),
            "https://hc-ping.com/k3y/backup/fail?create=1"
        );
        assert_eq!(
            hc.success("x").request.url.as_str(),
            "https://hc-ping.com/k3y/backup/?create=1"
        );
    }

    #[test]
    fn kuma_status_and_message_replace_those_given() {
        let kuma = target(
            Service::UptimeKuma,
            "https://kuma.example/api/push/T0k?status=up&msg=OK&ping=&extra=1",
        );
        assert!(kuma.start().is_none());
        assert_eq!(
            kuma.fail("provider failing: HTTP 500").request.url.as_str(),
            "https://kuma.example/api/push/T0k?extra=1&status=down&msg=provider+failing%3A+HTTP+500&ping="
        );
        let long = "é".repeat(300);
        let url = kuma.success(&long).request.url;
        let msg = url.query_pairs().find(|(k, _)| k == "msg").unwrap().1;
        assert_eq!(msg.chars().count(), KUMA_MSG_MAX);
    }
}
