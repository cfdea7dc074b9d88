//! Names inside a zone: the zone's own name, owner names relative to it,
//! host names that records point at, and the SOA mailbox.
//!
//! Everything is kept in lower case without a trailing dot; rendering adds
//! the dot. Validation follows what BIND accepts with `check-names fail`
//! (the default for primary zones), so a zone that validates here also
//! loads there.

use std::fmt;

/// Longest name in presentation form without the trailing dot (RFC 1035:
/// 255 octets on the wire).
const MAX_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// Why a name was refused. The message names the offending text.
pub type NameError = String;

fn shorten(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() <= LIMIT {
        text.to_string()
    } else {
        let head: String = text.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

/// Checks one label. `underscore` allows `_` (service and TXT owner names
/// such as `_dmarc` or `_sip._tcp`); host names do not allow it.
fn check_label(label: &str, whole: &str, underscore: bool) -> Result<(), NameError> {
    if label.is_empty() {
        return Err(format!("'{}' has an empty label", shorten(whole)));
    }
    if label.len() > MAX_LABEL {
        return Err(format!(
            "'{}' has a label of {} characters; at most {MAX_LABEL} are allowed",
            shorten(whole),
            label.len()
        ));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || (underscore && c == '_');
    if let Some(bad) = label.chars().find(|c| !allowed(*c)) {
        let what = if underscore {
            "letters, digits, '-' and '_'"
        } else {
            "letters, digits and '-'"
        };
        return Err(format!(
            "'{}' contains {bad:?}; a label holds only {what}",
            shorten(whole)
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!(
            "'{}' has a label starting or ending with '-'",
            shorten(whole)
        ));
    }
    Ok(())
}

/// A zone's name: a fully qualified host name such as `example.com`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ZoneName(String);

impl ZoneName {
    /// Parses a zone name; a trailing dot is accepted, case is folded.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let name = input
            .strip_suffix('.')
            .unwrap_or(input)
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err("the zone name is empty".into());
        }
        if name.len() > MAX_NAME {
            return Err(format!(
                "'{}' is {} characters long; a DNS name has at most {MAX_NAME}",
                shorten(&name),
                name.len()
            ));
        }
        for label in name.split('.') {
            check_label(label, &name, false)?;
        }
        Ok(Self(name))
    }

    /// The name without the trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name with the trailing dot, as zone files and DNS messages use it.
    pub fn absolute(&self) -> String {
        format!("{}.", self.0)
    }
}

impl fmt::Display for ZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A host name a record points at (CNAME target, MX exchange, NS, SRV
/// target, SOA primary server): fully qualified, trailing dot optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

impl HostName {
    /// Parses a host name. `.` alone (the root) is accepted for an SRV
    /// target meaning "no service"; other kinds refuse it through
    /// [`HostName::is_root`].
    pub fn parse(input: &str) -> Result<Self, NameError> {
        if input == "." {
            return Ok(Self(String::new()));
        }
        let name = input
            .strip_suffix('.')
            .unwrap_or(input)
            .to_ascii_lowercase();
        if name.is_empty() {
            return Err("the host name is empty".into());
        }
        if name.len() > MAX_NAME {
            return Err(format!(
                "'{}' is {} characters long; a DNS name has at most {MAX_NAME}",
                shorten(&name),
                name.len()
            ));
        }
        if !name.contains('.') {
            return Err(format!(
                "'{}' is not fully qualified; write the whole name, such as {name}.example.com",
                shorten(&name)
            ));
        }
        for label in name.split('.') {
            check_label(label, &name, false)?;
        }
        Ok(Self(name))
    }

    /// Whether this is the root name (`.`).
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The name without the trailing dot (empty for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name with the trailing dot.
    pub fn absolute(&self) -> String {
        format!("{}.", self.0)
    }

    /// Whether the name is `zone` or below it.
    pub fn is_in(&self, zone: &ZoneName) -> bool {
        is_at_or_below(&self.0, zone.as_str())
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "." } else { &self.0 })
    }
}

fn is_at_or_below(name: &str, zone: &str) -> bool {
    name == zone
        || (name.len() > zone.len()
            && name.ends_with(zone)
            && name.as_bytes()[name.len() - zone.len() - 1] == b'.')
}

/// The owner of a record: the labels in front of the zone's name, empty for
/// the apex.
///
/// Written relative to the zone (`www`, `_dmarc`, `*`, `*.dev`, `@`), or
/// absolute with a trailing dot (`www.example.com.`), which must then lie
/// inside the zone.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Owner(String);

/// How a name was refused as the owner of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerError {
    /// The text is not a valid name.
    Invalid(NameError),
    /// An absolute name outside the zone.
    OutsideZone(String),
}

impl fmt::Display for OwnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OwnerError::Invalid(reason) => f.write_str(reason),
            OwnerError::OutsideZone(reason) => f.write_str(reason),
        }
    }
}

impl Owner {
    /// The apex (`@`).
    pub fn apex() -> Self {
        Self(String::new())
    }

    /// Parses an owner written relative to `zone`, or absolute with a
    /// trailing dot.
    pub fn parse(input: &str, zone: &ZoneName) -> Result<Self, OwnerError> {
        let text = input.trim();
        if text == "@" {
            return Ok(Self::apex());
        }
        if text.is_empty() {
            return Err(OwnerError::Invalid(
                "the name is empty; use '@' for the zone's apex".into(),
            ));
        }
        let lowered = text.to_ascii_lowercase();
        let relative = match lowered.strip_suffix('.') {
            Some(absolute) => {
                if absolute == zone.as_str() {
                    return Ok(Self::apex());
                }
                match absolute.strip_suffix(&format!(".{}", zone.as_str())) {
                    Some(inside) => inside.to_string(),
                    None => {
                        return Err(OwnerError::OutsideZone(format!(
                            "'{}' is outside zone {zone}",
                            shorten(text)
                        )));
                    }
                }
            }
            None => lowered,
        };
        let full_len = relative.len() + 1 + zone.as_str().len();
        if full_len > MAX_NAME {
            return Err(OwnerError::Invalid(format!(
                "'{}' in zone {zone} is {full_len} characters long; a DNS name has at most {MAX_NAME}",
                shorten(text)
            )));
        }
        for (index, label) in relative.split('.').enumerate() {
            if label == "*" {
                if index != 0 {
                    return Err(OwnerError::Invalid(format!(
                        "'{}' has '*' inside the name; a wildcard is only the leftmost label",
                        shorten(text)
                    )));
                }
                continue;
            }
            check_label(label, text, true).map_err(OwnerError::Invalid)?;
        }
        Ok(Self(relative))
    }

    /// Whether this is the apex.
    pub fn is_apex(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether the leftmost label is `*`.
    pub fn is_wildcard(&self) -> bool {
        self.0 == "*" || self.0.starts_with("*.")
    }

    /// Whether every label is a host-name label (no `_`), as A, AAAA and MX
    /// owners must be under `check-names`; a leading `*` is allowed.
    pub fn is_host_name(&self) -> bool {
        self.0.split('.').all(|label| !label.contains('_'))
    }

    /// The relative form: `@` for the apex, else the labels.
    pub fn relative(&self) -> &str {
        if self.0.is_empty() { "@" } else { &self.0 }
    }

    /// The fully qualified name in `zone`, without the trailing dot.
    pub fn in_zone(&self, zone: &ZoneName) -> String {
        if self.0.is_empty() {
            zone.as_str().to_string()
        } else {
            format!("{}.{}", self.0, zone.as_str())
        }
    }

    /// Whether `self` lies strictly below `other` (both in the same zone).
    pub fn is_below(&self, other: &Owner) -> bool {
        if other.is_apex() {
            return !self.is_apex();
        }
        self.0.len() > other.0.len()
            && self.0.ends_with(&other.0)
            && self.0.as_bytes()[self.0.len() - other.0.len() - 1] == b'.'
    }

    /// The labels from the rightmost (nearest the zone) leftwards, the
    /// order DNSSEC's canonical ordering compares them in (RFC 4034 §6.1).
    pub fn canonical_key(&self) -> Vec<&str> {
        if self.0.is_empty() {
            Vec::new()
        } else {
            self.0.rsplit('.').collect()
        }
    }

    /// The owner of a host name when it lies in `zone`.
    pub fn of_host(host: &HostName, zone: &ZoneName) -> Option<Owner> {
        if !host.is_in(zone) {
            return None;
        }
        let name = host.as_str();
        if name == zone.as_str() {
            return Some(Owner::apex());
        }
        Some(Owner(
            name[..name.len() - zone.as_str().len() - 1].to_string(),
        ))
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.relative())
    }
}

/// The SOA mailbox (RNAME), from an e-mail address: `hostmaster@example.com`
/// becomes `hostmaster.example.com.`, and a dot in the local part is
/// escaped (`john.doe@example.com` → `john\.doe.example.com.`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    local: String,
    domain: HostName,
}

impl Mailbox {
    /// Parses an e-mail address.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let Some((local, domain)) = input.rsplit_once('@') else {
            return Err(format!(
                "'{}' is not an e-mail address (expected local@domain)",
                shorten(input)
            ));
        };
        if local.is_empty() || local.len() > MAX_LABEL {
            return Err(format!(
                "the local part of '{}' must be 1 to {MAX_LABEL} characters",
                shorten(input)
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
        if let Some(bad) = local.chars().find(|c| !allowed(*c)) {
            return Err(format!(
                "the local part of '{}' contains {bad:?}",
                shorten(input)
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(format!(
                "the local part of '{}' has a misplaced '.'",
                shorten(input)
            ));
        }
        let domain = HostName::parse(domain)
            .map_err(|reason| format!("the domain of '{}': {reason}", shorten(input)))?;
        if domain.is_root() {
            return Err(format!("'{}' has no domain", shorten(input)));
        }
        Ok(Self {
            local: local.to_string(),
            domain,
        })
    }

    /// The mailbox as a domain name in presentation form, with the
    /// trailing dot and dots in the local part escaped.
    pub fn to_dns_name(&self) -> String {
        format!(
            "{}.{}",
            self.local.replace('.', "\\."),
            self.domain.absolute()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> ZoneName {
        ZoneName::parse("Example.COM.").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn owners_relative_absolute_apex_and_wildcard() {
        let zone = zone();
        assert_eq!(zone.as_str(), "example.com");
        let owner = |s: &str| Owner::parse(s, &zone);
        assert_eq!(owner("@"), Ok(Owner::apex()));
        assert_eq!(owner("example.com."), Ok(Owner::apex()));
        assert_eq!(
            owner("WWW").map(|o| o.in_zone(&zone)),
            Ok("www.example.com".into())
        );
        assert_eq!(
            owner("www.example.com.").map(|o| o.relative().to_string()),
            Ok("www".into())
        );
        assert!(owner("*").is_ok_and(|o| o.is_wildcard()));
        assert!(owner("*.dev").is_ok_and(|o| o.is_wildcard() && o.is_host_name()));
        assert!(owner("_dmarc").is_ok_and(|o| !o.is_host_name()));
        assert_eq!(
            owner("www.example.org."),
            Err(OwnerError::OutsideZone(
                "'www.example.org.' is outside zone example.com".into()
            ))
        );
        assert_eq!(
            owner("a.*"),
            Err(OwnerError::Invalid(
                "'a.*' has '*' inside the name; a wildcard is only the leftmost label".into()
            ))
        );
        assert_eq!(
            owner("bad name"),
            Err(OwnerError::Invalid(
                "'bad name' contains ' '; a label holds only letters, digits, '-' and '_'".into()
            ))
        );
        assert_eq!(
            owner(""),
            Err(OwnerError::Invalid(
                "the name is empty; use '@' for the zone's apex".into()
            ))
        );
        let long = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(60)
        );
        assert!(matches!(owner(&long), Err(OwnerError::Invalid(m)) if m.contains("at most 253")));
    }

    #[test]
    fn below_and_of_host() {
        let zone = zone();
        let sub = Owner::parse("sub", &zone).unwrap_or_else(|e| panic!("{e}"));
        let deep = Owner::parse("a.sub", &zone).unwrap_or_else(|e| panic!("{e}"));
        let other = Owner::parse("xsub", &zone).unwrap_or_else(|e| panic!("{e}"));
        assert!(deep.is_below(&sub));
        assert!(!other.is_below(&sub));
        assert!(sub.is_below(&Owner::apex()));
        assert!(!Owner::apex().is_below(&Owner::apex()));
        let ns = HostName::parse("ns1.sub.example.com.").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            Owner::of_host(&ns, &zone).map(|o| o.relative().to_string()),
            Some("ns1.sub".into())
        );
        let outside = HostName::parse("ns1.example.net").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Owner::of_host(&outside, &zone), None);
        let lookalike = HostName::parse("notexample.com").unwrap_or_else(|e| panic!("{e}"));
        assert!(!lookalike.is_in(&zone));
    }

    #[test]
    fn host_names_must_be_fully_qualified() {
        assert_eq!(
            HostName::parse("www"),
            Err(
                "'www' is not fully qualified; write the whole name, such as www.example.com"
                    .into()
            )
        );
        assert!(HostName::parse(".").is_ok_and(|h| h.is_root() && h.absolute() == "."));
        assert_eq!(
            HostName::parse("mail.Example.com").map(|h| h.absolute()),
            Ok("mail.example.com.".into())
        );
        assert!(HostName::parse("_sip.example.com").is_err());
    }

    #[test]
    fn mailbox_escapes_dots_in_the_local_part() {
        let mailbox = |s: &str| Mailbox::parse(s).map(|m| m.to_dns_name());
        assert_eq!(
            mailbox("hostmaster@example.com"),
            Ok("hostmaster.example.com.".into())
        );
        assert_eq!(
            mailbox("john.doe@Example.com"),
            Ok("john\\.doe.example.com.".into())
        );
        assert_eq!(
            mailbox("example.com"),
            Err("'example.com' is not an e-mail address (expected local@domain)".into())
        );
        assert_eq!(
            mailbox("a b@example.com"),
            Err("the local part of 'a b@example.com' contains ' '".into())
        );
        assert_eq!(
            mailbox(".a@example.com"),
            Err("the local part of '.a@example.com' has a misplaced '.'".into())
        );
    }
}
