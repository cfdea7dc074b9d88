//! The systemd deployment: the unit passes `systemd-analyze verify` and
//! rates "OK" or better in `systemd-analyze security`, the install script
//! is shellcheck-clean, installs, upgrades and uninstalls under a root
//! directory, and the daemon speaks the notification protocol and runs
//! without any privilege, as the unit runs it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ddns_testkit::{Daemon, Netns, skip_or_fail};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(20);
/// The highest `systemd-analyze security` exposure that rates "OK".
const MAX_EXPOSURE: f64 = 2.0;
/// An unprivileged user, as the unit's dynamic user is.
const NOBODY: u32 = 65534;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn unit_source() -> PathBuf {
    repo_root().join("deploy/systemd/ddnsd.service")
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A copy of the unit whose ExecStart is the test binary: `verify` checks
/// that the program exists.
fn unit_copy(dir: &Path, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(unit_source()).unwrap();
    assert!(
        text.contains("\nExecStart=/usr/local/bin/ddnsd run\n"),
        "the unit runs the installed binary"
    );
    let text = text.replace(
        "ExecStart=/usr/local/bin/ddnsd run",
        &format!("ExecStart={BIN} run{extra}"),
    );
    let path = dir.join("ddnsd.service");
    std::fs::write(&path, text).unwrap();
    path
}

fn verify(unit: &Path) -> (bool, Vec<String>) {
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(unit)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Complaints about other units of this machine are not ours.
    let ours = stderr
        .lines()
        .filter(|l| l.contains("ddnsd.service"))
        .map(str::to_string)
        .collect();
    (out.status.success(), ours)
}

#[test]
fn the_unit_passes_systemd_analyze_verify() {
    if !have("systemd-analyze") {
        skip_or_fail(
            "the_unit_passes_systemd_analyze_verify",
            "systemd-analyze is not installed (Debian package systemd)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ok, complaints) = verify(&unit_copy(dir.path(), ""));
    assert!(ok && complaints.is_empty(), "{complaints:#?}");

    // The check sees mistakes: a misspelt setting is reported.
    let broken = std::fs::read_to_string(unit_copy(dir.path(), ""))
        .unwrap()
        .replace("NoNewPrivileges=yes", "NoNewPrivilege=yes");
    std::fs::write(dir.path().join("ddnsd.service"), broken).unwrap();
    let (_, complaints) = verify(&dir.path().join("ddnsd.service"));
    assert!(
        complaints
            .iter()
            .any(|l| l.contains("Unknown key") && l.contains("'NoNewPrivilege'")),
        "{complaints:#?}"
    );
}

/// The figure of `→ Overall exposure level for ddnsd.service: 1.1 OK 🙂`.
fn overall_exposure(report: &str) -> Option<f64> {
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level for ddnsd.service:"))?;
    let (_, rest) = line.split_once("ddnsd.service:")?;
    rest.split_whitespace().next()?.parse().ok()
}

#[test]
fn the_unit_rates_ok_in_systemd_analyze_security() {
    if !have("systemd-analyze") {
        skip_or_fail(
            "the_unit_rates_ok_in_systemd_analyze_security",
            "systemd-analyze is not installed (Debian package systemd)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path(), "");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exposure = overall_exposure(&report).unwrap_or_else(|| panic!("no figure in:\n{report}"));
    eprintln!("systemd-analyze security: overall exposure {exposure}");
    assert!(
        exposure <= MAX_EXPOSURE,
        "exposure {exposure} is above {MAX_EXPOSURE}:\n{report}"
    );
    for kept in [
        "✓ User=/DynamicUser=",
        "✓ NoNewPrivileges=",
        "✓ CapabilityBoundingSet=~CAP_SYS_ADMIN",
        "✓ RestrictAddressFamilies=~AF_PACKET",
    ] {
        assert!(report.contains(kept), "{kept} is lost:\n{report}");
    }
}

#[test]
fn the_exposure_figure_is_parsed() {
    assert_eq!(
        overall_exposure("x\n→ Overall exposure level for ddnsd.service: 1.1 OK 🙂\n"),
        Some(1.1)
    );
    assert_eq!(overall_exposure("no figure"), None);
}

fn script() -> PathBuf {
    repo_root().join("deploy/install-systemd.sh")
}

#[test]
fn the_install_script_is_shellcheck_clean() {
    if !have("shellcheck") {
        skip_or_fail(
            "the_install_script_is_shellcheck_clean",
            "shellcheck is not installed (Debian package shellcheck)",
        );
        return;
    }
    let out = Command::new("shellcheck").arg(script()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn run_script(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

#[test]
fn the_install_script_installs_upgrades_and_uninstalls_under_a_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_text = root.to_str().unwrap();
    let binary = root.join("usr/local/bin/ddnsd");
    let unit = root.join("usr/local/lib/systemd/system/ddnsd.service");
    let env_file = root.join("etc/default/ddnsd");
    let credentials = root.join("etc/ddns/credentials");

    let (code, log) = run_script(&["--root", root_text, "--binary", BIN]);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("installed /usr/local/bin/ddnsd (ddnsd "),
        "{log}"
    );
    assert!(log.contains("no systemctl call"), "{log}");
    assert_eq!(std::fs::read(&binary).unwrap(), std::fs::read(BIN).unwrap());
    assert_eq!(
        std::fs::read_to_string(&unit).unwrap(),
        std::fs::read_to_string(unit_source()).unwrap()
    );
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        std::fs::read_to_string(repo_root().join("deploy/systemd/ddnsd.env.example")).unwrap()
    );
    assert_eq!(mode(&binary), 0o755);
    assert_eq!(mode(&unit), 0o644);
    assert_eq!(mode(&env_file), 0o640);
    assert_eq!(mode(&credentials), 0o700);

    // Again, as an upgrade: the binary is replaced (a new file, so that a
    // running one is not overwritten), the settings are kept.
    std::fs::write(&env_file, "DDNS_RECORDS=mine.example.com\n").unwrap();
    let inode = std::fs::metadata(&binary).unwrap().ino();
    let (code, log) = run_script(&["--root", root_text, "--binary", BIN]);
    assert_eq!(code, Some(0), "{log}");
    assert!(
        log.contains("kept /etc/default/ddnsd (already there)"),
        "{log}"
    );
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "DDNS_RECORDS=mine.example.com\n"
    );
    assert_eq!(mode(&env_file), 0o640);
    assert_ne!(std::fs::metadata(&binary).unwrap().ino(), inode);
    assert_eq!(std::fs::read(&binary).unwrap(), std::fs::read(BIN).unwrap());
    let leftovers: Vec<_> = std::fs::read_dir(binary.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["ddnsd"], "no temporary file is left");

    // Uninstall keeps settings, credentials and state; --purge removes them.
    let state = root.join("var/lib/private/ddns");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::write(state.join("state.json"), "{}").unwrap();
    std::os::unix::fs::symlink("private/ddns", root.join("var/lib/ddns")).unwrap();
    std::fs::write(credentials.join("DDNS_PROVIDER_API_TOKEN"), "t").unwrap();
    let (code, log) = run_script(&["--root", root_text, "--uninstall"]);
    assert_eq!(code, Some(0), "{log}");
    assert!(!binary.exists() && !unit.exists(), "{log}");
    assert!(env_file.exists() && credentials.join("DDNS_PROVIDER_API_TOKEN").exists());
    assert!(state.join("state.json").exists());
    let (code, log) = run_script(&["--root", root_text, "--uninstall"]);
    assert_eq!(code, Some(0), "uninstalling twice is fine: {log}");
    let (code, log) = run_script(&["--root", root_text, "--uninstall", "--purge"]);
    assert_eq!(code, Some(0), "{log}");
    for gone in [&env_file, &credentials, &state, &root.join("var/lib/ddns")] {
        assert!(
            std::fs::symlink_metadata(gone).is_err(),
            "{} is left: {log}",
            gone.display()
        );
    }
    assert!(!root.join("etc/ddns").exists());
}

#[test]
fn the_install_script_refuses_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let (code, log) = run_script(&["--root", root, "--purge"]);
    assert_eq!(code, Some(1));
    assert!(log.contains("--purge goes with --uninstall"), "{log}");
    let (code, log) = run_script(&["--root", root, "--binary", "/nonexistent/ddnsd"]);
    assert_eq!(code, Some(1));
    assert!(
        log.contains("/nonexistent/ddnsd is not an executable file"),
        "{log}"
    );
    let (code, log) = run_script(&["--frobnicate"]);
    assert_eq!(code, Some(1));
    assert!(log.contains("unknown argument '--frobnicate'"), "{log}");
}

/// A datagram socket standing in for systemd's notification socket.
struct NotifySocket {
    path: PathBuf,
    shared: Arc<(Mutex<Vec<String>>, Condvar)>,
    stop: Arc<Mutex<bool>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let shared = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stop = Arc::new(Mutex::new(false));
        let reader = std::thread::spawn({
            let shared = shared.clone();
            let stop = stop.clone();
            move || {
                let mut buffer = [0u8; 4096];
                while !*stop.lock().unwrap() {
                    if let Ok(n) = socket.recv(&mut buffer) {
                        let (messages, changed) = &*shared;
                        let text = String::from_utf8_lossy(&buffer[..n]).to_string();
                        messages.lock().unwrap().push(text);
                        changed.notify_all();
                    }
                }
            }
        });
        Self {
            path,
            shared,
            stop,
            reader: Some(reader),
        }
    }

    fn messages(&self) -> Vec<String> {
        self.shared.0.lock().unwrap().clone()
    }

    /// Waits until `check` holds for the messages so far.
    fn wait_until(&self, what: &str, check: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + WAIT;
        let (messages, changed) = &*self.shared;
        let mut seen = messages.lock().unwrap();
        while !check(&seen) {
            let now = Instant::now();
            if now >= deadline {
                panic!("timed out waiting for {what}; notifications so far: {seen:#?}");
            }
            seen = changed.wait_timeout(seen, deadline - now).unwrap().0;
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        *self.stop.lock().unwrap() = true;
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn position(messages: &[String], needle: &str) -> Option<usize> {
    messages.iter().position(|m| m.contains(needle))
}

/// A daemon that finds no address: the interface it watches does not exist.
fn daemon_without_address(socket: &Path, extra: &[(&str, &str)]) -> Daemon {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .envs([
            ("DDNS_RECORDS", "home.example.com"),
            ("DDNS_PROVIDER_TYPE", "dry-run"),
            ("DDNS_IP_SOURCE_INTERFACE", "ddnst-absent0"),
        ])
        .env("NOTIFY_SOCKET", socket)
        .envs(extra.iter().copied());
    Daemon::spawn(command)
}

#[test]
fn sd_notify_ready_before_any_address_watchdog_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let socket = NotifySocket::bind(dir.path());
    let daemon = daemon_without_address(&socket.path, &[("WATCHDOG_USEC", "200000")]);

    socket.wait_until("READY=1", |m| position(m, "READY=1").is_some());
    let messages = socket.messages();
    let ready = &messages[position(&messages, "READY=1").unwrap()];
    assert_eq!(ready, "READY=1\nSTATUS=starting: started\n");
    daemon.wait_for("engine ready", WAIT);
    daemon.wait_for("systemd watchdog keep-alives enabled every_ms=100", WAIT);
    socket.wait_until("three keep-alives", |m| {
        m.iter().filter(|m| *m == "WATCHDOG=1\n").count() >= 3
    });
    assert!(
        !daemon.logs().contains("address changed"),
        "ready without an address: {}",
        daemon.logs()
    );

    daemon.signal("TERM");
    socket.wait_until("STOPPING=1", |m| position(m, "STOPPING=1").is_some());
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let messages = socket.messages();
    let stopping = position(&messages, "STOPPING=1").unwrap();
    assert_eq!(messages[stopping], "STOPPING=1\nSTATUS=shutting down\n");
    assert!(position(&messages, "READY=1").unwrap() < stopping);
    assert_eq!(
        messages.iter().filter(|m| m.contains("READY=1")).count(),
        1,
        "{messages:#?}"
    );
}

#[test]
fn sd_notify_no_watchdog_for_another_process() {
    let dir = tempfile::tempdir().unwrap();
    let socket = NotifySocket::bind(dir.path());
    // systemd names the process the watchdog is for; this is not us.
    let daemon = daemon_without_address(
        &socket.path,
        &[("WATCHDOG_USEC", "100000"), ("WATCHDOG_PID", "1")],
    );
    socket.wait_until("READY=1", |m| position(m, "READY=1").is_some());
    // Ten periods.
    std::thread::sleep(Duration::from_secs(1));
    daemon.signal("TERM");
    socket.wait_until("STOPPING=1", |m| position(m, "STOPPING=1").is_some());
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(position(&socket.messages(), "WATCHDOG=1"), None);
    assert!(!out.stderr.contains("watchdog"), "{}", out.stderr);
}

/// Whether every directory above `path` lets others through, and others
/// may run `path`.
fn runnable_by_others(path: &Path) -> bool {
    let file_ok = std::fs::metadata(path).is_ok_and(|m| m.mode() & 0o005 == 0o005);
    file_ok
        && path
            .ancestors()
            .skip(1)
            .all(|dir| std::fs::metadata(dir).is_ok_and(|m| m.mode() & 0o001 != 0))
}

fn proc_status(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap()
}

fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {status}"))
}

#[test]
fn the_daemon_runs_unprivileged_without_capabilities_in_a_namespace() {
    let test = "the_daemon_runs_unprivileged_without_capabilities_in_a_namespace";
    if !have("setpriv") {
        skip_or_fail(test, "setpriv is not installed (Debian package util-linux)");
        return;
    }
    let Some(ns) = Netns::create(test) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let binary = if runnable_by_others(Path::new(BIN)) {
        PathBuf::from(BIN)
    } else {
        let copy = dir.path().join("ddnsd");
        std::fs::copy(BIN, &copy).unwrap();
        copy
    };
    // The state directory belongs to the service's user, as systemd's
    // StateDirectory= makes it.
    let state_dir = dir.path().join("state");
    std::fs::create_dir(&state_dir).unwrap();
    std::os::unix::fs::chown(&state_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let state = state_dir.join("state.json");
    let socket = NotifySocket::bind(dir.path());
    std::fs::set_permissions(&socket.path, std::fs::Permissions::from_mode(0o666)).unwrap();

    let mut command = ns.command("setpriv");
    command
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
        ])
        .arg(&binary)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .envs([
            ("DDNS_RECORDS", "home.example.com"),
            ("DDNS_PROVIDER_TYPE", "dry-run"),
            ("DDNS_IP_SOURCE_INTERFACE", "v0"),
            ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0"),
            ("DDNS_READY_CONFIRMATIONS", "1"),
            ("DDNS_STATE_STORE_TYPE", "file"),
        ])
        .env("DDNS_STATE_STORE_PATH", &state)
        .env("NOTIFY_SOCKET", &socket.path);
    let daemon = Daemon::spawn(command);
    socket.wait_until("READY=1", |m| position(m, "READY=1").is_some());
    daemon.wait_for("netlink address watch started", WAIT);

    // `ip netns exec` and setpriv exec the daemon: same process.
    let status = proc_status(daemon.pid());
    assert_eq!(status_field(&status, "Name:"), "ddnsd");
    assert_eq!(status_field(&status, "Uid:"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(&status, "Gid:"), "65534\t65534\t65534\t65534");
    assert_eq!(status_field(&status, "Groups:"), "");
    for caps in ["CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:"] {
        assert_eq!(status_field(&status, caps), "0000000000000000", "{caps}");
    }
    assert_eq!(status_field(&status, "NoNewPrivs:"), "1");

    ns.ip(&["addr", "add", "192.0.2.50/32", "dev", "v0"]);
    daemon.wait_for(
        "dry run: would set the record to this address record=home.example.com record_type=\"A\" address=192.0.2.50",
        WAIT,
    );
    socket.wait_until("STATUS=ready", |m| position(m, "STATUS=ready: ").is_some());
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.trim_end().ends_with("stopped"), "{}", out.stderr);
    assert!(position(&socket.messages(), "STOPPING=1").is_some());

    let saved = std::fs::metadata(&state).unwrap();
    assert_eq!((saved.uid(), saved.gid()), (NOBODY, NOBODY));
    assert_eq!(saved.mode() & 0o777, 0o600);
    assert!(
        std::fs::read_to_string(&state)
            .unwrap()
            .contains("192.0.2.50")
    );
}
