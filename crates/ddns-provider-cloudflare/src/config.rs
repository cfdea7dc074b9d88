//! `DDNS_PROVIDER_API_TOKEN` and `DDNS_CLOUDFLARE_*`, validated without I/O.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ddns_core::config::{ConfigError, Env, validate_token, validate_url};
use ddns_core::{DnsProvider, ProviderFactory, ProviderPlan, Secret, Setting};
use reqwest::Url;

use crate::NAME;
use crate::client::Api;
use crate::plan::Settings;
use crate::provider::CloudflareProvider;
use crate::zones::Zones;

const TOKEN: &str = "DDNS_PROVIDER_API_TOKEN";
const TOKEN_FILE: &str = "DDNS_PROVIDER_API_TOKEN_FILE";
const API_URL: &str = "DDNS_CLOUDFLARE_API_URL";
const ZONE_ID: &str = "DDNS_CLOUDFLARE_ZONE_ID";
const ACCOUNT_ID: &str = "DDNS_CLOUDFLARE_ACCOUNT_ID";
const PROXIED: &str = "DDNS_CLOUDFLARE_PROXIED";
const COMMENT: &str = "DDNS_CLOUDFLARE_COMMENT";
const TTL: &str = "DDNS_TTL";
const TIMEOUT: &str = "DDNS_CLOUDFLARE_TIMEOUT_SECS";

/// The API everyone uses.
pub const DEFAULT_API_URL: &str = "https://api.cloudflare.com/client/v4";

/// The longest comment the Free plan accepts.
const MAX_COMMENT: usize = 100;

/// Makes Cloudflare providers.
#[derive(Debug, Clone, Copy, Default)]
pub struct CloudflareFactory;

struct Plan {
    token: Secret,
    url: Url,
    zone_id: Option<String>,
    account_id: Option<String>,
    settings: Settings,
    timeout: Duration,
}

/// Cloudflare IDs are 32 lower-case hex digits.
fn parse_id(variable: &str, value: &str) -> Result<String, ConfigError> {
    let id = value.trim().to_ascii_lowercase();
    if id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(id)
    } else {
        let shown: String = value.trim().chars().take(40).collect();
        let hint = if shown.contains('.') {
            "; it looks like a domain name: copy the ID from the zone's Overview page in the dashboard"
        } else {
            ""
        };
        Err(ConfigError::new(
            variable,
            format!("'{shown}' is not a Cloudflare ID (32 hexadecimal digits){hint}"),
        ))
    }
}

fn parse_ttl(env: &Env) -> Result<Option<u32>, ConfigError> {
    if !env.is_set(TTL) {
        return Ok(None);
    }
    let ttl = env.number(TTL, 1u32, 1..=86_400)?;
    if ttl != 1 && ttl < 30 {
        return Err(ConfigError::new(
            TTL,
            format!(
                "{ttl} is too short for Cloudflare: use 1 (automatic) or 30..=86400 seconds (60 on plans below Enterprise)"
            ),
        ));
    }
    Ok(Some(ttl))
}

fn parse_comment(env: &Env) -> Result<Option<String>, ConfigError> {
    let Some(comment) = env.get(COMMENT)? else {
        return Ok(None);
    };
    if comment.chars().count() > MAX_COMMENT {
        return Err(ConfigError::new(
            COMMENT,
            format!(
                "is {} characters long; Cloudflare accepts at most {MAX_COMMENT} on the Free plan",
                comment.chars().count()
            ),
        ));
    }
    if comment.chars().any(char::is_control) {
        return Err(ConfigError::new(COMMENT, "holds control characters"));
    }
    Ok(Some(comment))
}

impl ProviderFactory for CloudflareFactory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn variables(&self) -> &'static [&'static str] {
        &[
            TOKEN, TOKEN_FILE, API_URL, ZONE_ID, ACCOUNT_ID, PROXIED, COMMENT, TTL, TIMEOUT,
        ]
    }

    fn configure(&self, env: &Env) -> Result<Box<dyn ProviderPlan>, ConfigError> {
        let token = env.secret(TOKEN)?.ok_or_else(|| {
            ConfigError::new(
                TOKEN,
                format!("is required: a Cloudflare API token with Zone:Read and DNS:Edit (or give a file in {TOKEN_FILE})"),
            )
        })?;
        validate_token(TOKEN, &token, 16)?;
        let token = Secret::new(token.expose().trim());
        if token.expose().chars().any(|c| !c.is_ascii_graphic()) {
            return Err(ConfigError::new(
                TOKEN,
                "holds spaces or characters outside printable ASCII; a Cloudflare token has none",
            ));
        }
        let url = match env.get(API_URL)? {
            Some(value) => validate_url(API_URL, &value, false)?,
            None => {
                Url::parse(DEFAULT_API_URL).map_err(|e| ConfigError::new(API_URL, e.to_string()))?
            }
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ConfigError::new(
                API_URL,
                "must not have a query or a fragment; give the base, such as https://api.cloudflare.com/client/v4",
            ));
        }
        let zone_id = env
            .get(ZONE_ID)?
            .map(|v| parse_id(ZONE_ID, &v))
            .transpose()?;
        let account_id = env
            .get(ACCOUNT_ID)?
            .map(|v| parse_id(ACCOUNT_ID, &v))
            .transpose()?;
        let proxied = if env.is_set(PROXIED) {
            Some(env.flag(PROXIED, false)?)
        } else {
            None
        };
        let settings = Settings {
            proxied,
            ttl: parse_ttl(env)?,
            comment: parse_comment(env)?,
        };
        if settings.proxied == Some(true) && settings.ttl.is_some_and(|t| t != 1) {
            return Err(ConfigError::new(
                TTL,
                "proxied records always have an automatic TTL at Cloudflare; unset DDNS_TTL or set it to 1",
            ));
        }
        let timeout = Duration::from_secs(env.number(TIMEOUT, 10u64, 1..=120)?);
        Ok(Box::new(Plan {
            token,
            url,
            zone_id,
            account_id,
            settings,
            timeout,
        }))
    }
}

#[async_trait]
impl ProviderPlan for Plan {
    fn settings(&self) -> Vec<Setting> {
        let keep = "(keep each record's own; new records: {})";
        vec![
            Setting::new(TOKEN, &self.token),
            Setting::new(API_URL, self.url.as_str().trim_end_matches('/')),
            Setting::new(
                ZONE_ID,
                self.zone_id
                    .clone()
                    .unwrap_or_else(|| "(found from each record's name)".into()),
            ),
            Setting::new(
                ACCOUNT_ID,
                self.account_id.clone().unwrap_or_else(|| "(any)".into()),
            ),
            Setting::new(
                PROXIED,
                self.settings
                    .proxied
                    .map_or_else(|| keep.replace("{}", "false"), |p| p.to_string()),
            ),
            Setting::new(
                TTL,
                self.settings
                    .ttl
                    .map_or_else(|| keep.replace("{}", "1, automatic"), |t| t.to_string()),
            ),
            Setting::new(
                COMMENT,
                self.settings
                    .comment
                    .clone()
                    .unwrap_or_else(|| keep.replace("{}", "none")),
            ),
            Setting::new(TIMEOUT, self.timeout.as_secs()),
        ]
    }

    async fn build(self: Box<Self>) -> ddns_core::Result<Arc<dyn DnsProvider>> {
        let api = Api::new(self.url, &self.token, self.timeout).map_err(|message| {
            ddns_core::Error::Startup {
                component: format!("provider {NAME}"),
                message,
            }
        })?;
        Ok(Arc::new(CloudflareProvider::new(
            api,
            Zones::new(self.zone_id, self.account_id.clone()),
            self.settings,
            self.account_id,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "Zk3r9-qP2mXa7LwTq8Vn4Rb6Ys1Hc0Jd5Fg2Kh7M";

    fn configure(pairs: &[(&str, &str)]) -> Result<Box<dyn ProviderPlan>, ConfigError> {
        let mut all = vec![(TOKEN.to_string(), GOOD.to_string())];
        for (k, v) in pairs {
            all.retain(|(name, _)| name != k);
            if !v.is_empty() || *k != TOKEN {
                all.push((k.to_string(), v.to_string()));
            }
        }
        CloudflareFactory.configure(&Env::from_pairs(all))
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        configure(pairs)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    fn settings(pairs: &[(&str, &str)]) -> Vec<String> {
        configure(pairs)
            .unwrap()
            .settings()
            .iter()
            .map(|s| format!("{}={}", s.name, s.value))
            .collect()
    }

    #[test]
    fn every_error_names_its_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[(TOKEN, "")],
                "DDNS_PROVIDER_API_TOKEN: is required: a Cloudflare API token",
            ),
            (
                &[(TOKEN, "short")],
                "DDNS_PROVIDER_API_TOKEN: is 5 characters long",
            ),
            (
                &[(TOKEN, "abc def ghi jkl mno pqr")],
                "DDNS_PROVIDER_API_TOKEN: holds spaces",
            ),
            (
                &[(API_URL, "http://api.example.net/client/v4")],
                "DDNS_CLOUDFLARE_API_URL: http://api.example.net is not encrypted",
            ),
            (
                &[(API_URL, "ftp://127.0.0.1/")],
                "DDNS_CLOUDFLARE_API_URL: the scheme 'ftp' is not supported",
            ),
            (
                &[(API_URL, "https://api.cloudflare.com/client/v4?x=1")],
                "DDNS_CLOUDFLARE_API_URL: must not have a query",
            ),
            (
                &[(ZONE_ID, "example.com")],
                "DDNS_CLOUDFLARE_ZONE_ID: 'example.com' is not a Cloudflare ID (32 hexadecimal digits); it looks like a domain name",
            ),
            (
                &[(ACCOUNT_ID, "12345")],
                "DDNS_CLOUDFLARE_ACCOUNT_ID: '12345' is not a Cloudflare ID",
            ),
            (
                &[(PROXIED, "maybe")],
                "DDNS_CLOUDFLARE_PROXIED: 'maybe' is not a boolean",
            ),
            (&[(TTL, "10")], "DDNS_TTL: 10 is too short for Cloudflare"),
            (
                &[(TTL, "0")],
                "DDNS_TTL: 0 is out of range (expected 1..=86400)",
            ),
            (
                &[(TTL, "120"), (PROXIED, "true")],
                "DDNS_TTL: proxied records always have an automatic TTL",
            ),
            (
                &[(COMMENT, &"c".repeat(101))],
                "DDNS_CLOUDFLARE_COMMENT: is 101 characters long",
            ),
            (
                &[(TIMEOUT, "0")],
                "DDNS_CLOUDFLARE_TIMEOUT_SECS: 0 is out of range (expected 1..=120)",
            ),
        ];
        for (pairs, expected) in cases {
            let message = error(pairs);
            assert!(
                message.starts_with(expected),
                "{pairs:?}\n  got: {message}\n  expected: {expected}"
            );
            assert!(!message.contains(GOOD), "the token leaked: {message}");
        }
    }

    #[test]
    fn defaults_keep_what_records_have_and_hide_the_token() {
        let lines = settings(&[]);
        for line in [
            "DDNS_PROVIDER_API_TOKEN=<redacted>",
            "DDNS_CLOUDFLARE_API_URL=https://api.cloudflare.com/client/v4",
            "DDNS_CLOUDFLARE_ZONE_ID=(found from each record's name)",
            "DDNS_CLOUDFLARE_PROXIED=(keep each record's own; new records: false)",
            "DDNS_TTL=(keep each record's own; new records: 1, automatic)",
            "DDNS_CLOUDFLARE_TIMEOUT_SECS=10",
        ] {
            assert!(
                lines.iter().any(|l| l == line),
                "missing {line} in {lines:?}"
            );
        }
        assert!(!lines.iter().any(|l| l.contains(GOOD)));
    }

    #[test]
    fn explicit_settings_are_taken() {
        let lines = settings(&[
            (ZONE_ID, "023E105F4ECEF8AD9CA31A8372D0C353"),
            (PROXIED, "true"),
            (TTL, "1"),
            (COMMENT, "managed by ddns"),
            (API_URL, "http://127.0.0.1:8080/client/v4"),
        ]);
        for line in [
            "DDNS_CLOUDFLARE_ZONE_ID=023e105f4ecef8ad9ca31a8372d0c353",
            "DDNS_CLOUDFLARE_PROXIED=true",
            "DDNS_TTL=1",
            "DDNS_CLOUDFLARE_COMMENT=managed by ddns",
            "DDNS_CLOUDFLARE_API_URL=http://127.0.0.1:8080/client/v4",
        ] {
            assert!(
                lines.iter().any(|l| l == line),
                "missing {line} in {lines:?}"
            );
        }
    }
}
