#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

const VAR: &str = "DDNS_EXAMPLE_CA_FILE";

/// A self-signed CA certificate.
const TEST_CA: &str = include_str!("../../tests/data/test-ca.pem");

fn error(path: &Path) -> String {
    CaFile::read(VAR, path).unwrap_err().to_string()
}

#[test]
fn certificate_files_must_hold_certificates() {
    assert_eq!(
        parse_certificates(b"just text\n").unwrap_err().to_string(),
        "holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    );
    let broken = b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    let err = parse_certificates(broken).unwrap_err().to_string();
    assert!(err.starts_with("certificate 1 is not valid PEM"), "{err}");
    let not_a_certificate =
        b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    let err = parse_certificates(not_a_certificate)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("certificate 1 cannot be trusted as a CA"),
        "{err}"
    );
}

#[test]
fn the_failing_certificate_is_counted_from_one() {
    let second_broken = format!(
        "{TEST_CA}-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n"
    );
    let err = parse_certificates(second_broken.as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("certificate 2 cannot be trusted as a CA"),
        "{err}"
    );
}

#[test]
fn a_missing_file_is_a_configuration_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem");
    assert_eq!(
        error(&missing),
        format!(
            "DDNS_EXAMPLE_CA_FILE: cannot read {}: No such file or directory (os error 2)",
            missing.display()
        )
    );
}

#[test]
fn a_directory_is_not_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        error(dir.path()),
        format!(
            "DDNS_EXAMPLE_CA_FILE: {} is not a regular file",
            dir.path().display()
        )
    );
}

#[test]
fn a_file_over_one_mebibyte_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.pem");
    std::fs::write(&big, vec![b'x'; 1024 * 1024 + 1]).unwrap();
    assert_eq!(
        error(&big),
        format!(
            "DDNS_EXAMPLE_CA_FILE: {} is 1048577 bytes; a CA file holds at most 1048576",
            big.display()
        )
    );
}

#[test]
fn a_file_without_a_certificate_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    assert_eq!(
        error(&empty),
        format!(
            "DDNS_EXAMPLE_CA_FILE: {}: holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            empty.display()
        )
    );
}

#[test]
fn a_good_file_is_kept_with_its_count() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.pem");
    std::fs::write(&one, TEST_CA).unwrap();
    let ca = CaFile::read(VAR, &one).unwrap();
    assert_eq!(ca.count, 1);
    assert_eq!(ca.pem, TEST_CA.as_bytes());
    assert_eq!(
        ca.shown(),
        format!("{} (1 certificate, with the system's roots)", one.display())
    );
    let two = dir.path().join("two.pem");
    std::fs::write(&two, format!("{TEST_CA}{TEST_CA}")).unwrap();
    assert_eq!(
        CaFile::read(VAR, &two).unwrap().shown(),
        format!(
            "{} (2 certificates, with the system's roots)",
            two.display()
        )
    );
}
