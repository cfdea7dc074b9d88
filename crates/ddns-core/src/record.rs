//! What ddns manages: a DNS name and the address family it follows.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An address family, and with it the record type that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IpFamily {
    /// IPv4, published as an `A` record.
    #[serde(rename = "ipv4")]
    V4,
    /// IPv6, published as an `AAAA` record.
    #[serde(rename = "ipv6")]
    V6,
}

impl IpFamily {
    /// Both families, IPv4 first.
    pub const ALL: [IpFamily; 2] = [IpFamily::V4, IpFamily::V6];

    /// The family of an address.
    pub fn of(address: &IpAddr) -> Self {
        match address {
            IpAddr::V4(_) => IpFamily::V4,
            IpAddr::V6(_) => IpFamily::V6,
        }
    }

    /// The DNS record type for this family: `A` or `AAAA`.
    pub fn record_type(self) -> &'static str {
        match self {
            IpFamily::V4 => "A",
            IpFamily::V6 => "AAAA",
        }
    }

    /// The configuration spelling: `ipv4` or `ipv6`.
    pub fn as_str(self) -> &'static str {
        match self {
            IpFamily::V4 => "ipv4",
            IpFamily::V6 => "ipv6",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            IpFamily::V4 => 0,
            IpFamily::V6 => 1,
        }
    }
}

impl fmt::Display for IpFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IpFamily {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "ipv4" | "4" | "v4" => Ok(IpFamily::V4),
            "ipv6" | "6" | "v6" => Ok(IpFamily::V6),
            other => Err(format!(
                "'{}' is not an address family (expected ipv4 or ipv6)",
                truncate(other, 32)
            )),
        }
    }
}

/// A fully qualified domain name, validated against RFC 1035 host syntax.
///
/// Stored in lower case without the trailing dot. A leading `*.` label is
/// allowed for wildcard records.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    /// The name without a trailing dot, in lower case.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The labels from the leftmost to the top-level one.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// This name and each of its parents that has at least two labels,
    /// nearest first: `a.b.example.com`, `b.example.com`, `example.com`.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> {
        let name = self.0.as_str();
        let starts = std::iter::once(0).chain(name.match_indices('.').map(|(i, _)| i + 1));
        starts
            .map(move |start| &name[start..])
            .filter(|suffix| suffix.contains('.'))
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<DomainName> for String {
    fn from(name: DomainName) -> Self {
        name.0
    }
}

impl TryFrom<String> for DomainName {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl FromStr for DomainName {
    type Err = String;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let name = input.strip_suffix('.').unwrap_or(input);
        if name.is_empty() {
            return Err("a record name must not be empty".into());
        }
        if name.len() > 253 {
            return Err(format!(
                "'{}…' is {} characters long; a DNS name has at most 253",
                truncate(name, 40),
                name.len()
            ));
        }
        let mut labels = name.split('.').peekable();
        let mut count = 0;
        let mut first = true;
        while let Some(label) = labels.next() {
            count += 1;
            if first && label == "*" {
                first = false;
                if labels.peek().is_none() {
                    return Err("'*' alone is not a record name".into());
                }
                continue;
            }
            first = false;
            check_label(name, label)?;
        }
        if count < 2 {
            return Err(format!(
                "'{name}' is not fully qualified; give the whole name, such as {name}.example.com"
            ));
        }
        Ok(DomainName(name.to_ascii_lowercase()))
    }
}

fn check_label(name: &str, label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err(format!(
            "'{name}' has an empty label (two dots in a row, or a leading dot)"
        ));
    }
    if label.len() > 63 {
        return Err(format!(
            "'{name}' has a label of {} characters; a label has at most 63",
            label.len()
        ));
    }
    if let Some(bad) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "'{}' contains '{}'; a name holds only letters, digits, hyphens and dots (a leading '*.' is allowed)",
            truncate(name, 80),
            bad.escape_default()
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!(
            "'{name}' has the label '{label}', which starts or ends with a hyphen"
        ));
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// An IPv6 interface identifier to combine with a detected prefix: the
/// record publishes the first `prefix_len` bits of the detected address and
/// the rest from `host`. For hosts behind a router whose delegated prefix
/// changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostId {
    host: Ipv6Addr,
    prefix_len: u8,
}

impl HostId {
    /// The identifier `host` (such as `::1:2:3:4`) after a prefix of
    /// `prefix_len` bits (at most 128).
    pub fn new(host: Ipv6Addr, prefix_len: u8) -> Self {
        Self {
            host,
            prefix_len: prefix_len.min(128),
        }
    }

    /// The identifier.
    pub fn host(&self) -> Ipv6Addr {
        self.host
    }

    /// The prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// The prefix of `detected` with this identifier.
    pub fn apply(&self, detected: Ipv6Addr) -> Ipv6Addr {
        let mask = if self.prefix_len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.prefix_len))
        };
        Ipv6Addr::from((u128::from(detected) & mask) | (u128::from(self.host) & !mask))
    }
}

/// One managed record: a name and the family (so the record type) it holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record {
    name: DomainName,
    family: IpFamily,
    host_id: Option<HostId>,
}

impl Record {
    /// A record of `name` for addresses of `family`.
    pub fn new(name: DomainName, family: IpFamily) -> Self {
        Self {
            name,
            family,
            host_id: None,
        }
    }

    /// An AAAA record that publishes the detected prefix with `host_id`.
    /// Has no effect on an A record.
    pub fn with_host_id(mut self, host_id: HostId) -> Self {
        if self.family == IpFamily::V6 {
            self.host_id = Some(host_id);
        }
        self
    }

    /// The interface identifier, for an AAAA record that has one.
    pub fn host_id(&self) -> Option<HostId> {
        self.host_id
    }

    /// The address this record must hold when its family's address is
    /// `detected`.
    pub fn address_for(&self, detected: IpAddr) -> IpAddr {
        match (self.host_id, detected) {
            (Some(host_id), IpAddr::V6(v6)) => IpAddr::V6(host_id.apply(v6)),
            _ => detected,
        }
    }

    /// The record's name.
    pub fn name(&self) -> &DomainName {
        &self.name
    }

    /// The family of the addresses it holds.
    pub fn family(&self) -> IpFamily {
        self.family
    }

    /// `A` or `AAAA`.
    pub fn record_type(&self) -> &'static str {
        self.family.record_type()
    }

    /// The key under which the record's state is stored: `name/TYPE`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.name, self.record_type())
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.record_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<DomainName, String> {
        s.parse()
    }

    #[test]
    fn accepts_ordinary_and_wildcard_names() {
        assert_eq!(
            parse("Home.Example.COM.").map(String::from),
            Ok("home.example.com".into())
        );
        assert!(parse("*.example.com").is_ok());
        assert!(parse("a-1.b2.example").is_ok());
    }

    #[test]
    fn rejects_names_with_reasons() {
        let cases = [
            ("", "must not be empty"),
            ("localhost", "not fully qualified"),
            ("a..example.com", "empty label"),
            ("-a.example.com", "starts or ends with a hyphen"),
            ("a_b.example.com", "contains '_'"),
            ("a.*.example.com", "contains '*'"),
            ("*", "'*' alone"),
        ];
        for (input, expected) in cases {
            let err = parse(input).expect_err(input);
            assert!(err.contains(expected), "{input}: {err}");
        }
        let long_label = format!("{}.example.com", "a".repeat(64));
        assert!(parse(&long_label).expect_err("long").contains("at most 63"));
        let long_name = format!("{}example.com", "abcdefghi.".repeat(25));
        assert!(parse(&long_name).expect_err("long").contains("at most 253"));
    }

    #[test]
    fn ancestors_walk_up_to_the_registrable_part() {
        let name = parse("vpn.sub.example.com").expect("valid");
        let list: Vec<_> = name.ancestors().collect();
        assert_eq!(
            list,
            ["vpn.sub.example.com", "sub.example.com", "example.com"]
        );
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics_and_accepted_names_are_well_formed(input in "\\PC{0,300}") {
            if let Ok(name) = input.parse::<DomainName>() {
                let text = name.as_str();
                proptest::prop_assert!(text.len() <= 253);
                proptest::prop_assert!(text.split('.').count() >= 2);
                proptest::prop_assert!(text.split('.').all(|l| !l.is_empty() && l.len() <= 63));
                proptest::prop_assert_eq!(text.to_ascii_lowercase(), text);
                proptest::prop_assert_eq!(text.parse::<DomainName>(), Ok(name.clone()));
            }
        }

        #[test]
        fn valid_names_are_accepted(labels in proptest::collection::vec("[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", 2..6)) {
            let name = labels.join(".");
            proptest::prop_assert_eq!(name.parse::<DomainName>().map(String::from), Ok(name));
        }
    }

    #[test]
    fn host_id_keeps_the_prefix_and_replaces_the_rest() {
        let host: Ipv6Addr = "::1:2:3:4".parse().expect("v6");
        let detected: IpAddr = "2001:db8:aa:bb:ffff:ffff:ffff:ffff".parse().expect("v6");
        let record = Record::new(parse("a.example.com").expect("name"), IpFamily::V6)
            .with_host_id(HostId::new(host, 64));
        assert_eq!(
            record.address_for(detected),
            "2001:db8:aa:bb:1:2:3:4".parse::<IpAddr>().expect("v6")
        );
        let narrow = HostId::new(host, 56);
        assert_eq!(
            narrow.apply("2001:db8:aa:bbcc::9".parse().expect("v6")),
            "2001:db8:aa:bb00:1:2:3:4".parse::<Ipv6Addr>().expect("v6")
        );
        let v4 = Record::new(parse("a.example.com").expect("name"), IpFamily::V4)
            .with_host_id(HostId::new(host, 64));
        assert_eq!(v4.host_id(), None);
        assert_eq!(
            v4.address_for("192.0.2.1".parse().expect("v4")),
            "192.0.2.1".parse::<IpAddr>().expect("v4")
        );
    }

    #[test]
    fn record_key_and_display() {
        let record = Record::new(parse("a.example.com").expect("valid"), IpFamily::V6);
        assert_eq!(record.key(), "a.example.com/AAAA");
        assert_eq!(record.to_string(), "a.example.com AAAA");
    }
}
