//! The entries of `DDNS_IP_SOURCE_URLS`, and the built-in lists used when
//! it is unset.

use ddns_core::IpFamily;
use ddns_core::config::{ConfigError, validate_url};
use reqwest::Url;

use ddns_ip_router::RouterEntry;

use crate::dns::DnsEndpoint;
use crate::http::{origin, url_families};

/// The services the `http` type asks when `DDNS_IP_SOURCE_URLS` is unset:
/// four per family, each from a different operator (ipify, icanhazip,
/// ident.me, ifconfig.co), so that no single operator can form the
/// default quorum.
pub const DEFAULT_HTTP_SOURCES: &[&str] = &[
    "ipv4:https://api.ipify.org",
    "ipv4:https://ipv4.icanhazip.com",
    "ipv4:https://v4.ident.me",
    "ipv6:https://api64.ipify.org",
    "ipv6:https://ipv6.icanhazip.com",
    "ipv6:https://v6.ident.me",
    "https://ifconfig.co/ip",
];

/// The servers the `dns` type asks when `DDNS_IP_SOURCE_URLS` is unset:
/// OpenDNS, Cloudflare and Google, each over both families.
pub const DEFAULT_DNS_SOURCES: &[&str] = &[
    "dns:myip.opendns.com@208.67.222.222",
    "dns:myip.opendns.com@[2620:119:35::35]",
    "dns:whoami.cloudflare@1.1.1.1",
    "dns:whoami.cloudflare@[2606:4700:4700::1111]",
    "dns:txt:o-o.myaddr.l.google.com@216.239.32.10",
    "dns:txt:o-o.myaddr.l.google.com@[2001:4860:4802:32::a]",
];

/// One validated entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SourceEntry {
    /// An echo service, asked for these families.
    Http { url: Url, families: Vec<IpFamily> },
    /// A DNS server, asked for its own family.
    Dns(DnsEndpoint),
    /// The gateway itself: `natpmp:`, `pcp:` or `upnp:` (see `ddns-ip-router`).
    Router {
        /// The validated entry.
        entry: RouterEntry,
        /// The entry as written, for logs.
        text: String,
    },
}

impl SourceEntry {
    pub(crate) fn supports(&self, family: IpFamily) -> bool {
        match self {
            SourceEntry::Http { families, .. } => families.contains(&family),
            SourceEntry::Dns(endpoint) => endpoint.family() == family,
            SourceEntry::Router { entry, .. } => match entry {
                RouterEntry::Pcp(_) => true,
                _ => family == IpFamily::V4,
            },
        }
    }

    /// What `ddnsd check` and logs may show: the origin of a URL (never
    /// its path or query), the whole of a `dns:` entry.
    pub(crate) fn shown(&self) -> String {
        match self {
            SourceEntry::Http { url, families } => {
                let mut text = origin(url);
                if let [family] = families.as_slice()
                    && url_families(url).len() > 1
                {
                    text = format!("{family}:{text}");
                }
                text
            }
            SourceEntry::Dns(endpoint) => endpoint.to_string(),
            SourceEntry::Router { text, .. } => text.clone(),
        }
    }

    /// Two entries with the same key would vote twice.
    fn key(&self) -> String {
        match self {
            SourceEntry::Http { url, families } => format!("{families:?} {url}"),
            SourceEntry::Dns(endpoint) => endpoint.to_string(),
            SourceEntry::Router { text, .. } => text.to_ascii_lowercase(),
        }
    }
}

/// Parses and checks a list of entries. `variable` is named in errors;
/// an item is referred to by its position, and only a `dns:` entry's text
/// is shown, since a URL may carry a token.
pub(crate) fn parse_entries(
    variable: &str,
    items: &[&str],
    allow_http: bool,
) -> Result<Vec<SourceEntry>, ConfigError> {
    let mut entries: Vec<SourceEntry> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let position = index + 1;
        let error = |reason: &str| ConfigError::new(variable, format!("item {position}: {reason}"));
        let entry = parse_entry(variable, item, allow_http).map_err(|e| error(e.reason()))?;
        if let Some(first) = entries.iter().position(|e| e.key() == entry.key()) {
            return Err(error(&format!(
                "repeats item {} (a source listed twice would vote twice)",
                first + 1
            )));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// `dns:…`, or `[ipv4:|ipv6:]URL`.
fn parse_entry(variable: &str, item: &str, allow_http: bool) -> Result<SourceEntry, ConfigError> {
    let item = item.trim();
    let lower = item.to_ascii_lowercase();
    if let Some(parsed) = RouterEntry::parse(item) {
        return parsed
            .map(|entry| SourceEntry::Router {
                entry,
                text: item.to_string(),
            })
            .map_err(|reason| ConfigError::new(variable, reason));
    }
    if lower.starts_with("dns:") {
        return item
            .parse()
            .map(SourceEntry::Dns)
            .map_err(|reason: String| ConfigError::new(variable, reason));
    }
    let (only, text) = if lower.starts_with("ipv4:") {
        (Some(IpFamily::V4), &item[5..])
    } else if lower.starts_with("ipv6:") {
        (Some(IpFamily::V6), &item[5..])
    } else {
        (None, item)
    };
    if !text.contains("://") {
        let reason = if text.to_ascii_lowercase().starts_with("dns:") {
            "ipv4: and ipv6: go before URLs only; a dns: entry is asked over its server's family"
        } else {
            "is neither a URL (https://…) nor a dns: entry (dns:NAME@SERVER)"
        };
        return Err(ConfigError::new(variable, reason));
    }
    let url = validate_url(variable, text, allow_http)?;
    let mut families = url_families(&url);
    if let Some(family) = only {
        if !families.contains(&family) {
            return Err(ConfigError::new(
                variable,
                format!(
                    "{family}: is given, but {} is an address of the other family",
                    origin(&url)
                ),
            ));
        }
        families = vec![family];
    }
    Ok(SourceEntry::Http { url, families })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const VAR: &str = "DDNS_IP_SOURCE_URLS";

    fn parse(items: &[&str]) -> Result<Vec<SourceEntry>, String> {
        parse_entries(VAR, items, false).map_err(|e| e.to_string())
    }

    fn count(entries: &[SourceEntry], family: IpFamily) -> usize {
        entries.iter().filter(|e| e.supports(family)).count()
    }

    #[test]
    fn the_built_in_lists_parse_use_https_and_give_each_family_two_sources() {
        for list in [DEFAULT_HTTP_SOURCES, DEFAULT_DNS_SOURCES] {
            let entries = parse(list).unwrap();
            assert_eq!(entries.len(), list.len());
            for family in IpFamily::ALL {
                assert!(
                    count(&entries, family) >= 2,
                    "{family} has fewer than two sources in {list:?}"
                );
            }
        }
        for entry in parse(DEFAULT_HTTP_SOURCES).unwrap() {
            match entry {
                SourceEntry::Http { url, .. } => assert_eq!(url.scheme(), "https", "{url}"),
                other => panic!("{other:?} in the http list"),
            }
        }
        for entry in parse(DEFAULT_DNS_SOURCES).unwrap() {
            assert!(matches!(entry, SourceEntry::Dns(_)), "{entry:?}");
        }
        // Each entry prints back as written, so `ddnsd check` shows the list
        // as documented.
        let shown: Vec<String> = parse(DEFAULT_DNS_SOURCES)
            .unwrap()
            .iter()
            .map(SourceEntry::shown)
            .collect();
        assert_eq!(shown, DEFAULT_DNS_SOURCES);
    }

    #[test]
    fn a_family_prefix_restricts_a_url_to_one_family() {
        let entries = parse(&["ipv4:https://ip.example", "IPv6:https://ip.example"]).unwrap();
        assert!(entries[0].supports(IpFamily::V4) && !entries[0].supports(IpFamily::V6));
        assert!(entries[1].supports(IpFamily::V6) && !entries[1].supports(IpFamily::V4));
        assert_eq!(entries[0].shown(), "ipv4:https://ip.example");
        assert_eq!(
            parse(&["ipv6:https://192.0.2.1/ip"]).unwrap_err(),
            "DDNS_IP_SOURCE_URLS: item 1: ipv6: is given, but https://192.0.2.1 is an address of the other family"
        );
        assert_eq!(
            parse(&["ipv4:dns:myip.opendns.com@208.67.222.222"]).unwrap_err(),
            "DDNS_IP_SOURCE_URLS: item 1: ipv4: and ipv6: go before URLs only; a dns: entry is asked over its server's family"
        );
    }

    #[test]
    fn bad_items_are_named_by_position_and_urls_are_never_echoed() {
        assert_eq!(
            parse(&["https://ip.example", "ip.example/s3cret"]).unwrap_err(),
            "DDNS_IP_SOURCE_URLS: item 2: is neither a URL (https://…) nor a dns: entry (dns:NAME@SERVER)"
        );
        let err = parse(&["http://ip.example.net/s3cret?token=abc"]).unwrap_err();
        assert!(
            err.starts_with("DDNS_IP_SOURCE_URLS: item 1: http://ip.example.net is not encrypted"),
            "{err}"
        );
        assert!(!err.contains("s3cret") && !err.contains("abc"), "{err}");
        assert!(
            parse_entries(VAR, &["http://ip.example.net/x"], true).is_ok(),
            "DDNS_ALLOW_HTTP=true allows it"
        );
        assert!(parse(&["http://127.0.0.1:8080/ip", "http://[::1]/ip"]).is_ok());
        assert!(
            parse(&["ftp://ip.example/"])
                .unwrap_err()
                .starts_with("DDNS_IP_SOURCE_URLS: item 1: the scheme 'ftp' is not supported")
        );
        assert_eq!(
            parse(&["dns:myip.opendns.com"]).unwrap_err(),
            "DDNS_IP_SOURCE_URLS: item 1: 'dns:myip.opendns.com' names no server: write dns:NAME@SERVER, such as dns:myip.opendns.com@208.67.222.222"
        );
    }

    #[test]
    fn a_source_listed_twice_is_refused() {
        assert_eq!(
            parse(&[
                "https://ip.example/a",
                "https://other.example",
                "https://IP.example/a"
            ])
            .unwrap_err(),
            "DDNS_IP_SOURCE_URLS: item 3: repeats item 1 (a source listed twice would vote twice)"
        );
        assert!(
            parse(&["https://ip.example/a", "https://ip.example/b"]).is_ok(),
            "another path is another source"
        );
        assert!(
            parse(&[
                "dns:myip.opendns.com@208.67.222.222",
                "dns:a:MYIP.opendns.com.@208.67.222.222:53"
            ])
            .unwrap_err()
            .ends_with("item 2: repeats item 1 (a source listed twice would vote twice)")
        );
    }
}
