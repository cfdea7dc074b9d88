//! zonefile delivery: the whole zone as a file in a directory BIND reads,
//! listed in an include file of `zone {}` stanzas, loaded with a reload.
//!
//! The directory holds, for zones `example.com` and `example.org`:
//!
//! ```text
//! example.com.zone            the zone files
//! example.org.zone
//! zones.conf                  zone "example.com" { type primary; file ".../example.com.zone"; };
//! .example.com.reload-pending a reload still owed to BIND (see below)
//! .reconfig-pending           a reconfig still owed to BIND
//! ```
//!
//! and named.conf includes the include file: `include "/DIR/zones.conf";`.
//!
//! A delivery renders the zone; when the file already holds the same
//! content (whatever its serial) nothing is written. Otherwise the serial
//! follows BIND's date rule from the larger (RFC 1982) of the caller's last
//! serial and the file's, the text goes to a temporary file in the same
//! directory, `named-checkzone -k fail -i full` must accept it, and it is
//! synced and renamed over the zone file, and the directory synced. A zone
//! new to the include file is added to it and BIND is told with the
//! reconfig command (`rndc reconfig`); a changed zone BIND already has is
//! reloaded (`rndc reload {zone}`).
//!
//! Owed commands are remembered as marker files, created before the
//! change they follow and removed once the command succeeded. A reload
//! that fails, or a process that stops between the rename and the reload,
//! leaves the marker, and the next delivery of the zone runs the command
//! even though the file is unchanged. The markers live beside the files,
//! so this survives restarts of the operator.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ddns_core::zone::{
    Assembly, Date, ZoneName, next_serial, render, rendered_serial, same_content, serial_gt,
};
use tokio::sync::Mutex;
use tracing::{debug, info, instrument, warn};

use super::error::{DeliveryError, Result};

/// The include file's name inside the directory.
pub const INCLUDE_FILE: &str = "zones.conf";
const RECONFIG_MARKER: &str = ".reconfig-pending";
/// Most of a command's output kept in an error.
const MAX_OUTPUT: usize = 4_000;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Where zone files go and how BIND is told about them.
#[derive(Debug, Clone)]
pub struct ZoneFileTarget {
    /// The directory, absolute; BIND must be able to read it.
    pub dir: PathBuf,
    /// The reload command, one word per element; `{zone}` and `{file}` in
    /// any word are replaced by the zone's name and its file's path.
    /// Default `rndc reload {zone}`.
    pub reload_command: Vec<String>,
    /// The command run after the include file changed (a zone added or
    /// removed). Default `rndc reconfig`.
    pub reconfig_command: Vec<String>,
    /// The zone checker. Default `named-checkzone`.
    pub checkzone: String,
    /// How long one command may run before it is killed.
    pub command_timeout: Duration,
}

/// Serialises changes of include files (and the reconfig that follows)
/// between deliveries running at the same time in this process.
static INCLUDE_LOCK: Mutex<()> = Mutex::const_new(());

/// What a zonefile delivery did to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneFileOutcome {
    /// A new file was written.
    Written,
    /// The file already held this content; nothing was written.
    Unchanged,
}

/// What a zonefile delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFileReport {
    /// Written or unchanged.
    pub outcome: ZoneFileOutcome,
    /// The serial the file holds now.
    pub serial: u32,
    /// The zone file.
    pub path: PathBuf,
    /// Whether the reload command ran (and succeeded).
    pub reloaded: bool,
    /// Whether the reconfig command ran (and succeeded).
    pub reconfigured: bool,
}

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

impl ZoneFileTarget {
    /// Files in `dir`, with the default commands and a 60 s command timeout.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            reload_command: words("rndc reload {zone}"),
            reconfig_command: words("rndc reconfig"),
            checkzone: "named-checkzone".to_string(),
            command_timeout: Duration::from_secs(60),
        }
    }

    /// Checks the settings: an absolute directory whose path can be quoted
    /// in named.conf, and non-empty commands.
    pub fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(DeliveryError::InvalidTarget { reason });
        let Some(dir) = self.dir.to_str() else {
            return invalid(format!("{} is not UTF-8", self.dir.display()));
        };
        if !self.dir.is_absolute() {
            return invalid(format!("the zone directory {dir} is not absolute"));
        }
        if dir.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
            return invalid(format!(
                "the zone directory {dir} holds a quote, backslash or control character, which named.conf cannot quote"
            ));
        }
        if self.reload_command.is_empty() || self.reconfig_command.is_empty() {
            return invalid("the reload and reconfig commands must not be empty".into());
        }
        if self.checkzone.is_empty() {
            return invalid("the zone checker must not be empty".into());
        }
        Ok(())
    }

    /// The file of `zone`: `<dir>/<zone>.zone`.
    pub fn zone_path(&self, zone: &ZoneName) -> PathBuf {
        self.dir.join(format!("{zone}.zone"))
    }

    /// The include file: `<dir>/zones.conf`.
    pub fn include_path(&self) -> PathBuf {
        self.dir.join(INCLUDE_FILE)
    }

    fn reload_marker(&self, zone: &ZoneName) -> PathBuf {
        self.dir.join(format!(".{zone}.reload-pending"))
    }

    fn reconfig_marker(&self) -> PathBuf {
        self.dir.join(RECONFIG_MARKER)
    }
}

/// The include file for `zones` in `dir`: a comment, then one stanza per
/// zone in name order. Deterministic, so it is only rewritten when the set
/// of zones changes.
pub fn zones_conf(dir: &Path, zones: &BTreeSet<ZoneName>) -> String {
    let dir = dir.display();
    let mut text = format!(
        "# Zones ddns-operator delivers as files. Written by ddns-operator: changes made here are overwritten.\n\
         # named.conf includes it with: include \"{dir}/{INCLUDE_FILE}\";\n"
    );
    for zone in zones {
        let _ = writeln!(
            text,
            "zone \"{zone}\" {{ type primary; file \"{dir}/{zone}.zone\"; }};"
        );
    }
    text
}

/// The zones an include file written by [`zones_conf`] lists.
fn listed_zones(text: &str) -> BTreeSet<ZoneName> {
    text.lines()
        .filter_map(|line| line.strip_prefix("zone \""))
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|name| ZoneName::parse(name).ok())
        .collect()
}

fn file_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> DeliveryError {
    let path = path.to_path_buf();
    move |source| DeliveryError::File {
        action,
        path,
        source,
    }
}

/// The content of `path`, or `None` when there is no such file.
async fn read_optional(path: &Path) -> Result<Option<String>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(file_error("read", path)(error)),
    }
}

/// Creates an empty marker file (and syncs the directory, so a marker
/// made before a rename is on disk before it).
async fn set_marker(path: &Path) -> Result<()> {
    let owned = path.to_path_buf();
    run_blocking(path, "create", move || {
        std::fs::File::create(&owned)?.sync_all()?;
        sync_dir(&owned)
    })
    .await
}

async fn clear_marker(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(file_error("remove", path)(error))
        }
        _ => Ok(()),
    }
}

async fn exists(path: &Path) -> Result<bool> {
    tokio::fs::try_exists(path)
        .await
        .map_err(file_error("look for", path))
}

fn sync_dir(file: &Path) -> std::io::Result<()> {
    match file.parent() {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

async fn run_blocking<F>(path: &Path, action: &'static str, work: F) -> Result<()>
where
    F: FnOnce() -> std::io::Result<()> + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(file_error(action, path))
}

/// A new temporary file beside `path` holding `text`, synced.
fn write_temp(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&temp)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(error);
    }
    Ok(temp)
}

/// Renames `temp` over `path` and syncs the directory.
fn put_in_place(temp: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::rename(temp, path)?;
    sync_dir(path)
}

/// Writes `text` to `path` atomically (temporary file, fsync, rename,
/// directory fsync).
async fn write_atomic(path: &Path, text: String) -> Result<()> {
    let owned = path.to_path_buf();
    run_blocking(path, "write", move || {
        let temp = write_temp(&owned, &text)?;
        put_in_place(&temp, &owned).inspect_err(|_| {
            let _ = std::fs::remove_file(&temp);
        })
    })
    .await
}

fn bounded(text: &str) -> String {
    let text = text.trim();
    if text.len() <= MAX_OUTPUT {
        return text.to_string();
    }
    let mut end = MAX_OUTPUT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// What a command did when it ran to the end.
struct Finished {
    success: bool,
    status: String,
    output: String,
}

/// Runs `argv` with a timeout, its output captured; stdin is empty.
async fn run_command(argv: &[String], timeout: Duration, purpose: &str) -> Result<Finished> {
    let line = argv.join(" ");
    let failure = |outcome: String, transient: bool| DeliveryError::Command {
        purpose: purpose.to_string(),
        command: line.clone(),
        outcome,
        detail: String::new(),
        transient,
    };
    let Some((program, args)) = argv.split_first() else {
        return Err(failure("is empty".into(), false));
    };
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            let transient = e.kind() != std::io::ErrorKind::NotFound;
            failure(format!("cannot be started: {e}"), transient)
        })?;
    let started = Instant::now();
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(failure(format!("failed while running: {e}"), true)),
        Err(_) => {
            return Err(failure(
                format!(
                    "did not finish within {} s and was killed",
                    timeout.as_secs()
                ),
                true,
            ));
        }
    };
    debug!(
        command = %line,
        status = %output.status,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "command finished"
    );
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !stdout.trim().is_empty() {
        if !text.trim().is_empty() {
            text.push('\n');
        }
        text.push_str(&stdout);
    }
    Ok(Finished {
        success: output.status.success(),
        status: output.status.to_string(),
        output: bounded(&text),
    })
}

/// Runs the reload or reconfig command `template` for `zone`; a failure is
/// transient (the marker keeps it owed).
async fn tell_bind(
    target: &ZoneFileTarget,
    template: &[String],
    purpose: &str,
    zone: Option<&ZoneName>,
) -> Result<()> {
    let argv: Vec<String> = template
        .iter()
        .map(|word| match zone {
            Some(zone) => word
                .replace("{zone}", zone.as_str())
                .replace("{file}", &target.zone_path(zone).display().to_string()),
            None => word.clone(),
        })
        .collect();
    let finished = run_command(&argv, target.command_timeout, purpose).await?;
    if finished.success {
        return Ok(());
    }
    Err(DeliveryError::Command {
        purpose: purpose.to_string(),
        command: argv.join(" "),
        outcome: format!("failed ({})", finished.status),
        detail: if finished.output.is_empty() {
            String::new()
        } else {
            format!(": {}", finished.output)
        },
        transient: true,
    })
}

/// Runs the reconfig command when it is owed, and clears the marker.
async fn reconfig_if_owed(target: &ZoneFileTarget) -> Result<bool> {
    let marker = target.reconfig_marker();
    if !exists(&marker).await? {
        return Ok(false);
    }
    tell_bind(target, &target.reconfig_command, "reconfig", None).await?;
    clear_marker(&marker).await?;
    info!(command = %target.reconfig_command.join(" "), "BIND reconfigured");
    Ok(true)
}

/// Writes the include file listing `zones` when its content differs, with
/// the reconfig marker set first. Returns whether it was written.
async fn write_include(target: &ZoneFileTarget, zones: &BTreeSet<ZoneName>) -> Result<bool> {
    let path = target.include_path();
    let text = zones_conf(&target.dir, zones);
    if read_optional(&path).await?.as_deref() == Some(text.as_str()) {
        return Ok(false);
    }
    set_marker(&target.reconfig_marker()).await?;
    write_atomic(&path, text).await?;
    info!(path = %path.display(), zones = zones.len(), "include file written");
    Ok(true)
}

async fn listed(target: &ZoneFileTarget) -> Result<BTreeSet<ZoneName>> {
    Ok(read_optional(&target.include_path())
        .await?
        .map(|text| listed_zones(&text))
        .unwrap_or_default())
}

/// The serial a changed zone gets: the date rule applied to the larger of
/// the last serial delivered and the one in the current file.
fn serial_for(previous: Option<u32>, in_file: Option<u32>, today: Date) -> u32 {
    let last = match (previous, in_file) {
        (Some(a), Some(b)) => Some(if serial_gt(b, a) { b } else { a }),
        (a, b) => a.or(b),
    };
    next_serial(last, today)
}

/// Checks the temporary file with the zone checker; removes it and
/// returns the refusal when the checker says no.
async fn check(target: &ZoneFileTarget, zone: &ZoneName, temp: &Path, path: &Path) -> Result<()> {
    let argv = vec![
        target.checkzone.clone(),
        "-k".into(),
        "fail".into(),
        "-i".into(),
        "full".into(),
        zone.to_string(),
        temp.display().to_string(),
    ];
    let finished = run_command(
        &argv,
        target.command_timeout,
        &format!("check of zone {zone}"),
    )
    .await;
    let refusal = match finished {
        Ok(finished) if finished.success => return Ok(()),
        Ok(finished) => DeliveryError::CheckZone {
            zone: zone.to_string(),
            program: target.checkzone.clone(),
            path: path.to_path_buf(),
            output: finished.output,
        },
        Err(error) => error,
    };
    let _ = tokio::fs::remove_file(temp).await;
    Err(refusal)
}

/// Puts `assembly`'s zone file in place when its content changed, makes
/// sure the include file lists the zone, and tells BIND: the reconfig
/// command for a zone new to the include file, the reload command for a
/// changed zone (or one whose reload is still owed).
///
/// `previous_serial` is the serial the status last recorded; `today`
/// drives the date rule.
///
/// # Errors
///
/// [`DeliveryError::ZoneProblems`] before anything is written;
/// [`DeliveryError::CheckZone`] when the checker refuses the zone (the old
/// file stays); [`DeliveryError::File`] for I/O failures;
/// [`DeliveryError::Command`] when a command fails, after the file was put
/// in place: transient, and the next delivery runs it again.
#[instrument(skip_all, fields(zone = %assembly.zone.name))]
pub async fn deliver(
    target: &ZoneFileTarget,
    assembly: &Assembly,
    previous_serial: Option<u32>,
    today: Date,
) -> Result<ZoneFileReport> {
    let zone = &assembly.zone.name;
    if !assembly.problems.is_empty() {
        return Err(DeliveryError::ZoneProblems {
            zone: zone.to_string(),
            problems: assembly.problems.clone(),
        });
    }
    target.validate()?;
    let path = target.zone_path(zone);
    let existing = read_optional(&path).await?;
    let unchanged = existing
        .as_deref()
        .filter(|text| same_content(assembly, text))
        .and_then(rendered_serial);
    let (outcome, serial) = match unchanged {
        Some(serial) => (ZoneFileOutcome::Unchanged, serial),
        None => {
            let serial = serial_for(
                previous_serial,
                existing.as_deref().and_then(rendered_serial),
                today,
            );
            let text = render(assembly, serial);
            let owned = path.clone();
            let temp = tokio::task::spawn_blocking(move || write_temp(&owned, &text))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))
                .and_then(|r| r)
                .map_err(file_error("write a temporary file for", &path))?;
            check(target, zone, &temp, &path).await?;
            set_marker(&target.reload_marker(zone)).await?;
            let (from, to) = (temp.clone(), path.clone());
            if let Err(error) =
                run_blocking(&path, "rename into", move || put_in_place(&from, &to)).await
            {
                let _ = tokio::fs::remove_file(&temp).await;
                return Err(error);
            }
            info!(serial, path = %path.display(), records = assembly.record_count(), "zone file written");
            (ZoneFileOutcome::Written, serial)
        }
    };

    let (newly_listed, reconfigured) = {
        let _guard = INCLUDE_LOCK.lock().await;
        let mut zones = listed(target).await?;
        let newly_listed = zones.insert(zone.clone());
        if newly_listed {
            write_include(target, &zones).await?;
        }
        (newly_listed, reconfig_if_owed(target).await?)
    };

    let marker = target.reload_marker(zone);
    let mut reloaded = false;
    if newly_listed && reconfigured {
        // The reconfig loaded the new zone from the file just written.
        clear_marker(&marker).await?;
    } else if exists(&marker).await? {
        let purpose = format!("reload of zone {zone}");
        if let Err(error) = tell_bind(target, &target.reload_command, &purpose, Some(zone)).await {
            warn!(error = %error, "reload failed; the next delivery tries again");
            return Err(error);
        }
        clear_marker(&marker).await?;
        reloaded = true;
        info!(serial, "zone reloaded");
    }
    if outcome == ZoneFileOutcome::Unchanged && !reloaded && !reconfigured {
        debug!(serial, "zone file already up to date");
    }
    Ok(ZoneFileReport {
        outcome,
        serial,
        path,
        reloaded,
        reconfigured,
    })
}

/// Removes `zone`: drops it from the include file and runs the reconfig
/// command (BIND stops serving it), then deletes its file. Returns whether
/// there was anything to remove. Safe to call again after a failure.
///
/// # Errors
///
/// [`DeliveryError::File`] and [`DeliveryError::Command`] (transient): the
/// file stays until the reconfig succeeded.
#[instrument(skip_all, fields(zone = %zone))]
pub async fn remove(target: &ZoneFileTarget, zone: &ZoneName) -> Result<bool> {
    target.validate()?;
    let was_listed = {
        let _guard = INCLUDE_LOCK.lock().await;
        let mut zones = listed(target).await?;
        let was_listed = zones.remove(zone);
        if was_listed {
            write_include(target, &zones).await?;
        }
        reconfig_if_owed(target).await?;
        was_listed
    };
    let path = target.zone_path(zone);
    let had_file = exists(&path).await?;
    if had_file {
        tokio::fs::remove_file(&path)
            .await
            .map_err(file_error("remove", &path))?;
        let owned = path.clone();
        run_blocking(&path, "sync the directory of", move || sync_dir(&owned)).await?;
    }
    clear_marker(&target.reload_marker(zone)).await?;
    if was_listed || had_file {
        info!(path = %path.display(), "zone file removed");
    }
    Ok(was_listed || had_file)
}

/// Makes the include file list exactly those of `zones` whose file exists
/// (the zone-file zones the cluster holds, at start-up, to drop zones whose
/// resource vanished while the operator was away), and runs the reconfig
/// command when that changed it or one is owed. Returns the zones listed.
///
/// # Errors
///
/// [`DeliveryError::File`] and [`DeliveryError::Command`].
#[instrument(skip_all, fields(zones = zones.len()))]
pub async fn sync_zones(
    target: &ZoneFileTarget,
    zones: &BTreeSet<ZoneName>,
) -> Result<BTreeSet<ZoneName>> {
    target.validate()?;
    let mut present = BTreeSet::new();
    for zone in zones {
        if exists(&target.zone_path(zone)).await? {
            present.insert(zone.clone());
        }
    }
    let _guard = INCLUDE_LOCK.lock().await;
    write_include(target, &present).await?;
    reconfig_if_owed(target).await?;
    Ok(present)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> ZoneName {
        ZoneName::parse(name).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_include_file_lists_zones_in_order_and_reads_back() {
        let zones: BTreeSet<ZoneName> = [zone("example.org"), zone("example.com")].into();
        let text = zones_conf(Path::new("/var/lib/ddns"), &zones);
        assert_eq!(
            text,
            "# Zones ddns-operator delivers as files. Written by ddns-operator: changes made here are overwritten.\n\
             # named.conf includes it with: include \"/var/lib/ddns/zones.conf\";\n\
             zone \"example.com\" { type primary; file \"/var/lib/ddns/example.com.zone\"; };\n\
             zone \"example.org\" { type primary; file \"/var/lib/ddns/example.org.zone\"; };\n"
        );
        assert_eq!(listed_zones(&text), zones);
        assert_eq!(
            listed_zones(&zones_conf(Path::new("/d"), &BTreeSet::new())),
            BTreeSet::new()
        );
    }

    #[test]
    fn the_serial_follows_the_larger_of_status_and_file() {
        let today = Date {
            year: 2026,
            month: 11,
            day: 28,
        };
        assert_eq!(serial_for(None, None, today), 2_026_112_800);
        assert_eq!(serial_for(Some(2_026_112_800), None, today), 2_026_112_801);
        assert_eq!(
            serial_for(Some(2_026_112_800), Some(2_026_112_805), today),
            2_026_112_806
        );
        assert_eq!(
            serial_for(Some(2_026_112_807), Some(2_026_112_805), today),
            2_026_112_808
        );
        // RFC 1982: a wrapped serial just past 0 is "greater" than u32::MAX.
        assert_eq!(serial_for(Some(u32::MAX), Some(3), today), 2_026_112_800);
        assert_eq!(serial_for(Some(2_026_112_700), None, today), 2_026_112_800);
    }

    #[test]
    fn settings_are_validated() {
        let mut target = ZoneFileTarget::new("relative/dir");
        assert!(matches!(
            target.validate(),
            Err(DeliveryError::InvalidTarget { reason }) if reason == "the zone directory relative/dir is not absolute"
        ));
        target.dir = PathBuf::from("/var/lib/\"ddns");
        assert!(target.validate().is_err());
        target.dir = PathBuf::from("/var/lib/ddns");
        assert!(target.validate().is_ok());
        target.reload_command.clear();
        assert!(target.validate().is_err());
    }
}
