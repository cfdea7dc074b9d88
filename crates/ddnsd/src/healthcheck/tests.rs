use std::fs::File;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Env {
    Env::from_pairs(pairs.iter().copied())
}

fn makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

#[test]
fn the_metrics_endpoint_wins_and_a_wildcard_is_asked_on_loopback() {
    let plan = plan(&env(&[
        ("DDNS_METRICS_ADDR", "0.0.0.0:9851"),
        ("DDNS_STATE_STORE_TYPE", "file"),
        ("DDNS_STATE_STORE_PATH", "/state/state.json"),
    ]));
    assert_eq!(plan, Ok(Plan::Endpoint("127.0.0.1:9851".parse().unwrap())));
    let plan = plan_of(&[("DDNS_METRICS_ADDR", "[::]:9851")]);
    assert_eq!(plan, Plan::Endpoint("[::1]:9851".parse().unwrap()));
    let plan = plan_of(&[("DDNS_METRICS_ADDR", "192.0.2.7:80")]);
    assert_eq!(plan, Plan::Endpoint("192.0.2.7:80".parse().unwrap()));
}

fn plan_of(pairs: &[(&str, &str)]) -> Plan {
    plan(&env(pairs)).unwrap()
}

#[test]
fn the_state_file_is_judged_by_the_recheck_interval_of_a_reading_provider() {
    let base = [
        ("DDNS_STATE_STORE_TYPE", "File"),
        ("DDNS_STATE_STORE_PATH", "/state/state.json"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut pairs = base.to_vec();
        pairs.extend_from_slice(extra);
        plan_of(&pairs)
    };
    assert_eq!(
        with(&[
            ("DDNS_PROVIDER_TYPE", "cloudflare"),
            ("DDNS_RECHECK_INTERVAL_SECS", "60")
        ]),
        Plan::StateFile {
            path: "/state/state.json".into(),
            max_age: Ok(Duration::from_secs(120 + 900)),
        }
    );
    let Plan::StateFile { max_age, .. } = with(&[("DDNS_PROVIDER_TYPE", "rfc2136")]) else {
        panic!("a state file plan");
    };
    assert_eq!(max_age, Ok(Duration::from_secs(7200 + 900)));
    let Plan::StateFile { max_age, .. } = with(&[("DDNS_PROVIDER_TYPE", "dry-run")]) else {
        panic!("a state file plan");
    };
    assert_eq!(
        max_age,
        Err("the dry-run provider cannot read its records, so nothing re-checks them".into())
    );
    let Plan::StateFile { max_age, .. } = with(&[
        ("DDNS_PROVIDER_TYPE", "cloudflare"),
        ("DDNS_RECHECK_INTERVAL_SECS", "0"),
    ]) else {
        panic!("a state file plan");
    };
    assert_eq!(
        max_age,
        Err("DDNS_RECHECK_INTERVAL_SECS=0: no re-checks".into())
    );
}

#[test]
fn without_metrics_or_the_file_store_it_says_what_to_set() {
    for pairs in [
        &[][..],
        &[("DDNS_STATE_STORE_TYPE", "memory")],
        &[("DDNS_STATE_STORE_TYPE", "file")],
    ] {
        let error = plan(&env(pairs)).expect_err("nothing to check");
        assert_eq!(
            error.to_string(),
            "DDNS_METRICS_ADDR: healthcheck needs the metrics endpoint (DDNS_METRICS_ADDR, \
             e.g. 127.0.0.1:9851) or the file state store (DDNS_STATE_STORE_TYPE=file and \
             DDNS_STATE_STORE_PATH), set as for the daemon"
        );
    }
    let error = plan(&env(&[("DDNS_METRICS_ADDR", "localhost:9851")])).expect_err("host name");
    assert!(
        error
            .to_string()
            .starts_with("DDNS_METRICS_ADDR: 'localhost:9851' is not an IP address"),
        "{error}"
    );
}

#[test]
fn device_numbers_decode_like_glibc() {
    assert_eq!(device_numbers(0xfe00), (0xfe, 0));
    assert_eq!(device_numbers(makedev(8, 1)), (8, 1));
    assert_eq!(device_numbers(makedev(259, 300)), (259, 300));
    assert_eq!(
        device_numbers(makedev(4095 + 7, 1 << 20)),
        (4095 + 7, 1 << 20)
    );
}

#[test]
fn proc_locks_lines_name_the_holder_and_skip_waiters() {
    let locks = "\
1: POSIX  ADVISORY  WRITE 900 08:01:77 0 EOF
2: FLOCK  ADVISORY  WRITE 1234 fe:00:10010654 0 EOF
2: -> FLOCK  ADVISORY  WRITE 4321 fe:00:555 0 EOF
3: OFDLCK ADVISORY  READ  -1 103:02:42 0 EOF
";
    assert_eq!(lock_holder(locks, 0xfe, 0, 10_010_654), Some(Some(1234)));
    assert_eq!(lock_holder(locks, 8, 1, 77), Some(Some(900)));
    assert_eq!(
        lock_holder(locks, 0xfe, 0, 555),
        None,
        "a waiter holds nothing"
    );
    assert_eq!(lock_holder(locks, 0x103, 2, 42), Some(None), "no pid shown");
    assert_eq!(lock_holder(locks, 0xfe, 1, 10_010_654), None);
    assert_eq!(lock_holder("", 0xfe, 0, 1), None);
}

struct StateDir {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn state_dir() -> StateDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    StateDir { _dir: dir, path }
}

fn proc_locks() -> io::Result<String> {
    std::fs::read_to_string("/proc/locks")
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn a_held_lock_and_a_fresh_file_are_healthy_and_a_stale_file_is_not() {
    let state = state_dir();
    let lock = File::create(lock_path(&state.path)).unwrap();
    lock.try_lock().unwrap();
    std::fs::write(&state.path, "{}").unwrap();
    let now = SystemTime::now();
    let me = std::process::id();

    let verdict = check_state_file(&state.path, Ok(HOUR), proc_locks(), now);
    let Verdict::Healthy(message) = verdict else {
        panic!("healthy: {verdict:?}");
    };
    assert!(
        message.starts_with(&format!("ddnsd (pid {me}) holds ")),
        "{message}"
    );
    assert!(message.ends_with("state written 0s ago"), "{message}");

    let later = now + HOUR + Duration::from_secs(60);
    let verdict = check_state_file(&state.path, Ok(HOUR), proc_locks(), later);
    let Verdict::Unhealthy(message) = verdict else {
        panic!("stale: {verdict:?}");
    };
    assert!(
        message.contains("but the state file was last written 1h 1m ago (limit 1h)"),
        "{message}"
    );

    let verdict = check_state_file(&state.path, Err("why".into()), proc_locks(), later);
    let Verdict::Healthy(message) = verdict else {
        panic!("age not judged: {verdict:?}");
    };
    assert!(
        message.ends_with("(its age is not judged: why)"),
        "{message}"
    );

    std::fs::remove_file(&state.path).unwrap();
    let verdict = check_state_file(&state.path, Ok(HOUR), proc_locks(), now);
    let Verdict::Healthy(message) = verdict else {
        panic!("starting: {verdict:?}");
    };
    assert!(
        message.ends_with("no state saved yet (starting)"),
        "{message}"
    );
}

#[test]
fn no_lock_holder_is_unhealthy() {
    let state = state_dir();
    let verdict = check_state_file(&state.path, Ok(HOUR), proc_locks(), SystemTime::now());
    let Verdict::Unhealthy(message) = verdict else {
        panic!("no lock file: {verdict:?}");
    };
    assert!(message.ends_with(&format!(
        "state.json.lock does not exist: no ddnsd has run with DDNS_STATE_STORE_PATH={}",
        state.path.display()
    )));

    // The file a stopped daemon leaves behind, and a fresh state file.
    File::create(lock_path(&state.path)).unwrap();
    std::fs::write(&state.path, "{}").unwrap();
    let verdict = check_state_file(&state.path, Ok(HOUR), proc_locks(), SystemTime::now());
    let Verdict::Unhealthy(message) = verdict else {
        panic!("lock not held: {verdict:?}");
    };
    assert!(
        message.starts_with("no process holds ") && message.contains("ddnsd is not running"),
        "{message}"
    );
}

#[test]
fn without_proc_locks_the_answer_is_unknown() {
    let state = state_dir();
    File::create(lock_path(&state.path)).unwrap();
    let missing = Err(io::Error::from(io::ErrorKind::NotFound));
    let verdict = check_state_file(&state.path, Ok(HOUR), missing, SystemTime::now());
    let Verdict::Unknown(message) = verdict else {
        panic!("unknown: {verdict:?}");
    };
    assert!(message.starts_with("cannot read /proc/locks"), "{message}");
    assert!(message.contains("set DDNS_METRICS_ADDR"), "{message}");
}
