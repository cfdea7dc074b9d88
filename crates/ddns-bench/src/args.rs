//! The command line.

use std::fmt;
use std::time::Duration;

const USAGE: &str = "usage: ddns-latency [--mode add|replace] [--iterations N] [--warmup N] \
                     [--settle-ms N] [--interface NAME]";

/// Which request is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Adding an address to an interface that has none.
    Add,
    /// Deleting the chosen address while a successor is present.
    Replace,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Add => "add",
            Mode::Replace => "replace",
        })
    }
}

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Args {
    pub(crate) mode: Mode,
    pub(crate) iterations: usize,
    pub(crate) warmup: usize,
    /// Idle time before each timed change.
    pub(crate) settle: Duration,
    pub(crate) interface: String,
}

impl Args {
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut parsed = Args {
            mode: Mode::Add,
            iterations: 1000,
            warmup: 20,
            settle: Duration::from_millis(10),
            interface: "v0".into(),
        };
        while let Some(flag) = args.next() {
            if flag == "--help" || flag == "-h" {
                return Err(USAGE.into());
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
            match flag.as_str() {
                "--mode" => {
                    parsed.mode = match value.as_str() {
                        "add" => Mode::Add,
                        "replace" => Mode::Replace,
                        _ => return Err(format!("--mode is add or replace, not {value}")),
                    }
                }
                "--iterations" => parsed.iterations = count(&flag, &value, 1)?,
                "--warmup" => parsed.warmup = count(&flag, &value, 0)?,
                "--settle-ms" => {
                    parsed.settle = Duration::from_millis(count(&flag, &value, 0)? as u64)
                }
                "--interface" => parsed.interface = value,
                _ => return Err(format!("unknown option {flag}\n{USAGE}")),
            }
        }
        Ok(parsed)
    }
}

fn count(flag: &str, value: &str, least: usize) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n >= least => Ok(n),
        _ => Err(format!(
            "{flag} needs a whole number of at least {least}, not {value}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = parse(&[]).unwrap();
        assert_eq!(
            (defaults.mode, defaults.iterations, defaults.warmup),
            (Mode::Add, 1000, 20)
        );
        let args = parse(&["--mode", "replace", "--iterations", "5", "--warmup", "0"]).unwrap();
        assert_eq!(
            (args.mode, args.iterations, args.warmup),
            (Mode::Replace, 5, 0)
        );
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            parse(&["--iterations", "0"]).unwrap_err(),
            "--iterations needs a whole number of at least 1, not 0"
        );
        assert!(
            parse(&["--mode"])
                .unwrap_err()
                .starts_with("--mode needs a value")
        );
    }
}
