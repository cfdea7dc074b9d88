//! `DDNS_METRICS_ADDR`: whether, and where, to serve metrics and probes.

use std::net::SocketAddr;

use ddns_core::Setting;
use ddns_core::config::{ConfigError, Env};

/// The address to listen on; unset, nothing listens.
pub const ADDR_VARIABLE: &str = "DDNS_METRICS_ADDR";

/// Every variable this crate reads.
pub const VARIABLES: &[&str] = &[ADDR_VARIABLE];

/// A validated metrics configuration: the endpoint is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    addr: SocketAddr,
}

impl MetricsConfig {
    /// An endpoint on `addr`.
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr }
    }

    /// Reads `DDNS_METRICS_ADDR`: `None` when it is unset (the endpoint
    /// is off, and no port is opened), an error naming the variable when
    /// it is not an `address:port`.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let Some(value) = env.get(ADDR_VARIABLE)? else {
            return Ok(None);
        };
        let addr: SocketAddr = value.trim().parse().map_err(|_| {
            ConfigError::new(
                ADDR_VARIABLE,
                format!(
                    "'{}' is not an IP address and port (expected e.g. 127.0.0.1:9851, \
                     [::1]:9851 or 0.0.0.0:9851; host names are not accepted)",
                    excerpt(&value, 64)
                ),
            )
        })?;
        Ok(Some(Self { addr }))
    }

    /// The address to listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The effective settings, for `ddnsd check`.
    pub fn settings(&self) -> Vec<Setting> {
        vec![Setting::new(ADDR_VARIABLE, self.addr)]
    }
}

/// At most `max` characters of a user's value, for a message.
fn excerpt(value: &str, max: usize) -> String {
    let mut chars = value.chars();
    let shown: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{shown}…")
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(value: Option<&str>) -> Result<Option<MetricsConfig>, ConfigError> {
        let pairs: Vec<(String, String)> = value
            .map(|v| (ADDR_VARIABLE.to_string(), v.to_string()))
            .into_iter()
            .collect();
        MetricsConfig::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn unset_means_off() {
        assert_eq!(from(None), Ok(None));
    }

    #[test]
    fn addresses_of_both_families_are_accepted() {
        for text in [
            "127.0.0.1:9851",
            "[::1]:9851",
            "0.0.0.0:9851",
            " [::]:9851 ",
        ] {
            let config = from(Some(text)).expect("valid").expect("on");
            assert_eq!(
                config.addr(),
                text.trim().parse::<SocketAddr>().expect("addr")
            );
        }
        let config = from(Some("[::1]:9851")).expect("valid").expect("on");
        let settings = config.settings();
        assert_eq!(settings.len(), 1);
        assert_eq!(settings[0].name, "DDNS_METRICS_ADDR");
        assert_eq!(settings[0].value, "[::1]:9851");
    }

    #[test]
    fn anything_else_is_an_error_naming_the_variable() {
        for text in [
            "9851",
            "localhost:9851",
            "127.0.0.1",
            "::1:9851",
            "127.0.0.1:99999",
        ] {
            let error = from(Some(text)).expect_err(text);
            assert_eq!(error.variable(), "DDNS_METRICS_ADDR");
            assert_eq!(
                error.to_string(),
                format!(
                    "DDNS_METRICS_ADDR: '{text}' is not an IP address and port (expected e.g. \
                     127.0.0.1:9851, [::1]:9851 or 0.0.0.0:9851; host names are not accepted)"
                )
            );
        }
        let error = from(Some("")).expect_err("empty");
        assert!(
            error
                .to_string()
                .starts_with("DDNS_METRICS_ADDR: is set but empty")
        );
    }
}
