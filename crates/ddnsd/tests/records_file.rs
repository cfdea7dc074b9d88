//! `DDNS_RECORDS_FILE`: names from a file, for lists longer than one
//! environment string can hold (128 KiB on Linux, about 6,000 names).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ddnsd");

fn check(vars: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(BIN)
        .env_clear()
        .arg("check")
        .env("DDNS_PROVIDER_TYPE", "dry-run")
        .envs(vars.iter().copied())
        .output()
        .expect("run ddnsd");
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn ten_thousand_names_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records");
    let mut text = String::from("# the hosts of example.com\n\n");
    for i in 0..10_000 {
        text.push_str(&format!("host{i:05}.example.com\n"));
    }
    text.push_str("a.example.net, b.example.net # two more on one line\n");
    assert!(
        text.len() > 128 * 1024,
        "longer than one environment string may be"
    );
    std::fs::write(&path, &text).unwrap();
    let (code, stdout, stderr) = check(&[("DDNS_RECORDS_FILE", path.to_str().unwrap())]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("host00000.example.com,host00001.example.com"),
        "{}",
        &stdout[..stdout.len().min(400)]
    );
    assert!(stdout.contains("host09999.example.com,a.example.net,b.example.net"));
}

#[test]
fn file_errors_name_the_file_variable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records");
    let path_text = path.to_str().unwrap().to_string();

    std::fs::write(&path, "home.example.com\nhome.example.com\n").unwrap();
    let (code, _, stderr) = check(&[("DDNS_RECORDS_FILE", &path_text)]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("DDNS_RECORDS_FILE: 'home.example.com' is listed twice"),
        "{stderr}"
    );

    std::fs::write(&path, "# nothing yet\n\n").unwrap();
    let (code, _, stderr) = check(&[("DDNS_RECORDS_FILE", &path_text)]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(&format!("DDNS_RECORDS_FILE: {path_text} names no record")),
        "{stderr}"
    );

    std::fs::write(&path, "home.example.com\n").unwrap();
    let (code, _, stderr) = check(&[
        ("DDNS_RECORDS_FILE", &path_text),
        ("DDNS_RECORDS", "x.example.com"),
    ]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains(
            "DDNS_RECORDS: both DDNS_RECORDS and DDNS_RECORDS_FILE are set; set only one"
        ),
        "{stderr}"
    );

    std::fs::write(&path, "nas.example.com=::1:2:3:4\n").unwrap();
    let (code, _, stderr) = check(&[("DDNS_RECORDS_FILE", &path_text)]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("DDNS_RECORDS_FILE: an IPv6 interface identifier is given, but DDNS_IP_FAMILIES does not include ipv6"),
        "{stderr}"
    );
}
