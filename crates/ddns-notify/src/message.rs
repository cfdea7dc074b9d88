//! Notifications: what happened, and how each format says it.

use std::net::IpAddr;
use std::time::SystemTime;

use ddns_core::IpFamily;
use serde_json::{Map, Value, json};

use crate::delivery::{Delivery, Prepared};
use crate::endpoint::{Format, Webhook};
use crate::time::rfc3339;

/// The version of the `json` format's document.
pub(crate) const JSON_VERSION: u64 = 1;

/// Discord refuses `content` longer than this many characters.
const DISCORD_MAX: usize = 2000;

/// Something worth telling a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// A family's address changed (the first address after start is not
    /// a change).
    AddressChanged {
        family: IpFamily,
        from: IpAddr,
        to: IpAddr,
    },
    /// A record's update failed where it had not been failing.
    UpdateFailed { record: String, error: String },
    /// The daemon became Degraded.
    Degraded { reason: String },
    /// The daemon is Ready again after Degraded or Recovering.
    Recovered { reason: String },
}

/// When and where a notice was raised.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    pub(crate) time: SystemTime,
    pub(crate) host: Option<String>,
}

impl Notice {
    /// The `event` word of the JSON document and of logs.
    pub(crate) fn event(&self) -> &'static str {
        match self {
            Notice::AddressChanged { .. } => "address_changed",
            Notice::UpdateFailed { .. } => "update_failed",
            Notice::Degraded { .. } => "degraded",
            Notice::Recovered { .. } => "recovered",
        }
    }

    /// Whether it asks for attention (a higher priority).
    fn urgent(&self) -> bool {
        matches!(self, Notice::UpdateFailed { .. } | Notice::Degraded { .. })
    }

    /// A short title, such as `ddns: IPv4 address changed`.
    pub(crate) fn title(&self) -> String {
        match self {
            Notice::AddressChanged { family, .. } => {
                let family = match family {
                    IpFamily::V4 => "IPv4",
                    IpFamily::V6 => "IPv6",
                };
                format!("ddns: {family} address changed")
            }
            Notice::UpdateFailed { .. } => "ddns: DNS update failed".to_string(),
            Notice::Degraded { .. } => "ddns: degraded".to_string(),
            Notice::Recovered { .. } => "ddns: recovered".to_string(),
        }
    }

    /// One line for a person, such as `router: the IPv4 address changed
    /// from 192.0.2.1 to 192.0.2.2`.
    pub(crate) fn text(&self, context: &Context) -> String {
        let detail = match self {
            Notice::AddressChanged { family, from, to } => {
                format!("the {family} address changed from {from} to {to}")
            }
            Notice::UpdateFailed { record, error } => format!("updating {record} failed: {error}"),
            Notice::Degraded { reason } => format!("degraded: {reason}"),
            Notice::Recovered { reason } => format!("ready again: {reason}"),
        };
        match &context.host {
            Some(host) => format!("{host}: {detail}"),
            None => detail,
        }
    }

    /// The `json` format's document (version [`JSON_VERSION`]).
    pub(crate) fn document(&self, context: &Context) -> Value {
        let mut doc = Map::new();
        doc.insert("version".into(), json!(JSON_VERSION));
        doc.insert("event".into(), json!(self.event()));
        doc.insert("time".into(), json!(rfc3339(context.time)));
        doc.insert("host".into(), json!(context.host));
        match self {
            Notice::AddressChanged { family, from, to } => {
                doc.insert("family".into(), json!(family.as_str()));
                doc.insert("from".into(), json!(from.to_string()));
                doc.insert("to".into(), json!(to.to_string()));
            }
            Notice::UpdateFailed { record, error } => {
                doc.insert("record".into(), json!(record));
                doc.insert("error".into(), json!(error));
            }
            Notice::Degraded { reason } | Notice::Recovered { reason } => {
                doc.insert("reason".into(), json!(reason));
            }
        }
        Value::Object(doc)
    }

    /// The ntfy tag (an emoji short code).
    fn ntfy_tag(&self) -> &'static str {
        match self {
            Notice::AddressChanged { .. } => "globe_with_meridians",
            Notice::UpdateFailed { .. } => "warning",
            Notice::Degraded { .. } => "rotating_light",
            Notice::Recovered { .. } => "white_check_mark",
        }
    }

    /// The request that tells `hook` about this notice.
    pub(crate) fn delivery(&self, hook: &Webhook, context: &Context) -> Delivery {
        let url = hook.endpoint.url().clone();
        let request = match hook.format {
            Format::Json => {
                Prepared::post(url, "application/json", to_bytes(&self.document(context)))
            }
            Format::Ntfy => Prepared::post(
                url,
                "text/plain; charset=utf-8",
                self.text(context).into_bytes(),
            )
            .with_text_header("title", &self.title())
            .with_text_header("priority", if self.urgent() { "4" } else { "3" })
            .with_text_header("tags", self.ntfy_tag()),
            Format::Gotify => {
                let body = json!({
                    "title": self.title(),
                    "message": self.text(context),
                    "priority": if self.urgent() { 8 } else { 5 },
                });
                Prepared::post(url, "application/json", to_bytes(&body))
            }
            Format::Discord => {
                let content = truncate(
                    &format!("**{}**\n{}", self.title(), self.text(context)),
                    DISCORD_MAX,
                );
                // No @everyone or role pings, whatever an error message says.
                let body = json!({ "content": content, "allowed_mentions": { "parse": [] } });
                Prepared::post(url, "application/json", to_bytes(&body))
            }
            Format::Slack => {
                let text = format!(
                    "*{}*\n{}",
                    slack_escape(&self.title()),
                    slack_escape(&self.text(context))
                );
                Prepared::post(url, "application/json", to_bytes(&json!({ "text": text })))
            }
        };
        Delivery {
            destination: hook.endpoint.origin().to_string(),
            kind: hook.format.as_str(),
            event: self.event(),
            request,
        }
    }
}

fn to_bytes(value: &Value) -> Vec<u8> {
    // Serialising a `Value` cannot fail: its keys are strings.
    serde_json::to_vec(value).unwrap_or_default()
}

/// At most `max` characters, an ellipsis marking a cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Slack's three control characters in message text.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::endpoint::Webhook;

    fn context() -> Context {
        Context {
            time: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            host: Some("router".into()),
        }
    }

    fn changed() -> Notice {
        Notice::AddressChanged {
            family: IpFamily::V4,
            from: "192.0.2.1".parse().unwrap(),
            to: "192.0.2.2".parse().unwrap(),
        }
    }

    fn hook(url: &str, format: Format) -> Webhook {
        Webhook::parse("U", "F", url, Some(format), false).unwrap()
    }

    fn body(delivery: &Delivery) -> Value {
        serde_json::from_slice(delivery.request.body.as_deref().unwrap()).unwrap()
    }

    #[test]
    fn json_documents_are_versioned_and_complete() {
        assert_eq!(
            changed().document(&context()),
            json!({
                "version": 1, "event": "address_changed", "time": "2023-11-14T22:13:20Z",
                "host": "router", "family": "ipv4", "from": "192.0.2.1", "to": "192.0.2.2",
            })
        );
        let failed = Notice::UpdateFailed {
            record: "home.example.com A".into(),
            error: "HTTP 500".into(),
        };
        let no_host = Context {
            host: None,
            ..context()
        };
        assert_eq!(
            failed.document(&no_host),
            json!({
                "version": 1, "event": "update_failed", "time": "2023-11-14T22:13:20Z",
                "host": null, "record": "home.example.com A", "error": "HTTP 500",
            })
        );
        let recovered = Notice::Recovered {
            reason: "every record confirmed".into(),
        };
        assert_eq!(
            recovered.document(&context())["reason"],
            "every record confirmed"
        );
        assert_eq!(recovered.document(&context())["event"], "recovered");
    }

    #[test]
    fn texts_name_the_host_and_what_happened() {
        assert_eq!(
            changed().text(&context()),
            "router: the ipv4 address changed from 192.0.2.1 to 192.0.2.2"
        );
        assert_eq!(changed().title(), "ddns: IPv4 address changed");
        let degraded = Notice::Degraded {
            reason: "provider failing: HTTP 500".into(),
        };
        assert_eq!(
            degraded.text(&Context {
                host: None,
                ..context()
            }),
            "degraded: provider failing: HTTP 500"
        );
    }

    #[test]
    fn discord_content_is_bounded_and_mentions_are_off() {
        let long = Notice::UpdateFailed {
            record: "a.example.com A".into(),
            error: "@everyone ".repeat(500),
        };
        let delivery = long.delivery(
            &hook("https://discord.com/api/webhooks/1/x", Format::Discord),
            &context(),
        );
        let body = body(&delivery);
        assert_eq!(body["content"].as_str().unwrap().chars().count(), 2000);
        assert_eq!(body["allowed_mentions"], json!({ "parse": [] }));
        assert_eq!(delivery.kind, "discord");
    }

    #[test]
    fn slack_text_escapes_its_control_characters() {
        let notice = Notice::Degraded {
            reason: "a <b> & c".into(),
        };
        let delivery = notice.delivery(
            &hook("https://hooks.slack.com/services/x", Format::Slack),
            &context(),
        );
        assert_eq!(
            body(&delivery),
            json!({ "text": "*ddns: degraded*\nrouter: degraded: a &lt;b&gt; &amp; c" })
        );
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("ééééé", 3), "éé…");
    }
}
