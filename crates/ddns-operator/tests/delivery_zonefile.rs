//! zonefile delivery: against a real BIND9 whose named.conf includes the
//! generated include file and which `rndc` controls, and in a plain
//! directory with stand-in commands for what needs no server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod delivery_support;

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ddns_core::zone::{
    Assembly, Date, Owner, RecordData, RecordType, RrSet, RrSetKey, ZoneName, render,
};
use ddns_operator::delivery::zonefile::{self, ZoneFileOutcome, ZoneFileTarget};
use ddns_operator::delivery::{DeliveryError, zones_conf};
use ddns_testkit::{Bind, BindOptions};
use delivery_support::{a, assembly, claim, host, runtime, spec};

const ZONE: &str = "zf.test";
const DAY1: Date = Date {
    year: 2026,
    month: 11,
    day: 28,
};
const DAY2: Date = Date {
    year: 2026,
    month: 11,
    day: 29,
};

/// The zone with `www` holding `address`.
fn zone_with(address: &str) -> Assembly {
    let zone = spec(ZONE, 300, &["ns1.example.net"]);
    assembly(&zone, &[claim(&zone, "www", None, vec![a(address)])])
}

fn zone_name() -> ZoneName {
    ZoneName::parse(ZONE).unwrap()
}

/// Commands that note each run in `log` before calling rndc; the reload
/// fails while `fail` exists.
fn target(bind: &Bind, log: &Path, fail: &Path) -> ZoneFileTarget {
    let rndc = bind.rndc_command(&[]).unwrap().join(" ");
    let mut target = ZoneFileTarget::new(bind.zones_dir().unwrap());
    target.reload_command = vec![
        "sh".into(),
        "-c".into(),
        format!(
            "if [ -e {fail} ]; then echo 'rndc: connect failed: connection refused' >&2; exit 1; fi; echo reload {{zone}} {{file}} >> {log}; exec {rndc} reload {{zone}}",
            fail = fail.display(),
            log = log.display()
        ),
    ];
    target.reconfig_command = vec![
        "sh".into(),
        "-c".into(),
        format!("echo reconfig >> {}; exec {rndc} reconfig", log.display()),
    ];
    target.command_timeout = Duration::from_secs(20);
    target
}

fn start(test: &str) -> Option<(Bind, PathBuf, PathBuf)> {
    let bind = Bind::start(test, BindOptions::new().rndc(true))?;
    let log = bind.dir().join("commands.log");
    let fail = bind.dir().join("reload-fails");
    Some((bind, log, fail))
}

fn log_of(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// Waits until named answers `expected` (a reload or reconfig loads the
/// zone in the background).
fn wait_for(bind: &Bind, name: &str, rtype: &str, expected: &[String]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = bind.query(name, rtype);
        if answer == expected {
            return;
        }
        if Instant::now() > deadline {
            panic!(
                "{name} {rtype}: named answers {answer:?}, not {expected:?}\n{}",
                bind.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn serial_served(bind: &Bind) -> String {
    bind.query(ZONE, "SOA")
        .first()
        .and_then(|soa| soa.split(' ').nth(2))
        .unwrap_or_default()
        .to_owned()
}

fn identity(path: &Path) -> (u64, i64, i64) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.ino(), meta.mtime(), meta.mtime_nsec())
}

#[test]
fn creates_changes_leaves_alone_and_removes_a_zone_file() {
    let Some((bind, log, fail)) = start("zonefile_lifecycle") else {
        return;
    };
    let rt = runtime();
    let target = target(&bind, &log, &fail);
    let path = target.zone_path(&zone_name());
    let include = target.include_path();

    // Creation: the file, the include file, a reconfig, and the zone answers.
    let created = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.1"),
            None,
            DAY1,
        ))
        .unwrap();
    assert_eq!(created.outcome, ZoneFileOutcome::Written);
    assert_eq!(created.serial, 2_026_112_800);
    assert_eq!((created.reconfigured, created.reloaded), (true, false));
    assert_eq!(created.path, path);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        render(&zone_with("192.0.2.1"), 2_026_112_800)
    );
    assert_eq!(
        std::fs::read_to_string(&include).unwrap(),
        zones_conf(&target.dir, &[zone_name()].into())
    );
    assert_eq!(log_of(&log), "reconfig\n");
    wait_for(&bind, "www.zf.test", "A", &["192.0.2.1".into()]);
    assert_eq!(serial_served(&bind), "2026112800");

    // A requeue with nothing changed writes nothing and reloads nothing.
    let file_before = identity(&path);
    let include_before = identity(&include);
    let same = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.1"),
            Some(created.serial),
            DAY1,
        ))
        .unwrap();
    assert_eq!(same.outcome, ZoneFileOutcome::Unchanged);
    assert_eq!(same.serial, 2_026_112_800);
    assert_eq!((same.reconfigured, same.reloaded), (false, false));
    assert_eq!(identity(&path), file_before, "same inode and mtime");
    assert_eq!(identity(&include), include_before);
    assert_eq!(log_of(&log), "reconfig\n", "no command ran");

    // A change the same day: serial + 1, a reload, the new answer.
    let changed = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.2"),
            Some(same.serial),
            DAY1,
        ))
        .unwrap();
    assert_eq!(changed.outcome, ZoneFileOutcome::Written);
    assert_eq!(changed.serial, 2_026_112_801);
    assert_eq!((changed.reconfigured, changed.reloaded), (false, true));
    assert_ne!(identity(&path).0, file_before.0, "replaced by a rename");
    assert_eq!(
        identity(&include),
        include_before,
        "the include file is unchanged"
    );
    assert_eq!(
        log_of(&log),
        format!("reconfig\nreload zf.test {}\n", path.display())
    );
    wait_for(&bind, "www.zf.test", "A", &["192.0.2.2".into()]);
    assert_eq!(serial_served(&bind), "2026112801");

    // The next day the serial jumps to the date.
    let next_day = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.3"),
            Some(changed.serial),
            DAY2,
        ))
        .unwrap();
    assert_eq!(next_day.serial, 2_026_112_900);
    wait_for(&bind, "www.zf.test", "A", &["192.0.2.3".into()]);
    assert_eq!(serial_served(&bind), "2026112900");

    // Removal: out of the include file, reconfigured, file gone, not served.
    assert!(
        rt.block_on(zonefile::remove(&target, &zone_name()))
            .unwrap()
    );
    assert!(!path.exists());
    assert_eq!(
        std::fs::read_to_string(&include).unwrap(),
        zones_conf(&target.dir, &BTreeSet::new())
    );
    assert!(log_of(&log).ends_with("reconfig\n"), "{}", log_of(&log));
    wait_for(&bind, "www.zf.test", "A", &[]);
    assert!(
        !rt.block_on(zonefile::remove(&target, &zone_name()))
            .unwrap()
    );
    let leftovers: Vec<String> = std::fs::read_dir(&target.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        leftovers,
        ["zones.conf"],
        "no temporary file or marker left"
    );
}

#[test]
fn a_zone_named_checkzone_refuses_leaves_the_old_file_in_place() {
    let Some((bind, log, fail)) = start("zonefile_checkzone_refusal") else {
        return;
    };
    let rt = runtime();
    let target = target(&bind, &log, &fail);
    let good = zone_with("192.0.2.1");
    let first = rt
        .block_on(zonefile::deliver(&target, &good, None, DAY1))
        .unwrap();
    let path = first.path.clone();
    let before = std::fs::read_to_string(&path).unwrap();
    let commands = log_of(&log);

    // A CNAME beside the A record at www, slipped past the assembly's
    // conflict rules: BIND refuses such a zone.
    let mut bad = good.clone();
    let owner = Owner::parse("www", &bad.zone.name).unwrap();
    bad.rrsets.insert(
        RrSetKey::new(&owner, RecordType::Cname),
        RrSet {
            owner,
            record_type: RecordType::Cname,
            ttl: 300,
            values: vec![RecordData::Cname(host("web.example.net"))],
            sources: vec!["Test/www".into()],
        },
    );
    let error = rt
        .block_on(zonefile::deliver(&target, &bad, Some(first.serial), DAY1))
        .unwrap_err();
    assert!(matches!(error, DeliveryError::CheckZone { .. }), "{error}");
    assert!(error.is_permanent());
    assert_eq!(error.reason(), "ZoneCheckFailed");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "named-checkzone refused zone zf.test; {} is left as it was: ",
            path.display()
        )),
        "{message}"
    );
    assert!(message.contains("CNAME and other data"), "{message}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), before);
    assert_eq!(log_of(&log), commands, "no reload");
    let mut names: Vec<String> = std::fs::read_dir(&target.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["zf.test.zone", "zones.conf"],
        "the temporary file is gone"
    );
    assert_eq!(bind.query("www.zf.test", "A"), ["192.0.2.1"]);
}

#[test]
fn a_failed_reload_is_retried_by_the_next_delivery_though_the_file_is_unchanged() {
    let Some((bind, log, fail)) = start("zonefile_reload_retried") else {
        return;
    };
    let rt = runtime();
    let target = target(&bind, &log, &fail);
    let first = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.1"),
            None,
            DAY1,
        ))
        .unwrap();
    wait_for(&bind, "www.zf.test", "A", &["192.0.2.1".into()]);

    std::fs::write(&fail, "").unwrap();
    let error = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.2"),
            Some(first.serial),
            DAY1,
        ))
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(error.reason(), "CommandFailed");
    let message = error.to_string();
    assert!(
        message.starts_with("reload of zone zf.test command `sh -c "),
        "{message}"
    );
    assert!(
        message.ends_with("failed (exit status: 1): rndc: connect failed: connection refused"),
        "{message}"
    );
    assert!(
        std::fs::read_to_string(&first.path)
            .unwrap()
            .contains("192.0.2.2"),
        "the new file is in place"
    );
    assert_eq!(
        bind.query("www.zf.test", "A"),
        ["192.0.2.1"],
        "not loaded yet"
    );

    // The server's control channel is back: the file is the same, but the
    // reload is still owed.
    std::fs::remove_file(&fail).unwrap();
    let retried = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.2"),
            Some(first.serial),
            DAY1,
        ))
        .unwrap();
    assert_eq!(retried.outcome, ZoneFileOutcome::Unchanged);
    assert!(retried.reloaded);
    assert_eq!(retried.serial, 2_026_112_801);
    wait_for(&bind, "www.zf.test", "A", &["192.0.2.2".into()]);

    let settled = rt
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.2"),
            Some(retried.serial),
            DAY1,
        ))
        .unwrap();
    assert_eq!(settled.outcome, ZoneFileOutcome::Unchanged);
    assert!(!settled.reloaded, "owed once, run once");
}

/// A directory target whose commands are stand-ins, and a checker that
/// refuses everything with a message.
fn offline_target(dir: &Path) -> ZoneFileTarget {
    let checker = dir.join("refuse-checkzone");
    std::fs::write(
        &checker,
        "#!/bin/sh\necho \"zone $5/IN: loading from master file $6 failed: stand-in refusal\"\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&checker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let zones = dir.join("zones");
    std::fs::create_dir(&zones).unwrap();
    let mut target = ZoneFileTarget::new(zones);
    target.reload_command = vec!["true".into()];
    target.reconfig_command = vec!["true".into()];
    target.checkzone = checker.display().to_string();
    target
}

#[test]
fn a_refusing_checker_is_quoted_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = offline_target(dir.path());
    let error = runtime()
        .block_on(zonefile::deliver(
            &target,
            &zone_with("192.0.2.1"),
            None,
            DAY1,
        ))
        .unwrap_err();
    let path = target.zone_path(&zone_name());
    let message = error.to_string();
    let expected_start = format!(
        "{} refused zone zf.test; {} is left as it was: zone zf.test/IN: loading from master file {}/.zf.test.zone.",
        target.checkzone,
        path.display(),
        target.dir.display()
    );
    assert!(message.starts_with(&expected_start), "{message}");
    assert!(
        message.ends_with(".tmp failed: stand-in refusal"),
        "{message}"
    );
    assert!(!path.exists());
    assert_eq!(std::fs::read_dir(&target.dir).unwrap().count(), 0);
}

#[test]
fn the_include_file_is_rewritten_only_when_the_set_of_zones_changes() {
    let dir = tempfile::tempdir().unwrap();
    let target = offline_target(dir.path());
    let rt = runtime();
    let present = ZoneName::parse("present.test").unwrap();
    let absent = ZoneName::parse("absent.test").unwrap();
    std::fs::write(target.zone_path(&present), "; a zone file\n").unwrap();
    let wanted: BTreeSet<ZoneName> = [present.clone(), absent.clone()].into();

    let listed = rt.block_on(zonefile::sync_zones(&target, &wanted)).unwrap();
    assert_eq!(listed, [present.clone()].into(), "only zones with a file");
    let include = target.include_path();
    assert_eq!(
        std::fs::read_to_string(&include).unwrap(),
        zones_conf(&target.dir, &listed)
    );
    let before = identity(&include);
    rt.block_on(zonefile::sync_zones(&target, &wanted)).unwrap();
    assert_eq!(identity(&include), before, "not rewritten");

    // A reconfig that fails stays owed until one succeeds.
    let mut failing = target.clone();
    failing.reconfig_command = vec!["sh".into(), "-c".into(), "echo no >&2; exit 3".into()];
    let error = rt
        .block_on(zonefile::sync_zones(&failing, &BTreeSet::new()))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "reconfig command `sh -c echo no >&2; exit 3` failed (exit status: 3): no"
    );
    assert!(error.is_transient());
    assert!(target.dir.join(".reconfig-pending").exists());
    rt.block_on(zonefile::sync_zones(&target, &BTreeSet::new()))
        .unwrap();
    assert!(!target.dir.join(".reconfig-pending").exists());

    // Settings that cannot work are refused before anything is done.
    let mut empty = target.clone();
    empty.reload_command.clear();
    let error = rt
        .block_on(zonefile::deliver(
            &empty,
            &zone_with("192.0.2.1"),
            None,
            DAY1,
        ))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid zone-file delivery settings: the reload and reconfig commands must not be empty"
    );
}

#[test]
fn a_zone_with_problems_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let target = offline_target(dir.path());
    let zone = spec(ZONE, 300, &["ns.zf.test"]);
    let problems = ddns_core::zone::assemble(&zone, &[]);
    assert!(!problems.problems.is_empty());
    let error = runtime()
        .block_on(zonefile::deliver(&target, &problems, None, DAY1))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "zone zf.test is not delivered: name server ns.zf.test is inside the zone but has no A or AAAA record; add an ARecord or AAAARecord for it"
    );
    assert_eq!(error.reason(), "ZoneNotLoadable");
    assert_eq!(std::fs::read_dir(&target.dir).unwrap().count(), 0);
}
