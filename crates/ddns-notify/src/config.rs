//! The variables, and their validation into a [`NotifyConfig`].

use std::fmt;
use std::path::Path;
use std::time::Duration;

use ddns_core::Setting;
use ddns_core::config::{ConfigError, Env};
use ddns_tls::CaFile;

use crate::endpoint::{Endpoint, Format, Webhook};
use crate::ping::{PingTarget, Service};

/// A healthchecks.io-style ping URL (secret; also `_FILE`).
pub const HEALTHCHECK_URL: &str = "DDNS_HEALTHCHECK_URL";
/// Seconds between heartbeat pings while Ready.
pub const HEALTHCHECK_PERIOD: &str = "DDNS_HEALTHCHECK_PERIOD_SECS";
/// An Uptime Kuma push URL (secret; also `_FILE`).
pub const UPTIME_KUMA_URL: &str = "DDNS_UPTIME_KUMA_URL";
/// Notification URLs, comma-separated (secret; also `_FILE`).
pub const WEBHOOK_URL: &str = "DDNS_NOTIFY_WEBHOOK_URL";
/// `auto`, `json`, `ntfy`, `gotify`, `discord` or `slack`.
pub const FORMAT: &str = "DDNS_NOTIFY_FORMAT";
/// Seconds one attempt may take.
pub const TIMEOUT: &str = "DDNS_NOTIFY_TIMEOUT_SECS";
/// Extra root certificates (a PEM file) for self-hosted receivers.
pub const CA_FILE: &str = "DDNS_NOTIFY_CA_FILE";

/// The core's switch for plain http, read here for the URLs.
const ALLOW_HTTP: &str = "DDNS_ALLOW_HTTP";

/// Every variable this crate reads, `_FILE` forms included (for the
/// daemon's unknown-variable check). `DDNS_ALLOW_HTTP`, the core's, is
/// read too.
pub const VARIABLES: &[&str] = &[
    HEALTHCHECK_URL,
    "DDNS_HEALTHCHECK_URL_FILE",
    HEALTHCHECK_PERIOD,
    UPTIME_KUMA_URL,
    "DDNS_UPTIME_KUMA_URL_FILE",
    WEBHOOK_URL,
    "DDNS_NOTIFY_WEBHOOK_URL_FILE",
    FORMAT,
    TIMEOUT,
    CA_FILE,
];

/// Default of [`HEALTHCHECK_PERIOD`].
pub const DEFAULT_PERIOD: Duration = Duration::from_secs(300);
/// Default of [`TIMEOUT`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Validated ping and notification settings. Holds credentials: `Debug`
/// shows origins only, and there is no `Display`.
#[derive(Clone)]
pub struct NotifyConfig {
    pub(crate) pings: Vec<PingTarget>,
    pub(crate) webhooks: Vec<Webhook>,
    pub(crate) format: Option<Format>,
    pub(crate) period: Duration,
    pub(crate) timeout: Duration,
    pub(crate) ca_file: Option<CaFile>,
}

impl NotifyConfig {
    /// How long a ping or notification may take
    /// (`DDNS_NOTIFY_TIMEOUT_SECS`); also what the notifier is given at
    /// shutdown for what is still queued.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("pings", &self.pings)
            .field("webhooks", &self.webhooks)
            .field("period", &self.period)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl NotifyConfig {
    /// Reads and validates the variables; `Ok(None)` when no URL is set
    /// (nothing to run). Pure but for reading `_FILE` secrets and the CA
    /// file. Errors name the variable and never show a URL's path, query
    /// or user part.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let allow_http = env.flag(ALLOW_HTTP, false)?;
        let mut pings = Vec::new();
        for (variable, service) in [
            (HEALTHCHECK_URL, Service::Healthchecks),
            (UPTIME_KUMA_URL, Service::UptimeKuma),
        ] {
            if let Some(secret) = env.secret(variable)? {
                let endpoint = Endpoint::parse(variable, secret.expose(), allow_http)?;
                pings.push(PingTarget { service, endpoint });
            }
        }
        let format = Format::named(env.choice(FORMAT, "auto", &Format::CHOICES)?);
        let webhooks = match env.secret(WEBHOOK_URL)? {
            Some(secret) => webhooks(secret.expose(), format, allow_http)?,
            None => Vec::new(),
        };
        let period = Duration::from_secs(env.number(
            HEALTHCHECK_PERIOD,
            DEFAULT_PERIOD.as_secs(),
            10..=86_400,
        )?);
        let timeout =
            Duration::from_secs(env.number(TIMEOUT, DEFAULT_TIMEOUT.as_secs(), 1..=120)?);
        let ca_file = env
            .get(CA_FILE)?
            .map(|path| CaFile::read(CA_FILE, Path::new(&path)))
            .transpose()?;
        let urls = format!("{HEALTHCHECK_URL}, {UPTIME_KUMA_URL} or {WEBHOOK_URL}");
        if pings.is_empty() && webhooks.is_empty() {
            for variable in [HEALTHCHECK_PERIOD, FORMAT, TIMEOUT, CA_FILE] {
                if env.is_set(variable) {
                    return Err(ConfigError::new(
                        variable,
                        format!("is set, but none of {urls} is; set one or unset {variable}"),
                    ));
                }
            }
            return Ok(None);
        }
        if pings.is_empty() && env.is_set(HEALTHCHECK_PERIOD) {
            return Err(ConfigError::new(
                HEALTHCHECK_PERIOD,
                format!(
                    "is set, but neither {HEALTHCHECK_URL} nor {UPTIME_KUMA_URL} is: there is no heartbeat to time"
                ),
            ));
        }
        if webhooks.is_empty() && env.is_set(FORMAT) {
            return Err(ConfigError::new(
                FORMAT,
                format!("is set, but {WEBHOOK_URL} is not"),
            ));
        }
        Ok(Some(Self {
            pings,
            webhooks,
            format,
            period,
            timeout,
            ca_file,
        }))
    }

    /// The effective settings for `ddnsd check`: URLs by origin only.
    pub fn settings(&self) -> Vec<Setting> {
        let mut out = Vec::new();
        for ping in &self.pings {
            let variable = match ping.service {
                Service::Healthchecks => HEALTHCHECK_URL,
                Service::UptimeKuma => UPTIME_KUMA_URL,
            };
            out.push(Setting::new(variable, ping.endpoint.origin()));
        }
        if !self.pings.is_empty() {
            out.push(Setting::new(HEALTHCHECK_PERIOD, self.period.as_secs()));
        }
        if !self.webhooks.is_empty() {
            let hooks: Vec<String> = self
                .webhooks
                .iter()
                .map(|hook| format!("{} ({})", hook.endpoint.origin(), hook.format))
                .collect();
            out.push(Setting::new(WEBHOOK_URL, hooks.join(", ")));
            out.push(Setting::new(
                FORMAT,
                self.format.map_or("auto", Format::as_str),
            ));
        }
        out.push(Setting::new(TIMEOUT, self.timeout.as_secs()));
        if let Some(ca) = &self.ca_file {
            out.push(Setting::new(CA_FILE, ca.shown()));
        }
        out
    }
}

/// The comma-separated list of [`WEBHOOK_URL`]; an item's errors say which.
fn webhooks(
    value: &str,
    format: Option<Format>,
    allow_http: bool,
) -> Result<Vec<Webhook>, ConfigError> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    let several = items.len() > 1;
    let mut out: Vec<Webhook> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let which = |e: ConfigError| {
            if several && e.variable() == WEBHOOK_URL {
                ConfigError::new(WEBHOOK_URL, format!("item {}: {}", index + 1, e.reason()))
            } else {
                e
            }
        };
        if item.is_empty() {
            return Err(which(ConfigError::new(WEBHOOK_URL, "the URL is empty")));
        }
        let hook = Webhook::parse(WEBHOOK_URL, FORMAT, item, format, allow_http).map_err(which)?;
        if out.iter().any(|h| h.endpoint.url() == hook.endpoint.url()) {
            return Err(which(ConfigError::new(
                WEBHOOK_URL,
                format!("the URL for {} is listed twice", hook.endpoint.origin()),
            )));
        }
        out.push(hook);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
