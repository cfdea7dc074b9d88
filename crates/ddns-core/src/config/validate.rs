//! Checks for values that are not plain names or numbers: tokens and URLs.

use std::net::IpAddr;

use url::{Host, Url};

use super::ConfigError;
use crate::secret::Secret;

/// Rejects tokens that are too short or look like a placeholder left from
/// an example file. The message never shows the token.
pub fn validate_token(variable: &str, token: &Secret, min_len: usize) -> Result<(), ConfigError> {
    let value = token.expose().trim();
    if value.len() < min_len {
        return Err(ConfigError::new(
            variable,
            format!(
                "is {} characters long; a real one has at least {min_len}",
                value.len()
            ),
        ));
    }
    let lower = value.to_ascii_lowercase();
    const PLACEHOLDERS: [&str; 10] = [
        "your_token",
        "your-token",
        "yourtoken",
        "your_api",
        "changeme",
        "change_me",
        "change-me",
        "placeholder",
        "replace_me",
        "insert_",
    ];
    let looks_placeholder = PLACEHOLDERS.iter().any(|p| lower.contains(p))
        || (lower.starts_with('<') && lower.ends_with('>'))
        || (lower.starts_with("${") && lower.ends_with('}'))
        || lower
            .chars()
            .all(|c| c == lower.chars().next().unwrap_or('x'))
        || lower
            .chars()
            .all(|c| c == 'x' || c == '*' || c == '.' || c == '-');
    if looks_placeholder {
        return Err(ConfigError::new(
            variable,
            "looks like a placeholder from an example, not a real credential",
        ));
    }
    Ok(())
}

/// Whether a URL host is a loopback name or address.
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// Parses an http(s) URL. `https` is required, except for loopback hosts or
/// when `allow_http` is set. Messages show the scheme and host only, since
/// the path or query may carry a credential.
pub fn validate_url(variable: &str, value: &str, allow_http: bool) -> Result<Url, ConfigError> {
    let url = Url::parse(value.trim())
        .map_err(|e| ConfigError::new(variable, format!("is not a valid URL: {e}")))?;
    let host = url
        .host()
        .ok_or_else(|| ConfigError::new(variable, "the URL has no host"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback_host(&host) => Ok(url),
        "http" => Err(ConfigError::new(
            variable,
            format!(
                "http://{host} is not encrypted; use https, or set DDNS_ALLOW_HTTP=true for a device on your own network"
            ),
        )),
        other => Err(ConfigError::new(
            variable,
            format!("the scheme '{other}' is not supported; use https"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_and_short_tokens_are_rejected() {
        for bad in [
            "your_token_here",
            "CHANGEME-please-now",
            "<token>",
            "xxxxxxxxxxxxxxxxxxxx",
            "aaaaaaaaaaaaaaaaaaaaa",
        ] {
            let err =
                validate_token("DDNS_PROVIDER_API_TOKEN", &Secret::new(bad), 8).expect_err(bad);
            assert_eq!(err.variable(), "DDNS_PROVIDER_API_TOKEN");
            assert!(
                !err.to_string().contains(bad),
                "the message must not echo the token"
            );
        }
        let err = validate_token("T", &Secret::new("abc"), 8).expect_err("short");
        assert_eq!(
            err.to_string(),
            "T: is 3 characters long; a real one has at least 8"
        );
        assert!(validate_token("T", &Secret::new("Zk3r9-qP2mXa7LwT"), 8).is_ok());
    }

    #[test]
    fn https_is_required_except_for_loopback_or_when_allowed() {
        assert!(validate_url("U", "https://hc-ping.com/abc", false).is_ok());
        assert!(validate_url("U", "http://127.0.0.1:8080/x", false).is_ok());
        assert!(validate_url("U", "http://[::1]/x", false).is_ok());
        assert!(validate_url("U", "http://localhost/x", false).is_ok());
        let err = validate_url("U", "http://plug.lan/secret-key", false).expect_err("plain http");
        assert!(
            err.to_string()
                .starts_with("U: http://plug.lan is not encrypted")
        );
        assert!(!err.to_string().contains("secret-key"));
        assert!(validate_url("U", "http://plug.lan/x", true).is_ok());
        assert!(validate_url("U", "ftp://x.example/", true).is_err());
        assert!(validate_url("U", "not a url", true).is_err());
    }
}
