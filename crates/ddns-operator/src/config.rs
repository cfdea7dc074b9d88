//! The operator's settings, from environment variables only, validated
//! before anything runs. Every error names its variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ddns_core::config::{ConfigError, Env};

/// Every variable the operator reads (besides `DDNS_LOG_LEVEL` and
/// `DDNS_LOG_FORMAT`).
pub const VARIABLES: &[&str] = &[
    "DDNS_OPERATOR_METRICS_ADDR",
    "DDNS_OPERATOR_NAMESPACE",
    "DDNS_OPERATOR_ZONE_DIR",
    "DDNS_OPERATOR_RELOAD_COMMAND",
    "DDNS_OPERATOR_RECONFIG_COMMAND",
    "DDNS_OPERATOR_CHECKZONE",
    "DDNS_OPERATOR_LEADER_ELECTION",
    "DDNS_OPERATOR_LEASE_NAME",
    "DDNS_OPERATOR_LEASE_NAMESPACE",
    "DDNS_OPERATOR_REQUEUE_SECS",
    "DDNS_OPERATOR_CLEANUP_TIMEOUT_SECS",
    "DDNS_OPERATOR_DNS_TIMEOUT_SECS",
    "DDNS_OPERATOR_IDENTITY",
];

/// Validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorConfig {
    /// Where `/metrics`, `/healthz` and `/readyz` listen; `None` when off.
    pub metrics_addr: Option<SocketAddr>,
    /// The one namespace watched, or all when `None`.
    pub namespace: Option<String>,
    /// The directory zone files are written to (zonefile delivery).
    pub zone_dir: Option<PathBuf>,
    /// The reload command, split into words; `{zone}` and `{file}` are
    /// replaced.
    pub reload_command: Vec<String>,
    /// The command that makes BIND read its configuration again after the
    /// set of zone-file zones changed.
    pub reconfig_command: Vec<String>,
    /// The zone checker (`named-checkzone`).
    pub checkzone: String,
    /// Whether to take a Lease before reconciling.
    pub leader_election: bool,
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace.
    pub lease_namespace: String,
    /// This replica's identity in the Lease.
    pub identity: String,
    /// Requeue after a successful reconcile.
    pub requeue: Duration,
    /// How long a deletion may keep failing before its finalizer is given
    /// up with an Event.
    pub cleanup_timeout: Duration,
    /// Timeout of one DNS exchange.
    pub dns_timeout: Duration,
}

fn words(env: &Env, name: &str, default: &str) -> Result<Vec<String>, ConfigError> {
    let value = env.get(name)?.unwrap_or_else(|| default.to_string());
    let words: Vec<String> = value.split_whitespace().map(str::to_string).collect();
    if words.is_empty() {
        return Err(ConfigError::new(name, "the command is empty"));
    }
    Ok(words)
}

fn namespace_name(env: &Env, name: &str) -> Result<Option<String>, ConfigError> {
    let Some(value) = env.get(name)? else {
        return Ok(None);
    };
    let value = value.trim().to_string();
    let valid = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if !valid {
        return Err(ConfigError::new(
            name,
            "is not a namespace name (lower-case letters, digits and '-', at most 63)",
        ));
    }
    Ok(Some(value))
}

impl OperatorConfig {
    /// Reads and validates the settings.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let metrics_addr = match env.get("DDNS_OPERATOR_METRICS_ADDR")? {
            Some(value) if value.trim() == "off" => None,
            Some(value) => Some(value.trim().parse().map_err(|_| {
                ConfigError::new(
                    "DDNS_OPERATOR_METRICS_ADDR",
                    "is not address:port (such as 0.0.0.0:9852 or [::]:9852), nor 'off'",
                )
            })?),
            None => Some(SocketAddr::from(([0, 0, 0, 0], 9852))),
        };
        let zone_dir = env.get("DDNS_OPERATOR_ZONE_DIR")?.map(PathBuf::from);
        if let Some(dir) = &zone_dir
            && !dir.is_absolute()
        {
            return Err(ConfigError::new(
                "DDNS_OPERATOR_ZONE_DIR",
                "must be an absolute path",
            ));
        }
        let lease_name = env
            .get("DDNS_OPERATOR_LEASE_NAME")?
            .unwrap_or_else(|| "ddns-operator".to_string());
        let lease_namespace = namespace_name(env, "DDNS_OPERATOR_LEASE_NAMESPACE")?
            .or(namespace_name(env, "DDNS_OPERATOR_NAMESPACE")?)
            .unwrap_or_else(|| "default".to_string());
        let identity = match env.get("DDNS_OPERATOR_IDENTITY")? {
            Some(identity) => identity,
            None => std::env::var("HOSTNAME")
                .ok()
                .filter(|h| !h.is_empty())
                .unwrap_or_else(|| format!("ddns-operator-{}", std::process::id())),
        };
        Ok(Self {
            metrics_addr,
            namespace: namespace_name(env, "DDNS_OPERATOR_NAMESPACE")?,
            zone_dir,
            reload_command: words(env, "DDNS_OPERATOR_RELOAD_COMMAND", "rndc reload {zone}")?,
            reconfig_command: words(env, "DDNS_OPERATOR_RECONFIG_COMMAND", "rndc reconfig")?,
            checkzone: env
                .get("DDNS_OPERATOR_CHECKZONE")?
                .unwrap_or_else(|| "named-checkzone".to_string()),
            leader_election: env.flag("DDNS_OPERATOR_LEADER_ELECTION", true)?,
            lease_name,
            lease_namespace,
            identity,
            requeue: Duration::from_secs(env.number(
                "DDNS_OPERATOR_REQUEUE_SECS",
                300,
                10..=86_400,
            )?),
            cleanup_timeout: Duration::from_secs(env.number(
                "DDNS_OPERATOR_CLEANUP_TIMEOUT_SECS",
                300,
                0..=86_400,
            )?),
            dns_timeout: Duration::from_secs(env.number(
                "DDNS_OPERATOR_DNS_TIMEOUT_SECS",
                5,
                1..=300,
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<OperatorConfig, ConfigError> {
        OperatorConfig::from_env(&Env::from_pairs(pairs.iter().map(|(k, v)| (*k, *v))))
    }

    #[test]
    fn defaults() {
        let c = config(&[("DDNS_OPERATOR_IDENTITY", "pod-a")]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.metrics_addr, Some(SocketAddr::from(([0, 0, 0, 0], 9852))));
        assert_eq!(c.reload_command, vec!["rndc", "reload", "{zone}"]);
        assert_eq!(c.reconfig_command, vec!["rndc", "reconfig"]);
        assert_eq!(c.requeue, Duration::from_secs(300));
        assert_eq!(c.lease_name, "ddns-operator");
        assert_eq!(c.lease_namespace, "default");
        assert_eq!(c.identity, "pod-a");
        assert!(c.leader_election);
        assert_eq!(c.namespace, None);
    }

    #[test]
    fn errors_name_the_variable() {
        let err = |pairs: &[(&str, &str)]| match config(pairs) {
            Ok(_) => panic!("{pairs:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err(&[("DDNS_OPERATOR_METRICS_ADDR", "9852")]),
            "DDNS_OPERATOR_METRICS_ADDR: is not address:port (such as 0.0.0.0:9852 or [::]:9852), nor 'off'"
        );
        assert_eq!(
            err(&[("DDNS_OPERATOR_ZONE_DIR", "zones")]),
            "DDNS_OPERATOR_ZONE_DIR: must be an absolute path"
        );
        assert_eq!(
            err(&[("DDNS_OPERATOR_NAMESPACE", "Bad_NS")]),
            "DDNS_OPERATOR_NAMESPACE: is not a namespace name (lower-case letters, digits and '-', at most 63)"
        );
        assert_eq!(
            err(&[("DDNS_OPERATOR_REQUEUE_SECS", "1")]),
            "DDNS_OPERATOR_REQUEUE_SECS: 1 is out of range (expected 10..=86400)"
        );
        assert_eq!(
            err(&[("DDNS_OPERATOR_LEADER_ELECTION", "maybe")]),
            "DDNS_OPERATOR_LEADER_ELECTION: 'maybe' is not a boolean (expected true or false)"
        );
    }
}
