//! Reading an echo service's answer: strictly one address of the family
//! asked, or nothing.
//!
//! This is the whole path the bytes of a third party take; it is pure and
//! never panics, so that a fuzz target can call [`parse_echo_body`].

use std::net::IpAddr;

use ddns_core::IpFamily;

/// The largest answer read. An address with a trace's dozen lines fits in
/// a few hundred bytes; anything near this is not an echo answer.
pub const MAX_BODY: usize = 4096;

/// The shapes of answer understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EchoFormat {
    /// Decide from the body: `key=value` lines are a trace, else the body
    /// is the address.
    Auto,
    /// Cloudflare's `/cdn-cgi/trace`: `key=value` lines, the address in `ip=`.
    Trace,
}

/// Reads the address of `family` from an echo service's answer.
///
/// Two shapes are understood, told apart by the body: the icanhazip /
/// ipify style, whose whole body (whitespace around it aside) is one
/// address; and Cloudflare's `/cdn-cgi/trace` style, `key=value` lines
/// (any line holding `=` makes the body a trace) with exactly one `ip=`
/// line. Anything else is an error that says what was wrong: more than
/// one address, an HTML page, a body over [`MAX_BODY`] bytes, text that
/// is not an address, an address of the other family (an IPv4-mapped
/// IPv6 address counts as IPv4).
///
/// ```
/// use ddns_core::IpFamily;
/// use ddns_ip_http::parse_echo_body;
/// assert_eq!(parse_echo_body(b" 203.0.113.9\n", IpFamily::V4), Ok("203.0.113.9".parse().unwrap()));
/// assert_eq!(
///     parse_echo_body(b"fl=1\nip=2001:db8::9\nts=1\n", IpFamily::V6),
///     Ok("2001:db8::9".parse().unwrap())
/// );
/// assert!(parse_echo_body(b"203.0.113.9 203.0.113.10", IpFamily::V4).is_err());
/// ```
pub fn parse_echo_body(body: &[u8], family: IpFamily) -> Result<IpAddr, String> {
    parse_body(body, family, EchoFormat::Auto)
}

/// [`parse_echo_body`] with the shape known in advance.
pub(crate) fn parse_body(
    body: &[u8],
    family: IpFamily,
    format: EchoFormat,
) -> Result<IpAddr, String> {
    if body.len() > MAX_BODY {
        return Err(format!(
            "the answer is {} bytes long; an address answer is at most {MAX_BODY}",
            body.len()
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| "the answer is not text".to_string())?;
    let text = text.trim();
    if text.is_empty() {
        return Err("the answer is empty".into());
    }
    if text.starts_with('<') {
        return Err("the answer is an HTML page, not an address".into());
    }
    let is_trace = format == EchoFormat::Trace || text.lines().any(|line| line.contains('='));
    let address = if is_trace {
        parse_trace(text)?
    } else {
        parse_plain(text)?
    };
    check_family(address, family)
}

/// The whole text is one address.
pub(crate) fn parse_plain(text: &str) -> Result<IpAddr, String> {
    let words = text.split_whitespace().count();
    if words > 1 {
        return Err(format!(
            "the answer holds {words} words, not one address: '{}'",
            shown(text)
        ));
    }
    text.parse()
        .map_err(|_| format!("the answer '{}' is not an IP address", shown(text)))
}

/// `key=value` lines with exactly one `ip=`.
fn parse_trace(text: &str) -> Result<IpAddr, String> {
    let mut ip = None;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "line {} of the trace answer is not key=value: '{}'",
                index + 1,
                shown(line)
            ));
        };
        if key.trim() == "ip" {
            if ip.is_some() {
                return Err("the trace answer has more than one ip= line".into());
            }
            ip = Some(value.trim());
        }
    }
    let value = ip.ok_or_else(|| "the trace answer has no ip= line".to_string())?;
    value.parse().map_err(|_| {
        format!(
            "ip='{}' in the trace answer is not an IP address",
            shown(value)
        )
    })
}

/// Rejects an address of the other family, including an IPv4-mapped IPv6
/// address (the service saw us over IPv4 on a dual-stack socket).
pub(crate) fn check_family(address: IpAddr, family: IpFamily) -> Result<IpAddr, String> {
    if let IpAddr::V6(v6) = address
        && let Some(v4) = v6.to_ipv4_mapped()
    {
        return Err(format!(
            "answered {address}, the IPv4 address {v4} in IPv6 form: the service saw an IPv4 connection"
        ));
    }
    let answered = IpFamily::of(&address);
    if answered != family {
        return Err(format!(
            "answered {address}, an {answered} address, when asked for {family}"
        ));
    }
    Ok(address)
}

/// At most 40 characters of untrusted text, control characters escaped.
fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(40).collect();
    let escaped: String = head.escape_debug().collect();
    if chars.next().is_some() {
        format!("{escaped}…")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn v4(body: &str) -> Result<IpAddr, String> {
        parse_echo_body(body.as_bytes(), IpFamily::V4)
    }

    fn v6(body: &str) -> Result<IpAddr, String> {
        parse_echo_body(body.as_bytes(), IpFamily::V6)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_bare_address_with_whitespace_is_read() {
        assert_eq!(v4("203.0.113.9"), Ok(ip("203.0.113.9")));
        assert_eq!(v4("\r\n  203.0.113.9\n"), Ok(ip("203.0.113.9")));
        assert_eq!(v6("2001:db8::9\n"), Ok(ip("2001:db8::9")));
    }

    #[test]
    fn a_cloudflare_trace_is_read_from_its_ip_line() {
        let trace = "fl=29f1\nh=1.1.1.1\nip=203.0.113.9\nts=1700000000.1\nvisit_scheme=https\nuag=ddns/0.1.0\ncolo=FRA\nhttp=http/2\nloc=DE\ntls=TLSv1.3\nsni=off\nwarp=off\ngateway=off\n";
        assert_eq!(v4(trace), Ok(ip("203.0.113.9")));
        assert_eq!(v6("ip = 2001:db8::9\r\nloc=DE\r\n"), Ok(ip("2001:db8::9")));
        // The path may say it is a trace even when the body looks plain.
        assert_eq!(
            parse_body(b"203.0.113.9", IpFamily::V4, EchoFormat::Trace),
            Err("line 1 of the trace answer is not key=value: '203.0.113.9'".into())
        );
    }

    #[test]
    fn more_or_less_than_one_address_is_refused_with_the_reason() {
        assert_eq!(
            v4("203.0.113.9 203.0.113.10"),
            Err("the answer holds 2 words, not one address: '203.0.113.9 203.0.113.10'".into())
        );
        assert_eq!(
            v4("203.0.113.9\n203.0.113.10\n"),
            Err("the answer holds 2 words, not one address: '203.0.113.9\\n203.0.113.10'".into())
        );
        assert_eq!(v4("  \n"), Err("the answer is empty".into()));
        assert_eq!(
            v4("ip=203.0.113.9\nip=203.0.113.10"),
            Err("the trace answer has more than one ip= line".into())
        );
        assert_eq!(
            v4("fl=1\nloc=DE"),
            Err("the trace answer has no ip= line".into())
        );
        assert_eq!(
            v4("ip=203.0.113.9\nnonsense"),
            Err("line 2 of the trace answer is not key=value: 'nonsense'".into())
        );
    }

    #[test]
    fn html_garbage_and_binary_are_refused() {
        assert_eq!(
            v4("<!DOCTYPE html><html><body>203.0.113.9</body></html>"),
            Err("the answer is an HTML page, not an address".into())
        );
        assert_eq!(
            v4("hello"),
            Err("the answer 'hello' is not an IP address".into())
        );
        assert_eq!(
            v4("203.0.113.256"),
            Err("the answer '203.0.113.256' is not an IP address".into())
        );
        assert_eq!(
            v6("fe80::1%eth0"),
            Err("the answer 'fe80::1%eth0' is not an IP address".into())
        );
        assert_eq!(
            parse_echo_body(&[0xff, 0xfe, 0x00], IpFamily::V4),
            Err("the answer is not text".into())
        );
        let long = "x".repeat(100);
        let err = v4(&long).unwrap_err();
        assert_eq!(
            err,
            format!("the answer '{}…' is not an IP address", "x".repeat(40))
        );
        assert_eq!(
            v4("\u{1b}[31m"),
            Err("the answer '\\u{1b}[31m' is not an IP address".into())
        );
    }

    #[test]
    fn oversized_bodies_are_refused_before_parsing() {
        let mut body = b"203.0.113.9".to_vec();
        body.resize(MAX_BODY + 1, b' ');
        assert_eq!(
            parse_echo_body(&body, IpFamily::V4),
            Err("the answer is 4097 bytes long; an address answer is at most 4096".into())
        );
        body.truncate(MAX_BODY);
        assert_eq!(parse_echo_body(&body, IpFamily::V4), Ok(ip("203.0.113.9")));
    }

    #[test]
    fn an_answer_of_the_other_family_never_stands_in() {
        assert_eq!(
            v6("203.0.113.9"),
            Err("answered 203.0.113.9, an ipv4 address, when asked for ipv6".into())
        );
        assert_eq!(
            v4("2001:db8::9"),
            Err("answered 2001:db8::9, an ipv6 address, when asked for ipv4".into())
        );
        assert_eq!(
            v6("::ffff:203.0.113.9"),
            Err("answered ::ffff:203.0.113.9, the IPv4 address 203.0.113.9 in IPv6 form: the service saw an IPv4 connection".into())
        );
        assert_eq!(
            v6("ip=::ffff:203.0.113.9"),
            v6("::ffff:203.0.113.9"),
            "the trace shape gets the same check"
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap stand-in for the fuzz target: every short byte string.
        let alphabet = b"0123456789abcdef.:=ip \n<%\xff";
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let body = [*a, *b, *c, b'=', *a];
                    let _ = parse_echo_body(&body, IpFamily::V4);
                    let _ = parse_echo_body(&body[..3], IpFamily::V6);
                }
            }
        }
    }
}
