//! `ddnsd`: see the library crate for everything it does.

use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match ddnsd::cli::parse(std::env::args_os().skip(1)) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(ddnsd::EXIT_CONFIG);
        }
    };
    let env = ddns_core::config::Env::from_process();
    // A panic is a bug; it still ends with the runtime-error code.
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ddnsd::execute(command, env)
    }))
    .unwrap_or(ddnsd::EXIT_RUNTIME);
    ExitCode::from(code)
}
