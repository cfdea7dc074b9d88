//! Answers that must not be trusted, from small servers in the test:
//! garbage, the wrong ID, an unsigned answer to a signed request, a
//! truncated UDP answer (the request goes again over TCP).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ddns_dns::hickory_proto::op::{Message, ResponseCode};
use ddns_dns::hickory_proto::rr::rdata::A;
use ddns_dns::hickory_proto::rr::{Name, RData, Record, RecordType};
use ddns_dns::{Client, Error, RrsetChange, Transport, TsigAlgorithm, TsigKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

type Answer = fn(&Message, &[u8]) -> Vec<u8>;

/// A UDP server answering each request with `answer`, and a TCP listener
/// on the same port answering with `tcp_answer` (if any). Counts requests.
async fn server(answer: Answer, tcp_answer: Option<Answer>) -> (SocketAddr, Arc<AtomicUsize>) {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = udp.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let udp_count = count.clone();
    tokio::spawn(async move {
        let mut buffer = vec![0u8; 65535];
        while let Ok((n, peer)) = udp.recv_from(&mut buffer).await {
            udp_count.fetch_add(1, Ordering::SeqCst);
            let request = Message::from_vec(&buffer[..n]).unwrap();
            let _ = udp.send_to(&answer(&request, &buffer[..n]), peer).await;
        }
    });
    if let Some(tcp_answer) = tcp_answer {
        let tcp = TcpListener::bind(address).await.unwrap();
        let tcp_count = count.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = tcp.accept().await {
                tcp_count.fetch_add(1, Ordering::SeqCst);
                let length = stream.read_u16().await.unwrap();
                let mut buffer = vec![0u8; usize::from(length)];
                stream.read_exact(&mut buffer).await.unwrap();
                let request = Message::from_vec(&buffer).unwrap();
                let reply = tcp_answer(&request, &buffer);
                let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
                framed.extend(reply);
                stream.write_all(&framed).await.unwrap();
            }
        });
    }
    (address, count)
}

fn answer_to(request: &Message) -> Message {
    let mut answer = Message::response(request.metadata.id, request.metadata.op_code);
    answer.add_queries(request.queries.clone());
    answer.metadata.authoritative = true;
    if let Some(query) = request.queries.first() {
        answer.add_answer(Record::from_rdata(
            query.name().clone(),
            60,
            RData::A(A::new(192, 0, 2, 1)),
        ));
    }
    answer
}

fn name() -> Name {
    Name::from_ascii("host.example.test.").unwrap()
}

fn key() -> TsigKey {
    let secret = ddns_core::Secret::new("aG9zdGlsZS1rZXktaG9zdGlsZS1rZXktaG9zdGlsZQ==");
    TsigKey::new("ddns-key", TsigAlgorithm::HmacSha256, &secret).unwrap()
}

fn client(server: SocketAddr, key: Option<TsigKey>) -> Client {
    Client::new(server, key, Transport::Udp, Duration::from_millis(500))
}

#[tokio::test]
async fn garbage_is_a_clear_transient_error() {
    let (address, _) = server(|_, _| b"\x00\x01garbage".to_vec(), None).await;
    let err = client(address, None)
        .query(&name(), RecordType::A)
        .await
        .unwrap_err();
    // The first two bytes are not the request ID, so the datagram is not
    // even taken for an answer: the request times out.
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.is_transient());
    assert_eq!(
        err.to_string(),
        format!("no answer from {address} within 500 ms")
    );
}

#[tokio::test]
async fn an_answer_with_the_right_id_but_broken_body_is_malformed() {
    let (address, _) = server(
        |request, _| {
            let mut bytes = request.metadata.id.to_be_bytes().to_vec();
            // A header that promises a question and an answer, then junk.
            bytes.extend([0x80, 0x00, 0, 1, 0, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
            bytes
        },
        None,
    )
    .await;
    let err = client(address, None)
        .query(&name(), RecordType::A)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Malformed { .. }) && err.is_transient(),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("bad answer from {address}: not a DNS message")),
        "{err}"
    );
}

#[tokio::test]
async fn an_answer_with_a_wrong_id_is_ignored() {
    let (address, _) = server(
        |request, _| {
            let mut answer = answer_to(request);
            answer.metadata.id = request.metadata.id.wrapping_add(1);
            answer.to_vec().unwrap()
        },
        None,
    )
    .await;
    let err = client(address, None)
        .query(&name(), RecordType::A)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn an_answer_for_another_question_is_rejected() {
    let (address, _) = server(
        |request, _| {
            let mut answer = Message::response(request.metadata.id, request.metadata.op_code);
            answer.add_query(ddns_dns::hickory_proto::op::Query::query(
                Name::from_ascii("other.example.test.").unwrap(),
                RecordType::A,
            ));
            answer.to_vec().unwrap()
        },
        None,
    )
    .await;
    let err = client(address, None)
        .query(&name(), RecordType::A)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("bad answer from {address}: the answer is for another question")
    );
}

#[tokio::test]
async fn an_unsigned_answer_to_a_signed_request_is_rejected() {
    let (address, _) = server(|request, _| answer_to(request).to_vec().unwrap(), None).await;
    let err = client(address, Some(key()))
        .query(&name(), RecordType::A)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TsigInvalid { .. }) && err.is_transient(),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "answer from {address} failed TSIG verification: the answer is not signed although the request was"
        )
    );
}

#[tokio::test]
async fn a_truncated_update_answer_is_sent_again_over_tcp() {
    let truncated: Answer = |request, _| {
        let mut answer = Message::response(request.metadata.id, request.metadata.op_code);
        answer.metadata.truncation = true;
        answer.to_vec().unwrap()
    };
    let full: Answer = |request, _| {
        let mut answer = Message::response(request.metadata.id, request.metadata.op_code);
        answer.add_queries(request.queries.clone());
        answer.metadata.response_code = ResponseCode::NoError;
        answer.to_vec().unwrap()
    };
    let (address, count) = server(truncated, Some(full)).await;
    let zone = Name::from_ascii("example.test.").unwrap();
    let change = RrsetChange::replace(name(), 60, vec![RData::A(A::new(192, 0, 2, 9))]);
    client(address, None).apply(&zone, &[change]).await.unwrap();
    assert_eq!(
        count.load(Ordering::SeqCst),
        2,
        "once over UDP, once over TCP"
    );
}

#[tokio::test]
async fn nothing_listening_is_unreachable_and_server_wide() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let address = socket.local_addr().unwrap();
    drop(socket);
    let err = client(address, None)
        .query(&name(), RecordType::A)
        .await
        .unwrap_err();
    assert!(err.is_transient() && err.is_server_wide(), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("cannot reach {address}")),
        "{err}"
    );
}
