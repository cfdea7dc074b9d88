//! The `http` and `dns` source types: their variables, validation and plan.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ddns_core::config::{ConfigError, Env, interface_names};
use ddns_core::detect::{AnyTrigger, DetectingSource, DetectionSettings, Detector, Trigger};
use ddns_core::{IpFamily, IpSource, Setting, SourceError, SourceFactory, SourcePlan};
use futures_util::future::BoxFuture;

use ddns_ip_router::{NatPmpAnnouncements, RouterEntry};

use crate::dns::DnsDetector;
use crate::http::{ClientOptions, HttpClients, HttpDetector};
use crate::local::{LocalIpv6, LocalIpv6Fn, LocalIpv6Lookup};
use crate::sources::{DEFAULT_DNS_SOURCES, DEFAULT_HTTP_SOURCES, SourceEntry, parse_entries};
use crate::tls::CaFile;

/// The services to ask, comma-separated (also `DDNS_IP_SOURCE_URLS_FILE`).
pub const URLS_VARIABLE: &str = "DDNS_IP_SOURCE_URLS";
/// How many sources must give the same address.
pub const QUORUM_VARIABLE: &str = "DDNS_IP_SOURCE_QUORUM";
/// Seconds between detections when nothing triggers one.
pub const POLL_INTERVAL_VARIABLE: &str = "DDNS_IP_SOURCE_POLL_INTERVAL_SECS";
/// Seconds one source may take to answer.
pub const TIMEOUT_VARIABLE: &str = "DDNS_IP_SOURCE_TIMEOUT_SECS";
/// Accept private, CGNAT, loopback and documentation answers.
pub const ALLOW_NONGLOBAL_VARIABLE: &str = "DDNS_IP_ALLOW_NONGLOBAL";
/// What makes detection run at once: `netlink` or `none`.
pub const TRIGGER_VARIABLE: &str = "DDNS_IP_SOURCE_TRIGGER";
/// Extra root certificates (a PEM file) for https services.
pub const CA_FILE_VARIABLE: &str = "DDNS_IP_SOURCE_CA_FILE";
/// The WAN interfaces (comma-separated): the only ones the netlink
/// trigger watches, and where IPv6 requests prefer to leave from. The
/// `netlink` source type reads it too, with the same rules.
pub const INTERFACE_VARIABLE: &str = "DDNS_IP_SOURCE_INTERFACE";

/// The core's switch for plain http, read here for the URLs.
const ALLOW_HTTP_VARIABLE: &str = "DDNS_ALLOW_HTTP";
/// The `_FILE` form of the URL list (it may carry tokens).
const URLS_FILE_VARIABLE: &str = "DDNS_IP_SOURCE_URLS_FILE";

const VARIABLES: &[&str] = &[
    URLS_VARIABLE,
    URLS_FILE_VARIABLE,
    QUORUM_VARIABLE,
    POLL_INTERVAL_VARIABLE,
    TIMEOUT_VARIABLE,
    ALLOW_NONGLOBAL_VARIABLE,
    TRIGGER_VARIABLE,
    ALLOW_HTTP_VARIABLE,
    CA_FILE_VARIABLE,
    INTERFACE_VARIABLE,
];

/// Makes the trigger that `DDNS_IP_SOURCE_TRIGGER=netlink` selects, for
/// the interfaces of `DDNS_IP_SOURCE_INTERFACE` (empty when unset: every
/// non-loopback interface).
pub type TriggerMaker = Arc<dyn Fn(&[String]) -> Arc<dyn Trigger> + Send + Sync>;

/// Which built-in list a type falls back on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Dns,
}

/// Registers the `http` type ([`HttpSourceFactory::http`]) or the `dns`
/// type ([`HttpSourceFactory::dns`]).
///
/// Both are the same source and read the same variables; they differ only
/// in the built-in list used when `DDNS_IP_SOURCE_URLS` is unset
/// ([`DEFAULT_HTTP_SOURCES`], [`DEFAULT_DNS_SOURCES`]). Either takes any
/// mix of URLs and `dns:` entries.
#[derive(Clone)]
pub struct HttpSourceFactory {
    kind: Kind,
    netlink_trigger: Option<TriggerMaker>,
    local_ipv6: Option<Arc<LocalIpv6Fn>>,
}

impl fmt::Debug for HttpSourceFactory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpSourceFactory")
            .field("name", &self.name())
            .field("netlink_trigger", &self.netlink_trigger.is_some())
            .field("local_ipv6", &self.local_ipv6.is_some())
            .finish()
    }
}

impl HttpSourceFactory {
    /// The `http` type: HTTP echo services by default.
    pub fn http() -> Self {
        Self {
            kind: Kind::Http,
            netlink_trigger: None,
            local_ipv6: None,
        }
    }

    /// The `dns` type: DNS servers by default.
    pub fn dns() -> Self {
        Self {
            kind: Kind::Dns,
            netlink_trigger: None,
            local_ipv6: None,
        }
    }

    /// The trigger `DDNS_IP_SOURCE_TRIGGER=netlink` stands for. It is
    /// plugged in by the binary, which knows the netlink crate; without
    /// it, `netlink` is refused and the default is `none`. `make` gets the
    /// interfaces of `DDNS_IP_SOURCE_INTERFACE`, or an empty list for all.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use ddns_core::detect::Trigger;
    /// use futures_util::stream::{self, BoxStream, StreamExt};
    ///
    /// // ddnsd gives `|interfaces| Arc::new(NetlinkTrigger::new().with_interfaces(interfaces.to_vec()))`.
    /// struct Quiet;
    /// impl Trigger for Quiet {
    ///     fn changes(&self) -> BoxStream<'static, ()> {
    ///         stream::pending().boxed()
    ///     }
    /// }
    /// let factory = ddns_ip_http::HttpSourceFactory::http()
    ///     .with_netlink_trigger(|_interfaces: &[String]| Arc::new(Quiet));
    /// ```
    pub fn with_netlink_trigger(
        mut self,
        make: impl Fn(&[String]) -> Arc<dyn Trigger> + Send + Sync + 'static,
    ) -> Self {
        self.netlink_trigger = Some(Arc::new(make));
        self
    }

    /// Where the host's IPv6 addresses come from (see [`LocalIpv6Lookup`]):
    /// IPv6 echo requests then leave from the best stable address, and an
    /// IPv6 answer that is one of the host's temporary addresses is
    /// refused. Plugged in by the binary (ddnsd gives
    /// `ddns_ip_netlink::host_ipv6_addresses`); without it, the kernel
    /// picks the source address, which may be a temporary one. `lookup`
    /// gets the interfaces of `DDNS_IP_SOURCE_INTERFACE` (preferred), or
    /// an empty list.
    ///
    /// ```
    /// use futures_util::FutureExt;
    /// use ddns_ip_http::{HttpSourceFactory, LocalIpv6};
    ///
    /// let factory = HttpSourceFactory::http().with_local_ipv6(|_interfaces: &[String]| {
    ///     async { Ok(LocalIpv6::new(vec!["2001:db8::1".parse().unwrap()], Vec::new())) }.boxed()
    /// });
    /// ```
    pub fn with_local_ipv6(
        mut self,
        lookup: impl Fn(&[String]) -> BoxFuture<'static, Result<LocalIpv6, SourceError>>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.local_ipv6 = Some(Arc::new(lookup));
        self
    }

    fn defaults(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Http => DEFAULT_HTTP_SOURCES,
            Kind::Dns => DEFAULT_DNS_SOURCES,
        }
    }
}

impl Default for HttpSourceFactory {
    fn default() -> Self {
        Self::http()
    }
}

impl SourceFactory for HttpSourceFactory {
    fn name(&self) -> &'static str {
        match self.kind {
            Kind::Http => "http",
            Kind::Dns => "dns",
        }
    }

    fn variables(&self) -> &'static [&'static str] {
        VARIABLES
    }

    fn configure(
        &self,
        env: &Env,
        families: &[IpFamily],
    ) -> Result<Box<dyn SourcePlan>, ConfigError> {
        let allow_http = env.flag(ALLOW_HTTP_VARIABLE, false)?;
        let listed = env.secret(URLS_VARIABLE)?;
        let (entries, built_in) = match &listed {
            Some(list) => {
                // Commas, or newlines in a file.
                let items: Vec<&str> = list.expose().split([',', '\n']).map(str::trim).collect();
                if let Some(blank) = items.iter().position(|i| i.is_empty()) {
                    return Err(ConfigError::new(
                        URLS_VARIABLE,
                        format!("item {} of the list is empty", blank + 1),
                    ));
                }
                (parse_entries(URLS_VARIABLE, &items, allow_http)?, false)
            }
            None => {
                // Only what serves the families managed.
                let mut entries = parse_entries(URLS_VARIABLE, self.defaults(), false)?;
                entries.retain(|e| families.iter().any(|f| e.supports(*f)));
                (entries, true)
            }
        };

        let mut counts = Vec::with_capacity(families.len());
        for family in families {
            let count = entries.iter().filter(|e| e.supports(*family)).count();
            if count == 0 {
                return Err(ConfigError::new(
                    URLS_VARIABLE,
                    format!(
                        "no source in the list can answer for {family}; add one (an address literal host answers for its own family only, a dns: entry for its server's)"
                    ),
                ));
            }
            counts.push((*family, count));
        }
        let quorum = if env.is_set(QUORUM_VARIABLE) {
            let quorum = env.number(QUORUM_VARIABLE, 2usize, 1..=64)?;
            if let Some((family, count)) = counts.iter().find(|(_, c)| *c < quorum) {
                return Err(ConfigError::new(
                    QUORUM_VARIABLE,
                    format!(
                        "{quorum} sources must agree, but only {count} can answer for {family}; list more in {URLS_VARIABLE} or lower the quorum"
                    ),
                ));
            }
            Some(quorum)
        } else {
            None
        };
        let interfaces = interface_names(env, INTERFACE_VARIABLE)?;
        let ca = env
            .get(CA_FILE_VARIABLE)?
            .map(|path| CaFile::read(CA_FILE_VARIABLE, Path::new(&path)))
            .transpose()?;
        let poll = env.number(POLL_INTERVAL_VARIABLE, 300u64, 1..=86_400)?;
        let timeout = env.number(TIMEOUT_VARIABLE, 5u64, 1..=60)?;
        let allow_nonglobal = env.flag(ALLOW_NONGLOBAL_VARIABLE, false)?;

        let netlink_default = cfg!(target_os = "linux") && self.netlink_trigger.is_some();
        let trigger_name = env.choice(
            TRIGGER_VARIABLE,
            if netlink_default { "netlink" } else { "none" },
            &["netlink", "none"],
        )?;
        let trigger = match (trigger_name, &self.netlink_trigger) {
            ("netlink", Some(make)) => TriggerChoice::Netlink(make.clone()),
            ("netlink", None) => {
                return Err(ConfigError::new(
                    TRIGGER_VARIABLE,
                    "netlink is not available in this build; use none (the poll interval alone then finds changes)",
                ));
            }
            _ if self.netlink_trigger.is_none() => TriggerChoice::Unavailable,
            _ => TriggerChoice::None,
        };

        let mut settings = DetectionSettings::new(families.to_vec());
        // Without a configured quorum, 2: the core lowers it to 1 for a
        // family with a single source.
        settings.quorum = quorum.unwrap_or(2);
        settings.poll_interval = Duration::from_secs(poll);
        settings.timeout = Duration::from_secs(timeout);
        settings.allow_nonglobal = allow_nonglobal;
        // Only IPv6 requests have a source address to choose.
        let local_ipv6 = self
            .local_ipv6
            .clone()
            .filter(|_| families.contains(&IpFamily::V6))
            .map(|lookup| LocalIpv6Lookup::from_fn(interfaces.clone().unwrap_or_default(), lookup));
        Ok(Box::new(HttpPlan {
            type_name: self.name(),
            entries,
            built_in,
            counts,
            allow_http,
            trigger,
            interfaces,
            ca,
            local_ipv6,
            settings,
        }))
    }
}

/// What runs detection between polls.
enum TriggerChoice {
    /// `netlink`, made by the binary's maker.
    Netlink(TriggerMaker),
    /// `none`, chosen.
    None,
    /// `none`, since the build has no netlink trigger.
    Unavailable,
}

/// A validated `http` or `dns` source configuration.
struct HttpPlan {
    type_name: &'static str,
    entries: Vec<SourceEntry>,
    built_in: bool,
    counts: Vec<(IpFamily, usize)>,
    allow_http: bool,
    trigger: TriggerChoice,
    /// `DDNS_IP_SOURCE_INTERFACE`, when set.
    interfaces: Option<Vec<String>>,
    ca: Option<CaFile>,
    local_ipv6: Option<LocalIpv6Lookup>,
    settings: DetectionSettings,
}

impl HttpPlan {
    /// `DDNS_IP_SOURCE_INTERFACE` and what it does here.
    fn interfaces_shown(&self) -> String {
        let Some(names) = &self.interfaces else {
            return "(all interfaces)".to_string();
        };
        let mut uses = Vec::new();
        if matches!(self.trigger, TriggerChoice::Netlink(_)) {
            uses.push("the trigger watches only these");
        }
        if self.local_ipv6.is_some() {
            uses.push("IPv6 requests prefer their stable addresses");
        }
        if uses.is_empty() {
            uses.push("unused by this source");
        }
        format!("{} ({})", names.join(","), uses.join("; "))
    }
}

#[async_trait]
impl SourcePlan for HttpPlan {
    fn settings(&self) -> Vec<Setting> {
        let shown: Vec<String> = self.entries.iter().map(SourceEntry::shown).collect();
        let urls = if self.built_in {
            format!("(built-in) {}", shown.join(", "))
        } else {
            shown.join(", ")
        };
        let quorum: Vec<String> = self
            .counts
            .iter()
            .map(|(family, count)| {
                format!(
                    "{} of {count} for {family}",
                    self.settings.quorum.min(*count)
                )
            })
            .collect();
        let trigger = match self.trigger {
            TriggerChoice::Netlink(_) => "netlink",
            TriggerChoice::None => "none",
            TriggerChoice::Unavailable => "none (this build has no netlink trigger)",
        };
        vec![
            Setting::new(URLS_VARIABLE, urls),
            Setting::new(QUORUM_VARIABLE, quorum.join(", ")),
            Setting::new(
                POLL_INTERVAL_VARIABLE,
                self.settings.poll_interval.as_secs(),
            ),
            Setting::new(TIMEOUT_VARIABLE, self.settings.timeout.as_secs()),
            Setting::new(ALLOW_NONGLOBAL_VARIABLE, self.settings.allow_nonglobal),
            Setting::new(TRIGGER_VARIABLE, trigger),
            Setting::new(INTERFACE_VARIABLE, self.interfaces_shown()),
            Setting::new(
                CA_FILE_VARIABLE,
                match &self.ca {
                    Some(ca) => ca.shown(),
                    None => "(the system's root certificates)".to_string(),
                },
            ),
        ]
    }

    async fn build(self: Box<Self>) -> ddns_core::Result<Arc<dyn IpSource>> {
        let startup = |message: String| ddns_core::Error::Startup {
            component: format!("source {}", self.type_name),
            message,
        };
        let clients = if self
            .entries
            .iter()
            .any(|e| matches!(e, SourceEntry::Http { .. }))
        {
            let mut options = ClientOptions::new(self.settings.timeout);
            options.allow_http = self.allow_http;
            options.extra_roots_pem = self.ca.as_ref().map(|ca| ca.pem.clone());
            options.local_ipv6 = self.local_ipv6.clone();
            let clients = HttpClients::new(&options).map_err(|e| startup(e.to_string()))?;
            let https = self
                .entries
                .iter()
                .any(|e| matches!(e, SourceEntry::Http { url, .. } if url.scheme() == "https"));
            if https && clients.root_certificates() == 0 {
                return Err(startup(format!(
                    "the system has no trusted root certificate (install ca-certificates) and {CA_FILE_VARIABLE} is not set, so no https service can be asked"
                )));
            }
            Some(clients)
        } else {
            None
        };

        let mut detectors: Vec<Arc<dyn Detector>> = Vec::with_capacity(self.entries.len());
        let mut shown: Vec<String> = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            // Two paths on one host would share a name in the logs.
            let base = entry.shown();
            let repeats = shown.iter().filter(|s| **s == base).count();
            let name = if repeats == 0 {
                base.clone()
            } else {
                format!("{base} #{}", repeats + 1)
            };
            let detector: Arc<dyn Detector> = match (entry, &clients) {
                (SourceEntry::Http { url, families }, Some(clients)) => {
                    let mut detector =
                        HttpDetector::new(url.clone(), clients).with_name(name.clone());
                    if let [family] = families.as_slice() {
                        detector = detector.only(*family);
                    }
                    Arc::new(detector)
                }
                (SourceEntry::Dns(endpoint), _) => {
                    let mut detector = DnsDetector::new(endpoint.clone(), self.settings.timeout)
                        .with_name(name.clone());
                    if let Some(lookup) = &self.local_ipv6 {
                        detector = detector.with_local_ipv6(lookup.clone());
                    }
                    Arc::new(detector)
                }
                (SourceEntry::Router { entry, .. }, _) => entry.clone().build(),
                (SourceEntry::Http { .. }, None) => {
                    return Err(startup("the HTTP clients were not built".into()));
                }
            };
            shown.push(base);
            detectors.push(detector);
        }

        // ── The trigger is plugged in here. ──
        // DDNS_IP_SOURCE_TRIGGER=netlink: the maker the binary gave
        // `HttpSourceFactory::with_netlink_trigger` (the netlink crate's
        // trigger: link, address and default-route changes), on the
        // interfaces of DDNS_IP_SOURCE_INTERFACE or on all.
        let mut triggers: Vec<Arc<dyn Trigger>> = match &self.trigger {
            TriggerChoice::Netlink(make) => {
                vec![make(self.interfaces.as_deref().unwrap_or_default())]
            }
            TriggerChoice::None | TriggerChoice::Unavailable => Vec::new(),
        };
        // A NAT-PMP gateway announces a new external address by multicast:
        // the event that reaches a host behind the router.
        for entry in &self.entries {
            if let SourceEntry::Router {
                entry: RouterEntry::NatPmp(gateway),
                ..
            } = entry
            {
                triggers.push(Arc::new(NatPmpAnnouncements::new(*gateway)));
            }
        }
        let trigger: Option<Arc<dyn Trigger>> = match triggers.len() {
            0 => None,
            1 => triggers.pop(),
            _ => Some(Arc::new(AnyTrigger(triggers))),
        };

        Ok(Arc::new(DetectingSource::new(
            self.type_name,
            detectors,
            trigger,
            self.settings,
        )))
    }
}

#[cfg(test)]
mod tests;
