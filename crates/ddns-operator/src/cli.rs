//! The command line: `run`, `crd`, `render`, `version`, `help`.
//!
//! [`parse`] turns the arguments into a [`Command`]; [`execute`] runs every
//! command but `run` (which needs the runtime `main.rs` builds) with the
//! standard streams and the clock given, so tests can drive it.
//!
//! # Guarantees
//!
//! - Exit codes: 0 success, 1 bad usage or invalid or conflicting
//!   manifests, 2 a runtime error (a file that cannot be read or written).
//! - `render` prints nothing and writes no file unless every manifest is
//!   valid and every zone assembles without a conflict; then it prints
//!   every problem, one a line.
//! - A reader that stops early (`| head`) ends the command quietly with
//!   exit code 0; no output error panics.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ddns_core::zone::{Date, next_serial};

use crate::manifests::{self, ManifestError, Source, ZonePreview};

/// Exit code of success.
pub const EXIT_OK: u8 = 0;
/// Exit code of bad usage, or invalid or conflicting manifests.
pub const EXIT_INVALID: u8 = 1;
/// Exit code of a runtime error (I/O).
pub const EXIT_RUNTIME: u8 = 2;

/// The version `ddns-operator version` prints.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The usage text.
pub const USAGE: &str = "\
Usage: ddns-operator COMMAND

Kubernetes operator for ddns: DNS zones and records from ddns.dev/v1alpha1
resources, delivered to BIND9 (see docs/OPERATOR.md).

Commands:
  run        run the controller until SIGTERM or SIGINT; settings come from
             DDNS_OPERATOR_* variables (see docs/CONFIGURATION.md)
  crd        print every CustomResourceDefinition, as multi-document YAML
  render [--serial N] [--output-dir DIR] FILE...
             read manifests (YAML or JSON, several documents a file; a
             directory gives its *.yaml, *.yml and *.json files; - is standard
             input) and print the zone file of every DNSZone, exactly as
             zonefile delivery writes it, whatever the zone's delivery mode.
             Zones are printed one after another, by namespace and zone name.
             --serial N        the SOA serial (default: today's date, YYYYMMDD00)
             --output-dir DIR  write DIR/<zoneName>.zone instead of printing
  version    print the version (also --version, -V)
  help       print this text (also --help, -h)

Exit codes: 0 success, 1 bad usage or invalid or conflicting manifests
(every problem is printed), 2 runtime error (a file cannot be read or
written).";

/// What the binary was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run the controller.
    Run,
    /// Print the CRDs.
    Crd,
    /// Render zone files from manifests.
    Render(RenderArgs),
    /// Print the version.
    Version,
    /// Print the usage.
    Help,
}

/// The arguments of `render`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderArgs {
    /// `--serial N`.
    pub serial: Option<u32>,
    /// `--output-dir DIR`.
    pub output_dir: Option<PathBuf>,
    /// The files, directories and `-`, in order.
    pub inputs: Vec<Input>,
}

/// Where manifests are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file, or a directory of `*.yaml`, `*.yml` and `*.json` files.
    Path(PathBuf),
}

/// Parses the arguments (without the program name); the error is the
/// message to print, usage included.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let Some(first) = args.next() else {
        return Err(format!("ddns-operator: name a command\n\n{USAGE}"));
    };
    let rest: Vec<OsString> = args.collect();
    let command = match first.to_str() {
        Some("run") => Command::Run,
        Some("crd") => Command::Crd,
        Some("render") => return parse_render(rest),
        Some("version" | "--version" | "-V") => Command::Version,
        Some("help" | "--help" | "-h") => Command::Help,
        _ => {
            return Err(format!(
                "ddns-operator: unknown command '{}'\n\n{USAGE}",
                first.to_string_lossy()
            ));
        }
    };
    if let Some(extra) = rest.first() {
        if matches!(extra.to_str(), Some("--help" | "-h")) {
            return Ok(Command::Help);
        }
        return Err(format!(
            "ddns-operator: {} takes no arguments (got '{}')\n\n{USAGE}",
            first.to_string_lossy(),
            extra.to_string_lossy()
        ));
    }
    Ok(command)
}

fn parse_render(args: Vec<OsString>) -> Result<Command, String> {
    let usage_error = |message: String| format!("ddns-operator render: {message}\n\n{USAGE}");
    let mut serial = None;
    let mut output_dir = None;
    let mut inputs = Vec::new();
    let mut options_done = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let text = arg.to_str().map(str::to_string);
        let option = match text.as_deref() {
            Some(t) if !options_done && t.starts_with("--") && t.len() > 2 => Some(t.to_string()),
            _ => None,
        };
        if let Some(option) = option {
            let (name, inline) = match option.split_once('=') {
                Some((name, value)) => (name.to_string(), Some(OsString::from(value))),
                None => (option.clone(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| args.next())
                    .ok_or_else(|| usage_error(format!("{name} needs a value")))
            };
            match name.as_str() {
                "--serial" => {
                    if serial.is_some() {
                        return Err(usage_error("--serial is given twice".into()));
                    }
                    let raw = value("--serial")?;
                    let parsed = raw.to_str().and_then(|t| t.trim().parse::<u32>().ok());
                    match parsed {
                        Some(n) => serial = Some(n),
                        None => {
                            return Err(usage_error(format!(
                                "--serial: '{}' is not a serial (a whole number from 0 to 4294967295)",
                                raw.to_string_lossy()
                            )));
                        }
                    }
                }
                "--output-dir" => {
                    if output_dir.is_some() {
                        return Err(usage_error("--output-dir is given twice".into()));
                    }
                    let raw = value("--output-dir")?;
                    if raw.is_empty() {
                        return Err(usage_error("--output-dir: the directory is empty".into()));
                    }
                    output_dir = Some(PathBuf::from(raw));
                }
                "--help" => return Ok(Command::Help),
                _ => return Err(usage_error(format!("unknown option '{name}'"))),
            }
            continue;
        }
        match text.as_deref() {
            Some("--") if !options_done => options_done = true,
            Some("-") => {
                if inputs.contains(&Input::Stdin) {
                    return Err(usage_error("'-' (standard input) is given twice".into()));
                }
                inputs.push(Input::Stdin);
            }
            Some("-h") if !options_done => return Ok(Command::Help),
            Some(t) if !options_done && t.starts_with('-') => {
                return Err(usage_error(format!("unknown option '{t}'")));
            }
            _ => inputs.push(Input::Path(PathBuf::from(arg))),
        }
    }
    if inputs.is_empty() {
        return Err(usage_error(
            "name at least one manifest FILE (or - for standard input)".into(),
        ));
    }
    Ok(Command::Render(RenderArgs {
        serial,
        output_dir,
        inputs,
    }))
}

/// The standard streams and the clock a command runs with.
pub struct Io<'a> {
    /// Standard input (`render -`).
    pub stdin: &'a mut dyn Read,
    /// Standard output.
    pub stdout: &'a mut dyn Write,
    /// Standard error.
    pub stderr: &'a mut dyn Write,
    /// Now, for the date-rule serial.
    pub now: SystemTime,
}

impl Io<'_> {
    /// Writes to standard error; a failure there has nowhere to go.
    fn complain(&mut self, message: &str) {
        let _ = writeln!(self.stderr, "{message}");
    }

    /// Writes `text` to standard output; the exit code it comes to.
    fn print(&mut self, text: &str) -> u8 {
        match self
            .stdout
            .write_all(text.as_bytes())
            .and_then(|()| self.stdout.flush())
        {
            Ok(()) => EXIT_OK,
            // The reader has what it wanted (`| head`).
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_OK,
            Err(e) => {
                self.complain(&format!(
                    "ddns-operator: cannot write to standard output: {e}"
                ));
                EXIT_RUNTIME
            }
        }
    }
}

/// Runs `command` (anything but [`Command::Run`], which `main.rs` hands
/// to [`crate::run::main`]); returns the exit code.
pub fn execute(command: Command, io: &mut Io<'_>) -> u8 {
    match command {
        Command::Help => io.print(&format!("{USAGE}\n")),
        Command::Version => io.print(&format!("ddns-operator {VERSION}\n")),
        Command::Crd => match crate::crd::all_yaml() {
            Ok(text) => io.print(&text),
            Err(e) => {
                io.complain(&format!(
                    "ddns-operator crd: cannot write the CRDs as YAML: {e}"
                ));
                EXIT_RUNTIME
            }
        },
        Command::Render(args) => render(&args, io),
        Command::Run => {
            io.complain("ddns-operator: run needs the runtime; main.rs starts it");
            EXIT_RUNTIME
        }
    }
}

fn render(args: &RenderArgs, io: &mut Io<'_>) -> u8 {
    let sources = match read_inputs(&args.inputs, io.stdin) {
        Ok(sources) => sources,
        Err(ReadError { message, code }) => {
            io.complain(&format!("ddns-operator render: {message}"));
            return code;
        }
    };
    let previews = manifests::read(&sources).and_then(|m| manifests::zones(&m));
    let previews = match (previews, &args.output_dir) {
        (Ok(previews), Some(_)) => manifests::distinct_files(&previews).map(|()| previews),
        (previews, _) => previews,
    };
    let previews = match previews {
        Ok(previews) => previews,
        Err(errors) => return report(&errors, io),
    };
    let serial = args
        .serial
        .unwrap_or_else(|| next_serial(None, Date::of(io.now)));
    match &args.output_dir {
        None => {
            let text: String = previews.iter().map(|p| p.render(serial)).collect();
            io.print(&text)
        }
        Some(dir) => write_files(dir, &previews, serial, io),
    }
}

fn report(errors: &[ManifestError], io: &mut Io<'_>) -> u8 {
    for error in errors {
        io.complain(&error.to_string());
    }
    let count = errors.len();
    let noun = if count == 1 { "problem" } else { "problems" };
    io.complain(&format!(
        "ddns-operator render: {count} {noun}; nothing was rendered"
    ));
    EXIT_INVALID
}

fn write_files(dir: &Path, previews: &[ZonePreview], serial: u32, io: &mut Io<'_>) -> u8 {
    if let Err(e) = std::fs::create_dir_all(dir) {
        io.complain(&format!(
            "ddns-operator render: cannot create {}: {e}",
            dir.display()
        ));
        return EXIT_RUNTIME;
    }
    for preview in previews {
        let path = dir.join(preview.file_name());
        if let Err(e) = write_atomically(&path, preview.render(serial).as_bytes()) {
            io.complain(&format!(
                "ddns-operator render: cannot write {}: {e}",
                path.display()
            ));
            return EXIT_RUNTIME;
        }
        io.complain(&format!(
            "wrote {} (zone {}, namespace {}, {} records, serial {serial})",
            path.display(),
            preview.name(),
            preview.namespace,
            preview.assembly.record_count(),
        ));
    }
    EXIT_OK
}

/// Writes `path` through a temporary file beside it and a rename, so a
/// reader never sees half a zone.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.tmp"));
    let result = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    match result.and_then(|()| std::fs::rename(&temporary, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

struct ReadError {
    message: String,
    code: u8,
}

/// Reads every input; a file that cannot be read is a runtime error (2),
/// text that is not UTF-8 is invalid input (1).
fn read_inputs(inputs: &[Input], stdin: &mut dyn Read) -> Result<Vec<Source>, ReadError> {
    let mut sources = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => {
                let bytes = read_bounded(stdin, "<stdin>").map_err(|e| ReadError {
                    message: format!("cannot read standard input: {e}"),
                    code: EXIT_RUNTIME,
                })?;
                sources.push(text_source("<stdin>".into(), bytes?)?);
            }
            Input::Path(path) if path.is_dir() => {
                for file in manifest_files(path)? {
                    sources.push(read_file(&file)?);
                }
            }
            Input::Path(path) => sources.push(read_file(path)?),
        }
    }
    Ok(sources)
}

/// The most a manifest source may hold.
const MAX_INPUT: u64 = 256 << 20;

fn read_file(path: &Path) -> Result<Source, ReadError> {
    let name = path.display().to_string();
    let bytes = std::fs::File::open(path)
        .and_then(|mut file| read_bounded(&mut file, &name))
        .map_err(|e| ReadError {
            message: format!("cannot read {name}: {e}"),
            code: EXIT_RUNTIME,
        })?;
    text_source(name, bytes?)
}

/// Reads at most [`MAX_INPUT`] bytes; more is invalid input.
fn read_bounded(input: &mut dyn Read, name: &str) -> io::Result<Result<Vec<u8>, ReadError>> {
    let mut bytes = Vec::new();
    input.take(MAX_INPUT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT {
        return Ok(Err(ReadError {
            message: format!("{name}: larger than {} MiB", MAX_INPUT >> 20),
            code: EXIT_INVALID,
        }));
    }
    Ok(Ok(bytes))
}

fn text_source(name: String, bytes: Vec<u8>) -> Result<Source, ReadError> {
    match String::from_utf8(bytes) {
        Ok(text) => Ok(Source::new(name, text)),
        Err(e) => Err(ReadError {
            message: format!(
                "{name}: not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ),
            code: EXIT_INVALID,
        }),
    }
}

/// The `*.yaml`, `*.yml` and `*.json` files of `dir` (not its
/// subdirectories), sorted by name, as `kubectl apply -f DIR` reads them.
fn manifest_files(dir: &Path) -> Result<Vec<PathBuf>, ReadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| ReadError {
        message: format!("cannot read the directory {}: {e}", dir.display()),
        code: EXIT_RUNTIME,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| ReadError {
            message: format!("cannot read the directory {}: {e}", dir.display()),
            code: EXIT_RUNTIME,
        })?;
        let path = entry.path();
        let manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests;
