//! What starting an instance needs besides the configuration text:
//! programs, keys, certificates, an address and ports.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::TsigKey;
use super::config::{self, CA_FILE, CA_KEY_FILE, CERT_FILE, CERT_KEY_FILE};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// `program` on `PATH` or in the sbin directories a non-login root shell
/// may lack.
pub(super) fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Whether the effective user is root, from `/proc/self/status`.
pub(super) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            == Some("0")
    })
}

/// An address 127.0.0.N/32 this instance added to `lo`, deleted on drop.
pub(super) struct LoopbackAddress {
    pub(super) ip: IpAddr,
}

impl LoopbackAddress {
    /// Adds the first free 127.0.0.N, N in 2..=254, starting from a counter
    /// mixed with the pid so that test processes started together mostly
    /// try different addresses first.
    pub(super) fn claim() -> Self {
        let start = std::process::id()
            .wrapping_mul(37)
            .wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        for i in 0..253 {
            let last = u8::try_from(2 + start.wrapping_add(i) % 253).expect("2..=254 fits a byte");
            let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
            let output = Command::new("ip")
                .args([
                    "addr",
                    "add",
                    &format!("{ip}/32"),
                    "dev",
                    "lo",
                    "label",
                    "lo:ddnst",
                ])
                .output()
                .expect("run ip");
            if output.status.success() {
                return Self { ip };
            }
            let stderr = String::from_utf8_lossy(&output.stderr);
            if !stderr.contains("already assigned") && !stderr.contains("File exists") {
                panic!("cannot add {ip} to lo: {}", stderr.trim());
            }
        }
        panic!("every address 127.0.0.2..=127.0.0.254 is already on lo");
    }
}

impl Drop for LoopbackAddress {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["addr", "del", &format!("{}/32", self.ip), "dev", "lo"])
            .output();
    }
}

/// Four distinct ports free for both TCP and UDP on `ip` right now.
pub(super) fn free_ports(ip: IpAddr) -> [u16; 4] {
    let mut held = Vec::new();
    for _ in 0..100 {
        let tcp =
            TcpListener::bind((ip, 0)).unwrap_or_else(|e| panic!("bind a TCP port on {ip}: {e}"));
        let port = tcp.local_addr().expect("a bound address").port();
        if let Ok(udp) = UdpSocket::bind((ip, port)) {
            held.push((port, tcp, udp));
            if let [a, b, c, d] = &held[..] {
                return [a.0, b.0, c.0, d.0];
            }
        }
    }
    panic!("no port on {ip} was free for both TCP and UDP");
}

/// A random hex string (std's hasher keys are seeded from the OS).
pub(super) fn random_token() -> String {
    let word = || RandomState::new().build_hasher().finish();
    format!("ddns-testkit-{:016x}{:016x}", word(), word())
}

/// The text `tsig-keygen -a algorithm name` prints: a `key` stanza.
pub(super) fn key_text(name: &str, algorithm: &str) -> String {
    let output = run(
        Command::new(find_program("tsig-keygen").expect("tsig-keygen"))
            .args(["-a", algorithm, name]),
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(super) fn make_key(dir: &Path, name: &str, algorithm: &str) -> TsigKey {
    let text = key_text(name, algorithm);
    let secret = config::parse_secret(&text)
        .unwrap_or_else(|| panic!("no secret in tsig-keygen's output: {text}"));
    let file = dir.join(format!("{name}.key"));
    write_file(&file, &text);
    TsigKey {
        name: name.to_owned(),
        algorithm: algorithm.to_owned(),
        secret,
        file,
    }
}

/// A CA and a server certificate it signs. Not a single self-signed
/// certificate: rustls refuses a CA certificate as the server's own.
pub(super) fn make_certificate(dir: &Path, ip: IpAddr) {
    let openssl = find_program("openssl").expect("openssl");
    let new_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(Command::new(&openssl)
        .args(["req", "-x509", "-days", "2", "-subj", "/CN=ddns-testkit CA"])
        .args(new_key)
        .arg("-keyout")
        .arg(dir.join(CA_KEY_FILE))
        .arg("-out")
        .arg(dir.join(CA_FILE)));
    let mut names = format!("subjectAltName=IP:{ip},DNS:localhost");
    if ip != IpAddr::V4(Ipv4Addr::LOCALHOST) {
        names.push_str(",IP:127.0.0.1");
    }
    run(Command::new(&openssl)
        .args(["req", "-x509", "-days", "2", "-subj", "/CN=localhost"])
        .args(new_key)
        .arg("-CA")
        .arg(dir.join(CA_FILE))
        .arg("-CAkey")
        .arg(dir.join(CA_KEY_FILE))
        .args(["-addext", &names])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(dir.join(CERT_KEY_FILE))
        .arg("-out")
        .arg(dir.join(CERT_FILE)));
}

/// A zone for `named-checkzone`: its class (`IN`, `CH`), name and file.
pub(super) struct ZoneCheck<'a> {
    pub(super) class: &'a str,
    pub(super) name: &'a str,
    pub(super) file: PathBuf,
    /// What made its records, for the error: `BindOptions::record lines`.
    pub(super) made_by: &'a str,
}

/// `named-checkconf` and `named-checkzone`, whose messages say more than a
/// named that exits at once.
pub(super) fn check_config(conf: &Path, zones: &[ZoneCheck<'_>]) {
    let checkconf = find_program("named-checkconf").expect("named-checkconf");
    let output = Command::new(checkconf)
        .arg(conf)
        .output()
        .expect("run named-checkconf");
    if !output.status.success() {
        panic!(
            "named-checkconf rejects the generated configuration:\n{}{}\n--- {} ---\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
            conf.display(),
            std::fs::read_to_string(conf).unwrap_or_default()
        );
    }
    let checkzone = find_program("named-checkzone").expect("named-checkzone");
    for ZoneCheck {
        class,
        name,
        file,
        made_by,
    } in zones
    {
        let output = Command::new(&checkzone)
            .args(["-c", class, name])
            .arg(file)
            .output()
            .expect("run named-checkzone");
        if !output.status.success() {
            panic!(
                "named-checkzone rejects zone {name}/{class} (check the {made_by}):\n{}{}\n--- {} ---\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                file.display(),
                std::fs::read_to_string(file).unwrap_or_default()
            );
        }
    }
}

/// Runs a command that must succeed, panicking with its output otherwise.
pub(super) fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{command:?} failed ({}): {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

pub(super) fn run_with_stdin(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    child
        .stdin
        .take()
        .expect("a piped stdin")
        .write_all(input.as_bytes())
        .expect("write to the child's stdin");
    child.wait_with_output().expect("wait for the child")
}

pub(super) fn write_file(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
