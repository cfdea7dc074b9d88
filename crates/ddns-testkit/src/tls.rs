//! TLS and HTTP fixtures: a throwaway certificate authority that signs
//! server certificates (with `openssl`), and an echo service built on
//! python3's `http.server`, plain or wrapped in `ssl`, on any address and
//! optionally inside a network namespace.

use std::cell::Cell;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Netns, skip_or_fail};

/// A certificate authority in a temporary directory, removed on drop.
///
/// Not a single self-signed certificate: rustls refuses a CA certificate
/// as a server's own.
#[derive(Debug)]
pub struct TestCa {
    dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    issued: Cell<u32>,
}

/// A server certificate and its key, signed by a [`TestCa`].
#[derive(Debug, Clone)]
pub struct ServerCertificate {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// Its private key, PEM, unencrypted.
    pub key: PathBuf,
}

/// `openssl ARGS…`, an error with its message when it fails.
fn openssl(args: &[&str], paths: &[(&str, &Path)]) -> Result<(), String> {
    let mut command = Command::new("openssl");
    command.args(args);
    // An EC P-256 key, unencrypted.
    command.args([
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ]);
    for (flag, path) in paths {
        command.arg(flag).arg(path);
    }
    let output = command
        .output()
        .map_err(|e| format!("cannot run openssl: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl TestCa {
    /// A new CA ("ddns-testkit CA", valid two days), or `None` after
    /// saying why when `openssl` cannot run here and system tests are not
    /// required.
    pub fn create(test: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let cert = dir.path().join("ca.pem");
        let key = dir.path().join("ca.key");
        let made = openssl(
            &["req", "-x509", "-days", "2", "-subj", "/CN=ddns-testkit CA"],
            &[("-keyout", &key), ("-out", &cert)],
        );
        if let Err(reason) = made {
            skip_or_fail(test, &reason);
            return None;
        }
        Some(Self {
            dir,
            cert,
            key,
            issued: Cell::new(0),
        })
    }

    /// The CA's certificate (PEM): what a client must trust.
    pub fn ca_file(&self) -> &Path {
        &self.cert
    }

    /// A server certificate for `names`, each an IP address or a DNS name
    /// (`127.0.0.1`, `::1`, `localhost`), valid two days.
    pub fn issue(&self, names: &[&str]) -> ServerCertificate {
        let serial = self.issued.get() + 1;
        self.issued.set(serial);
        let cert = self.dir.path().join(format!("server{serial}.pem"));
        let key = self.dir.path().join(format!("server{serial}.key"));
        let alt_names: Vec<String> = names
            .iter()
            .map(|name| match name.parse::<IpAddr>() {
                Ok(ip) => format!("IP:{ip}"),
                Err(_) => format!("DNS:{name}"),
            })
            .collect();
        let subject = format!("/CN={}", names.first().copied().unwrap_or("localhost"));
        let extension = format!("subjectAltName={}", alt_names.join(","));
        let result = openssl(
            &[
                "req",
                "-x509",
                "-days",
                "2",
                "-subj",
                &subject,
                "-addext",
                &extension,
                "-addext",
                "basicConstraints=critical,CA:FALSE",
                "-addext",
                "extendedKeyUsage=serverAuth",
            ],
            &[
                ("-CA", &self.cert),
                ("-CAkey", &self.key),
                ("-keyout", &key),
                ("-out", &cert),
            ],
        );
        if let Err(reason) = result {
            panic!("cannot issue a certificate for {names:?}: {reason}");
        }
        ServerCertificate { cert, key }
    }
}

/// The echo service: every request is appended to the hits file
/// (`CLIENT PATH`) before it is answered, then
///
/// - `/say/TEXT` answers `TEXT` (percent-decoded), `text/plain`;
/// - `/redirect?to=URL` answers 302 to `URL`;
/// - any other path answers the client's address, `text/plain`.
///
/// It prints its port once listening. HTTP/1.0: one request per connection.
const ECHO_SCRIPT: &str = r#"
import http.server, socket, ssl, sys, threading, urllib.parse

host, port, hits, cert, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
lock = threading.Lock()

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        with lock, open(hits, "a") as f:
            f.write(f"{self.client_address[0]} {url.path}\n")
        if url.path == "/redirect":
            target = urllib.parse.parse_qs(url.query)["to"][0]
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path.startswith("/say/"):
            body = urllib.parse.unquote(url.path[len("/say/"):])
        else:
            body = self.client_address[0]
        data = (body + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    daemon_threads = True

server = Server((host, port), Handler)
if cert:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// One request the echo service got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The address the request came from.
    pub client: IpAddr,
    /// The path asked (no query).
    pub path: String,
}

/// What [`HttpEcho::on`] starts: where, with or without TLS, in which
/// namespace.
#[derive(Debug)]
pub struct EchoBuilder<'a> {
    ip: IpAddr,
    tls: Option<&'a ServerCertificate>,
    netns: Option<&'a Netns>,
}

/// A running echo service (see the paths it answers in
/// [`HttpEcho::on`]), killed on drop.
#[derive(Debug)]
pub struct HttpEcho {
    child: Child,
    base: String,
    hits: PathBuf,
    _dir: tempfile::TempDir,
}

impl HttpEcho {
    /// An echo service on `ip`, on a port the system picks. It answers
    ///
    /// - `/say/TEXT`: `TEXT` (percent-decoded);
    /// - `/redirect?to=URL`: a 302 to `URL`;
    /// - any other path: the address the request came from.
    ///
    /// ```no_run
    /// use ddns_testkit::HttpEcho;
    /// let Some(echo) = HttpEcho::on("127.0.0.1".parse().unwrap()).start("my_test") else { return };
    /// assert_eq!(echo.url("/ip"), format!("http://127.0.0.1:{}/ip", echo.port()));
    /// ```
    pub fn on(ip: IpAddr) -> EchoBuilder<'static> {
        EchoBuilder {
            ip,
            tls: None,
            netns: None,
        }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a port in the base URL")
    }

    /// `http[s]://IP:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Every request so far, in order.
    pub fn hits(&self) -> Vec<Hit> {
        std::fs::read_to_string(&self.hits)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (client, path) = line.split_once(' ')?;
                Some(Hit {
                    client: client.parse().ok()?,
                    path: path.to_string(),
                })
            })
            .collect()
    }

    /// Waits until it has had at least `count` requests and returns them
    /// (panics after `timeout`; only a failing test waits that long).
    pub fn wait_for_hits(&self, count: usize, timeout: Duration) -> Vec<Hit> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits = self.hits();
            if hits.len() >= count {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "the echo service got {} requests, not {count}: {hits:?}",
                hits.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl<'a> EchoBuilder<'a> {
    /// Serves over TLS with this certificate.
    pub fn tls(self, certificate: &'a ServerCertificate) -> EchoBuilder<'a> {
        EchoBuilder {
            tls: Some(certificate),
            ..self
        }
    }

    /// Runs inside this namespace.
    pub fn netns(self, netns: &'a Netns) -> EchoBuilder<'a> {
        EchoBuilder {
            netns: Some(netns),
            ..self
        }
    }

    /// Starts it and waits until it listens, or returns `None` after saying
    /// why when python3 cannot run here and system tests are not required.
    pub fn start(self, test: &str) -> Option<HttpEcho> {
        let Some(python) = python() else {
            skip_or_fail(test, "python3 is not installed");
            return None;
        };
        let dir = tempfile::tempdir().expect("a temporary directory");
        let script = dir.path().join("echo.py");
        std::fs::write(&script, ECHO_SCRIPT).expect("write the echo script");
        let hits = dir.path().join("hits");
        let errors = dir.path().join("stderr");
        let mut command = match self.netns {
            Some(netns) => netns.command(&python),
            None => Command::new(&python),
        };
        let path = |p: Option<&PathBuf>| p.map(|p| p.display().to_string()).unwrap_or_default();
        command
            .arg(&script)
            .arg(self.ip.to_string())
            .arg("0")
            .arg(&hits)
            .arg(path(self.tls.map(|t| &t.cert)))
            .arg(path(self.tls.map(|t| &t.key)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&errors).expect("create the stderr file"));
        let mut child = command.spawn().expect("start the echo service");
        let mut line = String::new();
        let read =
            BufReader::new(child.stdout.take().expect("a piped stdout")).read_line(&mut line);
        let Some(port) = read.ok().and_then(|_| line.trim().parse::<u16>().ok()) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the echo service on {} did not start: {}",
                self.ip,
                std::fs::read_to_string(&errors).unwrap_or_default()
            );
        };
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let host = match self.ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        Some(HttpEcho {
            child,
            base: format!("{scheme}://{host}:{port}"),
            hits,
            _dir: dir,
        })
    }
}

impl Drop for HttpEcho {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The python3 interpreter itself (not a version manager's shim, which
/// may need an environment a namespaced command lacks).
fn python() -> Option<String> {
    let output = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (output.status.success() && !path.is_empty()).then_some(path)
}
