//! `DDNS_PROBE_*` and `DDNS_RECOVERY_*`: validated without I/O (except
//! reading `DDNS_RECOVERY_URL_FILE`).

use std::time::Duration;

use ddns_core::config::{ConfigError, Env, validate_url};
use ddns_core::{REDACTED, Setting};
use reqwest::Url;

use crate::policy::{RecoveryRules, Schedule};
use crate::recovery::{Method, origin};
use crate::target::WanTarget;

const PROBE_WAN: &str = "DDNS_PROBE_WAN";
const PROBE_GATEWAY: &str = "DDNS_PROBE_GATEWAY";
const PROBE_TIMEOUT: &str = "DDNS_PROBE_TIMEOUT_SECS";
const PROBE_INTERVAL: &str = "DDNS_PROBE_INTERVAL_SECS";
const PROBE_EVERY: &str = "DDNS_PROBE_EVERY_SECS";
const RECOVERY_URL: &str = "DDNS_RECOVERY_URL";
const RECOVERY_URL_FILE: &str = "DDNS_RECOVERY_URL_FILE";
const RECOVERY_METHOD: &str = "DDNS_RECOVERY_METHOD";
const RECOVERY_AFTER: &str = "DDNS_RECOVERY_AFTER_SECS";
const RECOVERY_COOLDOWN: &str = "DDNS_RECOVERY_COOLDOWN_SECS";
const RECOVERY_MAX_ATTEMPTS: &str = "DDNS_RECOVERY_MAX_ATTEMPTS";
/// The core's; read here for the recovery URL.
const ALLOW_HTTP: &str = "DDNS_ALLOW_HTTP";

/// Every variable this crate reads (`DDNS_ALLOW_HTTP` is the core's).
pub const VARIABLES: &[&str] = &[
    PROBE_WAN,
    PROBE_GATEWAY,
    PROBE_TIMEOUT,
    PROBE_INTERVAL,
    PROBE_EVERY,
    RECOVERY_URL,
    RECOVERY_URL_FILE,
    RECOVERY_METHOD,
    RECOVERY_AFTER,
    RECOVERY_COOLDOWN,
    RECOVERY_MAX_ATTEMPTS,
];

/// Tunables that mean nothing without a probe.
const PROBE_TUNABLES: [&str; 3] = [PROBE_TIMEOUT, PROBE_INTERVAL, PROBE_EVERY];

/// Tunables that mean nothing without a recovery URL.
const RECOVERY_TUNABLES: [&str; 4] = [
    RECOVERY_METHOD,
    RECOVERY_AFTER,
    RECOVERY_COOLDOWN,
    RECOVERY_MAX_ATTEMPTS,
];

/// A validated probe configuration: at least one probe, and maybe the
/// recovery request. Holds the recovery URL, which may carry a
/// credential: its `Debug` shows only `scheme://host`.
#[derive(Clone)]
pub struct ProbeConfig {
    pub(crate) wan: Option<WanTarget>,
    pub(crate) gateway: bool,
    pub(crate) timeout: Duration,
    pub(crate) schedule: Schedule,
    pub(crate) recovery: Option<RecoveryConfig>,
}

/// The recovery request and when it may be sent.
#[derive(Clone)]
pub(crate) struct RecoveryConfig {
    pub(crate) url: Url,
    pub(crate) method: Method,
    pub(crate) rules: RecoveryRules,
}

impl std::fmt::Debug for ProbeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProbeConfig")
            .field("wan", &self.wan.as_ref().map(ToString::to_string))
            .field("gateway", &self.gateway)
            .field("timeout", &self.timeout)
            .field("schedule", &self.schedule)
            .field(
                "recovery",
                &self.recovery.as_ref().map(|r| shown_url(&r.url)),
            )
            .finish()
    }
}

fn shown_url(url: &Url) -> String {
    format!("{}/{REDACTED}", origin(url))
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

impl ProbeConfig {
    /// Reads and checks the variables; `None` when no probe is
    /// configured (neither `DDNS_PROBE_WAN` nor `DDNS_PROBE_GATEWAY=true`).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the variable: a value out of range or
    /// malformed, a tunable set for a feature that is off, or
    /// `DDNS_RECOVERY_URL` without any probe (only probes can tell that
    /// the network, not the provider, is down).
    pub fn from_env(env: &Env) -> Result<Option<ProbeConfig>, ConfigError> {
        let wan = env
            .get(PROBE_WAN)?
            .map(|text| {
                text.parse::<WanTarget>()
                    .map_err(|reason| ConfigError::new(PROBE_WAN, reason))
            })
            .transpose()?;
        let gateway = env.flag(PROBE_GATEWAY, false)?;
        let recovery_url = env.secret(RECOVERY_URL)?;
        if wan.is_none() && !gateway {
            if recovery_url.is_some() {
                return Err(ConfigError::new(
                    RECOVERY_URL,
                    format!(
                        "needs a network probe to decide when the network is down: set {PROBE_WAN} \
                         (such as 1.1.1.1:443) or {PROBE_GATEWAY}=true; a provider outage alone \
                         never triggers the recovery request"
                    ),
                ));
            }
            let mut unused = PROBE_TUNABLES.iter().chain(&RECOVERY_TUNABLES);
            if let Some(variable) = unused.find(|v| env.is_set(v)) {
                return Err(ConfigError::new(
                    *variable,
                    format!(
                        "has no effect without a network probe ({PROBE_WAN} or {PROBE_GATEWAY}=true); unset it"
                    ),
                ));
            }
            return Ok(None);
        }
        let timeout = env.number(PROBE_TIMEOUT, 5u64, 1..=60)?;
        let interval = env.number(PROBE_INTERVAL, 30u64, 5..=3600)?;
        if interval < timeout {
            return Err(ConfigError::new(
                PROBE_INTERVAL,
                format!(
                    "{interval} is shorter than {PROBE_TIMEOUT} ({timeout}); a probe must end before the next one"
                ),
            ));
        }
        let every = env.number(PROBE_EVERY, 0u64, 0..=604_800)?;
        if every != 0 && every < interval {
            return Err(ConfigError::new(
                PROBE_EVERY,
                format!(
                    "{every} is shorter than {PROBE_INTERVAL} ({interval}): it is the slow interval, \
                     used while the daemon is healthy; 0 probes only while it is degraded"
                ),
            ));
        }
        let recovery = match recovery_url {
            Some(secret) => {
                let allow_http = env.flag(ALLOW_HTTP, false)?;
                let url = validate_url(RECOVERY_URL, secret.expose(), allow_http)?;
                let method = match env.choice(RECOVERY_METHOD, "post", &["get", "post"])? {
                    "get" => Method::Get,
                    _ => Method::Post,
                };
                let rules = RecoveryRules {
                    after: secs(env.number(RECOVERY_AFTER, 600u64, 10..=604_800)?),
                    cooldown: secs(env.number(RECOVERY_COOLDOWN, 1800u64, 10..=604_800)?),
                    max_attempts: env.number(RECOVERY_MAX_ATTEMPTS, 3u32, 1..=100)?,
                };
                Some(RecoveryConfig { url, method, rules })
            }
            None => {
                if let Some(variable) = RECOVERY_TUNABLES.iter().find(|v| env.is_set(v)) {
                    return Err(ConfigError::new(
                        *variable,
                        format!("has no effect without {RECOVERY_URL}; unset it"),
                    ));
                }
                None
            }
        };
        Ok(Some(ProbeConfig {
            wan,
            gateway,
            timeout: secs(timeout),
            schedule: Schedule {
                interval: secs(interval),
                every: (every > 0).then(|| secs(every)),
            },
            recovery,
        }))
    }

    /// The effective settings, for `ddnsd check`; the recovery URL shows
    /// as `scheme://host/<redacted>`.
    pub fn settings(&self) -> Vec<Setting> {
        let mut out = vec![
            Setting::new(
                PROBE_WAN,
                self.wan
                    .as_ref()
                    .map_or_else(|| "off".to_string(), ToString::to_string),
            ),
            Setting::new(PROBE_GATEWAY, self.gateway),
            Setting::new(PROBE_TIMEOUT, self.timeout.as_secs()),
            Setting::new(PROBE_INTERVAL, self.schedule.interval.as_secs()),
            Setting::new(
                PROBE_EVERY,
                self.schedule.every.map_or_else(
                    || "0 (only while degraded)".to_string(),
                    |every| every.as_secs().to_string(),
                ),
            ),
        ];
        match &self.recovery {
            None => out.push(Setting::new(RECOVERY_URL, "off")),
            Some(recovery) => out.extend([
                Setting::new(RECOVERY_URL, shown_url(&recovery.url)),
                Setting::new(RECOVERY_METHOD, recovery.method),
                Setting::new(RECOVERY_AFTER, recovery.rules.after.as_secs()),
                Setting::new(RECOVERY_COOLDOWN, recovery.rules.cooldown.as_secs()),
                Setting::new(RECOVERY_MAX_ATTEMPTS, recovery.rules.max_attempts),
            ]),
        }
        out
    }
}

#[cfg(test)]
mod tests;
