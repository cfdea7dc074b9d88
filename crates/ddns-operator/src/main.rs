//! The `ddns-operator` binary: parses the command and hands it to the
//! library (`cli::execute`, or `run::main` on a runtime built here).

use std::io::Write;
use std::process::ExitCode;

use ddns_operator::cli::{self, Command, EXIT_INVALID, EXIT_RUNTIME};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "{message}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    // A panic is a bug; it still ends with the runtime-error code.
    std::panic::catch_unwind(|| match command {
        Command::Run => run(),
        command => {
            let mut stdin = std::io::stdin().lock();
            let mut stdout = std::io::stdout().lock();
            let mut stderr = std::io::stderr().lock();
            let mut io = cli::Io {
                stdin: &mut stdin,
                stdout: &mut stdout,
                stderr: &mut stderr,
                now: std::time::SystemTime::now(),
            };
            ExitCode::from(cli::execute(command, &mut io))
        }
    })
    .unwrap_or(ExitCode::from(EXIT_RUNTIME))
}

fn run() -> ExitCode {
    ddns_operator::run::main()
}
