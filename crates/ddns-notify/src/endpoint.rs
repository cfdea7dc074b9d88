//! URLs that may carry a credential, and the notification formats they
//! speak.

use std::fmt;

use ddns_core::config::{ConfigError, validate_url};
use reqwest::Url;

/// A validated http(s) URL whose path, query or user part may hold a
/// credential. Only its origin (`scheme://host[:port]`) is ever shown:
/// `Debug` prints the origin, and nothing here implements `Display`.
#[derive(Clone)]
pub(crate) struct Endpoint {
    url: Url,
    origin: String,
}

impl Endpoint {
    /// Parses `value` with the project's URL rules (https, or http to a
    /// loopback host or with `DDNS_ALLOW_HTTP`). Errors name `variable`
    /// and never show the path, query or user part.
    pub(crate) fn parse(
        variable: &str,
        value: &str,
        allow_http: bool,
    ) -> Result<Self, ConfigError> {
        let url = validate_url(variable, value, allow_http)?;
        Ok(Self::from_url(url))
    }

    fn from_url(url: Url) -> Self {
        let origin = url.origin().ascii_serialization();
        Self { url, origin }
    }

    /// The whole URL, credential included: for the request only.
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// `scheme://host[:port]`, what settings and logs show.
    pub(crate) fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.origin)
    }
}

/// How a notification is encoded for its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// ddns's own versioned JSON document.
    Json,
    /// A text body to an ntfy topic, with `Title`, `Priority` and `Tags`.
    Ntfy,
    /// Gotify's `/message` JSON.
    Gotify,
    /// A Discord webhook's `content`.
    Discord,
    /// A Slack incoming webhook's `text`.
    Slack,
}

impl Format {
    /// The words `DDNS_NOTIFY_FORMAT` accepts, `auto` first.
    pub(crate) const CHOICES: [&'static str; 6] =
        ["auto", "json", "ntfy", "gotify", "discord", "slack"];

    /// The format a `DDNS_NOTIFY_FORMAT` word names; `None` for `auto`.
    pub(crate) fn named(name: &str) -> Option<Self> {
        match name {
            "json" => Some(Format::Json),
            "ntfy" => Some(Format::Ntfy),
            "gotify" => Some(Format::Gotify),
            "discord" => Some(Format::Discord),
            "slack" => Some(Format::Slack),
            _ => None,
        }
    }

    /// The word used in settings and logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Ntfy => "ntfy",
            Format::Gotify => "gotify",
            Format::Discord => "discord",
            Format::Slack => "slack",
        }
    }

    /// The format a URL's host and path suggest (for `auto`).
    pub(crate) fn detect(url: &Url) -> Self {
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        let path = url.path();
        if (under("discord.com") || under("discordapp.com")) && path.starts_with("/api/webhooks/") {
            Format::Discord
        } else if host == "hooks.slack.com" {
            Format::Slack
        } else if path.contains("/message") && has_token(url) {
            Format::Gotify
        } else {
            Format::Json
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the query carries a non-empty `token` (Gotify's application
/// token).
fn has_token(url: &Url) -> bool {
    url.query_pairs()
        .any(|(key, value)| key == "token" && !value.is_empty())
}

/// A notification receiver: where, and in which format.
#[derive(Debug, Clone)]
pub(crate) struct Webhook {
    pub(crate) endpoint: Endpoint,
    pub(crate) format: Format,
}

impl Webhook {
    /// Parses one entry of `DDNS_NOTIFY_WEBHOOK_URL`. `ntfy://` and
    /// `ntfys://` stand for ntfy over http and https; `forced` is the
    /// format `DDNS_NOTIFY_FORMAT` names, if not `auto`.
    pub(crate) fn parse(
        variable: &str,
        format_variable: &str,
        value: &str,
        forced: Option<Format>,
        allow_http: bool,
    ) -> Result<Self, ConfigError> {
        let value = value.trim();
        let (text, ntfy_scheme) = match split_scheme(value) {
            Some(("ntfys", rest)) => (format!("https://{rest}"), true),
            Some(("ntfy", rest)) => (format!("http://{rest}"), true),
            _ => (value.to_string(), false),
        };
        let endpoint = Endpoint::parse(variable, &text, allow_http)?;
        let format = match (forced, ntfy_scheme) {
            (Some(format), true) if format != Format::Ntfy => {
                return Err(ConfigError::new(
                    format_variable,
                    format!(
                        "is {format}, but the {variable} URL for {} uses the ntfy scheme; \
                         use an https:// URL or set {format_variable}=ntfy",
                        endpoint.origin()
                    ),
                ));
            }
            (Some(format), _) => format,
            (None, true) => Format::Ntfy,
            (None, false) => Format::detect(endpoint.url()),
        };
        if format == Format::Gotify && !has_token(endpoint.url()) {
            return Err(ConfigError::new(
                variable,
                format!(
                    "the Gotify URL for {} has no token; give the application token in the URL: \
                     https://gotify.example/message?token=…",
                    endpoint.origin()
                ),
            ));
        }
        Ok(Self { endpoint, format })
    }
}

/// `("ntfy", "host/topic")` for `ntfy://host/topic`, case-insensitive.
fn split_scheme(value: &str) -> Option<(&'static str, &str)> {
    let (scheme, rest) = value.split_once("://")?;
    match scheme.to_ascii_lowercase().as_str() {
        "ntfys" => Some(("ntfys", rest)),
        "ntfy" => Some(("ntfy", rest)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn detect(text: &str) -> Format {
        Format::detect(&Url::parse(text).unwrap())
    }

    fn parse(text: &str, forced: Option<Format>) -> Result<Webhook, ConfigError> {
        Webhook::parse("URL", "FORMAT", text, forced, false)
    }

    #[test]
    fn formats_are_detected_from_the_host_and_path() {
        assert_eq!(
            detect("https://discord.com/api/webhooks/1/abc"),
            Format::Discord
        );
        assert_eq!(
            detect("https://canary.discordapp.com/api/webhooks/1/abc"),
            Format::Discord
        );
        assert_eq!(
            detect("https://discord.com/channels/1"),
            Format::Json,
            "not a webhook path"
        );
        assert_eq!(
            detect("https://notdiscord.com/api/webhooks/1/abc"),
            Format::Json
        );
        assert_eq!(
            detect("https://hooks.slack.com/services/T/B/X"),
            Format::Slack
        );
        assert_eq!(
            detect("https://push.example/message?token=AbC"),
            Format::Gotify
        );
        assert_eq!(
            detect("https://push.example/gotify/message?token=AbC"),
            Format::Gotify
        );
        assert_eq!(detect("https://push.example/message"), Format::Json);
        assert_eq!(detect("https://hooks.example/ddns"), Format::Json);
    }

    #[test]
    fn ntfy_schemes_map_to_http_and_https() {
        let hook = parse("ntfys://ntfy.sh/home-ddns", None).unwrap();
        assert_eq!(hook.format, Format::Ntfy);
        assert_eq!(hook.endpoint.url().as_str(), "https://ntfy.sh/home-ddns");
        let hook = parse("NTFY://127.0.0.1:8080/t", None).unwrap();
        assert_eq!(hook.endpoint.url().as_str(), "http://127.0.0.1:8080/t");
        let err = parse("ntfy://ntfy.lan/t", None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("URL: http://ntfy.lan is not encrypted"),
            "{err}"
        );
        let err = parse("ntfys://ntfy.sh/t", Some(Format::Slack)).unwrap_err();
        assert_eq!(err.variable(), "FORMAT");
        assert!(err.to_string().contains("uses the ntfy scheme"), "{err}");
    }

    #[test]
    fn a_forced_format_wins_over_detection_but_gotify_needs_its_token() {
        let hook = parse("https://hooks.slack.com/services/x", Some(Format::Json)).unwrap();
        assert_eq!(hook.format, Format::Json);
        let err = parse(
            "https://push.example/message/canary-k3y",
            Some(Format::Gotify),
        )
        .unwrap_err();
        assert!(err.to_string().contains("has no token"), "{err}");
        assert!(!err.to_string().contains("canary"), "{err}");
    }

    #[test]
    fn debug_shows_the_origin_only() {
        let hook = parse("https://push.example/message?token=canary-k3y", None).unwrap();
        let shown = format!("{hook:?}");
        assert!(shown.contains("https://push.example"), "{shown}");
        assert!(!shown.contains("canary"), "{shown}");
    }
}
