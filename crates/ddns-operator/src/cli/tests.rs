use super::*;

fn parse_strs(args: &[&str]) -> Result<Command, String> {
    parse(args.iter().map(OsString::from))
}

fn render_args(args: &[&str]) -> RenderArgs {
    match parse_strs(args) {
        Ok(Command::Render(args)) => args,
        other => panic!("{args:?}: {other:?}"),
    }
}

#[test]
fn commands() {
    assert_eq!(parse_strs(&["run"]), Ok(Command::Run));
    assert_eq!(parse_strs(&["crd"]), Ok(Command::Crd));
    assert_eq!(parse_strs(&["version"]), Ok(Command::Version));
    assert_eq!(parse_strs(&["-V"]), Ok(Command::Version));
    assert_eq!(parse_strs(&["help"]), Ok(Command::Help));
    assert_eq!(parse_strs(&["--help"]), Ok(Command::Help));
    assert_eq!(parse_strs(&["crd", "--help"]), Ok(Command::Help));
    assert_eq!(parse_strs(&["render", "-h"]), Ok(Command::Help));
    let err = parse_strs(&[]).unwrap_err();
    assert!(
        err.starts_with("ddns-operator: name a command\n\nUsage:"),
        "{err}"
    );
    let err = parse_strs(&["frobnicate"]).unwrap_err();
    assert!(
        err.starts_with("ddns-operator: unknown command 'frobnicate'"),
        "{err}"
    );
    let err = parse_strs(&["crd", "extra"]).unwrap_err();
    assert!(
        err.starts_with("ddns-operator: crd takes no arguments (got 'extra')"),
        "{err}"
    );
}

#[test]
fn render_arguments() {
    let args = render_args(&["render", "--serial", "7", "a.yaml", "-", "dir"]);
    assert_eq!(args.serial, Some(7));
    assert_eq!(args.output_dir, None);
    assert_eq!(
        args.inputs,
        vec![
            Input::Path("a.yaml".into()),
            Input::Stdin,
            Input::Path("dir".into())
        ]
    );
    let args = render_args(&[
        "render",
        "--serial=4294967295",
        "--output-dir=out",
        "a.yaml",
    ]);
    assert_eq!(args.serial, Some(u32::MAX));
    assert_eq!(args.output_dir, Some(PathBuf::from("out")));
    // After `--`, a name that looks like an option is a file.
    let args = render_args(&["render", "--", "--serial"]);
    assert_eq!(args.inputs, vec![Input::Path("--serial".into())]);
}

#[test]
fn render_usage_errors_name_the_problem() {
    let first_line = |args: &[&str]| {
        parse_strs(args)
            .unwrap_err()
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        first_line(&["render"]),
        "ddns-operator render: name at least one manifest FILE (or - for standard input)"
    );
    assert_eq!(
        first_line(&["render", "--serial", "4294967296", "a"]),
        "ddns-operator render: --serial: '4294967296' is not a serial (a whole number from 0 to 4294967295)"
    );
    assert_eq!(
        first_line(&["render", "--serial", "-1", "a"]),
        "ddns-operator render: --serial: '-1' is not a serial (a whole number from 0 to 4294967295)"
    );
    assert_eq!(
        first_line(&["render", "a", "--serial"]),
        "ddns-operator render: --serial needs a value"
    );
    assert_eq!(
        first_line(&["render", "--serial", "1", "--serial", "2", "a"]),
        "ddns-operator render: --serial is given twice"
    );
    assert_eq!(
        first_line(&["render", "--zone", "a"]),
        "ddns-operator render: unknown option '--zone'"
    );
    assert_eq!(
        first_line(&["render", "-x", "a"]),
        "ddns-operator render: unknown option '-x'"
    );
    assert_eq!(
        first_line(&["render", "-", "-"]),
        "ddns-operator render: '-' (standard input) is given twice"
    );
}

/// A writer that fails like a closed pipe.
struct ClosedPipe;

impl Write for ClosedPipe {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::ErrorKind::BrokenPipe.into())
    }
    fn flush(&mut self) -> io::Result<()> {
        Err(io::ErrorKind::BrokenPipe.into())
    }
}

/// A writer that fails like a full disk.
struct Full;

impl Write for Full {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::StorageFull,
            "No space left on device",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn run_with(command: Command, stdout: &mut dyn Write) -> (u8, String) {
    let mut stdin = io::empty();
    let mut stderr = Vec::new();
    let code = {
        let mut io = Io {
            stdin: &mut stdin,
            stdout,
            stderr: &mut stderr,
            now: SystemTime::UNIX_EPOCH,
        };
        execute(command, &mut io)
    };
    (code, String::from_utf8_lossy(&stderr).into_owned())
}

#[test]
fn a_closed_pipe_ends_quietly_and_a_full_disk_is_a_runtime_error() {
    let (code, stderr) = run_with(Command::Crd, &mut ClosedPipe);
    assert_eq!((code, stderr.as_str()), (EXIT_OK, ""));
    let (code, stderr) = run_with(Command::Crd, &mut Full);
    assert_eq!(code, EXIT_RUNTIME);
    assert_eq!(
        stderr,
        "ddns-operator: cannot write to standard output: No space left on device\n"
    );
}

#[test]
fn version_and_crd_print_to_stdout() {
    let mut out = Vec::new();
    let (code, _) = run_with(Command::Version, &mut out);
    assert_eq!(code, EXIT_OK);
    assert_eq!(
        String::from_utf8_lossy(&out),
        format!("ddns-operator {VERSION}\n")
    );
    let mut out = Vec::new();
    let (code, _) = run_with(Command::Crd, &mut out);
    assert_eq!(code, EXIT_OK);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with(crate::crd::YAML_HEADER), "{text}");
    assert_eq!(text.matches("\n---\n").count(), crate::crd::all().len());
}
