//! `ddns-operator render` as a user runs it: the example manifests render
//! to the golden zone files, which BIND's `named-checkzone -k fail -i full`
//! loads; every invalid or conflicting manifest ends with exit code 1 and
//! a message naming the file, document, object and field; I/O failures end
//! with exit code 2. `DDNS_WRITE_GOLDEN=1` rewrites the golden file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{BIN, Run, examples_dir, operator, repo_root};

const SERIAL: &str = "2026112801";
const GOLDEN: &str = "crates/ddns-operator/tests/golden/examples.zone";

fn render(args: &[&str]) -> Run {
    let mut all = vec!["render"];
    all.extend_from_slice(args);
    operator(&all, "")
}

fn render_stdin(stdin: &str) -> Run {
    operator(&["render", "--serial", SERIAL, "-"], stdin)
}

#[test]
fn the_examples_render_to_the_golden_file() {
    let run = render(&["--serial", SERIAL, "docs/examples/operator"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "");
    let golden = repo_root().join(GOLDEN);
    if std::env::var("DDNS_WRITE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&golden, &run.stdout).unwrap();
    }
    let expected = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        run.stdout, expected,
        "render differs from {GOLDEN}; if the change is intended: \
         DDNS_WRITE_GOLDEN=1 cargo test -p ddns-operator --test render_cli"
    );
    // Both zones, by namespace then name, whatever their delivery mode
    // (example.com is an update-mode zone).
    let starts: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.starts_with("; Zone "))
        .collect();
    assert_eq!(
        starts,
        [
            "; Zone example.com written by ddns-operator. Changes made here are overwritten.",
            "; Zone internal.example.org written by ddns-operator. Changes made here are overwritten."
        ]
    );
    // Files named one by one give the same output, and so does stdin.
    let files: Vec<String> = common::yaml_files(&examples_dir())
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["--serial", SERIAL];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(render(&args).stdout, expected);
    let all: String = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap() + "\n---\n")
        .collect();
    let run = render_stdin(&all);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, expected.as_str()),
        "{}",
        run.stderr
    );
}

fn named_checkzone(test: &str) -> Option<&'static str> {
    let found = Command::new("named-checkzone")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        ddns_testkit::skip_or_fail(
            test,
            "named-checkzone is not installed (Debian: bind9-utils)",
        );
    }
    found.then_some("named-checkzone")
}

#[test]
fn output_dir_writes_each_zone_file_which_named_checkzone_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("zones");
    let run = render(&[
        "--serial",
        SERIAL,
        "--output-dir",
        out.to_str().unwrap(),
        "docs/examples/operator",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing printed with --output-dir");
    assert_eq!(
        run.stderr,
        format!(
            "wrote {0}/example.com.zone (zone example.com, namespace dns, 14 records, serial {SERIAL})\n\
             wrote {0}/internal.example.org.zone (zone internal.example.org, namespace dns, 5 records, serial {SERIAL})\n",
            out.display()
        )
    );
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["example.com.zone", "internal.example.org.zone"],
        "no temporary file is left"
    );
    let written: String = names
        .iter()
        .map(|n| std::fs::read_to_string(out.join(n)).unwrap())
        .collect();
    let golden = std::fs::read_to_string(repo_root().join(GOLDEN)).unwrap();
    assert_eq!(written, golden, "the files hold what render prints");

    let Some(checkzone) =
        named_checkzone("output_dir_writes_each_zone_file_which_named_checkzone_loads")
    else {
        return;
    };
    for name in &names {
        let zone = name.strip_suffix(".zone").unwrap();
        let check = Command::new(checkzone)
            .args(["-k", "fail", "-i", "full", zone])
            .arg(out.join(name))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success() && text.contains(&format!("loaded serial {SERIAL}")),
            "named-checkzone refuses {name}:\n{text}{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

fn today_utc() -> String {
    let out = Command::new("date")
        .args(["-u", "+%Y%m%d"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn without_serial_the_serial_is_todays_date() {
    let before = today_utc();
    let run = render(&["docs/examples/operator/zone-zonefile.yaml"]);
    let after = today_utc();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let soa = run
        .stdout
        .lines()
        .find(|l| l.contains("\tIN\tSOA\t"))
        .unwrap();
    let serial = soa.split(' ').nth(2).unwrap();
    assert!(
        serial == format!("{before}00") || serial == format!("{after}00"),
        "serial {serial}, today is {before} (UTC): {soa}"
    );
}

const ZONE: &str = "\
apiVersion: ddns.dev/v1alpha1
kind: DNSZone
metadata:
  name: example
  namespace: dns
spec:
  zoneName: example.com
  soa:
    primaryNs: ns1.example.net
    adminEmail: hostmaster@example.com
  nameServers: [ns1.example.net]
";

fn a_record(name: &str, owner: &str, address: &str) -> String {
    format!(
        "apiVersion: ddns.dev/v1alpha1\nkind: ARecord\nmetadata:\n  name: {name}\n  namespace: dns\nspec:\n  zoneRef: example\n  name: {owner}\n  addresses: [{address}]\n"
    )
}

#[test]
fn conflicts_are_each_reported_and_nothing_is_rendered() {
    let cname = "apiVersion: ddns.dev/v1alpha1\nkind: CNAMERecord\nmetadata:\n  name: www-alias\n  namespace: dns\nspec:\n  zoneRef: example\n  name: www\n  target: web.example.net\n";
    let input = [
        ZONE,
        &a_record("www", "www", "192.0.2.1"),
        &a_record("www-again", "www", "192.0.2.2"),
        cname,
        &a_record("elsewhere", "host.example.org.", "192.0.2.3"),
    ]
    .join("---\n");
    let run = render_stdin(&input);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "<stdin>:23: document 3: conflict in zone example.com (namespace dns): ARecord/www-again: www.example.com A is already claimed by ARecord/www\n\
         <stdin>:33: document 4: conflict in zone example.com (namespace dns): CNAMERecord/www-alias: www.example.com already holds A records (from ARecord/www); a CNAME must be the only record at its name\n\
         <stdin>:43: document 5: conflict in zone example.com (namespace dns): ARecord/elsewhere: 'host.example.org.' is outside zone example.com\n\
         ddns-operator render: 3 problems; nothing was rendered\n"
    );
}

#[test]
fn a_record_without_its_zone_is_an_error() {
    let input = [
        ZONE,
        &a_record("www", "www", "192.0.2.1").replace("zoneRef: example", "zoneRef: exampel"),
    ]
    .join("---\n");
    let run = render_stdin(&input);
    assert_eq!(run.code, 1);
    assert_eq!(run.stdout, "");
    assert_eq!(
        run.stderr,
        "<stdin>:13: document 2: ARecord/www: spec.zoneRef: Not found: no DNSZone named 'exampel' in namespace dns (it has example)\n\
         ddns-operator render: 1 problem; nothing was rendered\n"
    );
}

#[test]
fn invalid_manifests_name_file_document_object_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    let bad = format!(
        "{ZONE}---\n{}",
        a_record("www", "www", "192.0.2.1")
            .replace("  addresses:", "  adresses: [192.0.2.9]\n  addresses:")
    );
    std::fs::write(&path, bad).unwrap();
    let run = render(&[path.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "{}:13: document 2: ARecord/www: spec.adresses: unknown field; did you mean addresses?\n\
             ddns-operator render: 1 problem; nothing was rendered\n",
            path.display()
        )
    );

    std::fs::write(&path, format!("{ZONE}---\nkind: [ARecord\n")).unwrap();
    let run = render(&[path.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with(&format!("{}:13: not valid YAML: ", path.display())),
        "{}",
        run.stderr
    );

    let port = "apiVersion: ddns.dev/v1alpha1\nkind: SRVRecord\nmetadata: {name: sip}\nspec: {zoneRef: example, name: _sip._tcp, priority: 0, weight: 0, port: 70000, target: sip.example.com}\n";
    let run = render_stdin(port);
    assert_eq!(
        run.stderr,
        "<stdin>:1: document 1: SRVRecord/sip: spec.port: Invalid value: 70000: must be less than or equal to 65535\n\
         ddns-operator render: 1 problem; nothing was rendered\n"
    );

    let run = render_stdin("apiVersion: ddns.dev/v1alpha1\nkind: PTRRecord\nmetadata: {name: p}\n");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with(
            "<stdin>:1: document 1: PTRRecord/p: kind: Unsupported value: \"PTRRecord\""
        ),
        "{}",
        run.stderr
    );

    let run = render_stdin("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
    assert_eq!(
        (run.code, run.stderr.as_str()),
        (
            1,
            "no DNSZone (ddns.dev/v1alpha1) in the input: nothing to render\nddns-operator render: 1 problem; nothing was rendered\n"
        )
    );
}

#[test]
fn file_order_decides_between_claims_without_creation_times() {
    let first = a_record("first", "www", "192.0.2.1");
    let second = a_record("second", "www", "192.0.2.2");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.yaml"), dir.path().join("b.yaml"));
    std::fs::write(&a, format!("{ZONE}---\n{second}")).unwrap();
    std::fs::write(&b, &first).unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let run = render(&[a, b]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.starts_with(&format!("{b}:1: document 1: conflict in zone example.com (namespace dns): ARecord/first: www.example.com A is already claimed by ARecord/second\n")),
        "{}",
        run.stderr
    );
    let run = render(&[b, a]);
    assert!(
        run.stderr
            .contains("ARecord/second: www.example.com A is already claimed by ARecord/first"),
        "{}",
        run.stderr
    );
}

#[test]
fn io_failures_are_runtime_errors() {
    let run = render(&["/nonexistent/zones.yaml"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "ddns-operator render: cannot read /nonexistent/zones.yaml: No such file or directory (os error 2)\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, "").unwrap();
    let run = render(&[
        "--output-dir",
        file.to_str().unwrap(),
        "docs/examples/operator",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.starts_with(&format!(
            "ddns-operator render: cannot create {}: ",
            file.display()
        )),
        "{}",
        run.stderr
    );
    let binary = dir.path().join("binary.yaml");
    std::fs::write(&binary, b"kind: \xff\n").unwrap();
    let run = render(&[binary.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr,
        format!(
            "ddns-operator render: {}: not UTF-8 text (invalid byte at offset 6)\n",
            binary.display()
        )
    );
}

/// Regression guard: a reader that stops early (`| head`) must not make
/// the binary panic or complain.
#[test]
fn a_reader_that_stops_early_ends_the_run_quietly() {
    // Over a pipe's 64 KiB, so the writer meets the closed pipe.
    let records: String = (0..4000)
        .map(|i| {
            format!(
                "---\n{}",
                a_record(&format!("host-{i}"), &format!("host-{i}"), "192.0.2.1")
            )
        })
        .collect();
    let mut child = Command::new(BIN)
        .args(["render", "--serial", SERIAL, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(format!("{ZONE}{records}").as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"; Zone example.c");
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!((out.status.code(), stderr.as_ref()), (Some(0), ""));
}

#[test]
fn commands_and_exit_codes() {
    let run = operator(&["version"], "");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (
            0,
            concat!("ddns-operator ", env!("CARGO_PKG_VERSION"), "\n")
        )
    );
    let run = operator(&["help"], "");
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with("Usage: ddns-operator COMMAND\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("render [--serial N] [--output-dir DIR] FILE...")
    );
    let run = operator(&["bogus"], "");
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("ddns-operator: unknown command 'bogus'\n\nUsage:"),
        "{}",
        run.stderr
    );
    let run = operator(&[], "");
    assert_eq!(run.code, 1);
    let run = render(&["--serial", "tomorrow", "x.yaml"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .starts_with("ddns-operator render: --serial: 'tomorrow' is not a serial"),
        "{}",
        run.stderr
    );
    assert!(Path::new(BIN).is_file());
}
