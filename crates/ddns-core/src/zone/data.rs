//! Record types and values, with their zone-file presentation.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::names::HostName;

/// Longest TXT value accepted, in bytes: far above any real SPF, DKIM or
/// verification string, and small enough that several still fit one
/// 64 KiB UPDATE message.
pub const MAX_TXT_VALUE: usize = 16_384;
/// Longest CAA value, in bytes.
pub const MAX_CAA_VALUE: usize = 2_048;

/// The record types a zone can hold here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// Start of authority (apex only, managed).
    Soa,
    /// Name servers.
    Ns,
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Alias.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Text.
    Txt,
    /// Service location.
    Srv,
    /// Certification authority authorisation.
    Caa,
}

impl RecordType {
    /// The type's mnemonic.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Soa => "SOA",
            RecordType::Ns => "NS",
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Cname => "CNAME",
            RecordType::Mx => "MX",
            RecordType::Txt => "TXT",
            RecordType::Srv => "SRV",
            RecordType::Caa => "CAA",
        }
    }

    /// Parses a mnemonic (any case).
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "SOA" => RecordType::Soa,
            "NS" => RecordType::Ns,
            "A" => RecordType::A,
            "AAAA" => RecordType::Aaaa,
            "CNAME" => RecordType::Cname,
            "MX" => RecordType::Mx,
            "TXT" => RecordType::Txt,
            "SRV" => RecordType::Srv,
            "CAA" => RecordType::Caa,
            _ => return None,
        })
    }

    /// Whether one resource owns the whole RRset of this type at its name
    /// (the kinds whose spec lists values: A, AAAA, TXT, and the single
    /// CNAME). For MX, NS, SRV and CAA each resource adds one record, and
    /// several resources build the RRset together, as a zone with two
    /// mail exchangers needs.
    pub fn is_exclusive(self) -> bool {
        matches!(
            self,
            RecordType::A | RecordType::Aaaa | RecordType::Txt | RecordType::Cname
        )
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One record's value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordData {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// The canonical name.
    Cname(HostName),
    /// One TXT record: the value, split into 255-byte character-strings
    /// when written.
    Txt(String),
    /// A mail exchanger.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The exchanger's host name.
        exchange: HostName,
    },
    /// A name server.
    Ns(HostName),
    /// A service location.
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Share among equal priorities.
        weight: u16,
        /// The service's port.
        port: u16,
        /// The host, or `.` for "not offered here".
        target: HostName,
    },
    /// A CAA property.
    Caa {
        /// Flags (128 = critical).
        flags: u8,
        /// The property tag (`issue`, `issuewild`, `iodef`, …).
        tag: String,
        /// The property value.
        value: String,
    },
}

impl RecordData {
    /// The value's type.
    pub fn record_type(&self) -> RecordType {
        match self {
            RecordData::A(_) => RecordType::A,
            RecordData::Aaaa(_) => RecordType::Aaaa,
            RecordData::Cname(_) => RecordType::Cname,
            RecordData::Txt(_) => RecordType::Txt,
            RecordData::Mx { .. } => RecordType::Mx,
            RecordData::Ns(_) => RecordType::Ns,
            RecordData::Srv { .. } => RecordType::Srv,
            RecordData::Caa { .. } => RecordType::Caa,
        }
    }

    /// Checks what the types alone cannot: lengths, the CAA tag, a root
    /// name where only SRV allows one.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            RecordData::Txt(value) if value.len() > MAX_TXT_VALUE => Err(format!(
                "a TXT value of {} bytes is longer than the {MAX_TXT_VALUE} allowed",
                value.len()
            )),
            RecordData::Caa { tag, value, .. } => {
                if tag.is_empty()
                    || tag.len() > 15
                    || !tag.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    return Err(format!(
                        "CAA tag '{}' must be 1 to 15 letters and digits",
                        tag.chars().take(40).collect::<String>()
                    ));
                }
                if value.len() > MAX_CAA_VALUE {
                    return Err(format!(
                        "a CAA value of {} bytes is longer than the {MAX_CAA_VALUE} allowed",
                        value.len()
                    ));
                }
                Ok(())
            }
            RecordData::Cname(host)
            | RecordData::Ns(host)
            | RecordData::Mx { exchange: host, .. }
                if host.is_root() =>
            {
                Err(format!(
                    "{} must point at a host name, not '.'",
                    self.record_type()
                ))
            }
            _ => Ok(()),
        }
    }

    /// The host name this value points at, if any.
    pub fn target(&self) -> Option<&HostName> {
        match self {
            RecordData::Cname(host)
            | RecordData::Ns(host)
            | RecordData::Mx { exchange: host, .. }
            | RecordData::Srv { target: host, .. } => Some(host),
            _ => None,
        }
    }

    /// The value in zone-file presentation form.
    pub fn presentation(&self) -> String {
        match self {
            RecordData::A(address) => address.to_string(),
            RecordData::Aaaa(address) => address.to_string(),
            RecordData::Cname(host) | RecordData::Ns(host) => host.absolute(),
            RecordData::Txt(value) => txt_presentation(value),
            RecordData::Mx {
                preference,
                exchange,
            } => format!("{preference} {}", exchange.absolute()),
            RecordData::Srv {
                priority,
                weight,
                port,
                target,
            } => format!("{priority} {weight} {port} {}", target.absolute()),
            RecordData::Caa { flags, tag, value } => {
                format!("{flags} {tag} {}", quoted(value.as_bytes()))
            }
        }
    }
}

/// The character-strings of a TXT value: 255 bytes each, the last one
/// shorter; an empty value is one empty string.
pub fn txt_chunks(value: &str) -> Vec<&[u8]> {
    let bytes = value.as_bytes();
    if bytes.is_empty() {
        return vec![bytes];
    }
    bytes.chunks(255).collect()
}

fn txt_presentation(value: &str) -> String {
    txt_chunks(value)
        .into_iter()
        .map(quoted)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A quoted character-string: `"` and `\` escaped, bytes outside printable
/// ASCII written as `\DDD` (RFC 1035 §5.1).
fn quoted(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for &byte in bytes {
        match byte {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(byte));
            }
            0x20..=0x7e => out.push(char::from(byte)),
            _ => out.push_str(&format!("\\{byte:03}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> HostName {
        HostName::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn presentation_of_each_type() {
        assert_eq!(
            RecordData::A(Ipv4Addr::new(192, 0, 2, 1)).presentation(),
            "192.0.2.1"
        );
        assert_eq!(
            RecordData::Aaaa("2001:db8::1".parse().unwrap_or(Ipv6Addr::UNSPECIFIED)).presentation(),
            "2001:db8::1"
        );
        assert_eq!(
            RecordData::Cname(host("www.example.com")).presentation(),
            "www.example.com."
        );
        assert_eq!(
            RecordData::Mx {
                preference: 10,
                exchange: host("mx.example.com")
            }
            .presentation(),
            "10 mx.example.com."
        );
        assert_eq!(
            RecordData::Srv {
                priority: 0,
                weight: 5,
                port: 5060,
                target: host(".")
            }
            .presentation(),
            "0 5 5060 ."
        );
        assert_eq!(
            RecordData::Caa {
                flags: 0,
                tag: "issue".into(),
                value: "letsencrypt.org".into()
            }
            .presentation(),
            "0 issue \"letsencrypt.org\""
        );
    }

    #[test]
    fn txt_is_escaped_and_split_at_255_bytes() {
        assert_eq!(
            RecordData::Txt("say \"hi\" \\ ü\n".into()).presentation(),
            "\"say \\\"hi\\\" \\\\ \\195\\188\\010\""
        );
        assert_eq!(RecordData::Txt(String::new()).presentation(), "\"\"");
        let long = "x".repeat(600);
        let text = RecordData::Txt(long).presentation();
        let parts: Vec<&str> = text.split(' ').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].len(), 257);
        assert_eq!(parts[1].len(), 257);
        assert_eq!(parts[2].len(), 92);
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            RecordData::Txt("y".repeat(MAX_TXT_VALUE + 1)).validate(),
            Err("a TXT value of 16385 bytes is longer than the 16384 allowed".into())
        );
        assert_eq!(
            RecordData::Caa {
                flags: 0,
                tag: "is sue".into(),
                value: String::new()
            }
            .validate(),
            Err("CAA tag 'is sue' must be 1 to 15 letters and digits".into())
        );
        assert_eq!(
            RecordData::Cname(host(".")).validate(),
            Err("CNAME must point at a host name, not '.'".into())
        );
        assert!(
            RecordData::Srv {
                priority: 0,
                weight: 0,
                port: 0,
                target: host(".")
            }
            .validate()
            .is_ok()
        );
    }
}
