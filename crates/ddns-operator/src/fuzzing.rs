//! `ddns-operator render` on arbitrary input, reachable from outside for
//! the `operator_manifests` fuzz target and its corpus replay test. Not
//! part of the supported API.
//!
//! The render command reads manifests that anyone may hand it (a pull
//! request in a CI pipeline), so whatever the bytes it must answer with
//! zone files or with messages, never a panic, and the same input must
//! always give the same answer.

use std::time::SystemTime;

use crate::cli::{self, Command, EXIT_INVALID, EXIT_OK, Input, Io, RenderArgs};

/// What `ddns-operator render --serial 1 -` did with an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOutcome {
    /// The exit code.
    pub code: u8,
    /// Standard output: the zone files.
    pub stdout: String,
    /// Standard error: the problems found.
    pub stderr: String,
}

/// Runs `ddns-operator render --serial 1 -` with `data` as standard input,
/// in process, exactly as the binary does.
pub fn render_stdin(data: &[u8]) -> RenderOutcome {
    let command = Command::Render(RenderArgs {
        serial: Some(1),
        output_dir: None,
        inputs: vec![Input::Stdin],
    });
    let mut stdin = data;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let code = cli::execute(
        command,
        &mut Io {
            stdin: &mut stdin,
            stdout: &mut stdout,
            stderr: &mut stderr,
            now: SystemTime::UNIX_EPOCH,
        },
    );
    RenderOutcome {
        code,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Renders `data` twice and checks what a user may rely on: exit 0 with
/// zone files and nothing on standard error, or exit 1 with nothing on
/// standard output and a last line that says nothing was rendered; the
/// same answer both times. `Err` names the property broken.
pub fn check(data: &[u8]) -> Result<RenderOutcome, String> {
    let outcome = render_stdin(data);
    match outcome.code {
        EXIT_OK => {
            if !outcome.stderr.is_empty() {
                return Err(format!("exit 0 with messages: {}", outcome.stderr));
            }
            if !outcome.stdout.starts_with("; Zone ") || !outcome.stdout.contains("\tIN\tSOA\t") {
                return Err(format!("exit 0 without a zone file: {:?}", outcome.stdout));
            }
        }
        EXIT_INVALID => {
            if !outcome.stdout.is_empty() {
                return Err(format!("exit 1 with output: {}", outcome.stdout));
            }
            let last = outcome.stderr.lines().last().unwrap_or_default();
            let explained = (last.starts_with("ddns-operator render: ")
                && last.ends_with("; nothing was rendered"))
                || last.starts_with("ddns-operator render: <stdin>: not UTF-8 text");
            if !explained {
                return Err(format!(
                    "exit 1 without the closing message: {}",
                    outcome.stderr
                ));
            }
        }
        code => {
            return Err(format!(
                "exit {code} for input on standard input: {}",
                outcome.stderr
            ));
        }
    }
    let again = render_stdin(data);
    if again != outcome {
        return Err(format!(
            "a second render differs: {outcome:?} then {again:?}"
        ));
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_files_or_explained_problems() {
        let zone = "apiVersion: ddns.dev/v1alpha1\nkind: DNSZone\nmetadata: {name: z}\nspec:\n  zoneName: example.com\n  soa: {primaryNs: ns1.example.net, adminEmail: hostmaster@example.com}\n  nameServers: [ns1.example.net]\n";
        let rendered = check(zone.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rendered.code, 0);
        assert!(
            rendered
                .stdout
                .contains("@\t3600\tIN\tSOA\tns1.example.net. hostmaster.example.com. 1 "),
            "{}",
            rendered.stdout
        );

        let refused = check(b"kind: [").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(refused.code, 1);
        assert_eq!(
            refused.stderr.lines().last(),
            Some("ddns-operator render: 1 problem; nothing was rendered")
        );

        let binary = check(b"\xff\xfe").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            binary.stderr,
            "ddns-operator render: <stdin>: not UTF-8 text (invalid byte at offset 0)\n"
        );
    }
}
