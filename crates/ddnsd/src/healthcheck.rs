//! `ddnsd healthcheck`: is the daemon beside this command alive? For a
//! container's `HEALTHCHECK`, a Kubernetes exec probe or a monitoring
//! script. It reads only the variables below, never a secret, and prints
//! one line: `healthy: …` or `unhealthy: …`.
//!
//! # The rule
//!
//! - With `DDNS_METRICS_ADDR`: `GET /healthz` on that address (a wildcard
//!   address such as `0.0.0.0` is asked on loopback) answers 200 within
//!   [`TIMEOUT`].
//! - Otherwise, with the file store (`DDNS_STATE_STORE_TYPE=file` and
//!   `DDNS_STATE_STORE_PATH`): a process holds the state file's lock
//!   (`PATH.lock`, as `/proc/locks` lists it: a running daemon holds it from
//!   start to exit), and, when the daemon re-reads its records on a timer
//!   (`DDNS_RECHECK_INTERVAL_SECS` above 0 and a provider that can read
//!   them, which `dry-run` cannot), the state file was written within twice
//!   the interval plus [`FRESHNESS_MARGIN`]. Every pass writes the file, and
//!   a re-check is a pass, so an older file means the engine stopped
//!   working while the process lives on.
//! - Neither: a configuration error saying what to set.
//!
//! Exit codes: 0 healthy, 2 unhealthy, 1 configuration error (or a check
//! that cannot be made here, such as `/proc/locks` missing).
//!
//! # Caveats
//!
//! - Like `/healthz`, this is liveness, not readiness: a daemon whose
//!   provider is down is alive (and says so in `/readyz` and the logs).
//! - Docker documents exit code 1 for "unhealthy" and reserves 2; Docker
//!   (and Kubernetes, and Podman) count every non-zero code as a failed
//!   check, so 2 keeps the meaning it has for every other `ddnsd` command.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ddns_core::config::{ConfigError, Env};
use ddns_metrics::MetricsConfig;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::header::{CONNECTION, HOST, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, VERSION};

/// The whole exchange with `/healthz`: connect, ask, read the answer.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);

/// Added to twice the re-check interval: covers retries and the longest
/// circuit-breaker pause (15 min), during which no pass runs.
pub(crate) const FRESHNESS_MARGIN: Duration = Duration::from_secs(15 * 60);

/// How much of an answer's body is shown.
const BODY_SHOWN: usize = 200;

/// Providers that cannot read their records, so the engine arms no
/// re-check timer for them and an idle daemon never writes its state.
const PROVIDERS_WITHOUT_RECHECKS: &[&str] = &["dry-run"];

/// What to check, from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Ask `/healthz` here.
    Endpoint(SocketAddr),
    /// Look at the state file.
    StateFile {
        path: PathBuf,
        /// The oldest the file may be, or why its age says nothing.
        max_age: Result<Duration, String>,
    },
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Healthy(String),
    Unhealthy(String),
    /// The check cannot be made here.
    Unknown(String),
}

/// Runs the check and returns the exit code.
pub(crate) fn run(env: &Env) -> u8 {
    let plan = match plan(env) {
        Ok(plan) => plan,
        Err(error) => {
            eprintln!("Configuration error: {error}");
            return EXIT_CONFIG;
        }
    };
    let verdict = match plan {
        Plan::Endpoint(addr) => ask_endpoint(addr),
        Plan::StateFile { path, max_age } => check_state_file(
            &path,
            max_age,
            std::fs::read_to_string("/proc/locks"),
            SystemTime::now(),
        ),
    };
    match verdict {
        Verdict::Healthy(message) => {
            println!("healthy: {message}");
            EXIT_OK
        }
        Verdict::Unhealthy(message) => {
            println!("unhealthy: {message}");
            EXIT_RUNTIME
        }
        Verdict::Unknown(message) => {
            eprintln!("ddnsd healthcheck: {message}");
            EXIT_CONFIG
        }
    }
}

fn plan(env: &Env) -> Result<Plan, ConfigError> {
    if let Some(metrics) = MetricsConfig::from_env(env)? {
        return Ok(Plan::Endpoint(loopback_for(metrics.addr())));
    }
    let store = env.get("DDNS_STATE_STORE_TYPE")?;
    let path = env.get("DDNS_STATE_STORE_PATH")?;
    let (Some(store), Some(path)) = (store, path) else {
        return Err(neither());
    };
    if !store.trim().eq_ignore_ascii_case("file") {
        return Err(neither());
    }
    let recheck = env.number("DDNS_RECHECK_INTERVAL_SECS", 3600u64, 0..=604_800)?;
    let provider = env
        .get("DDNS_PROVIDER_TYPE")?
        .map(|p| p.trim().to_ascii_lowercase());
    let max_age = match provider.as_deref() {
        _ if recheck == 0 => Err("DDNS_RECHECK_INTERVAL_SECS=0: no re-checks".to_string()),
        None => Err("DDNS_PROVIDER_TYPE is not set".to_string()),
        Some(provider) if PROVIDERS_WITHOUT_RECHECKS.contains(&provider) => Err(format!(
            "the {provider} provider cannot read its records, so nothing re-checks them"
        )),
        Some(_) => Ok(Duration::from_secs(recheck * 2) + FRESHNESS_MARGIN),
    };
    Ok(Plan::StateFile {
        path: PathBuf::from(path),
        max_age,
    })
}

fn neither() -> ConfigError {
    ConfigError::new(
        ddns_metrics::ADDR_VARIABLE,
        "healthcheck needs the metrics endpoint (DDNS_METRICS_ADDR, e.g. 127.0.0.1:9851) \
         or the file state store (DDNS_STATE_STORE_TYPE=file and DDNS_STATE_STORE_PATH), \
         set as for the daemon",
    )
}

/// A wildcard listening address is reached on loopback.
fn loopback_for(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

fn ask_endpoint(addr: SocketAddr) -> Verdict {
    let url = format!("http://{addr}/healthz");
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return Verdict::Unknown(format!("cannot create the async runtime: {error}")),
    };
    let answer = runtime.block_on(async { tokio::time::timeout(TIMEOUT, get(addr)).await });
    match answer {
        Ok(Ok((StatusCode::OK, body))) => Verdict::Healthy(format!("{url} answered 200 {body}")),
        Ok(Ok((status, body))) => {
            Verdict::Unhealthy(format!("{url} answered {} {body}", status.as_u16()))
        }
        Ok(Err(error)) => Verdict::Unhealthy(format!("{url}: {error}")),
        Err(_) => Verdict::Unhealthy(format!("{url}: no answer within {}s", TIMEOUT.as_secs())),
    }
}

/// `GET /healthz` over HTTP/1.1: the status and the start of the body.
async fn get(addr: SocketAddr) -> Result<(StatusCode, String), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    let request = Request::get("/healthz")
        .header(HOST, addr.to_string())
        .header(USER_AGENT, format!("ddnsd-healthcheck/{VERSION}"))
        .header(CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("cannot build the request: {e}"))?;
    let exchange = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), 4096)
            .collect()
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?
            .to_bytes();
        let shown: String = String::from_utf8_lossy(&body)
            .trim()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(BODY_SHOWN)
            .collect();
        Ok((status, shown))
    };
    tokio::pin!(exchange);
    // The connection task must run for the exchange to progress; when it
    // ends first, the exchange has its answer or its error already.
    tokio::select! {
        biased;
        result = &mut exchange => result,
        ended = connection => {
            ended.map_err(|e| format!("connection failed: {e}"))?;
            exchange.await
        }
    }
}

/// The state file check: see the module documentation.
fn check_state_file(
    path: &Path,
    max_age: Result<Duration, String>,
    proc_locks: io::Result<String>,
    now: SystemTime,
) -> Verdict {
    let lock = lock_path(path);
    let lock_file = match std::fs::metadata(&lock) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Verdict::Unhealthy(format!(
                "{} does not exist: no ddnsd has run with DDNS_STATE_STORE_PATH={}",
                lock.display(),
                path.display()
            ));
        }
        Err(error) => return Verdict::Unknown(format!("cannot read {}: {error}", lock.display())),
    };
    let locks = match proc_locks {
        Ok(text) => text,
        Err(error) => {
            return Verdict::Unknown(format!(
                "cannot read /proc/locks ({error}), so whether a daemon holds {} is unknown; \
                 mount /proc, or set DDNS_METRICS_ADDR to check /healthz instead",
                lock.display()
            ));
        }
    };
    let (major, minor) = device_numbers(lock_file.dev());
    let Some(holder) = lock_holder(&locks, major, minor, lock_file.ino()) else {
        return Verdict::Unhealthy(format!(
            "no process holds {}: ddnsd is not running with DDNS_STATE_STORE_PATH={}",
            lock.display(),
            path.display()
        ));
    };
    let holder = match holder {
        Some(pid) => format!("ddnsd (pid {pid}) holds {}", lock.display()),
        None => format!("a process holds {}", lock.display()),
    };
    let modified = match std::fs::metadata(path).and_then(|m| m.modified()) {
        Ok(modified) => modified,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Verdict::Healthy(format!("{holder}; no state saved yet (starting)"));
        }
        Err(error) => return Verdict::Unknown(format!("cannot read {}: {error}", path.display())),
    };
    // A file from the future (a clock set back) counts as fresh.
    let age = now.duration_since(modified).unwrap_or_default();
    let shown_age = humantime::format_duration(Duration::from_secs(age.as_secs()));
    match max_age {
        Ok(max_age) if age > max_age => Verdict::Unhealthy(format!(
            "{holder}, but the state file was last written {shown_age} ago (limit {}): \
             re-checks should write it; the engine seems stuck",
            humantime::format_duration(max_age)
        )),
        Ok(_) => Verdict::Healthy(format!("{holder}; state written {shown_age} ago")),
        Err(why) => Verdict::Healthy(format!(
            "{holder}; state written {shown_age} ago (its age is not judged: {why})"
        )),
    }
}

/// `PATH.lock`, as the file store names it.
fn lock_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    path.with_file_name(name)
}

/// Major and minor numbers of a `st_dev`, as glibc's `major()` and
/// `minor()` decode it.
fn device_numbers(dev: u64) -> (u64, u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000);
    let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00);
    (major, minor)
}

/// Whether `/proc/locks` lists a lock held (not waited for) on the file
/// with this device and inode; with the holder's pid when it is shown.
/// Lines look like `1: FLOCK  ADVISORY  WRITE 1234 fe:00:10010654 0 EOF`.
fn lock_holder(locks: &str, major: u64, minor: u64, inode: u64) -> Option<Option<u32>> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) == Some(&"->") {
            return None;
        }
        let at = fields.iter().position(|f| f.matches(':').count() == 2)?;
        let mut parts = fields[at].split(':');
        let file_major = u64::from_str_radix(parts.next()?, 16).ok()?;
        let file_minor = u64::from_str_radix(parts.next()?, 16).ok()?;
        let file_inode: u64 = parts.next()?.parse().ok()?;
        if (file_major, file_minor, file_inode) != (major, minor, inode) {
            return None;
        }
        let pid = at
            .checked_sub(1)
            .and_then(|i| fields[i].parse::<u32>().ok())
            .filter(|pid| *pid > 0);
        Some(pid)
    })
}

#[cfg(test)]
mod tests;
