//! What can go wrong with one API call, and how the engine must treat it.

use std::fmt;
use std::time::Duration;

use ddns_core::ProviderError;

use crate::envelope::ApiMessage;

/// How long the whole API is blocked after a 429 that names no delay: the
/// documented window of the global limit (1,200 requests per 5 minutes).
pub(crate) const DEFAULT_RATE_LIMIT_PAUSE: Duration = Duration::from_secs(300);

/// The longest `Retry-After` taken at its word.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Codes of structured authentication failures: invalid or malformed
/// token, missing permission.
const AUTH_CODES: &[u32] = &[1000, 6003, 6111, 9103, 9106, 9109, 10000, 10001];

/// Codes that say an ID the client used no longer exists: a record (81044)
/// or a zone (7003 "could not route", 7000 "no route", 1001 "invalid zone
/// identifier").
const STALE_ID_CODES: &[u32] = &[RECORD_GONE, 7003, 7000, 1001];

/// "Record does not exist."
const RECORD_GONE: u32 = 81044;

/// Codes that say a record being created is there already.
const EXISTS_CODES: &[u32] = &[81057, 81058];

/// One failed API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ApiError {
    /// No connection, or it broke before an answer.
    Network(String),
    /// No answer within the timeout: a write may still have landed.
    Timeout(String),
    /// 429: the whole API is blocked for a while.
    RateLimited { retry_after: Option<Duration> },
    /// A structured authentication or permission error.
    Auth {
        status: u16,
        errors: Vec<ApiMessage>,
    },
    /// An ID (zone or record) the client used does not exist.
    StaleId {
        status: u16,
        errors: Vec<ApiMessage>,
    },
    /// The record to create exists already.
    Exists {
        status: u16,
        errors: Vec<ApiMessage>,
    },
    /// Any other refusal with Cloudflare error codes (4xx).
    Rejected {
        status: u16,
        errors: Vec<ApiMessage>,
    },
    /// The API failed (5xx).
    Server {
        status: u16,
        errors: Vec<ApiMessage>,
    },
    /// An answer that is not what the API documents: an HTML challenge
    /// page, a body that is not an envelope, a result of the wrong shape.
    Unexpected { status: u16, what: String },
}

impl ApiError {
    /// Classifies a refused call from its status and envelope errors.
    pub(crate) fn from_answer(status: u16, errors: Vec<ApiMessage>) -> Self {
        let has = |codes: &[u32]| {
            errors
                .iter()
                .any(|e| e.codes().any(|code| codes.contains(&code)))
        };
        if status == 429 {
            ApiError::RateLimited { retry_after: None }
        } else if status >= 500 {
            ApiError::Server { status, errors }
        } else if errors.is_empty() {
            ApiError::Unexpected {
                status,
                what: "an error answer without error codes".into(),
            }
        } else if has(AUTH_CODES) || status == 401 {
            ApiError::Auth { status, errors }
        } else if has(STALE_ID_CODES) {
            ApiError::StaleId { status, errors }
        } else if has(EXISTS_CODES) {
            ApiError::Exists { status, errors }
        } else {
            ApiError::Rejected { status, errors }
        }
    }

    /// A 429 with the delay its `Retry-After` header asks for.
    pub(crate) fn rate_limited(retry_after: Option<&str>) -> Self {
        let retry_after = retry_after
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| Duration::from_secs(secs.max(1)).min(MAX_RETRY_AFTER));
        ApiError::RateLimited { retry_after }
    }

    /// Whether the API said an ID no longer exists.
    pub(crate) fn is_stale_id(&self) -> bool {
        matches!(self, ApiError::StaleId { .. })
    }

    /// Whether the API said a zone ID no longer exists (not a record ID).
    pub(crate) fn is_stale_zone(&self) -> bool {
        match self {
            ApiError::StaleId { errors, .. } => !errors
                .iter()
                .any(|e| e.codes().any(|code| code == RECORD_GONE)),
            _ => false,
        }
    }

    /// Whether the failure concerns the API as a whole rather than the
    /// records of the request: retrying them one by one cannot help.
    pub(crate) fn is_whole_api(&self) -> bool {
        !matches!(
            self,
            ApiError::Rejected { .. } | ApiError::Exists { .. } | ApiError::StaleId { .. }
        ) || self.is_stale_zone()
    }

    /// Whether this is a structured authentication failure.
    pub(crate) fn is_auth(&self) -> bool {
        matches!(self, ApiError::Auth { .. })
    }

    /// The engine's view of this failure, `what` saying what was being done
    /// ("listing the records of example.com").
    pub(crate) fn to_provider_error(&self, what: &str) -> ProviderError {
        let message = format!("Cloudflare: {what}: {self}");
        match self {
            ApiError::Network(_) | ApiError::Unexpected { .. } | ApiError::Server { .. } => {
                ProviderError::transient(message)
            }
            ApiError::StaleId { .. } => ProviderError::transient(message),
            ApiError::Timeout(_) => ProviderError::timeout(message),
            ApiError::RateLimited { retry_after } => ProviderError::rate_limited(
                message,
                Some(retry_after.unwrap_or(DEFAULT_RATE_LIMIT_PAUSE)),
            ),
            ApiError::Auth { .. } => ProviderError::credentials(format!(
                "{message}; the API token needs the permissions Zone:Read and DNS:Edit for the zones of your records"
            )),
            ApiError::Exists { .. } | ApiError::Rejected { .. } => {
                ProviderError::permanent(message)
            }
        }
    }
}

/// `code 1000: Invalid API Token; code 6111: …`, each message trimmed to a
/// sane length and stripped of control characters (it comes from the
/// network).
fn describe(errors: &[ApiMessage]) -> String {
    const SHOWN: usize = 5;
    let mut parts = Vec::new();
    let mut total = 0;
    for error in errors {
        for (code, message) in std::iter::once((error.code, &error.message))
            .chain(error.error_chain.iter().map(|c| (c.code, &c.message)))
        {
            total += 1;
            if parts.len() < SHOWN {
                parts.push(format!("code {code}: {}", clean(message, 200)));
            }
        }
    }
    if total > SHOWN {
        parts.push(format!("and {} more", total - SHOWN));
    }
    parts.join("; ")
}

/// Text from the network, safe to log: no control or bidirectional
/// formatting characters, at most `max` characters.
pub(crate) fn clean(text: &str, max: usize) -> String {
    let bidi = |c: char| matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    let mut out: String = text
        .chars()
        .filter(|c| !c.is_control() && !bidi(*c))
        .take(max)
        .collect();
    if text.chars().count() > max {
        out.push('…');
    }
    out
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Network(reason) => write!(f, "cannot reach the API: {reason}"),
            ApiError::Timeout(reason) => write!(f, "no answer in time: {reason}"),
            ApiError::RateLimited { retry_after } => match retry_after {
                Some(delay) => write!(
                    f,
                    "rate limited (HTTP 429); the API asks to wait {}s",
                    delay.as_secs()
                ),
                None => write!(
                    f,
                    "rate limited (HTTP 429) without Retry-After; waiting the documented {}s window",
                    DEFAULT_RATE_LIMIT_PAUSE.as_secs()
                ),
            },
            ApiError::Auth { status, errors }
            | ApiError::StaleId { status, errors }
            | ApiError::Exists { status, errors }
            | ApiError::Rejected { status, errors } => {
                write!(f, "HTTP {status}, {}", describe(errors))
            }
            ApiError::Server { status, errors } if errors.is_empty() => {
                write!(f, "HTTP {status} (server error)")
            }
            ApiError::Server { status, errors } => {
                write!(f, "HTTP {status} (server error), {}", describe(errors))
            }
            ApiError::Unexpected { status, what } => {
                write!(f, "unexpected answer (HTTP {status}): {}", clean(what, 300))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use ddns_core::{ErrorScope, ProviderErrorKind};

    use super::*;

    fn msg(code: u32, message: &str) -> ApiMessage {
        ApiMessage {
            code,
            message: message.into(),
            error_chain: Vec::new(),
        }
    }

    #[test]
    fn answers_are_classified() {
        let kind = |status, code| {
            ApiError::from_answer(status, vec![msg(code, "m")])
                .to_provider_error("x")
                .kind()
        };
        assert_eq!(kind(401, 1000), ProviderErrorKind::Credentials);
        assert_eq!(kind(403, 10000), ProviderErrorKind::Credentials);
        assert_eq!(kind(400, 6003), ProviderErrorKind::Credentials);
        assert_eq!(kind(400, 9005), ProviderErrorKind::Permanent);
        assert_eq!(kind(400, 81058), ProviderErrorKind::Permanent);
        assert_eq!(kind(404, 81044), ProviderErrorKind::Transient);
        assert_eq!(kind(400, 7003), ProviderErrorKind::Transient);
        assert_eq!(kind(502, 0), ProviderErrorKind::Transient);
        assert_eq!(kind(429, 971), ProviderErrorKind::RateLimited);
        assert!(
            ApiError::from_answer(404, vec![msg(81044, "Record does not exist.")]).is_stale_id()
        );
        assert!(matches!(
            ApiError::from_answer(400, vec![msg(81057, "The record already exists.")]),
            ApiError::Exists { .. }
        ));
        assert!(matches!(
            ApiError::from_answer(403, Vec::new()),
            ApiError::Unexpected { .. }
        ));
    }

    #[test]
    fn rate_limits_pause_the_whole_api() {
        let error = ApiError::rate_limited(Some("42")).to_provider_error("listing zones");
        assert_eq!(error.scope(), ErrorScope::Provider);
        assert_eq!(error.retry_after(), Some(Duration::from_secs(42)));
        let error = ApiError::rate_limited(None).to_provider_error("listing zones");
        assert_eq!(error.retry_after(), Some(DEFAULT_RATE_LIMIT_PAUSE));
        assert_eq!(
            error.to_string(),
            "Cloudflare: listing zones: rate limited (HTTP 429) without Retry-After; waiting the documented 300s window (retry after 300s)"
        );
        let huge = ApiError::rate_limited(Some("999999"));
        assert_eq!(
            huge,
            ApiError::RateLimited {
                retry_after: Some(MAX_RETRY_AFTER)
            }
        );
        assert_eq!(
            ApiError::rate_limited(Some("soon")),
            ApiError::RateLimited { retry_after: None }
        );
    }

    #[test]
    fn messages_quote_the_api_and_name_the_permissions() {
        let error = ApiError::from_answer(
            403,
            vec![ApiMessage {
                code: 6003,
                message: "Invalid request headers".into(),
                error_chain: vec![msg(6111, "Invalid format for Authorization header")],
            }],
        );
        assert_eq!(
            error
                .to_provider_error("checking the API token")
                .to_string(),
            "Cloudflare: checking the API token: HTTP 403, code 6003: Invalid request headers; code 6111: Invalid format for Authorization header; the API token needs the permissions Zone:Read and DNS:Edit for the zones of your records"
        );
        let hostile = ApiError::from_answer(
            400,
            vec![msg(9005, &format!("a\u{1b}[31m{}", "x".repeat(500)))],
        );
        let text = hostile.to_string();
        assert!(!text.contains('\u{1b}'));
        assert!(text.len() < 260, "{}", text.len());
    }
}
