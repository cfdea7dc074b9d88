//! Replays the fuzz corpus (fuzz/corpus) as ordinary tests, so every input
//! that ever mattered keeps running in CI without a fuzzer. With
//! `DDNS_WRITE_SEEDS=1` it first writes the seed inputs built here.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use ddns_dns::hickory_proto::op::{Message, OpCode, ResponseCode};
use ddns_dns::hickory_proto::rr::rdata::A;
use ddns_dns::hickory_proto::rr::{Name, RData, Record, RecordType};
use ddns_dns::{TsigAlgorithm, TsigKey, parse_response, query_message};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn key() -> TsigKey {
    let secret = ddns_core::Secret::new("ZnV6ei1rZXktZnV6ei1rZXktZnV6ei1rZXk=");
    TsigKey::new("fuzz-key", TsigAlgorithm::HmacSha256, &secret).unwrap()
}

/// The same request the fuzz target answers.
fn request() -> (Message, Vec<u8>) {
    let name = Name::from_ascii("host.example.test.").unwrap();
    let mut request = query_message(&name, RecordType::A);
    request.metadata.id = 0x4242;
    let (_, mac) = key().sign(&mut request).unwrap();
    (request, mac)
}

fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let (request, _) = request();
    let name = Name::from_ascii("host.example.test.").unwrap();
    let mut answer = Message::response(0x4242, OpCode::Query);
    answer.add_queries(request.queries.clone());
    answer.metadata.authoritative = true;
    answer.add_answer(Record::from_rdata(name, 60, RData::A(A::new(192, 0, 2, 1))));
    let mut signed = answer.clone();
    let _ = key().sign(&mut signed).unwrap();
    let mut refused = Message::response(0x4242, OpCode::Query);
    refused.add_queries(request.queries.clone());
    refused.metadata.response_code = ResponseCode::Refused;
    vec![
        ("answer-unsigned", answer.to_vec().unwrap()),
        ("answer-signed", signed.to_vec().unwrap()),
        ("refused", refused.to_vec().unwrap()),
        ("truncated-header", vec![0x42, 0x42, 0x80]),
    ]
}

fn write_seeds() -> bool {
    std::env::var("DDNS_WRITE_SEEDS").is_ok_and(|v| v == "1")
}

#[test]
fn dns_response_corpus_never_panics() {
    let dir = corpus("dns_response");
    if write_seeds() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds() {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let (request, mac) = request();
    let key = key();
    let server = "192.0.2.53:53".parse().unwrap();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(response) = parse_response(&bytes, &request) {
            let _ = key.check(server, &bytes, &response, &mac);
        }
        count += 1;
    }
    assert!(
        count >= 4,
        "the corpus in {} holds {count} inputs",
        dir.display()
    );
    // The unsigned seed must be rejected for lack of a signature.
    let (_, unsigned) = &seeds()[0];
    let response = parse_response(unsigned, &request).unwrap();
    let err = key.check(server, unsigned, &response, &mac).unwrap_err();
    assert_eq!(
        err.to_string(),
        "answer from 192.0.2.53:53 failed TSIG verification: the answer is not signed although the request was"
    );
}

#[test]
fn tsig_key_file_corpus_never_panics() {
    let dir = corpus("tsig_key_file");
    if write_seeds() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("tsig-keygen"),
            "key \"ddns-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"ZnV6ei1rZXktZnV6ei1rZXktZnV6ei1rZXk=\";\n};\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("comments"),
            "/* a */ key k { # b\n algorithm hmac-sha512; // c\n secret \"eA==\"; };",
        )
        .unwrap();
    }
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = TsigKey::from_key_file(text);
        }
        count += 1;
    }
    assert!(count >= 2);
}
