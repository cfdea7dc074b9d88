//! Failures a test asks for: injected faults and an automatic rate limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answers `status` with the JSON envelope and one error
    /// `{code, message}` (for example 500 code 10001 "Internal error").
    Status {
        /// The HTTP status.
        status: u16,
        /// The error's code.
        code: u32,
        /// The error's message.
        message: String,
    },
    /// Answers 429 with code 971 "Please wait and consider throttling your
    /// request speed", and a `Retry-After` header when given.
    RateLimited {
        /// The `Retry-After` value in seconds, if any.
        retry_after_secs: Option<u64>,
    },
    /// Answers a `text/html` page like Cloudflare's "Just a moment…"
    /// challenge, with the header `cf-mitigated: challenge`.
    HtmlChallenge {
        /// The HTTP status (Cloudflare uses 403 or 503).
        status: u16,
    },
    /// Waits this long, then handles the request normally (to make clients
    /// time out).
    Delay(Duration),
    /// Closes the connection without sending any answer.
    Drop,
    /// Answers 200, `application/json`, with a body cut off in the middle of
    /// the envelope (not valid JSON).
    Garbage,
    /// Answers exactly this.
    Raw {
        /// The HTTP status.
        status: u16,
        /// The `Content-Type` header.
        content_type: String,
        /// The body.
        body: String,
    },
}

/// A fault to inject: which requests it hits, what it does, how many times.
///
/// It matches a request when its method (if set) equals the request's method
/// and its path fragment (if set) occurs in the request's full path. Faults
/// are checked in the order they were injected; the first one that matches and
/// has uses left is used, and one use is consumed. They hit before anything
/// else: authentication, the rate limit and the API itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// The method to match (`"GET"`, `"PATCH"`, …), or any.
    pub method: Option<String>,
    /// A fragment of the path to match (`"/dns_records"`), or any.
    pub path_contains: Option<String>,
    /// What it does.
    pub kind: FaultKind,
    /// How many requests it hits; 1 by default, `u32::MAX` for always.
    pub times: u32,
}

impl Fault {
    /// A fault hitting the next request, whatever it is.
    pub fn new(kind: FaultKind) -> Self {
        Fault {
            method: None,
            path_contains: None,
            kind,
            times: 1,
        }
    }

    /// Hits only requests with this method.
    #[must_use]
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Hits only requests whose path contains this fragment.
    #[must_use]
    pub fn path_contains(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.to_owned());
        self
    }

    /// Hits this many matching requests.
    #[must_use]
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    /// Hits every matching request, until [`StandIn::clear_faults`](crate::StandIn::clear_faults).
    #[must_use]
    pub fn always(self) -> Self {
        self.times(u32::MAX)
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        self.times > 0
            && self.method.as_deref().is_none_or(|m| m == method)
            && self
                .path_contains
                .as_deref()
                .is_none_or(|fragment| path.contains(fragment))
    }
}

/// Takes the first matching fault with uses left, consuming one use.
pub(crate) fn take_fault(faults: &mut Vec<Fault>, method: &str, path: &str) -> Option<FaultKind> {
    let index = faults.iter().position(|f| f.matches(method, path))?;
    let fault = &mut faults[index];
    let kind = fault.kind.clone();
    if fault.times != u32::MAX {
        fault.times -= 1;
    }
    if fault.times == 0 {
        faults.remove(index);
    }
    Some(kind)
}

/// An automatic rate limit: at most `requests` in any `window`.
///
/// The requests it refuses do not count against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// How many requests are allowed in a window.
    pub requests: u32,
    /// The sliding window.
    pub window: Duration,
}

impl RateLimit {
    /// Cloudflare's global limit: 1200 requests in five minutes.
    pub fn cloudflare() -> Self {
        RateLimit {
            requests: 1200,
            window: Duration::from_secs(300),
        }
    }
}

/// The state of the automatic rate limit.
#[derive(Debug, Default)]
pub(crate) struct RateLimiter {
    pub(crate) limit: Option<RateLimit>,
    hits: VecDeque<Instant>,
}

impl RateLimiter {
    pub(crate) fn set(&mut self, limit: Option<RateLimit>) {
        self.limit = limit;
        self.hits.clear();
    }

    /// Counts a request; on refusal, returns how many seconds until one more
    /// would be allowed.
    pub(crate) fn check(&mut self, now: Instant) -> Result<(), u64> {
        let Some(limit) = self.limit else {
            return Ok(());
        };
        while let Some(oldest) = self.hits.front() {
            if now.duration_since(*oldest) >= limit.window {
                self.hits.pop_front();
            } else {
                break;
            }
        }
        if self.hits.len() < limit.requests as usize {
            self.hits.push_back(now);
            return Ok(());
        }
        let wait = self
            .hits
            .front()
            .map(|oldest| limit.window.saturating_sub(now.duration_since(*oldest)))
            .unwrap_or(limit.window);
        // Round up: a client waiting the advertised seconds must get through.
        Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_consumed_in_order() {
        let mut faults = vec![
            Fault::new(FaultKind::Drop).method("patch").times(2),
            Fault::new(FaultKind::Garbage),
        ];
        assert_eq!(
            take_fault(&mut faults, "GET", "/x"),
            Some(FaultKind::Garbage)
        );
        assert_eq!(take_fault(&mut faults, "GET", "/x"), None);
        assert_eq!(
            take_fault(&mut faults, "PATCH", "/x"),
            Some(FaultKind::Drop)
        );
        assert_eq!(
            take_fault(&mut faults, "PATCH", "/x"),
            Some(FaultKind::Drop)
        );
        assert_eq!(take_fault(&mut faults, "PATCH", "/x"), None);
        assert!(faults.is_empty());
    }

    #[test]
    fn rate_limiter_refuses_over_the_limit_and_recovers() {
        let mut limiter = RateLimiter::default();
        limiter.set(Some(RateLimit {
            requests: 2,
            window: Duration::from_secs(10),
        }));
        let t0 = Instant::now();
        assert_eq!(limiter.check(t0), Ok(()));
        assert_eq!(limiter.check(t0 + Duration::from_secs(1)), Ok(()));
        assert_eq!(limiter.check(t0 + Duration::from_secs(2)), Err(8));
        assert_eq!(limiter.check(t0 + Duration::from_secs(10)), Ok(()));
    }
}
