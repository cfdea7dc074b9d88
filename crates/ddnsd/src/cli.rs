//! Command-line arguments: a subcommand and nothing else. All settings come
//! from the environment.

use std::ffi::OsString;

/// What the binary was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Run as a daemon until a signal (the default).
    Run,
    /// Validate the configuration and print it, secrets redacted.
    Check,
    /// One convergence pass, then exit.
    Once,
    /// Print what the state file says, without a running daemon.
    Status,
    /// Tell whether the running daemon is alive, for container health checks.
    Healthcheck,
    /// Print the version.
    Version,
    /// Print the usage.
    Help,
}

/// The usage text.
pub const USAGE: &str = "\
Usage: ddnsd [COMMAND]

Keeps DNS records in line with this host's addresses.
All settings come from DDNS_* environment variables (see docs/CONFIGURATION.md).

Commands:
  run        run as a daemon until SIGTERM or SIGINT (default)
  check      validate the configuration, print it with secrets redacted, exit 0 or 1
  once       converge every record once and exit: 0 when all hold the address, 2 otherwise
  status     print the records, readiness and availability kept in the state file
             (DDNS_STATE_STORE_TYPE=file); works beside a running daemon
  healthcheck
             is the daemon alive? asks /healthz on DDNS_METRICS_ADDR, or else checks
             that a daemon holds the state file and keeps it fresh; exit 0 healthy,
             2 unhealthy, 1 when neither is configured
  version    print the version (also --version, -V)
  help       print this text (also --help, -h)

Exit codes: 0 clean, 1 configuration error, 2 runtime error.";

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let args: Vec<OsString> = args.into_iter().collect();
    let Some(first) = args.first() else {
        return Ok(Command::Run);
    };
    if args.len() > 1 {
        return Err(format!("ddnsd: too many arguments\n\n{USAGE}"));
    }
    let command = match first.to_str() {
        Some("run") => Command::Run,
        Some("check") => Command::Check,
        Some("once") => Command::Once,
        Some("status") => Command::Status,
        Some("healthcheck") => Command::Healthcheck,
        Some("version" | "--version" | "-V") => Command::Version,
        Some("help" | "--help" | "-h") => Command::Help,
        _ => {
            return Err(format!(
                "ddnsd: unknown command '{}'\n\n{USAGE}",
                first.to_string_lossy()
            ));
        }
    };
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn commands() {
        assert_eq!(parse_strs(&[]), Ok(Command::Run));
        assert_eq!(parse_strs(&["check"]), Ok(Command::Check));
        assert_eq!(parse_strs(&["once"]), Ok(Command::Once));
        assert_eq!(parse_strs(&["status"]), Ok(Command::Status));
        assert_eq!(parse_strs(&["healthcheck"]), Ok(Command::Healthcheck));
        assert_eq!(parse_strs(&["--version"]), Ok(Command::Version));
        let err = parse_strs(&["frobnicate"]).expect_err("unknown");
        assert!(err.starts_with("ddnsd: unknown command 'frobnicate'"));
        assert!(parse_strs(&["run", "x"]).is_err());
    }
}
