//! The file state store under the failures it is built for, through the
//! daemon: SIGKILL at random moments, a damaged state file or backup, a
//! state file from a newer build, a full disk and a directory without write
//! permission. The provider is the Cloudflare stand-in, so that every write
//! to DNS is counted; the address comes from an echo service whose answer
//! the test changes.
//!
//! # Modes
//!
//! - default: `DDNS_RELIABILITY_ROUNDS` crash rounds (default 5) and a
//!   sample of truncation lengths, to keep CI fast;
//! - long (`scripts/reliability.sh`): `DDNS_RELIABILITY_ROUNDS=40` and
//!   `DDNS_RELIABILITY_FULL=1`, every truncation length.
//!
//! Randomness (kill moments, sampled lengths) comes from a seed printed when
//! a test fails; `DDNS_RELIABILITY_SEED=<n>` replays it. Each test prints
//! its figures on a line starting with `RELIABILITY`.
//!
//! The full-disk and permission tests take about 35 s each in any mode: the
//! store retries a failed save after a fixed 30 s, and they wait for it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ddns_cloudflare_standin::{LoggedRequest, StandIn, TokenSpec};
use ddns_testkit::{Daemon, FileEcho};

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");
const WAIT: Duration = Duration::from_secs(30);
/// Longer than the store's fixed 30 s save retry, with room for a loaded machine.
const SAVE_RETRY_WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "reliability-token-5e1d7c3b9a2f4068";
const RECORD: &str = "home.example.com";
const READY: &str = "to=ready";
const PATH_ENV: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

const UNREADABLE: &str = "state file unreadable; recovered from the backup";
const MISSING: &str = "state file missing; recovered from the backup";
const BOTH_UNREADABLE: &str = "state file and backup unreadable; starting with empty state (records will be read back from the provider)";
const CANNOT_SAVE: &str = "cannot save state; carrying on from memory and retrying";
const SAVED_AGAIN: &str = "state saved again";

// ---------------------------------------------------------------------------
// Settings and randomness.

fn rounds() -> usize {
    std::env::var("DDNS_RELIABILITY_ROUNDS")
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("DDNS_RELIABILITY_ROUNDS: '{v}' is not a count"))
        })
        .unwrap_or(5)
}

fn full_sweep() -> bool {
    std::env::var("DDNS_RELIABILITY_FULL").is_ok_and(|v| v == "1")
}

/// splitmix64: small, seedable, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    fn up_to(&mut self, max: u64) -> u64 {
        self.next() % (max + 1)
    }
}

/// The seed, printed if the test fails (`Drop` runs while panicking).
struct Seed {
    test: &'static str,
    value: u64,
    round: Mutex<String>,
}

impl Seed {
    fn new(test: &'static str) -> Self {
        let value = std::env::var("DDNS_RELIABILITY_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
                now.as_nanos() as u64 ^ u64::from(std::process::id())
            });
        eprintln!("{test}: DDNS_RELIABILITY_SEED={value}");
        Self {
            test,
            value,
            round: Mutex::new(String::new()),
        }
    }

    fn rng(&self) -> Rng {
        Rng(self.value)
    }

    fn at(&self, where_: String) {
        *self.round.lock().unwrap() = where_;
    }
}

impl Drop for Seed {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "{} FAILED with DDNS_RELIABILITY_SEED={} at {}; set it to replay",
                self.test,
                self.value,
                self.round.lock().unwrap()
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The world around the daemon: an echo service, the stand-in, a record.

struct World {
    dir: tempfile::TempDir,
    echo: FileEcho,
    cf: StandIn,
    record_id: String,
}

impl World {
    fn new(test: &str, address: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ip"), format!("{address}\n")).unwrap();
        let Some(echo) = FileEcho::start(dir.path()) else {
            ddns_testkit::skip_or_fail(test, "python3 is not installed");
            return None;
        };
        let cf = StandIn::start_in_thread();
        cf.add_token(TOKEN, TokenSpec::user());
        let zone = cf.add_zone("example.com");
        let record_id = cf.add_record(&zone, "A", RECORD, "192.0.2.1");
        Some(Self {
            dir,
            echo,
            cf,
            record_id,
        })
    }

    fn set_address(&self, address: &str) {
        // Replaced in one rename so that the echo never serves half a line.
        let tmp = self.dir.path().join("ip.tmp");
        std::fs::write(&tmp, format!("{address}\n")).unwrap();
        std::fs::rename(tmp, self.dir.path().join("ip")).unwrap();
    }

    fn vars(&self, state: &Path) -> Vec<(String, String)> {
        [
            ("PATH", PATH_ENV.to_string()),
            ("DDNS_RECORDS", RECORD.to_string()),
            ("DDNS_PROVIDER_TYPE", "cloudflare".to_string()),
            ("DDNS_PROVIDER_API_TOKEN", TOKEN.to_string()),
            ("DDNS_CLOUDFLARE_API_URL", self.cf.url()),
            ("DDNS_MIN_UPDATE_INTERVAL_SECS", "0".to_string()),
            ("DDNS_IP_SOURCE_TYPE", "http".to_string()),
            ("DDNS_IP_SOURCE_URLS", self.echo.url("/ip")),
            ("DDNS_IP_SOURCE_POLL_INTERVAL_SECS", "1".to_string()),
            ("DDNS_IP_SOURCE_TRIGGER", "none".to_string()),
            ("DDNS_READY_CONFIRMATIONS", "1".to_string()),
            ("DDNS_STATE_STORE_TYPE", "file".to_string()),
            ("DDNS_STATE_STORE_PATH", state.to_str().unwrap().to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// `ddnsd` (the daemon) on the state file `state`.
    fn daemon(&self, state: &Path) -> Command {
        let mut command = Command::new(BIN);
        command.env_clear().envs(self.vars(state));
        command
    }

    fn content(&self) -> Option<String> {
        self.cf.record(&self.record_id).map(|r| r.content)
    }

    /// Waits until the daemon reports Ready and the stand-in's record holds
    /// `address`.
    fn wait_converged(&self, daemon: &Daemon, address: &str, context: &str) {
        daemon.wait_for(READY, WAIT);
        let deadline = Instant::now() + WAIT;
        while self.content().as_deref() != Some(address) {
            assert!(
                Instant::now() < deadline,
                "{context}: the record holds {:?}, never {address}; logs:\n{}",
                self.content(),
                daemon.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn request_count(&self) -> usize {
        self.cf.requests().len()
    }

    /// The writes the stand-in received since request number `from`.
    fn writes_since(&self, from: usize) -> Vec<LoggedRequest> {
        self.cf
            .requests()
            .into_iter()
            .skip(from)
            .filter(LoggedRequest::is_write)
            .collect()
    }
}

/// `ddnsd status` on the state file: its exit code and output.
fn status(state: &Path) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .arg("status")
        .env_clear()
        .envs([
            ("DDNS_RECORDS", RECORD),
            ("DDNS_PROVIDER_TYPE", "dry-run"),
            ("DDNS_STATE_STORE_TYPE", "file"),
            ("DDNS_STATE_STORE_PATH", state.to_str().unwrap()),
        ])
        .output()
        .unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// What `status` shows for the record holding `address`.
fn status_line(address: &str) -> String {
    format!("{RECORD} A  {address}")
}

/// A state file in the documented format, holding `address`.
fn state_document(version: u32, address: &str) -> String {
    let written = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 3600;
    format!(
        "{{\n  \"format\": \"ddns-state\",\n  \"version\": {version},\n  \"records\": {{\n    \"{RECORD}/A\": {{ \"address\": \"{address}\", \"written_at\": {written} }}\n  }}\n}}\n"
    )
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap().to_os_string();
    name.push(".");
    name.push(suffix);
    path.with_file_name(name)
}

/// The public addresses the tests move between.
fn address(n: usize) -> String {
    format!("81.2.69.{}", 10 + n % 240)
}

// ---------------------------------------------------------------------------
// 1. Crash and restart.

#[derive(Default, Debug)]
struct CrashFigures {
    rounds: usize,
    kills: usize,
    kills_before_detection: usize,
    aimed_kills: usize,
    kills_between_detection_and_write: usize,
    kills_between_write_and_save: usize,
    kills_after_save: usize,
    status_ok_after_kill: usize,
    recovered_from_backup: usize,
    convergence_writes: usize,
    quiet_restarts: usize,
    quiet_restart_writes: usize,
    status_behind_dns: usize,
}

/// Each round: a start after a SIGKILL must come up and converge (at most
/// one write, of the latest address, and none if the provider already held
/// it when the daemon died); SIGKILL once converged; a restart with nothing
/// changed must write nothing; then the address changes and the daemon is
/// killed at a random moment (0–400 ms after the change, or 0–15 ms after it
/// saw the change, aiming at the write and the save), and the state file
/// must still be readable (`ddnsd status`), or be recovered from the backup
/// at the next start.
#[test]
fn sigkill_at_random_moments_never_costs_a_start_or_a_needless_write() {
    let seed = Seed::new("sigkill_at_random_moments");
    let mut rng = seed.rng();
    let Some(world) = World::new("sigkill_at_random_moments", &address(0)) else {
        return;
    };
    let state = world.dir.path().join("state").join("state.json");
    let rounds = rounds();
    let mut figures = CrashFigures::default();
    let mut current = address(0);
    let mut needs_recovery = false;
    let mut held_at_kill = false;
    let started = Instant::now();

    for round in 0..=rounds {
        // The start after the previous kill (or the first start).
        seed.at(format!("round {round}: start after the kill"));
        let context = format!("round {round} (start after a kill)");
        let before = world.request_count();
        let daemon = Daemon::spawn(world.daemon(&state));
        world.wait_converged(&daemon, &current, &context);
        let logs = daemon.logs();
        let writes = world.writes_since(before);
        assert!(
            writes.len() <= 1,
            "{context}: {} writes, at most one expected: {writes:#?}\n{logs}",
            writes.len()
        );
        for write in &writes {
            assert_eq!(
                write.body,
                Some(serde_json::json!({ "content": current })),
                "{context}: only the latest address is written"
            );
        }
        if held_at_kill {
            assert!(
                writes.is_empty(),
                "{context}: the provider already held {current} when the daemon was killed; writing it again is a needless write: {writes:#?}\n{logs}"
            );
        }
        figures.convergence_writes += writes.len();
        assert!(
            !logs.contains(BOTH_UNREADABLE),
            "{context}: a kill damaged the file and its backup:\n{logs}"
        );
        if needs_recovery {
            assert!(
                logs.contains(UNREADABLE) || logs.contains(MISSING),
                "{context}: `status` could not read the file, and the daemon did not recover it from the backup:\n{logs}"
            );
            figures.recovered_from_backup += 1;
        }
        if round == rounds {
            daemon.signal("TERM");
            let out = daemon.finish();
            assert_eq!(out.code, Some(0), "{context}: {}", out.stderr);
            break;
        }
        daemon.signal("KILL");
        let out = daemon.finish();
        assert_eq!(
            out.code, None,
            "{context}: the daemon ended by itself before the kill:\n{}",
            out.stderr
        );
        figures.kills += 1;

        // A restart with nothing changed writes nothing.
        seed.at(format!("round {round}: restart with nothing changed"));
        let context = format!("round {round} (restart with nothing changed)");
        let before = world.request_count();
        let daemon = Daemon::spawn(world.daemon(&state));
        world.wait_converged(&daemon, &current, &context);
        // What `status` shows once the record is confirmed: the file keeps
        // the address last *written*, so after a kill between the write and
        // the save it may show the one before (counted, not asserted).
        if !status(&state).1.contains(&status_line(&current)) {
            figures.status_behind_dns += 1;
        }
        // Odd rounds: the change at a random point of the 1 s poll cycle.
        let aimed = round % 2 == 0;
        if !aimed {
            std::thread::sleep(Duration::from_millis(rng.up_to(1000)));
        }
        // Counted up to the change: everything since the start, confirmed.
        let writes = world.writes_since(before);
        assert!(
            writes.is_empty(),
            "{context}: a restart with nothing changed wrote {writes:#?}\n{}",
            daemon.logs()
        );
        figures.quiet_restarts += 1;
        figures.quiet_restart_writes += writes.len();

        // The address changes; the daemon dies at a random moment after.
        // Odd rounds: the change at a random point of the poll cycle (the
        // pause above), the kill 0–400 ms after it, often before the daemon
        // even sees the change. Even rounds aim at the write and the save:
        // the kill 0–15 ms after the daemon logged the new address.
        current = address(round + 1);
        if aimed {
            let delay = Duration::from_millis(rng.up_to(15));
            seed.at(format!(
                "round {round}: kill {} ms after the daemon saw {current}",
                delay.as_millis()
            ));
            world.set_address(&current);
            daemon.wait_for(
                &format!("address changed family=ipv4 address={current}"),
                WAIT,
            );
            std::thread::sleep(delay);
            figures.aimed_kills += 1;
        } else {
            let delay = Duration::from_millis(rng.up_to(400));
            seed.at(format!(
                "round {round}: kill {} ms after the change to {current}",
                delay.as_millis()
            ));
            world.set_address(&current);
            std::thread::sleep(delay);
        }
        daemon.signal("KILL");
        let out = daemon.finish();
        assert_eq!(
            out.code, None,
            "round {round}: the daemon ended by itself before the kill:\n{}",
            out.stderr
        );
        figures.kills += 1;
        figures.rounds += 1;
        let seen = out
            .stderr
            .contains(&format!("address changed family=ipv4 address={current}"));
        let written = world.content().as_deref() == Some(current.as_str());
        held_at_kill = written;
        let (code, text) = status(&state);
        needs_recovery = code != Some(0);
        let saved = code == Some(0) && text.contains(&status_line(&current));
        if code == Some(0) {
            figures.status_ok_after_kill += 1;
        }
        match (written, saved) {
            (true, true) => figures.kills_after_save += 1,
            (true, false) => figures.kills_between_write_and_save += 1,
            (false, true) => panic!("round {round}: saved {current} before the provider held it"),
            (false, false) if seen => figures.kills_between_detection_and_write += 1,
            (false, false) => figures.kills_before_detection += 1,
        }
    }

    assert_eq!(figures.quiet_restarts, rounds);
    assert_eq!(figures.quiet_restart_writes, 0);
    eprintln!(
        "RELIABILITY crash: {figures:?} seed={} elapsed_secs={:.1}",
        seed.value,
        started.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------
// 2. A damaged state file.

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// The file is still readable: no warning at all.
    Clean,
    /// `state file unreadable; recovered from the backup`.
    FromBackup,
    /// `state file missing; recovered from the backup`.
    MissingFromBackup,
    /// `state file and backup unreadable; starting with empty state …`.
    Empty,
}

struct Case {
    name: String,
    /// Sets up the damage in a directory holding a good `state.json` and
    /// `state.json.bak`.
    damage: Box<dyn Fn(&Path) + Send + Sync>,
    expect: Expect,
    /// The daemon cannot save over what the damage left (a directory).
    save_fails: bool,
}

/// Whether `ddnsd status` reads the file: the daemon must then load it
/// without a warning.
fn readable(path: &Path) -> bool {
    status(path).0 == Some(0)
}

/// A truncated copy of the good file; `Clean` when what is left still
/// parses (the trailing newline cut off), decided by `ddnsd status`.
fn truncation_case(good: &[u8], length: usize, probe_dir: &Path) -> Case {
    let kept = good[..length].to_vec();
    let probe = probe_dir.join(format!("probe-{length}.json"));
    std::fs::write(&probe, &kept).unwrap();
    let expect = if readable(&probe) {
        Expect::Clean
    } else {
        Expect::FromBackup
    };
    std::fs::remove_file(probe).unwrap();
    Case {
        name: format!("truncated to {length} of {} bytes", good.len()),
        damage: Box::new(move |dir| std::fs::write(dir.join("state.json"), &kept).unwrap()),
        expect,
        save_fails: false,
    }
}

fn garbage(rng: &mut Rng, length: usize) -> Vec<u8> {
    (0..length).map(|_| rng.next() as u8).collect()
}

/// Runs one damage case in a fresh directory: the daemon logs exactly the
/// expected recovery, converges without writing (the provider holds the
/// address), keeps running until SIGTERM, and leaves a readable file.
fn run_case(world: &World, case: &Case, good: &[u8], good_backup: &[u8], address: &str) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, good).unwrap();
    std::fs::write(sibling(&state, "bak"), good_backup).unwrap();
    (case.damage)(dir.path());

    let daemon = Daemon::spawn(world.daemon(&state));
    let context = format!("damage: {}", case.name);
    world.wait_converged(&daemon, address, &context);
    if case.save_fails {
        daemon.wait_for(CANNOT_SAVE, WAIT);
    }
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(
        out.code,
        Some(0),
        "{context}: the daemon did not run until SIGTERM:\n{}",
        out.stderr
    );
    let logs = out.stderr;
    for (line, wanted) in [
        (UNREADABLE, case.expect == Expect::FromBackup),
        (MISSING, case.expect == Expect::MissingFromBackup),
        (BOTH_UNREADABLE, case.expect == Expect::Empty),
    ] {
        assert_eq!(
            logs.matches(line).count(),
            wanted as usize,
            "{context}: {line:?} expected {wanted}:\n{logs}"
        );
    }
    if case.expect != Expect::Clean {
        let warn = logs
            .lines()
            .find(|l| l.contains("recovered from the backup") || l.contains(BOTH_UNREADABLE))
            .unwrap();
        assert!(
            warn.contains("WARN") && warn.contains(state.to_str().unwrap()),
            "{context}: a warning naming the file: {warn}"
        );
    }
    assert_eq!(
        logs.contains(CANNOT_SAVE),
        case.save_fails,
        "{context}:\n{logs}"
    );
    if !case.save_fails {
        let (code, text) = status(&state);
        assert_eq!(
            code,
            Some(0),
            "{context}: the first save repairs it: {text}"
        );
        // From empty state nothing was written (the provider held the
        // address), so there is no record to show; otherwise the recovered one.
        let shown = if case.expect == Expect::Empty {
            "records: none written yet".to_string()
        } else {
            status_line(address)
        };
        assert!(text.contains(&shown), "{context}: {text}");
    }
}

/// Garbage, every truncation (a sample by default), a directory, a missing
/// file, file and backup both damaged: the daemon warns, recovers, converges
/// without a single write, and never exits because of it.
#[test]
fn a_damaged_state_file_is_recovered_and_never_stops_the_daemon() {
    let seed = Seed::new("a_damaged_state_file");
    let mut rng = seed.rng();
    let current = address(1);
    let Some(world) = World::new("a_damaged_state_file", &current) else {
        return;
    };
    let started = Instant::now();

    // A good file and backup, as a daemon leaves them.
    let good_state = world.dir.path().join("good").join("state.json");
    let daemon = Daemon::spawn(world.daemon(&good_state));
    world.wait_converged(&daemon, &current, "the first run");
    daemon.signal("TERM");
    assert_eq!(daemon.finish().code, Some(0));
    let good = std::fs::read(&good_state).unwrap();
    let good_backup = std::fs::read(sibling(&good_state, "bak")).unwrap();
    assert!(String::from_utf8_lossy(&good).contains(&current));

    let mut cases = vec![
        Case {
            name: "garbage bytes".into(),
            damage: Box::new({
                let bytes = garbage(&mut rng, good.len());
                move |dir| std::fs::write(dir.join("state.json"), &bytes).unwrap()
            }),
            expect: Expect::FromBackup,
            save_fails: false,
        },
        Case {
            name: "a directory in its place".into(),
            damage: Box::new(|dir| {
                std::fs::remove_file(dir.join("state.json")).unwrap();
                std::fs::create_dir(dir.join("state.json")).unwrap();
                std::fs::write(dir.join("state.json").join("x"), "x").unwrap();
            }),
            expect: Expect::FromBackup,
            save_fails: true,
        },
        Case {
            name: "missing, the backup intact".into(),
            damage: Box::new(|dir| std::fs::remove_file(dir.join("state.json")).unwrap()),
            expect: Expect::MissingFromBackup,
            save_fails: false,
        },
        Case {
            name: "file and backup both damaged".into(),
            damage: Box::new({
                let bytes = garbage(&mut rng, good.len());
                let half = good_backup[..good_backup.len() / 2].to_vec();
                move |dir| {
                    std::fs::write(dir.join("state.json"), &bytes).unwrap();
                    std::fs::write(dir.join("state.json.bak"), &half).unwrap();
                }
            }),
            expect: Expect::Empty,
            save_fails: false,
        },
        Case {
            name: "another program's JSON".into(),
            damage: Box::new(|dir| {
                std::fs::write(dir.join("state.json"), "{\"records\": {}}\n").unwrap();
            }),
            expect: Expect::FromBackup,
            save_fails: false,
        },
    ];
    let lengths: Vec<usize> = if full_sweep() {
        (0..good.len()).collect()
    } else {
        let n = good.len();
        let mut sample = vec![0, 1, n / 2, n - 2, n - 1];
        sample.extend((0..3).map(|_| rng.up_to(n as u64 - 1) as usize));
        sample.sort_unstable();
        sample.dedup();
        sample
    };
    let probe_dir = tempfile::tempdir().unwrap();
    cases.extend(
        lengths
            .iter()
            .map(|&length| truncation_case(&good, length, probe_dir.path())),
    );

    // Each daemon idles most of its life: three at a time on two cores.
    let before = world.request_count();
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(index) else { break };
                    seed.at(case.name.clone());
                    run_case(&world, case, &good, &good_backup, &current);
                }
            });
        }
    });
    let writes = world.writes_since(before);
    assert!(
        writes.is_empty(),
        "the provider holds the address: recovering must not write: {writes:#?}"
    );
    let clean = cases.iter().filter(|c| c.expect == Expect::Clean).count();
    eprintln!(
        "RELIABILITY damage: cases={} truncation_lengths={} of_state_file_bytes={} still_readable_lengths={clean} writes=0 seed={} elapsed_secs={:.1}",
        cases.len(),
        lengths.len(),
        good.len(),
        seed.value,
        started.elapsed().as_secs_f64()
    );
}

/// A file (or backup) from a newer format version stops the daemon with
/// exit code 2 before anything is written, and is left byte for byte as it
/// was (docs/CRASH_RECOVERY.md, "Format versions").
#[test]
fn a_state_file_from_a_newer_version_stops_the_daemon_and_is_left_untouched() {
    let Some(world) = World::new("a_state_file_from_a_newer_version", &address(2)) else {
        return;
    };
    for damaged in ["state.json", "state.json.bak"] {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state.json");
        std::fs::write(&state, state_document(1, &address(1))).unwrap();
        let newer = dir.path().join(damaged);
        let body = state_document(2, &address(1));
        std::fs::write(&newer, &body).unwrap();
        let modified = std::fs::metadata(&newer).unwrap().modified().unwrap();
        let before = world.request_count();

        // `timeout`: a daemon that wrongly keeps running fails the test
        // (exit 124) instead of hanging it.
        let mut command = Command::new("timeout");
        command
            .args(["30", BIN])
            .env_clear()
            .envs(world.vars(&state));
        let out = Daemon::spawn(command).finish();
        assert_eq!(out.code, Some(2), "{damaged}: {}", out.stderr);
        let message = format!(
            "{} was written in format version 2 by a newer ddnsd (this one reads version 1); run the newer ddnsd, or move the file away to start afresh",
            newer.display()
        );
        assert!(out.stderr.contains(&message), "{damaged}: {}", out.stderr);
        assert_eq!(std::fs::read_to_string(&newer).unwrap(), body);
        assert_eq!(
            std::fs::metadata(&newer).unwrap().modified().unwrap(),
            modified
        );
        assert!(!sibling(&state, "tmp").exists());
        assert!(
            world.request_count() == before,
            "{damaged}: nothing is asked of the provider before the refusal"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. A full disk and a directory without write permission.

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .is_some_and(|ids| ids.split_whitespace().next() == Some("0"))
}

/// Whether `program` runs as `program args…`.
fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The common part of both tests once the daemon runs with a store it
/// cannot write: the warning, DNS updates going on, the file keeping its
/// last good version; then `fix` and the retry saves.
fn saves_fail_then_recover(
    world: &World,
    daemon: &Daemon,
    state_seen: &Path,
    seeded: &str,
    fix: impl FnOnce(),
) {
    let first = address(1);
    let second = address(2);
    world.wait_converged(daemon, &first, "while saves fail");
    daemon.wait_for(CANNOT_SAVE, WAIT);
    let warning = daemon
        .logs()
        .lines()
        .find(|l| l.contains(CANNOT_SAVE))
        .unwrap()
        .to_string();
    assert!(
        warning.contains("WARN") && warning.contains("retry_in_secs=30"),
        "{warning}"
    );
    let kept = std::fs::read_to_string(state_seen).unwrap();
    assert!(
        kept.contains(seeded) && !kept.contains(&first),
        "the file keeps its last good version: {kept}"
    );

    // DNS updates go on while the state cannot be saved.
    world.set_address(&second);
    world.wait_converged(daemon, &second, "a second change while saves fail");
    assert!(
        daemon.logs().contains(&format!(
            "record updated record={RECORD} A address={second} previous={first}"
        )),
        "{}",
        daemon.logs()
    );

    fix();
    daemon.wait_for(SAVED_AGAIN, SAVE_RETRY_WAIT);
    let saved = std::fs::read_to_string(state_seen).unwrap();
    assert!(
        saved.contains(&second),
        "the retry saved the latest: {saved}"
    );
    let logs = daemon.logs();
    assert_eq!(
        logs.matches(CANNOT_SAVE).count(),
        1,
        "warned once, retried quietly:\n{logs}"
    );
}

/// The state directory on a tiny tmpfs, filled up before the start (in a
/// private mount namespace, so nothing outlives the daemon).
#[test]
fn a_full_disk_keeps_dns_updates_going_and_saves_once_space_is_freed() {
    const TEST: &str = "a_full_disk";
    if !is_root() {
        ddns_testkit::skip_or_fail(TEST, "mounting a tmpfs needs root");
        return;
    }
    if !works("unshare", &["-m", "true"]) {
        ddns_testkit::skip_or_fail(TEST, "unshare -m does not work here (util-linux)");
        return;
    }
    let Some(world) = World::new(TEST, &address(1)) else {
        return;
    };
    let mount_point = world.dir.path().join("state");
    std::fs::create_dir(&mount_point).unwrap();
    let seed = world.dir.path().join("seed.json");
    let seeded = address(0);
    std::fs::write(&seed, state_document(1, &seeded)).unwrap();

    // 16 KiB rather than 4: a save needs a page each for the file, its
    // backup and the next version, and the filler takes every page left.
    let script = r#"set -e
mount -t tmpfs -o size=16k,mode=0700 ddns-reliability "$1"
cp "$2" "$1/state.json"
head -c 1048576 /dev/zero >"$1/filler" 2>/dev/null || true
exec "$3""#;
    let mut command = Command::new("unshare");
    command
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(&mount_point)
        .arg(&seed)
        .arg(BIN)
        .env_clear()
        .envs(world.vars(&mount_point.join("state.json")));
    let daemon = Daemon::spawn(command);
    // The tmpfs exists only in the daemon's mount namespace.
    let inside = PathBuf::from(format!("/proc/{}/root", daemon.pid()))
        .join(mount_point.strip_prefix("/").unwrap());
    saves_fail_then_recover(&world, &daemon, &inside.join("state.json"), &seeded, || {
        let filler = inside.join("filler");
        assert!(
            std::fs::metadata(&filler).unwrap().len() > 0,
            "the filler took the space"
        );
        std::fs::remove_file(filler).unwrap();
    });
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        !std::fs::read_dir(&mount_point).unwrap().any(|_| true),
        "nothing was written outside the namespace"
    );
}

/// The state directory without write permission for the daemon, run as
/// `nobody` (root would bypass the permission).
#[test]
fn a_directory_without_write_permission_keeps_dns_updates_going_and_saves_once_allowed() {
    const TEST: &str = "a_directory_without_write_permission";
    if !is_root() {
        ddns_testkit::skip_or_fail(TEST, "changing users needs root");
        return;
    }
    if !works(
        "setpriv",
        &["--reuid=65534", "--regid=65534", "--clear-groups", "true"],
    ) {
        ddns_testkit::skip_or_fail(TEST, "setpriv does not work here (util-linux)");
        return;
    }
    let Some(world) = World::new(TEST, &address(1)) else {
        return;
    };
    std::fs::set_permissions(world.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let state_dir = world.dir.path().join("state");
    std::fs::create_dir(&state_dir).unwrap();
    let state = state_dir.join("state.json");
    let seeded = address(0);
    std::fs::write(&state, state_document(1, &seeded)).unwrap();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o600)).unwrap();
    for path in [&state_dir, &state] {
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    }
    std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o555)).unwrap();

    let mut command = Command::new("setpriv");
    command
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .env_clear()
        .envs(world.vars(&state));
    let daemon = Daemon::spawn(command);
    daemon.wait_for(
        "cannot create the state lock file; running without a lock",
        WAIT,
    );
    saves_fail_then_recover(&world, &daemon, &state, &seeded, || {
        std::fs::set_permissions(&state_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    });
    daemon.signal("TERM");
    let out = daemon.finish();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let metadata = std::fs::metadata(&state).unwrap();
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&metadata),
        65534,
        "written by the daemon's user"
    );
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
}
