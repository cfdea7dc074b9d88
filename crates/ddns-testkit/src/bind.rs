//! A real BIND9 `named` per test, on an address and ports of its own.
//!
//! BIND 9.18 starts and reports "listening" on a port another process
//! already holds (its sockets are load-balanced), so a free port alone does
//! not keep parallel tests apart. Each instance therefore listens on its own
//! loopback address 127.0.0.N, on ports found free on that address, and
//! serves a random token that the readiness check looks for.
//!
//! named listens only on addresses configured on an interface, so the
//! instance adds 127.0.0.N/32 to `lo` (label `lo:ddnst`) and deletes it on
//! drop. Adding an address another process holds fails, which makes the
//! address a lock shared by every test process. A test process killed with
//! SIGKILL leaves its address behind; later instances pass over it.

mod config;
mod setup;

use std::fmt;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::skip_or_fail;
use config::{
    CA_FILE, LOG_FILE, NamedConf, RNDC_CONF_FILE, RNDC_KEY, RNDC_KEY_FILE, STDERR_FILE, ZONES_DIR,
    ZONES_INCLUDE,
};
use setup::{
    LoopbackAddress, ZoneCheck, check_config, find_program, free_ports, is_root, key_text,
    make_certificate, make_key, random_token, run, run_with_stdin, write_file,
};

/// The zone every instance serves and every key may update.
const ZONE: &str = "example.test";
/// The zone no key may update, served when asked for.
const OTHER_ZONE: &str = "other.test";
/// The key made when a test asks for none.
const DEFAULT_KEY: (&str, &str) = ("ddns-key", "hmac-sha256");
/// Bounds a failing start; a healthy named answers in about 100 ms.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bounds a stuck `dig`, `nsupdate` or statistics request.
const TOOL_TIMEOUT_SECS: u64 = 5;
/// Ports inside a network namespace, which is fresh and holds nothing else.
const NETNS_PORTS: (u16, u16, u16, u16) = (53, 443, 8053, 953);

/// What a test wants from its server. The default: zone `example.test`,
/// one key `ddns-key` (hmac-sha256), no DoH, no class CH zone, its own
/// loopback address.
#[derive(Debug, Clone, Default)]
pub struct BindOptions {
    keys: Vec<(String, String)>,
    records: Vec<String>,
    other_zone: bool,
    extra_zones: Vec<String>,
    max_udp_size: Option<u16>,
    doh: bool,
    allow_unsigned_updates: bool,
    netns: Option<String>,
    address: Option<IpAddr>,
    chaos_txt: Vec<(String, String)>,
    rndc: bool,
}

impl BindOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a TSIG key `name` made by `tsig-keygen -a algorithm` (for
    /// example `hmac-sha384`) and allowed to update the zone. Asking for
    /// any key replaces the default `ddns-key`; names must be distinct.
    pub fn key(mut self, name: &str, algorithm: &str) -> Self {
        assert!(
            self.keys.iter().all(|(n, _)| n != name),
            "BindOptions::key: key {name} asked for twice"
        );
        self.keys.push((name.to_owned(), algorithm.to_owned()));
        self
    }

    /// Adds a zone-file line to `example.test`, relative to the zone, which
    /// must start with its owner name: `host IN A 198.51.100.7`.
    pub fn record(mut self, line: &str) -> Self {
        self.records.push(line.to_owned());
        self
    }

    /// Also serves `other.test`, a zone that no key may update (UPDATE gets
    /// REFUSED), for tests of the wrong-zone paths.
    pub fn other_zone(mut self, yes: bool) -> Self {
        self.other_zone = yes;
        self
    }

    /// Also serves zone `name`, empty but for its SOA and NS, and open to
    /// updates with the same keys as `example.test`.
    pub fn extra_zone(mut self, name: &str) -> Self {
        self.extra_zones.push(name.to_owned());
        self
    }

    /// Sets `max-udp-size` (512 makes large answers truncated over UDP).
    pub fn max_udp_size(mut self, bytes: u16) -> Self {
        self.max_udp_size = Some(bytes);
        self
    }

    /// Also serves DNS over HTTPS (RFC 8484) with a certificate from a CA
    /// made for the instance; see [`Bind::doh_url`] and [`Bind::ca_file`].
    pub fn doh(mut self, yes: bool) -> Self {
        self.doh = yes;
        self
    }

    /// Lets anyone update `example.test` without TSIG (`allow-update { any; }`
    /// instead of the per-key `update-policy`), like a server that trusts
    /// addresses. Signed updates with a known key still work.
    pub fn allow_unsigned_updates(mut self, yes: bool) -> Self {
        self.allow_unsigned_updates = yes;
        self
    }

    /// Runs named inside the network namespace `netns` (`ip netns exec`),
    /// after bringing its `lo` up, listening on [`BindOptions::address`]
    /// (default 127.0.0.1) on ports 53 (DNS), 443 (DoH) and 8053
    /// (statistics). The `dig`, `nsupdate` and statistics requests of
    /// [`Bind`] then run in the namespace too.
    pub fn netns(mut self, netns: Option<String>) -> Self {
        self.netns = netns;
        self
    }

    /// Listens on `ip` instead of a loopback address of its own; named only
    /// listens on addresses an interface has. Outside a namespace the ports
    /// are still picked free on that address.
    pub fn address(mut self, ip: IpAddr) -> Self {
        self.address = Some(ip);
        self
    }

    /// Also serves a TXT record in class CH (CHAOS) holding `text` as one
    /// string, at the apex of a CH zone `name`, the way 1.1.1.1 answers
    /// `whoami.cloudflare CH TXT`. Asking again for the same name adds
    /// another TXT record to that zone.
    ///
    /// named serves class CH zones only inside a view of class CH, and
    /// once one view exists every zone must be in a view: with this set,
    /// the class IN zones move into a view `internet` of class IN, the CH
    /// zones into a view `chaos`, both for every client. Everything else
    /// behaves the same.
    pub fn chaos_txt(mut self, name: &str, text: &str) -> Self {
        self.chaos_txt.push((name.to_owned(), text.to_owned()));
        self
    }

    /// Also opens an rndc control channel (a key of its own, on the
    /// instance's address) and includes `zones/zones.conf` of the instance's
    /// directory (created empty) in named.conf, for tests of zone files
    /// delivered into [`Bind::zones_dir`] and loaded with
    /// [`Bind::rndc_command`]`(&["reload", ZONE])` or `reconfig`.
    pub fn rndc(mut self, yes: bool) -> Self {
        self.rndc = yes;
        self
    }

    /// The CH zones, in the order first asked for, with their texts.
    fn chaos_zones(&self) -> Vec<(&str, Vec<&str>)> {
        let mut zones: Vec<(&str, Vec<&str>)> = Vec::new();
        for (name, text) in &self.chaos_txt {
            match zones.iter_mut().find(|(zone, _)| zone == name) {
                Some((_, texts)) => texts.push(text),
                None => zones.push((name, vec![text])),
            }
        }
        zones
    }
}

/// A TSIG key the server knows. `Debug` leaves the secret out.
#[derive(Clone)]
pub struct TsigKey {
    name: String,
    algorithm: String,
    secret: String,
    file: PathBuf,
}

impl TsigKey {
    /// The key name, as in `named.conf` (`ddns-key`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The algorithm, as `tsig-keygen` spells it (`hmac-sha256`).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The base64 secret.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// A file holding just this key, as `tsig-keygen` wrote it.
    pub fn file(&self) -> &Path {
        &self.file
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .field("file", &self.file)
            .finish()
    }
}

/// The programs an instance runs, found once at start.
struct Tools {
    named: PathBuf,
    dig: PathBuf,
}

/// A running `named` serving `example.test`, killed and its directory
/// removed on drop.
pub struct Bind {
    dir: tempfile::TempDir,
    conf: PathBuf,
    netns: Option<String>,
    dns: SocketAddr,
    doh: Option<SocketAddr>,
    stats: SocketAddr,
    control: Option<SocketAddr>,
    keys: Vec<TsigKey>,
    other_zone: bool,
    chaos_zones: Vec<String>,
    token: String,
    tools: Tools,
    child: Option<Child>,
    /// Dropped after named is killed (fields drop after `Drop::drop`).
    _loopback: Option<LoopbackAddress>,
}

impl Bind {
    /// Starts named and waits until it serves the zone. `None` (after
    /// saying why) when BIND is not installed or the process is not root,
    /// unless `DDNS_REQUIRE_SYSTEM_TESTS=1`, which makes that a failure.
    /// Panics with named's own words when the configuration is refused or
    /// named stops or does not answer during start.
    pub fn start(test: &str, options: BindOptions) -> Option<Self> {
        let mut wanted = vec![
            "named",
            "named-checkconf",
            "named-checkzone",
            "tsig-keygen",
            "dig",
            "ip",
        ];
        if options.doh {
            wanted.push("openssl");
        }
        if options.netns.is_some() {
            wanted.push("curl");
        }
        if options.rndc {
            wanted.push("rndc");
        }
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|p| find_program(p).is_none())
            .collect();
        if !missing.is_empty() {
            skip_or_fail(
                test,
                &format!(
                    "{} not installed (apt-get install bind9 bind9-utils bind9-dnsutils openssl curl iproute2)",
                    missing.join(", ")
                ),
            );
            return None;
        }
        if !is_root() {
            skip_or_fail(
                test,
                "not root (named and the loopback address it listens on need it)",
            );
            return None;
        }
        let tools = Tools {
            named: find_program("named").expect("named was found above"),
            dig: find_program("dig").expect("dig was found above"),
        };

        let dir = tempfile::Builder::new()
            .prefix("ddns-bind-")
            .tempdir()
            .expect("create a directory for named");
        let mut loopback = None;
        let (dns, doh, stats, control) = match &options.netns {
            Some(netns) => {
                let ip = options.address.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
                run(Command::new("ip").args(["-n", netns, "link", "set", "lo", "up"]));
                let (d, h, s, c) = NETNS_PORTS;
                (
                    SocketAddr::new(ip, d),
                    SocketAddr::new(ip, h),
                    SocketAddr::new(ip, s),
                    SocketAddr::new(ip, c),
                )
            }
            None => {
                let ip = match options.address {
                    Some(ip) => ip,
                    None => loopback.insert(LoopbackAddress::claim()).ip,
                };
                let ports = free_ports(ip);
                (
                    SocketAddr::new(ip, ports[0]),
                    SocketAddr::new(ip, ports[1]),
                    SocketAddr::new(ip, ports[2]),
                    SocketAddr::new(ip, ports[3]),
                )
            }
        };
        let doh = options.doh.then_some(doh);
        let control = options.rndc.then_some(control);
        if let Some(control) = control {
            let key = key_text(RNDC_KEY, "hmac-sha256");
            write_file(&dir.path().join(RNDC_KEY_FILE), &key);
            write_file(
                &dir.path().join(RNDC_CONF_FILE),
                &config::rndc_conf(&key, control),
            );
            let zones = dir.path().join(ZONES_DIR);
            std::fs::create_dir(&zones)
                .unwrap_or_else(|e| panic!("create {}: {e}", zones.display()));
            write_file(&zones.join(ZONES_INCLUDE), "");
        }

        let key_specs = if options.keys.is_empty() {
            vec![(DEFAULT_KEY.0.to_owned(), DEFAULT_KEY.1.to_owned())]
        } else {
            options.keys.clone()
        };
        let keys: Vec<TsigKey> = key_specs
            .iter()
            .map(|(name, algorithm)| make_key(dir.path(), name, algorithm))
            .collect();
        if doh.is_some() {
            make_certificate(dir.path(), dns.ip());
        }

        let token = random_token();
        write_file(
            &config::zone_path(dir.path(), ZONE),
            &config::zone_file(ZONE, dns.ip(), Some(&token), &options.records),
        );
        if options.other_zone {
            write_file(
                &config::zone_path(dir.path(), OTHER_ZONE),
                &config::zone_file(OTHER_ZONE, dns.ip(), None, &[]),
            );
        }
        for zone in &options.extra_zones {
            write_file(
                &config::zone_path(dir.path(), zone),
                &config::zone_file(zone, dns.ip(), None, &[]),
            );
        }
        let chaos_zones = options.chaos_zones();
        for (zone, texts) in &chaos_zones {
            write_file(
                &config::chaos_zone_path(dir.path(), zone),
                &config::chaos_zone_file(zone, texts),
            );
        }
        let conf = dir.path().join("named.conf");
        write_file(
            &conf,
            &NamedConf {
                dir: dir.path(),
                dns,
                doh,
                stats,
                keys: keys.iter().map(|k| (k.name(), k.file())).collect(),
                zone: ZONE,
                other_zone: options.other_zone.then_some(OTHER_ZONE),
                extra_zones: options.extra_zones.iter().map(String::as_str).collect(),
                max_udp_size: options.max_udp_size,
                allow_unsigned_updates: options.allow_unsigned_updates,
                chaos_zones: chaos_zones.iter().map(|(zone, _)| *zone).collect(),
                control,
            }
            .render(),
        );
        let mut zones = vec![ZoneCheck {
            class: "IN",
            name: ZONE,
            file: config::zone_path(dir.path(), ZONE),
            made_by: "BindOptions::record lines",
        }];
        if options.other_zone {
            zones.push(ZoneCheck {
                class: "IN",
                name: OTHER_ZONE,
                file: config::zone_path(dir.path(), OTHER_ZONE),
                made_by: "generated other.test zone",
            });
        }
        for zone in &options.extra_zones {
            zones.push(ZoneCheck {
                class: "IN",
                name: zone,
                file: config::zone_path(dir.path(), zone),
                made_by: "BindOptions::extra_zone",
            });
        }
        for (zone, _) in &chaos_zones {
            zones.push(ZoneCheck {
                class: "CH",
                name: zone,
                file: config::chaos_zone_path(dir.path(), zone),
                made_by: "BindOptions::chaos_txt texts",
            });
        }
        check_config(&conf, &zones);
        let chaos_zones = chaos_zones
            .iter()
            .map(|(zone, _)| (*zone).to_owned())
            .collect();

        let mut bind = Bind {
            dir,
            conf,
            netns: options.netns,
            dns,
            doh,
            stats,
            control,
            keys,
            other_zone: options.other_zone,
            chaos_zones,
            token,
            tools,
            child: None,
            _loopback: loopback,
        };
        bind.spawn();
        Some(bind)
    }

    /// Where named answers DNS over UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.dns
    }

    /// `https://ADDR:PORT/dns-query` when DoH was asked for.
    pub fn doh_url(&self) -> Option<String> {
        self.doh.map(|addr| format!("https://{addr}/dns-query"))
    }

    /// The CA certificate to trust for the DoH listener, whose own
    /// certificate it signed (valid for the listener's address, 127.0.0.1
    /// and `localhost`).
    pub fn ca_file(&self) -> Option<PathBuf> {
        self.doh.map(|_| self.dir.path().join(CA_FILE))
    }

    /// The key called `name`; panics when there is none.
    pub fn key(&self, name: &str) -> &TsigKey {
        self.keys
            .iter()
            .find(|k| k.name == name)
            .unwrap_or_else(|| panic!("no TSIG key {name}; the server has {:?}", self.keys))
    }

    /// Every key, in the order asked for (the default key alone otherwise).
    pub fn keys(&self) -> &[TsigKey] {
        &self.keys
    }

    /// The zone the keys may update: `example.test`.
    pub fn zone(&self) -> &str {
        ZONE
    }

    /// The zone no key may update (`other.test`), when asked for.
    pub fn other_zone(&self) -> Option<&str> {
        self.other_zone.then_some(OTHER_ZONE)
    }

    /// The directory whose `zones.conf` named.conf includes, when
    /// [`BindOptions::rndc`] was asked for.
    pub fn zones_dir(&self) -> Option<PathBuf> {
        self.control.map(|_| self.dir.path().join(ZONES_DIR))
    }

    /// The command line of `rndc` talking to this instance's control
    /// channel, followed by `args` (`&["reload", "example.test"]`), when
    /// [`BindOptions::rndc`] was asked for. Not for an instance in a
    /// network namespace (the command runs outside it).
    pub fn rndc_command(&self, args: &[&str]) -> Option<Vec<String>> {
        self.control?;
        let rndc = find_program("rndc")?;
        let mut command = vec![
            rndc.display().to_string(),
            "-c".to_owned(),
            self.dir.path().join(RNDC_CONF_FILE).display().to_string(),
        ];
        command.extend(args.iter().map(|a| (*a).to_owned()));
        Some(command)
    }

    /// Runs [`Bind::rndc_command`] with `args`; its output, or why it
    /// failed. Panics without [`BindOptions::rndc`].
    pub fn rndc(&self, args: &[&str]) -> Result<String, String> {
        let argv = self
            .rndc_command(args)
            .expect("Bind::rndc needs BindOptions::rndc(true)");
        let output = Command::new(&argv[0])
            .args(&argv[1..])
            .output()
            .unwrap_or_else(|e| panic!("run rndc: {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        if output.status.success() {
            Ok(text)
        } else {
            Err(format!(
                "rndc {} failed ({}): {text}",
                args.join(" "),
                output.status
            ))
        }
    }

    /// The random token served as the apex TXT record of `example.test`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The instance's directory (configuration, zone files, journals, logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// How many UPDATE messages named received since it last started,
    /// whatever their outcome (`opcodes.UPDATE` of the statistics channel).
    pub fn update_count(&self) -> u64 {
        self.counter("opcodes", "UPDATE")
    }

    /// A counter of the statistics channel's `/json/v1/server`, such as
    /// `("nsstats", "ReqBadSIG")` or `("rcodes", "REFUSED")`; 0 when named
    /// has not counted any yet. Counters restart with named.
    pub fn counter(&self, section: &str, name: &str) -> u64 {
        let body = self.statistics();
        let json: serde_json::Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("statistics are not JSON ({e}): {body}"));
        json[section][name].as_u64().unwrap_or(0)
    }

    /// What named serves for `name` and `rtype` (`dig +norec +short`), one
    /// string per record in dig's presentation (TXT keeps its quotes),
    /// sorted. Empty for NXDOMAIN, for no data and for REFUSED. Panics when
    /// named does not answer.
    pub fn query(&self, name: &str, rtype: &str) -> Vec<String> {
        self.query_class("IN", name, rtype)
    }

    /// [`Bind::query`] in another class: `query_class("CH",
    /// "whoami.cloudflare", "TXT")` for a [`BindOptions::chaos_txt`] zone.
    pub fn query_class(&self, class: &str, name: &str, rtype: &str) -> Vec<String> {
        let stdout = self
            .dig(class, name, rtype)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut records: Vec<String> = stdout
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with(';'))
            .map(str::to_owned)
            .collect();
        records.sort();
        records
    }

    /// Runs `nsupdate` against this server: `server`, `zone ZONE`, the
    /// `updates` lines (`update add x.example.test 60 A 192.0.2.1`), `send`.
    /// Signed with the key called `key` (from its key file), unsigned with
    /// `None`; panics when there is no such key. The error holds what
    /// nsupdate printed (`update failed: REFUSED`).
    pub fn nsupdate(&self, key: Option<&str>, zone: &str, updates: &[&str]) -> Result<(), String> {
        let nsupdate = find_program("nsupdate")
            .ok_or("nsupdate is not installed (apt-get install bind9-dnsutils)")?;
        let mut command = self.command(&nsupdate);
        command.args(["-t", &TOOL_TIMEOUT_SECS.to_string()]);
        if let Some(key) = key {
            command.arg("-k").arg(self.key(key).file());
        }
        let mut script = format!(
            "server {} {}\nzone {zone}\n",
            self.dns.ip(),
            self.dns.port()
        );
        for line in updates {
            script.push_str(line);
            script.push('\n');
        }
        script.push_str("send\n");
        let output = run_with_stdin(command, &script);
        if output.status.success() {
            Ok(())
        } else {
            Err(format!(
                "nsupdate failed ({}): {}{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            ))
        }
    }

    /// named's log: queries, updates, security and everything else.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(LOG_FILE)).unwrap_or_default()
    }

    /// Kills named, for tests of a server that goes away. Does nothing when
    /// it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts named again (stopping it first if it runs) on the same
    /// address, ports and configuration and waits until it answers. The
    /// zone's journal keeps the updates applied before; counters restart.
    pub fn start_again(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let stderr = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path().join(STDERR_FILE))
            .expect("open named's stderr file");
        let stdout = stderr.try_clone().expect("clone a file handle");
        let mut command = self.command(&self.tools.named);
        command
            .args(["-f", "-n", "1", "-c"])
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        self.child = Some(command.spawn().expect("spawn named"));
        self.wait_ready();
    }

    /// Polls until named serves this instance's token; a server answering
    /// without it is another test's.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let exited = match self.child.as_mut().map(Child::try_wait) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Ok(None)) => None,
                Some(Err(e)) => Some(e.to_string()),
                None => Some("not started".to_owned()),
            };
            if let Some(status) = exited {
                self.child = None;
                panic!("named exited during start ({status}){}", self.log_tail());
            }
            let last = match self.dig("IN", ZONE, "TXT") {
                // CH zones load next to the IN ones, but not necessarily
                // before the token is served.
                Ok(out) if out.contains(&self.token) => match self.chaos_zone_missing() {
                    None => return,
                    Some(missing) => missing,
                },
                Ok(out) => out,
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                self.stop();
                panic!(
                    "named on {} did not serve its token within {READY_TIMEOUT:?}; last answer: {}{}",
                    self.dns,
                    last.trim(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Why the first CH zone that named does not serve yet is not served
    /// (no SOA in the answer), or `None` when all are.
    fn chaos_zone_missing(&self) -> Option<String> {
        self.chaos_zones
            .iter()
            .find_map(|zone| match self.dig("CH", zone, "SOA") {
                Ok(out) if !out.trim().is_empty() => None,
                Ok(_) => Some(format!("no SOA for {zone} in class CH yet")),
                Err(e) => Some(e),
            })
    }

    /// `dig +norec +short` output, or why dig failed.
    fn dig(&self, class: &str, name: &str, rtype: &str) -> Result<String, String> {
        let mut command = self.command(&self.tools.dig);
        command
            .args(["+norec", "+short", "+time=1", "+tries=1", "-p"])
            .arg(self.dns.port().to_string())
            .arg(format!("@{}", self.dns.ip()))
            .args(["-c", class, "-t", rtype, "-q", name]);
        let output = command.output().expect("run dig");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "dig {name} {class} {rtype} @{} failed ({}): {}{}",
                self.dns,
                output.status,
                stdout.trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// The body of `/json/v1/server`.
    fn statistics(&self) -> String {
        let path = "/json/v1/server";
        if let Some(netns) = &self.netns {
            // The statistics listener is inside the namespace, out of reach
            // of this process's sockets.
            let output = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    netns,
                    "curl",
                    "-sS",
                    "--fail",
                    "--max-time",
                ])
                .arg(TOOL_TIMEOUT_SECS.to_string())
                .arg(format!("http://{}{path}", self.stats))
                .output()
                .expect("run curl");
            assert!(
                output.status.success(),
                "statistics request failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            return String::from_utf8_lossy(&output.stdout).into_owned();
        }
        let timeout = Duration::from_secs(TOOL_TIMEOUT_SECS);
        let mut stream = TcpStream::connect_timeout(&self.stats, timeout)
            .unwrap_or_else(|e| panic!("connect to named's statistics on {}: {e}", self.stats));
        stream
            .set_read_timeout(Some(timeout))
            .expect("set a timeout");
        stream
            .set_write_timeout(Some(timeout))
            .expect("set a timeout");
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n",
            self.stats
        )
        .expect("send the statistics request");
        let mut response = String::new();
        stream
            .read_to_string(&mut response)
            .expect("read the statistics response");
        let (head, body) = response
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
        assert!(
            head.lines().next().is_some_and(|l| l.contains(" 200 ")),
            "statistics request failed: {head}"
        );
        body.to_owned()
    }

    /// A command running `program`, inside the namespace when there is one.
    fn command(&self, program: &Path) -> Command {
        match &self.netns {
            Some(netns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", netns]).arg(program);
                command
            }
            None => Command::new(program),
        }
    }

    /// The end of named's log and stderr, to explain a failed start.
    fn log_tail(&self) -> String {
        let mut text = String::new();
        for file in [LOG_FILE, STDERR_FILE] {
            let content = std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default();
            let lines: Vec<&str> = content.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            text.push_str(&format!("\n--- {file} (last lines) ---\n{tail}"));
        }
        text
    }
}

impl Drop for Bind {
    fn drop(&mut self) {
        self.stop();
    }
}
