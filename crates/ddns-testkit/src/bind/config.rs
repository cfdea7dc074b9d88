//! The text of `named.conf` and of the zone files; no I/O here.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

/// Where the files named needs live inside the instance's directory.
pub(super) const LOG_FILE: &str = "named.log";
pub(super) const STDERR_FILE: &str = "named.stderr";
pub(super) const CERT_FILE: &str = "tls.crt";
pub(super) const CERT_KEY_FILE: &str = "tls.key";
pub(super) const CA_FILE: &str = "ca.crt";
pub(super) const CA_KEY_FILE: &str = "ca.key";
/// The rndc key (a `key` stanza) and the rndc configuration using it.
pub(super) const RNDC_KEY_FILE: &str = "rndc.key";
pub(super) const RNDC_CONF_FILE: &str = "rndc.conf";
/// The directory of zone-file delivery and the include file in it.
pub(super) const ZONES_DIR: &str = "zones";
pub(super) const ZONES_INCLUDE: &str = "zones.conf";
/// The rndc key's name.
pub(super) const RNDC_KEY: &str = "rndc-key";

/// The zone file of `zone` inside `dir`.
pub(super) fn zone_path(dir: &Path, zone: &str) -> PathBuf {
    dir.join(format!("{zone}.zone"))
}

/// The zone file of the class CH zone `zone` inside `dir`, apart from the
/// class IN ones, which may have the same name.
pub(super) fn chaos_zone_path(dir: &Path, zone: &str) -> PathBuf {
    dir.join(format!("{zone}.ch.zone"))
}

/// Everything `named.conf` depends on.
pub(super) struct NamedConf<'a> {
    pub(super) dir: &'a Path,
    pub(super) dns: SocketAddr,
    pub(super) doh: Option<SocketAddr>,
    pub(super) stats: SocketAddr,
    /// Names of the keys and the files holding them.
    pub(super) keys: Vec<(&'a str, &'a Path)>,
    pub(super) zone: &'a str,
    pub(super) other_zone: Option<&'a str>,
    /// More zones open to updates like `zone`.
    pub(super) extra_zones: Vec<&'a str>,
    pub(super) max_udp_size: Option<u16>,
    pub(super) allow_unsigned_updates: bool,
    /// Zones of class CH; when there are any, every zone goes into a view.
    pub(super) chaos_zones: Vec<&'a str>,
    /// The rndc control channel's address, with the rndc key in
    /// [`RNDC_KEY_FILE`] and the include file of [`ZONES_DIR`]; `None`
    /// for no control channel.
    pub(super) control: Option<SocketAddr>,
}

/// `rndc.conf` for the control channel at `control`, with the key text.
pub(super) fn rndc_conf(key_text: &str, control: SocketAddr) -> String {
    format!(
        "{key_text}\noptions {{ default-key \"{RNDC_KEY}\"; default-server {}; default-port {}; }};\n",
        control.ip(),
        control.port()
    )
}

/// `listen-on port P` or `listen-on-v6 port P`, matching the address family,
/// with the other family switched off.
fn listen(addr: SocketAddr, extra: &str) -> String {
    let ip = addr.ip();
    let port = addr.port();
    match ip {
        IpAddr::V4(_) => format!("    listen-on port {port}{extra} {{ {ip}; }};\n"),
        IpAddr::V6(_) => format!("    listen-on-v6 port {port}{extra} {{ {ip}; }};\n"),
    }
}

impl NamedConf<'_> {
    /// The configuration: only loopback (or namespace) listeners, every file
    /// inside the directory, no rndc, no recursion.
    pub(super) fn render(&self) -> String {
        let dir = self.dir.display();
        let mut conf = String::new();
        for (_, file) in &self.keys {
            let _ = writeln!(conf, "include \"{}\";", file.display());
        }
        if self.doh.is_some() {
            let _ = write!(
                conf,
                "tls local-tls {{ cert-file \"{dir}/{CERT_FILE}\"; key-file \"{dir}/{CERT_KEY_FILE}\"; }};\n\
                 http local-http {{ endpoints {{ \"/dns-query\"; }}; }};\n"
            );
        }
        // Defaults point into /run and /var; everything goes into the directory.
        let _ = write!(
            conf,
            "options {{\n\
             \x20   directory \"{dir}\";\n\
             \x20   pid-file \"{dir}/named.pid\";\n\
             \x20   session-keyfile \"{dir}/session.key\";\n\
             \x20   managed-keys-directory \"{dir}\";\n\
             \x20   dump-file \"{dir}/cache_dump.db\";\n\
             \x20   statistics-file \"{dir}/named.stats\";\n"
        );
        conf.push_str(&listen(self.dns, ""));
        if let Some(doh) = self.doh {
            conf.push_str(&listen(doh, " tls local-tls http local-http"));
        }
        match self.dns.ip() {
            IpAddr::V4(_) => conf.push_str("    listen-on-v6 { none; };\n"),
            IpAddr::V6(_) => conf.push_str("    listen-on { none; };\n"),
        }
        conf.push_str(
            "    recursion no;\n    notify no;\n    dnssec-validation no;\n    querylog yes;\n",
        );
        if let Some(size) = self.max_udp_size {
            let _ = writeln!(conf, "    max-udp-size {size};");
        }
        conf.push_str("};\n");
        let _ = write!(
            conf,
            "logging {{\n\
             \x20   channel everything {{ file \"{dir}/{LOG_FILE}\" versions 0 size 20m; severity info; print-time yes; print-category yes; print-severity yes; }};\n\
             \x20   category default {{ everything; }};\n\
             \x20   category queries {{ everything; }};\n\
             \x20   category update {{ everything; }};\n\
             \x20   category update-security {{ everything; }};\n\
             \x20   category security {{ everything; }};\n\
             \x20   category lame-servers {{ null; }};\n\
             }};\n\
             statistics-channels {{ inet {} port {} allow {{ any; }}; }};\n",
            self.stats.ip(),
            self.stats.port()
        );
        match self.control {
            Some(control) => {
                let _ = write!(
                    conf,
                    "include \"{dir}/{RNDC_KEY_FILE}\";\n\
                     controls {{ inet {ip} port {port} allow {{ {ip}; }} keys {{ \"{RNDC_KEY}\"; }}; }};\n",
                    ip = control.ip(),
                    port = control.port()
                );
            }
            None => conf.push_str("controls { };\n"),
        }
        let policy = if self.allow_unsigned_updates {
            "allow-update { any; };".to_owned()
        } else {
            let grants: String = self
                .keys
                .iter()
                .map(|(name, _)| format!(" grant \"{name}\" zonesub ANY;"))
                .collect();
            format!("update-policy {{{grants} }};")
        };
        let mut zones = format!(
            "zone \"{zone}\" {{ type primary; file \"{file}\"; {policy} }};\n",
            zone = self.zone,
            file = zone_path(self.dir, self.zone).display(),
        );
        for extra in &self.extra_zones {
            let _ = writeln!(
                zones,
                "zone \"{extra}\" {{ type primary; file \"{}\"; {policy} }};",
                zone_path(self.dir, extra).display()
            );
        }
        if let Some(other) = self.other_zone {
            // No update-policy and no allow-update: every UPDATE is refused.
            let _ = writeln!(
                zones,
                "zone \"{other}\" {{ type primary; file \"{}\"; }};",
                zone_path(self.dir, other).display()
            );
        }
        if self.control.is_some() {
            let _ = writeln!(zones, "include \"{dir}/{ZONES_DIR}/{ZONES_INCLUDE}\";");
        }
        if self.chaos_zones.is_empty() {
            conf.push_str(&zones);
            return conf;
        }
        // named serves class CH zones only in a view of class CH, and once
        // there is a view every zone must be in one. Views are chosen by
        // the query's class first, so both match every client.
        conf.push_str("view \"internet\" IN {\n    match-clients { any; };\n");
        for line in zones.lines() {
            let _ = writeln!(conf, "    {line}");
        }
        conf.push_str("};\nview \"chaos\" CH {\n    match-clients { any; };\n");
        for zone in &self.chaos_zones {
            let _ = writeln!(
                conf,
                "    zone \"{zone}\" CH {{ type primary; file \"{}\"; }};",
                chaos_zone_path(self.dir, zone).display()
            );
        }
        conf.push_str("};\n");
        conf
    }
}

/// A zone file: SOA, NS `ns.ZONE.` with its address, the readiness token as
/// a TXT record at the apex, then the test's own lines.
pub(super) fn zone_file(zone: &str, ns: IpAddr, token: Option<&str>, records: &[String]) -> String {
    let ns_type = if ns.is_ipv4() { "A" } else { "AAAA" };
    let mut text = format!(
        "$TTL 300\n\
         @ IN SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n\
         @ IN NS ns.{zone}.\n"
    );
    if let Some(token) = token {
        let _ = writeln!(text, "@ IN TXT \"{token}\"");
    }
    let _ = writeln!(text, "ns IN {ns_type} {ns}");
    for line in records {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// A class CH zone file: SOA, NS and one TXT record at the apex per text,
/// quoted (so spaces stay inside one string) with `"` and `\` escaped.
pub(super) fn chaos_zone_file(zone: &str, texts: &[&str]) -> String {
    let mut text = format!(
        "$TTL 300\n\
         @ CH SOA ns.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n\
         @ CH NS ns.{zone}.\n"
    );
    for value in texts {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let _ = writeln!(text, "@ CH TXT \"{escaped}\"");
    }
    text
}

/// The base64 secret in what `tsig-keygen` prints:
/// `key "NAME" { algorithm ALG; secret "BASE64"; };`.
pub(super) fn parse_secret(key_file: &str) -> Option<String> {
    let start = key_file.find("secret \"")? + "secret \"".len();
    let rest = &key_file[start..];
    let end = rest.find('"')?;
    Some(rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_read_from_tsig_keygen_output() {
        let text = "key \"k1\" {\n\talgorithm hmac-sha384;\n\tsecret \"S4c4+/9=\";\n};\n";
        assert_eq!(parse_secret(text).as_deref(), Some("S4c4+/9="));
        assert_eq!(parse_secret("key \"k1\" { };"), None);
    }

    fn conf(dir: &Path) -> NamedConf<'_> {
        NamedConf {
            dir,
            dns: "127.0.0.7:5300".parse().unwrap(),
            doh: None,
            stats: "127.0.0.7:5301".parse().unwrap(),
            keys: vec![
                ("ddns-key", Path::new("/d/ddns-key.key")),
                ("k384", Path::new("/d/k384.key")),
            ],
            zone: "example.test",
            other_zone: Some("other.test"),
            extra_zones: Vec::new(),
            max_udp_size: None,
            allow_unsigned_updates: false,
            chaos_zones: Vec::new(),
            control: None,
        }
    }

    #[test]
    fn a_control_channel_comes_with_its_key_and_the_zones_include() {
        let text = NamedConf {
            control: Some("127.0.0.7:5303".parse().unwrap()),
            ..conf(Path::new("/d"))
        }
        .render();
        assert!(text.contains("include \"/d/rndc.key\";\n"), "{text}");
        assert!(
            text.contains(
                "controls { inet 127.0.0.7 port 5303 allow { 127.0.0.7; } keys { \"rndc-key\"; }; };"
            ),
            "{text}"
        );
        assert!(
            text.ends_with("include \"/d/zones/zones.conf\";\n"),
            "{text}"
        );
        assert!(!conf(Path::new("/d")).render().contains("zones.conf"));
        assert!(conf(Path::new("/d")).render().contains("controls { };"));
        let rndc = rndc_conf("key \"rndc-key\" { };\n", "127.0.0.7:5303".parse().unwrap());
        assert!(
            rndc.ends_with(
                "options { default-key \"rndc-key\"; default-server 127.0.0.7; default-port 5303; };\n"
            ),
            "{rndc}"
        );
    }

    #[test]
    fn every_key_may_update_the_zone_and_none_the_other_zone() {
        let text = conf(Path::new("/d")).render();
        assert!(text.contains("include \"/d/k384.key\";"), "{text}");
        assert!(
            text.contains(
                "zone \"example.test\" { type primary; file \"/d/example.test.zone\"; \
                 update-policy { grant \"ddns-key\" zonesub ANY; grant \"k384\" zonesub ANY; }; };"
            ),
            "{text}"
        );
        assert!(
            text.contains("zone \"other.test\" { type primary; file \"/d/other.test.zone\"; };"),
            "{text}"
        );
        assert!(
            text.contains("listen-on port 5300 { 127.0.0.7; };"),
            "{text}"
        );
        assert!(text.contains("listen-on-v6 { none; };"), "{text}");
        assert!(!text.contains("tls"), "{text}");
        assert!(!text.contains("max-udp-size"), "{text}");
        assert!(!text.contains("view"), "{text}");
    }

    #[test]
    fn doh_and_small_udp_are_configured_when_asked() {
        let dir = Path::new("/d");
        let text = NamedConf {
            doh: Some("127.0.0.7:5302".parse().unwrap()),
            max_udp_size: Some(512),
            allow_unsigned_updates: true,
            ..conf(dir)
        }
        .render();
        assert!(
            text.contains("listen-on port 5302 tls local-tls http local-http { 127.0.0.7; };"),
            "{text}"
        );
        assert!(text.contains("cert-file \"/d/tls.crt\""), "{text}");
        assert!(text.contains("max-udp-size 512;"), "{text}");
        assert!(text.contains("allow-update { any; };"), "{text}");
        assert!(!text.contains("update-policy"), "{text}");
    }

    #[test]
    fn the_zone_holds_the_token_and_the_test_records() {
        let text = zone_file(
            "example.test",
            "127.0.0.7".parse().unwrap(),
            Some("tok"),
            &["host IN A 192.0.2.1".to_owned()],
        );
        assert!(text.contains("@ IN TXT \"tok\"\n"), "{text}");
        assert!(text.contains("ns IN A 127.0.0.7\n"), "{text}");
        assert!(text.ends_with("host IN A 192.0.2.1\n"), "{text}");
    }

    #[test]
    fn chaos_zones_put_every_zone_into_a_view_of_its_class() {
        let dir = Path::new("/d");
        let text = NamedConf {
            chaos_zones: vec!["whoami.cloudflare", "example.test"],
            ..conf(dir)
        }
        .render();
        let internet = text.find("view \"internet\" IN {").expect(&text);
        let chaos = text.find("view \"chaos\" CH {").expect(&text);
        let zone = |needle: &str| text.find(needle).expect(&text);
        let example = zone(
            "    zone \"example.test\" { type primary; file \"/d/example.test.zone\"; update-policy",
        );
        let other = zone("    zone \"other.test\" { type primary;");
        let whoami = zone(
            "    zone \"whoami.cloudflare\" CH { type primary; file \"/d/whoami.cloudflare.ch.zone\"; };",
        );
        let example_ch = zone(
            "    zone \"example.test\" CH { type primary; file \"/d/example.test.ch.zone\"; };",
        );
        assert!(
            internet < example && example < other && other < chaos,
            "{text}"
        );
        assert!(chaos < whoami && whoami < example_ch, "{text}");
        assert_eq!(text.matches("match-clients { any; };").count(), 2, "{text}");
        assert!(text.ends_with("};\n};\n"), "{text}");
        // Keys, options and listeners stay global.
        assert!(text.starts_with("include \"/d/ddns-key.key\";"), "{text}");
        assert!(text.find("options {").expect(&text) < internet, "{text}");
    }

    #[test]
    fn chaos_texts_are_quoted_whole_and_escaped() {
        let text = chaos_zone_file(
            "whoami.cloudflare",
            &["198.51.100.1 198.51.100.2", "say \"hi\" \\o/"],
        );
        assert!(
            text.contains("@ CH SOA ns.whoami.cloudflare. hostmaster.whoami.cloudflare. 1 "),
            "{text}"
        );
        assert!(text.contains("@ CH NS ns.whoami.cloudflare.\n"), "{text}");
        assert!(
            text.contains("@ CH TXT \"198.51.100.1 198.51.100.2\"\n"),
            "{text}"
        );
        assert!(
            text.ends_with("@ CH TXT \"say \\\"hi\\\" \\\\o/\"\n"),
            "{text}"
        );
    }
}
