//! A provider that writes nothing: it logs each change it would make.
//!
//! With it the daemon can be tried, and its configuration rehearsed, with
//! no DNS account. It cannot read published values, so the engine relies on
//! its state store to know what was "written" before.
//!
//! # Example
//!
//! ```
//! use ddns_core::config::Env;
//! use ddns_core::ProviderFactory;
//! let env = Env::from_pairs([("DDNS_TTL", "120")]);
//! let plan = ddns_provider_dryrun::DryRunFactory.configure(&env).expect("valid");
//! assert_eq!(plan.settings()[0].value, "120");
//! ```
//!
//! # Guarantees
//!
//! - No network traffic, ever.
//! - `DDNS_PROVIDER_API_TOKEN`, when given, is validated like a real token
//!   and never shown.

use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use ddns_core::config::{ConfigError, Env, validate_token};
use ddns_core::{
    DnsProvider, ProviderError, ProviderFactory, ProviderPlan, Record, RecordChange, Secret,
    Setting,
};
use tracing::info;

/// The registry name.
pub const NAME: &str = "dry-run";

/// Logs the changes it is asked to make and reports success.
#[derive(Debug)]
pub struct DryRunProvider {
    ttl: u32,
}

impl DryRunProvider {
    /// A dry-run provider that pretends to write records with this TTL.
    pub fn new(ttl: u32) -> Self {
        Self { ttl }
    }
}

#[async_trait]
impl DnsProvider for DryRunProvider {
    fn name(&self) -> &str {
        NAME
    }

    async fn read(&self, _record: &Record) -> Result<Option<Vec<IpAddr>>, ProviderError> {
        Ok(None)
    }

    async fn update(&self, change: &RecordChange) -> Result<(), ProviderError> {
        info!(
            record = %change.record.name(),
            record_type = change.record.record_type(),
            address = %change.address,
            ttl = self.ttl,
            "dry run: would set the record to this address"
        );
        Ok(())
    }
}

/// Makes [`DryRunProvider`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRunFactory;

struct Plan {
    ttl: u32,
    token: Option<Secret>,
}

impl ProviderFactory for DryRunFactory {
    fn name(&self) -> &'static str {
        NAME
    }

    fn variables(&self) -> &'static [&'static str] {
        &[
            "DDNS_TTL",
            "DDNS_PROVIDER_API_TOKEN",
            "DDNS_PROVIDER_API_TOKEN_FILE",
        ]
    }

    fn configure(&self, env: &Env) -> Result<Box<dyn ProviderPlan>, ConfigError> {
        let ttl = env.number("DDNS_TTL", 60u32, 1..=86_400)?;
        let token = env.secret("DDNS_PROVIDER_API_TOKEN")?;
        if let Some(token) = &token {
            validate_token("DDNS_PROVIDER_API_TOKEN", token, 16)?;
        }
        Ok(Box::new(Plan { ttl, token }))
    }
}

#[async_trait]
impl ProviderPlan for Plan {
    fn settings(&self) -> Vec<Setting> {
        let mut settings = vec![Setting::new("DDNS_TTL", self.ttl)];
        if let Some(token) = &self.token {
            settings.push(Setting::new("DDNS_PROVIDER_API_TOKEN", token));
        }
        settings
    }

    async fn build(self: Box<Self>) -> ddns_core::Result<Arc<dyn DnsProvider>> {
        Ok(Arc::new(DryRunProvider::new(self.ttl)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_validated_and_redacted() {
        let env = Env::from_pairs([("DDNS_PROVIDER_API_TOKEN", "your_token_here")]);
        let err = DryRunFactory
            .configure(&env)
            .err()
            .expect("placeholder rejected");
        assert_eq!(err.variable(), "DDNS_PROVIDER_API_TOKEN");

        let env = Env::from_pairs([("DDNS_PROVIDER_API_TOKEN", "Zk3r9-qP2mXa7LwT-canary")]);
        let plan = DryRunFactory.configure(&env).expect("valid");
        let shown = format!("{:?}", plan.settings());
        assert!(!shown.contains("canary"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn ttl_is_range_checked() {
        let env = Env::from_pairs([("DDNS_TTL", "0")]);
        let err = DryRunFactory.configure(&env).err().expect("out of range");
        assert_eq!(
            err.to_string(),
            "DDNS_TTL: 0 is out of range (expected 1..=86400)"
        );
    }

    #[tokio::test]
    async fn reads_nothing_and_accepts_writes() {
        let provider = DryRunProvider::new(60);
        let record = Record::new(
            "a.example.com".parse().expect("name"),
            ddns_core::IpFamily::V4,
        );
        assert_eq!(provider.read(&record).await.expect("read"), None);
        provider
            .update(&RecordChange::new(record, "192.0.2.1".parse().expect("ip")))
            .await
            .expect("update");
    }
}
