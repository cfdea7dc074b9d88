//! Replaying a fuzz corpus as ordinary tests.

use std::path::{Path, PathBuf};

/// `fuzz/corpus/<target>` in the repository.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

/// Whether `DDNS_WRITE_SEEDS=1` asks the tests to (re)write their seeds.
pub fn write_seeds() -> bool {
    std::env::var("DDNS_WRITE_SEEDS").is_ok_and(|v| v == "1")
}

/// Every file of the corpus of `target`, sorted by name, after writing
/// `seeds` when [`write_seeds`] says so. Each named seed must be on disk
/// exactly as built: a seed that went missing or changed would make its
/// test's expectation vacuous.
pub fn replay_corpus(target: &str, seeds: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    if write_seeds() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            (name, std::fs::read(entry.path()).unwrap())
        })
        .collect();
    files.sort();
    for (name, bytes) in seeds {
        let on_disk = files.iter().find(|(file, _)| file == name);
        assert_eq!(
            on_disk.map(|(_, bytes)| bytes),
            Some(bytes),
            "seed {name} in {} (DDNS_WRITE_SEEDS=1 rewrites the seeds)",
            dir.display()
        );
    }
    files
}
