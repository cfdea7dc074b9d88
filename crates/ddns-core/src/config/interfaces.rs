//! Lists of network interface names, such as `DDNS_IP_SOURCE_INTERFACE`:
//! one set of rules for every source that reads one.

use super::{ConfigError, Env};

/// Longest interface name the kernel accepts (`IFNAMSIZ` less the NUL).
const MAX_NAME_BYTES: usize = 15;

/// Reads `variable` as a comma-separated list of interface names and
/// checks each with [`validate_interface_names`]; `None` when unset.
///
/// ```
/// use ddns_core::config::{Env, interface_names};
/// let env = Env::from_pairs([("DDNS_IP_SOURCE_INTERFACE", " eth0, ppp0")]);
/// assert_eq!(
///     interface_names(&env, "DDNS_IP_SOURCE_INTERFACE").unwrap(),
///     Some(vec!["eth0".to_string(), "ppp0".to_string()])
/// );
/// let env = Env::from_pairs([("DDNS_IP_SOURCE_INTERFACE", "eth0:1")]);
/// assert!(interface_names(&env, "DDNS_IP_SOURCE_INTERFACE").is_err());
/// ```
pub fn interface_names(env: &Env, variable: &str) -> Result<Option<Vec<String>>, ConfigError> {
    env.list(variable)?
        .map(|names| validate_interface_names(variable, names))
        .transpose()
}

/// Checks names the way the kernel would (its `dev_valid_name` rules, plus
/// ':', which only IPv4 alias labels use) and refuses a name listed twice.
/// Errors name `variable`.
pub fn validate_interface_names(
    variable: &str,
    names: Vec<String>,
) -> Result<Vec<String>, ConfigError> {
    let mut valid: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if let Some(problem) = interface_name_problem(&name) {
            return Err(ConfigError::new(
                variable,
                format!(
                    "'{}' is not a valid interface name: {problem}",
                    shown(&name)
                ),
            ));
        }
        if valid.contains(&name) {
            return Err(ConfigError::new(
                variable,
                format!("interface '{name}' is listed twice"),
            ));
        }
        valid.push(name);
    }
    Ok(valid)
}

/// Why the kernel would refuse `name` as an interface name.
fn interface_name_problem(name: &str) -> Option<&'static str> {
    if name.len() > MAX_NAME_BYTES {
        Some("it is longer than 15 bytes")
    } else if name.contains('/') {
        Some("it contains '/'")
    } else if name.contains(':') {
        Some("it contains ':' (an alias label; give the interface itself, such as eth0)")
    } else if name.chars().any(char::is_whitespace) {
        Some("it contains whitespace")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not interface names")
    } else {
        None
    }
}

/// At most 32 characters of a user's value.
fn shown(value: &str) -> String {
    let mut chars = value.chars();
    let head: String = chars.by_ref().take(32).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const VAR: &str = "DDNS_IP_SOURCE_INTERFACE";

    fn error(value: &str) -> String {
        let env = Env::from_pairs([(VAR, value)]);
        match interface_names(&env, VAR) {
            Ok(names) => panic!("'{value}' was accepted as {names:?}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn names_are_trimmed_and_kept_in_order() {
        let env = Env::from_pairs([(VAR, " eth0, wg-home ,ppp0")]);
        assert_eq!(
            interface_names(&env, VAR).unwrap(),
            Some(vec!["eth0".into(), "wg-home".into(), "ppp0".into()])
        );
        assert_eq!(
            interface_names(&Env::from_pairs([("X", "y")]), VAR),
            Ok(None)
        );
        let longest = "abcdefghijklmno";
        assert_eq!(
            validate_interface_names(VAR, vec![longest.into()]).unwrap(),
            [longest]
        );
    }

    #[test]
    fn invalid_names_are_refused_with_the_reason() {
        assert_eq!(
            error("eth0,abcdefghijklmnop"),
            "DDNS_IP_SOURCE_INTERFACE: 'abcdefghijklmnop' is not a valid interface name: it is longer than 15 bytes"
        );
        assert_eq!(
            error("net/eth0"),
            "DDNS_IP_SOURCE_INTERFACE: 'net/eth0' is not a valid interface name: it contains '/'"
        );
        assert_eq!(
            error("eth0:1"),
            "DDNS_IP_SOURCE_INTERFACE: 'eth0:1' is not a valid interface name: it contains ':' (an alias label; give the interface itself, such as eth0)"
        );
        assert_eq!(
            error("eth 0"),
            "DDNS_IP_SOURCE_INTERFACE: 'eth 0' is not a valid interface name: it contains whitespace"
        );
        assert_eq!(
            error(".."),
            "DDNS_IP_SOURCE_INTERFACE: '..' is not a valid interface name: '.' and '..' are not interface names"
        );
        assert_eq!(
            error("eth0,eth0"),
            "DDNS_IP_SOURCE_INTERFACE: interface 'eth0' is listed twice"
        );
        assert_eq!(
            error("eth0,,eth1"),
            "DDNS_IP_SOURCE_INTERFACE: item 2 of the comma-separated list is empty"
        );
        assert!(error(&"x".repeat(100)).contains("'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'"));
    }
}
