//! `ddnsd status`: what the state file says, without a running daemon.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ddns_core::health::HealthRecord;
use ddns_core::{FileStateStore, StateSnapshot};

/// The report for the state file at `path`, as of `now`.
pub(crate) fn report(path: &Path, snapshot: &StateSnapshot, now: SystemTime) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "state file: {}", path.display());
    match &snapshot.health {
        Some(health) => health_lines(&mut out, health, now),
        None => {
            let _ = writeln!(
                out,
                "readiness: unknown (no daemon has saved its health here yet)"
            );
        }
    }
    if snapshot.records.is_empty() {
        let _ = writeln!(out, "records: none written yet");
        return out;
    }
    let _ = writeln!(out, "records:");
    let width = snapshot.records.keys().map(String::len).max().unwrap_or(0);
    for (key, state) in &snapshot.records {
        let shown = key.replacen('/', " ", 1);
        let _ = writeln!(
            out,
            "  {shown:<width$}  {:<39}  written {}",
            state.address.to_string(),
            when(state.written_at, now)
        );
    }
    out
}

fn health_lines(out: &mut String, health: &HealthRecord, now: SystemTime) {
    let state = health.state.map_or("unknown", |s| s.as_str());
    let since = health
        .since
        .map(|s| format!(" since {}", when(s, now)))
        .unwrap_or_default();
    let _ = writeln!(out, "readiness: {state}{since} (as last saved)");
    match health.availability() {
        Some(percent) => {
            let _ = writeln!(
                out,
                "availability: {percent:.2}% ready over {} running; {} of {} passes ready",
                span(health.running_secs),
                health.ready_evaluations,
                health.evaluations
            );
        }
        None => {
            let _ = writeln!(out, "availability: not measured yet");
        }
    }
}

/// `2026-11-28T04:00:00Z (3h 2m ago)`.
fn when(unix_secs: u64, now: SystemTime) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(unix_secs);
    let stamp = humantime::format_rfc3339_seconds(at);
    match now.duration_since(at) {
        Ok(age) => format!("{stamp} ({} ago)", span(age.as_secs())),
        Err(_) => format!("{stamp} (in the future: check the clock)"),
    }
}

/// `3d 4h`, `2h 5m`, `4m 10s`, `12s`.
fn span(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// Reads the file and prints the report; the exit code.
pub(crate) fn print(path: &Path) -> u8 {
    match FileStateStore::peek(path) {
        Ok(snapshot) => {
            print!("{}", report(path, &snapshot, SystemTime::now()));
            crate::EXIT_OK
        }
        Err(error) => {
            eprintln!("ddnsd status: {error}");
            crate::EXIT_RUNTIME
        }
    }
}

#[cfg(test)]
mod tests {
    use ddns_core::RecordState;
    use ddns_core::health::Readiness;

    use super::*;

    #[test]
    fn the_report_shows_records_readiness_and_availability() {
        let now = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let mut snapshot = StateSnapshot::default();
        snapshot.records.insert(
            "home.example.com/A".into(),
            RecordState {
                address: "81.2.69.160".parse().unwrap(),
                written_at: 1_795_000_000 - 7_380,
            },
        );
        snapshot.health = Some(HealthRecord {
            running_secs: 86_400 * 2 + 3_600,
            ready_secs: 86_400 * 2,
            evaluations: 40,
            ready_evaluations: 38,
            state: Some(Readiness::Ready),
            since: Some(1_795_000_000 - 65),
        });
        let text = report(Path::new("/var/lib/ddns/state.json"), &snapshot, now);
        assert_eq!(
            text,
            "state file: /var/lib/ddns/state.json\n\
             readiness: ready since 2026-11-18T11:05:35Z (1m 5s ago) (as last saved)\n\
             availability: 97.96% ready over 2d 1h running; 38 of 40 passes ready\n\
             records:\n  \
             home.example.com A  81.2.69.160                              written 2026-11-18T09:03:40Z (2h 3m ago)\n"
        );
    }

    #[test]
    fn an_empty_state_says_so() {
        let text = report(
            Path::new("s.json"),
            &StateSnapshot::default(),
            SystemTime::now(),
        );
        assert!(text.contains("readiness: unknown (no daemon has saved its health here yet)"));
        assert!(text.contains("records: none written yet"));
    }
}
