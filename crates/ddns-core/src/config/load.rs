//! The core's own variables, and the assembly of a whole configuration
//! from the registry's plug-ins.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::time::Duration;

use super::{ConfigError, Env, excerpt};
use crate::engine::EngineSettings;
use crate::record::{DomainName, HostId, IpFamily, Record};
use crate::registry::{ProviderPlan, Registry, Setting, SourcePlan, StateStorePlan, VerifierPlan};

/// The variables the core itself reads.
pub const CORE_VARIABLES: &[&str] = &[
    "DDNS_RECORDS",
    "DDNS_RECORDS_FILE",
    "DDNS_IP_FAMILIES",
    "DDNS_PROVIDER_TYPE",
    "DDNS_IP_SOURCE_TYPE",
    "DDNS_IPV4_SOURCE_TYPE",
    "DDNS_IPV6_SOURCE_TYPE",
    "DDNS_STATE_STORE_TYPE",
    "DDNS_MIN_UPDATE_INTERVAL_SECS",
    "DDNS_EVENT_CHANNEL_CAPACITY",
    "DDNS_RECHECK_INTERVAL_SECS",
    "DDNS_READY_CONFIRMATIONS",
    "DDNS_SHUTDOWN_TIMEOUT_SECS",
    "DDNS_ONCE_TIMEOUT_SECS",
    "DDNS_ALLOW_HTTP",
    "DDNS_LOG_LEVEL",
    "DDNS_LOG_FORMAT",
    "DDNS_VERIFY",
    "DDNS_IPV6_HOST_ID",
    "DDNS_IPV6_PREFIX_LEN",
    // Read by the test suites, never by the daemon; not a typo.
    "DDNS_REQUIRE_SYSTEM_TESTS",
];

/// The address source chosen for some families.
pub struct SourceSelection {
    /// The registry name, such as `netlink`.
    pub type_name: String,
    /// The families this source serves.
    pub families: Vec<IpFamily>,
    /// The validated source configuration.
    pub plan: Box<dyn SourcePlan>,
}

/// A validated configuration: every variable checked, nothing started.
pub struct Config {
    /// Engine behaviour and the managed records.
    pub engine: EngineSettings,
    /// The families managed, in configuration order.
    pub families: Vec<IpFamily>,
    /// `DDNS_PROVIDER_TYPE`.
    pub provider_type: String,
    /// The provider's validated configuration.
    pub provider: Box<dyn ProviderPlan>,
    /// One source per distinct source type.
    pub sources: Vec<SourceSelection>,
    /// `DDNS_STATE_STORE_TYPE`.
    pub state_store_type: String,
    /// The store's validated configuration.
    pub state_store: Box<dyn StateStorePlan>,
    /// `DDNS_SHUTDOWN_TIMEOUT_SECS`.
    pub shutdown_timeout: Duration,
    /// `DDNS_ONCE_TIMEOUT_SECS`.
    pub once_timeout: Duration,
    /// `DDNS_ALLOW_HTTP`.
    pub allow_http: bool,
    /// `DDNS_VERIFY`, when not `none`: its name and validated configuration.
    pub verifier: Option<(String, Box<dyn VerifierPlan>)>,
}

impl Config {
    /// The effective configuration, one line per setting, secrets redacted.
    pub fn settings(&self) -> Vec<Setting> {
        let names: Vec<String> = {
            // One entry per name, in order; a name's AAAA identifier, when
            // it has one, is shown with it. Indexed, as lists can be long.
            let mut seen: Vec<String> = Vec::new();
            let mut index = std::collections::HashMap::new();
            for record in &self.engine.records {
                let bare = record.name().to_string();
                let name = match record.host_id() {
                    Some(host_id) => format!("{bare}={}", host_id.host()),
                    None => bare.clone(),
                };
                match index.get(&bare) {
                    Some(&i) if name != bare => seen[i] = name,
                    Some(_) => {}
                    None => {
                        index.insert(bare, seen.len());
                        seen.push(name);
                    }
                }
            }
            seen
        };
        let families: Vec<&str> = self.families.iter().map(|f| f.as_str()).collect();
        let mut out = vec![
            Setting::new("DDNS_RECORDS", names.join(",")),
            Setting::new("DDNS_IP_FAMILIES", families.join(",")),
            Setting::new(
                "DDNS_IPV6_PREFIX_LEN",
                self.engine
                    .records
                    .iter()
                    .find_map(|r| r.host_id())
                    .map_or_else(
                        || "(no interface identifier given)".to_string(),
                        |h| h.prefix_len().to_string(),
                    ),
            ),
            Setting::new("DDNS_PROVIDER_TYPE", &self.provider_type),
        ];
        out.extend(self.provider.settings());
        for source in &self.sources {
            let families: Vec<&str> = source.families.iter().map(|f| f.as_str()).collect();
            out.push(Setting::new(
                format!("source[{}]", families.join(",")),
                &source.type_name,
            ));
            out.extend(source.plan.settings());
        }
        out.push(Setting::new(
            "DDNS_STATE_STORE_TYPE",
            &self.state_store_type,
        ));
        out.extend(self.state_store.settings());
        let e = &self.engine;
        out.push(Setting::new(
            "DDNS_MIN_UPDATE_INTERVAL_SECS",
            e.min_update_interval.as_secs(),
        ));
        out.push(Setting::new(
            "DDNS_RECHECK_INTERVAL_SECS",
            e.recheck_interval.map_or(0, |d| d.as_secs()),
        ));
        out.push(Setting::new(
            "DDNS_READY_CONFIRMATIONS",
            e.startup_confirmations,
        ));
        out.push(Setting::new(
            "DDNS_EVENT_CHANNEL_CAPACITY",
            e.event_capacity,
        ));
        out.push(Setting::new(
            "DDNS_SHUTDOWN_TIMEOUT_SECS",
            self.shutdown_timeout.as_secs(),
        ));
        out.push(Setting::new(
            "DDNS_ONCE_TIMEOUT_SECS",
            self.once_timeout.as_secs(),
        ));
        out.push(Setting::new("DDNS_ALLOW_HTTP", self.allow_http));
        match &self.verifier {
            Some((name, plan)) => {
                out.push(Setting::new("DDNS_VERIFY", name));
                out.extend(plan.settings());
            }
            None => out.push(Setting::new("DDNS_VERIFY", "none")),
        }
        out
    }
}

/// One item of `DDNS_RECORDS`: a name, and maybe `=HOSTID` for its AAAA record.
type RecordItem = (DomainName, Option<Ipv6Addr>);

/// Largest `DDNS_RECORDS_FILE` read: room for about 100,000 names.
const MAX_RECORDS_FILE: u64 = 4 * 1024 * 1024;

/// The items of `DDNS_RECORDS`, or of the file `DDNS_RECORDS_FILE` names
/// (names separated by commas or new lines, `#` starting a comment), with
/// the variable they came from. The file form exists because one
/// environment string is limited to 128 KiB on Linux, about 6,000 names.
fn record_items(env: &Env) -> Result<(&'static str, Vec<String>), ConfigError> {
    const VAR: &str = "DDNS_RECORDS";
    const FILE_VAR: &str = "DDNS_RECORDS_FILE";
    if env.is_set(VAR) && env.is_set(FILE_VAR) {
        return Err(ConfigError::new(
            VAR,
            format!("both {VAR} and {FILE_VAR} are set; set only one"),
        ));
    }
    if let Some(path) = env.get(FILE_VAR)? {
        let text =
            super::env::read_small_file(FILE_VAR, std::path::Path::new(&path), MAX_RECORDS_FILE)?;
        let items: Vec<String> = text
            .lines()
            .map(|line| line.split_once('#').map_or(line, |(before, _)| before))
            .flat_map(|line| line.split(','))
            .map(|item| item.trim().to_string())
            .filter(|item| !item.is_empty())
            .collect();
        if items.is_empty() {
            return Err(ConfigError::new(
                FILE_VAR,
                format!("{path} names no record (names go one per line or comma-separated)"),
            ));
        }
        return Ok((FILE_VAR, items));
    }
    let items = env.list(VAR)?.ok_or_else(|| {
        ConfigError::new(
            VAR,
            "is required: the comma-separated names to keep up to date, such as home.example.com (or DDNS_RECORDS_FILE, a file of names)",
        )
    })?;
    Ok((VAR, items))
}

fn parse_records(env: &Env) -> Result<Vec<RecordItem>, ConfigError> {
    let (var, items) = record_items(env)?;
    let mut records = Vec::with_capacity(items.len());
    let mut seen = BTreeSet::new();
    for item in items {
        let (name_text, host_text) = match item.split_once('=') {
            Some((name, host)) => (name.trim(), Some(host.trim())),
            None => (item.as_str(), None),
        };
        let name: DomainName = name_text
            .parse()
            .map_err(|reason: String| ConfigError::new(var, reason))?;
        let host = host_text.map(|text| parse_host_id(var, text)).transpose()?;
        if !seen.insert(name.clone()) {
            return Err(ConfigError::new(
                var,
                format!("'{}' is listed twice", excerpt(name_text, 80)),
            ));
        }
        records.push((name, host));
    }
    Ok(records)
}

fn parse_host_id(variable: &str, text: &str) -> Result<Ipv6Addr, ConfigError> {
    text.parse().map_err(|_| {
        ConfigError::new(
            variable,
            format!(
                "'{}' is not an IPv6 interface identifier such as ::1:2:3:4",
                excerpt(text, 48)
            ),
        )
    })
}

/// Checks that an interface identifier leaves the prefix bits alone.
fn check_host_id(variable: &str, host: Ipv6Addr, prefix_len: u8) -> Result<(), ConfigError> {
    let prefix_mask = u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0);
    if u128::from(host) & prefix_mask != 0 {
        return Err(ConfigError::new(
            variable,
            format!(
                "the interface identifier {host} sets bits inside the /{prefix_len} prefix (DDNS_IPV6_PREFIX_LEN); give only the host part, such as ::1:2:3:4"
            ),
        ));
    }
    Ok(())
}

fn parse_families(env: &Env) -> Result<Vec<IpFamily>, ConfigError> {
    const VAR: &str = "DDNS_IP_FAMILIES";
    let Some(items) = env.list(VAR)? else {
        return Ok(vec![IpFamily::V4]);
    };
    let mut families = Vec::new();
    for item in items {
        let family: IpFamily = item
            .parse()
            .map_err(|reason: String| ConfigError::new(VAR, reason))?;
        if families.contains(&family) {
            return Err(ConfigError::new(VAR, format!("{family} is listed twice")));
        }
        families.push(family);
    }
    Ok(families)
}

fn source_types(
    env: &Env,
    families: &[IpFamily],
) -> Result<Vec<(String, Vec<IpFamily>)>, ConfigError> {
    let default = env
        .get("DDNS_IP_SOURCE_TYPE")?
        .unwrap_or_else(|| "netlink".to_string());
    let v4 = env.get("DDNS_IPV4_SOURCE_TYPE")?;
    let v6 = env.get("DDNS_IPV6_SOURCE_TYPE")?;
    let mut groups: Vec<(String, String, Vec<IpFamily>)> = Vec::new();
    for family in families {
        let (variable, name) = match (family, &v4, &v6) {
            (IpFamily::V4, Some(name), _) => ("DDNS_IPV4_SOURCE_TYPE", name.clone()),
            (IpFamily::V6, _, Some(name)) => ("DDNS_IPV6_SOURCE_TYPE", name.clone()),
            _ => ("DDNS_IP_SOURCE_TYPE", default.clone()),
        };
        let name = name.trim().to_ascii_lowercase();
        match groups.iter_mut().find(|(_, n, _)| *n == name) {
            Some((_, _, fams)) => fams.push(*family),
            None => groups.push((variable.to_string(), name, vec![*family])),
        }
    }
    Ok(groups
        .into_iter()
        .map(|(variable, name, fams)| (format!("{variable}={name}"), fams))
        .collect())
}

/// Reads and validates the whole configuration. Pure: no socket is opened
/// and no task started; only secret files are read.
pub fn load(env: &Env, registry: &Registry) -> Result<Config, ConfigError> {
    let names = parse_records(env)?;
    let families = parse_families(env)?;

    let provider_type = env
        .required(
            "DDNS_PROVIDER_TYPE",
            &format!(
                "the DNS provider, one of: {}",
                registry.provider_names().join(", ")
            ),
        )?
        .trim()
        .to_ascii_lowercase();
    let provider = registry
        .provider("DDNS_PROVIDER_TYPE", &provider_type)?
        .configure(env)?;

    let mut sources = Vec::new();
    for (tagged, fams) in source_types(env, &families)? {
        let (variable, name) = tagged
            .split_once('=')
            .unwrap_or(("DDNS_IP_SOURCE_TYPE", &tagged));
        let plan = registry.source(variable, name)?.configure(env, &fams)?;
        sources.push(SourceSelection {
            type_name: name.to_string(),
            families: fams,
            plan,
        });
    }

    let state_store_type = env
        .get("DDNS_STATE_STORE_TYPE")?
        .unwrap_or_else(|| "memory".into())
        .trim()
        .to_ascii_lowercase();
    let state_store = registry
        .store("DDNS_STATE_STORE_TYPE", &state_store_type)?
        .configure(env)?;

    let prefix_len = env.number("DDNS_IPV6_PREFIX_LEN", 64u8, 1..=127)?;
    let default_host = env
        .get("DDNS_IPV6_HOST_ID")?
        .map(|text| parse_host_id("DDNS_IPV6_HOST_ID", text.trim()))
        .transpose()?;
    if let Some(host) = default_host {
        check_host_id("DDNS_IPV6_HOST_ID", host, prefix_len)?;
    }
    let records_var = if env.is_set("DDNS_RECORDS_FILE") {
        "DDNS_RECORDS_FILE"
    } else {
        "DDNS_RECORDS"
    };
    let any_host = default_host.is_some() || names.iter().any(|(_, host)| host.is_some());
    if any_host && !families.contains(&IpFamily::V6) {
        let variable = if default_host.is_some() {
            "DDNS_IPV6_HOST_ID"
        } else {
            records_var
        };
        return Err(ConfigError::new(
            variable,
            "an IPv6 interface identifier is given, but DDNS_IP_FAMILIES does not include ipv6",
        ));
    }
    let mut records = Vec::new();
    for (name, host) in &names {
        if let Some(host) = host {
            check_host_id(records_var, *host, prefix_len)?;
        }
        for family in &families {
            let record = Record::new(name.clone(), *family);
            records.push(match host.or(default_host) {
                Some(host) => record.with_host_id(HostId::new(host, prefix_len)),
                None => record,
            });
        }
    }
    let mut engine = EngineSettings::new(records);
    engine.min_update_interval =
        Duration::from_secs(env.number("DDNS_MIN_UPDATE_INTERVAL_SECS", 60u64, 0..=86_400)?);
    engine.event_capacity = env.number("DDNS_EVENT_CHANNEL_CAPACITY", 1000usize, 1..=1_000_000)?;
    let recheck = env.number("DDNS_RECHECK_INTERVAL_SECS", 3600u64, 0..=604_800)?;
    engine.recheck_interval = (recheck > 0).then(|| Duration::from_secs(recheck));
    engine.startup_confirmations = env.number("DDNS_READY_CONFIRMATIONS", 2u32, 1..=10)?;
    let shutdown_timeout =
        Duration::from_secs(env.number("DDNS_SHUTDOWN_TIMEOUT_SECS", 30u64, 1..=3600)?);
    let once_timeout =
        Duration::from_secs(env.number("DDNS_ONCE_TIMEOUT_SECS", 60u64, 1..=3600)?);
    let allow_http = env.flag("DDNS_ALLOW_HTTP", false)?;
    let verifier = match env
        .get("DDNS_VERIFY")?
        .map(|v| v.trim().to_ascii_lowercase())
    {
        None => None,
        Some(name) if name == "none" => None,
        Some(name) => {
            let plan = registry.verifier("DDNS_VERIFY", &name)?.configure(env)?;
            Some((name, plan))
        }
    };

    Ok(Config {
        engine,
        families,
        provider_type,
        provider,
        sources,
        state_store_type,
        state_store,
        shutdown_timeout,
        once_timeout,
        allow_http,
        verifier,
    })
}
