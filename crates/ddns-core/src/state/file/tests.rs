use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;

use super::*;
use crate::state::RecordState;

fn snapshot(address: &str, at: u64) -> StateSnapshot {
    let mut s = StateSnapshot::default();
    s.records.insert(
        "a.example.com/A".into(),
        RecordState {
            address: address.parse::<IpAddr>().expect("address"),
            written_at: at,
        },
    );
    s
}

#[tokio::test]
async fn round_trip_with_private_mode_and_backup() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.json");
    let store = FileStateStore::open(&path).expect("open");
    assert_eq!(store.load().await.expect("load"), StateSnapshot::default());
    store.save(&snapshot("192.0.2.1", 1)).await.expect("save");
    store.save(&snapshot("192.0.2.2", 2)).await.expect("save");
    assert_eq!(store.load().await.expect("load"), snapshot("192.0.2.2", 2));
    let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        FileStateStore::peek(&store.backup_path()).expect("backup"),
        snapshot("192.0.2.1", 1)
    );
    let text = fs::read_to_string(&path).expect("read");
    assert!(
        text.contains("\"version\": 1") && text.contains("\"format\": \"ddns-state\""),
        "{text}"
    );
}

#[tokio::test]
async fn garbage_and_every_truncation_recover_from_backup() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.json");
    let store = FileStateStore::open(&path).expect("open");
    store.save(&snapshot("192.0.2.1", 1)).await.expect("save");
    store.save(&snapshot("192.0.2.2", 2)).await.expect("save");
    let full = fs::read(&path).expect("read");
    for len in 0..full.len() - 2 {
        fs::write(&path, &full[..len]).expect("truncate");
        let state = store.load().await.expect("load never fails");
        assert_eq!(state, snapshot("192.0.2.1", 1), "truncated to {len} bytes");
    }
    fs::write(&path, b"\x00\xffgarbage").expect("garbage");
    assert_eq!(store.load().await.expect("load"), snapshot("192.0.2.1", 1));
    fs::write(store.backup_path(), b"also garbage").expect("garbage");
    assert_eq!(store.load().await.expect("load"), StateSnapshot::default());
}

#[tokio::test]
async fn a_directory_in_place_of_the_file_is_survived() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.json");
    fs::create_dir(&path).expect("mkdir");
    fs::write(path.join("x"), b"x").expect("fill");
    let store = FileStateStore::open(&path).expect("open");
    assert_eq!(store.load().await.expect("load"), StateSnapshot::default());
    let err = store
        .save(&snapshot("192.0.2.1", 1))
        .await
        .expect_err("cannot replace a directory");
    assert!(
        err.to_string().starts_with("cannot write the state file"),
        "{err}"
    );
}

#[tokio::test]
async fn unsupported_version_is_not_trusted() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.json");
    fs::write(
        &path,
        br#"{"format":"ddns-state","version":99,"records":{}}"#,
    )
    .expect("write");
    let err = FileStateStore::peek(&path).expect_err("newer version");
    assert!(
        err.to_string()
            .contains("format version 99 is not supported"),
        "{err}"
    );
}

#[test]
fn a_second_store_on_the_same_path_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("state.json");
    let _first = FileStateStore::open(&path).expect("open");
    let err = FileStateStore::open(&path).expect_err("locked");
    assert!(matches!(err, Error::StateLocked { .. }));
    assert!(err.to_string().contains("locked by another ddnsd process"));
}

#[test]
fn a_file_from_a_newer_build_is_refused_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let newer = br#"{"format":"ddns-state","version":2,"records":{},"new_field":1}"#;
    std::fs::write(&path, newer).unwrap();
    let err = FileStateStore::open(&path).expect_err("newer format");
    assert!(
        err.to_string().contains(
            "was written in format version 2 by a newer ddnsd (this one reads version 1)"
        ),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), newer, "left as it was");
    std::fs::remove_file(&path).unwrap();
    std::fs::write(dir.path().join("state.json.bak"), newer).unwrap();
    assert!(FileStateStore::open(&path).is_err(), "a newer backup too");
}
