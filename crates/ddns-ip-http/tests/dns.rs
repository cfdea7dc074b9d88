//! The DNS detector against a real BIND: A and AAAA in class IN, and TXT
//! in class CH the way 1.1.1.1 answers `whoami.cloudflare` (a CH zone in a
//! CH view, `BindOptions::chaos_txt`). An in-process server answering
//! messages built with hickory covers what BIND cannot be made to do: show
//! the request's flags, truncate on demand, answer any address as TXT over
//! IPv6, or stay silent.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddns_core::IpFamily;
use ddns_core::detect::{DetectingSource, DetectionSettings, Detector};
use ddns_core::{IpEvent, IpSource};
use ddns_dns::hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use ddns_dns::hickory_proto::rr::rdata::{A, TXT};
use ddns_dns::hickory_proto::rr::{DNSClass, RData, Record, RecordType};
use ddns_ip_http::{DnsDetector, DnsEndpoint};
use ddns_testkit::{Bind, BindOptions};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const TIMEOUT: Duration = Duration::from_secs(2);

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn detector(entry: &str) -> DnsDetector {
    DnsDetector::new(entry.parse::<DnsEndpoint>().unwrap(), TIMEOUT)
}

#[tokio::test]
async fn bind_answers_an_a_query_for_the_name() {
    let Some(bind) = Bind::start(
        "bind_answers_an_a_query_for_the_name",
        BindOptions::new()
            .record("myip IN A 203.0.113.7")
            .record("two IN A 203.0.113.8")
            .record("two IN A 203.0.113.9"),
    ) else {
        return;
    };
    let server = bind.addr();
    let myip = detector(&format!("dns:myip.example.test@{server}"));
    assert!(myip.supports(IpFamily::V4) && !myip.supports(IpFamily::V6));
    assert_eq!(myip.detect(IpFamily::V4).await.unwrap(), ip("203.0.113.7"));
    let log = bind.log();
    assert!(log.contains("query: myip.example.test IN A +"), "{log}");

    let error = myip.detect(IpFamily::V6).await.unwrap_err().to_string();
    assert_eq!(
        error,
        format!("dns:myip.example.test@{server} cannot answer for ipv6")
    );

    let missing = detector(&format!("dns:absent.example.test@{server}"));
    assert_eq!(
        missing.detect(IpFamily::V4).await.unwrap_err().to_string(),
        format!("dns:absent.example.test@{server} IN A: {server} answered NXDOMAIN")
    );
    let two = detector(&format!("dns:two.example.test@{server}"));
    assert_eq!(
        two.detect(IpFamily::V4).await.unwrap_err().to_string(),
        format!(
            "dns:two.example.test@{server} IN A: the answer holds 2 different addresses, not one"
        )
    );

    // Through the core's source, with loopback-range answers allowed.
    let mut settings = DetectionSettings::new(vec![IpFamily::V4]);
    settings.allow_nonglobal = true;
    let source = DetectingSource::new("dns", vec![Arc::new(myip)], None, settings);
    let event = tokio::time::timeout(Duration::from_secs(5), source.watch().next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(event, IpEvent::Observed(ip("203.0.113.7")));
}

#[tokio::test]
async fn bind_answers_an_aaaa_query_over_ipv6() {
    let Some(bind) = Bind::start(
        "bind_answers_an_aaaa_query_over_ipv6",
        BindOptions::new()
            .address(ip("::1"))
            .record("myip IN AAAA 2001:db8::7")
            .record("myip IN A 203.0.113.7"),
    ) else {
        return;
    };
    let server = bind.addr();
    assert!(server.is_ipv6());
    let myip = detector(&format!("dns:myip.example.test@{server}"));
    assert!(myip.supports(IpFamily::V6) && !myip.supports(IpFamily::V4));
    assert_eq!(myip.detect(IpFamily::V6).await.unwrap(), ip("2001:db8::7"));
    assert!(bind.log().contains("query: myip.example.test IN AAAA +"));
}

#[tokio::test]
async fn bind_answers_whoami_cloudflare_as_txt_in_class_ch() {
    let Some(bind) = Bind::start(
        "bind_answers_whoami_cloudflare_as_txt_in_class_ch",
        BindOptions::new()
            .chaos_txt("whoami.cloudflare", "198.51.100.42")
            .chaos_txt("me.chaos.test", " 198.51.100.9 ")
            .record("myip IN A 203.0.113.7"),
    ) else {
        return;
    };
    let server = bind.addr();
    assert_eq!(
        bind.query_class("CH", "whoami.cloudflare", "TXT"),
        ["\"198.51.100.42\""]
    );
    // `whoami.cloudflare` is asked as TXT in class CH without saying so.
    let whoami = detector(&format!("dns:whoami.cloudflare@{server}"));
    assert_eq!(whoami.name(), format!("dns:whoami.cloudflare@{server}"));
    assert_eq!(
        whoami.detect(IpFamily::V4).await.unwrap(),
        ip("198.51.100.42")
    );
    let log = bind.log();
    assert!(
        log.contains("query: whoami.cloudflare CH TXT +"),
        "asked in class CH with recursion desired: {log}"
    );
    // Any other name says `txt-ch:`; spaces around the address are fine.
    let me = detector(&format!("dns:txt-ch:me.chaos.test@{server}"));
    assert_eq!(me.detect(IpFamily::V4).await.unwrap(), ip("198.51.100.9"));
    // The CH zone is not there in class IN: the class really is asked.
    let in_class = detector(&format!("dns:txt:whoami.cloudflare@{server}"));
    assert_eq!(
        in_class.detect(IpFamily::V4).await.unwrap_err().to_string(),
        format!("dns:txt:whoami.cloudflare@{server} IN TXT: {server} answered REFUSED")
    );
    // The class IN zone is still served next to the CH view.
    let myip = detector(&format!("dns:myip.example.test@{server}"));
    assert_eq!(myip.detect(IpFamily::V4).await.unwrap(), ip("203.0.113.7"));
}

#[tokio::test]
async fn bind_ch_txt_answers_that_are_not_one_address_are_refused_with_the_reason() {
    let Some(bind) = Bind::start(
        "bind_ch_txt_answers_that_are_not_one_address_are_refused_with_the_reason",
        BindOptions::new()
            .chaos_txt("word.chaos.test", "not-an-address")
            .chaos_txt("two-words.chaos.test", "198.51.100.1 198.51.100.2")
            .chaos_txt("two-records.chaos.test", "198.51.100.1")
            .chaos_txt("two-records.chaos.test", "198.51.100.2")
            .chaos_txt("ipv6.chaos.test", "2001:db8::1")
            .chaos_txt("empty.chaos.test", ""),
    ) else {
        return;
    };
    let server = bind.addr();
    let cases = [
        (
            "word.chaos.test",
            "the TXT record 'not-an-address' is not an IP address".to_owned(),
        ),
        (
            "two-words.chaos.test",
            "the TXT record holds 2 words, not one address: '198.51.100.1 198.51.100.2'".to_owned(),
        ),
        (
            "two-records.chaos.test",
            "the answer holds 2 TXT records, not one".to_owned(),
        ),
        (
            "ipv6.chaos.test",
            "answered 2001:db8::1, an ipv6 address, when asked for ipv4".to_owned(),
        ),
        (
            "empty.chaos.test",
            "the TXT record '' is not an IP address".to_owned(),
        ),
        ("absent.test", format!("{server} answered REFUSED")),
        (
            "nothing.word.chaos.test",
            format!("{server} answered NXDOMAIN"),
        ),
    ];
    for (name, reason) in cases {
        let entry = format!("dns:txt-ch:{name}@{server}");
        let error = detector(&entry)
            .detect(IpFamily::V4)
            .await
            .unwrap_err()
            .to_string();
        assert_eq!(error, format!("{entry} CH TXT: {reason}"), "{name}");
    }
}

/// What a fake server got.
#[derive(Debug, Clone)]
struct Asked {
    request: Message,
    peer: SocketAddr,
    over_tcp: bool,
}

type Answer = dyn Fn(&Message) -> Message + Send + Sync;

/// A DNS server on `ip` (UDP, and TCP on the same port) that answers each
/// question with `answer(request)`; with `truncate_udp`, UDP answers are
/// only a truncated header, so the client must come back over TCP.
async fn fake_server(
    ip: IpAddr,
    truncate_udp: bool,
    answer: impl Fn(&Message) -> Message + Send + Sync + 'static,
) -> (SocketAddr, Arc<Mutex<Vec<Asked>>>, tokio::task::JoinSet<()>) {
    let (udp, tcp) = loop {
        let udp = UdpSocket::bind((ip, 0)).await.unwrap();
        let port = udp.local_addr().unwrap().port();
        if let Ok(tcp) = TcpListener::bind((ip, port)).await {
            break (udp, tcp);
        }
    };
    let addr = udp.local_addr().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let answer: Arc<Answer> = Arc::new(answer);
    let mut tasks = tokio::task::JoinSet::new();
    {
        let asked = asked.clone();
        let answer = answer.clone();
        tasks.spawn(async move {
            let mut buffer = vec![0u8; 65_535];
            while let Ok((n, peer)) = udp.recv_from(&mut buffer).await {
                let request = Message::from_vec(&buffer[..n]).unwrap();
                let mut response = answer(&request);
                if truncate_udp {
                    response = response.truncate();
                    response.metadata.id = request.metadata.id;
                }
                udp.send_to(&response.to_vec().unwrap(), peer)
                    .await
                    .unwrap();
                asked.lock().unwrap().push(Asked {
                    request,
                    peer,
                    over_tcp: false,
                });
            }
        });
    }
    let seen = asked.clone();
    tasks.spawn(async move {
        while let Ok((mut stream, peer)) = tcp.accept().await {
            let length = stream.read_u16().await.unwrap();
            let mut buffer = vec![0u8; usize::from(length)];
            stream.read_exact(&mut buffer).await.unwrap();
            let request = Message::from_vec(&buffer).unwrap();
            let bytes = answer(&request).to_vec().unwrap();
            let mut framed = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
            framed.extend_from_slice(&bytes);
            stream.write_all(&framed).await.unwrap();
            seen.lock().unwrap().push(Asked {
                request,
                peer,
                over_tcp: true,
            });
        }
    });
    (addr, asked, tasks)
}

/// An answer to `request` holding these records (owned by the question's name).
fn reply(request: &Message, rcode: ResponseCode, data: Vec<RData>) -> Message {
    let mut response = Message::response(request.metadata.id, OpCode::Query);
    response.metadata.message_type = MessageType::Response;
    response.metadata.response_code = rcode;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.clone());
    let query = &request.queries[0];
    for rdata in data {
        let mut record = Record::from_rdata(query.name().clone(), 0, rdata);
        record.dns_class = query.query_class();
        response.add_answer(record);
    }
    response
}

/// What 1.1.1.1 says to `whoami.cloudflare CH TXT`: the client's address.
fn whoami(request: &Message, peer_text: &str) -> Message {
    reply(
        request,
        ResponseCode::NoError,
        vec![RData::TXT(TXT::new(vec![peer_text.to_string()]))],
    )
}

#[tokio::test]
async fn whoami_cloudflare_is_asked_as_txt_in_class_ch_with_recursion() {
    let (server, asked, _tasks) =
        fake_server(ip("127.0.0.1"), false, |r| whoami(r, "198.51.100.42")).await;
    let detector = detector(&format!("dns:whoami.cloudflare@{server}"));
    assert_eq!(detector.name(), format!("dns:whoami.cloudflare@{server}"));
    assert_eq!(
        detector.detect(IpFamily::V4).await.unwrap(),
        ip("198.51.100.42")
    );
    let asked = asked.lock().unwrap().clone();
    assert_eq!(asked.len(), 1);
    let request = &asked[0].request;
    assert!(request.metadata.recursion_desired, "RD must be set");
    assert_eq!(request.queries.len(), 1);
    assert_eq!(request.queries[0].name().to_ascii(), "whoami.cloudflare.");
    assert_eq!(request.queries[0].query_type(), RecordType::TXT);
    assert_eq!(request.queries[0].query_class(), DNSClass::CH);
    assert!(asked[0].peer.is_ipv4());
}

#[tokio::test]
async fn over_ipv6_the_question_leaves_from_an_ipv6_socket() {
    let (server, asked, _tasks) =
        fake_server(ip("::1"), false, |r| whoami(r, "2001:db8::42")).await;
    let detector = detector(&format!("dns:whoami.cloudflare@{server}"));
    assert!(detector.supports(IpFamily::V6) && !detector.supports(IpFamily::V4));
    assert_eq!(
        detector.detect(IpFamily::V6).await.unwrap(),
        ip("2001:db8::42")
    );
    assert!(asked.lock().unwrap()[0].peer.is_ipv6());
}

#[tokio::test]
async fn a_truncated_answer_is_asked_again_over_tcp() {
    let (server, asked, _tasks) =
        fake_server(ip("127.0.0.1"), true, |r| whoami(r, "198.51.100.43")).await;
    let detector = detector(&format!("dns:whoami.cloudflare@{server}"));
    assert_eq!(
        detector.detect(IpFamily::V4).await.unwrap(),
        ip("198.51.100.43")
    );
    let transports: Vec<bool> = asked.lock().unwrap().iter().map(|a| a.over_tcp).collect();
    assert_eq!(transports, [false, true]);
}

#[tokio::test]
async fn bad_dns_answers_are_refused_with_the_reason() {
    let cases: Vec<(Box<Answer>, &str)> = vec![
        (
            Box::new(|r| {
                reply(
                    r,
                    ResponseCode::NoError,
                    vec![
                        RData::TXT(TXT::new(vec!["198.51.100.1".into()])),
                        RData::TXT(TXT::new(vec!["198.51.100.2".into()])),
                    ],
                )
            }),
            "the answer holds 2 TXT records, not one",
        ),
        (
            Box::new(|r| whoami(r, "198.51.100.1 198.51.100.2")),
            "the TXT record holds 2 words, not one address: '198.51.100.1 198.51.100.2'",
        ),
        (
            Box::new(|r| whoami(r, "2001:db8::1")),
            "answered 2001:db8::1, an ipv6 address, when asked for ipv4",
        ),
        (
            Box::new(|r| {
                reply(
                    r,
                    ResponseCode::NoError,
                    vec![RData::A(A::new(198, 51, 100, 1))],
                )
            }),
            "the answer holds no TXT record",
        ),
        (
            Box::new(|r| reply(r, ResponseCode::Refused, vec![])),
            "REFUSED",
        ),
    ];
    for (answer, reason) in cases {
        let (server, _asked, _tasks) = fake_server(ip("127.0.0.1"), false, answer).await;
        let error = detector(&format!("dns:whoami.cloudflare@{server}"))
            .detect(IpFamily::V4)
            .await
            .unwrap_err()
            .to_string();
        let expected = if reason == "REFUSED" {
            format!("dns:whoami.cloudflare@{server} CH TXT: {server} answered REFUSED")
        } else {
            format!("dns:whoami.cloudflare@{server} CH TXT: {reason}")
        };
        assert_eq!(error, expected);
    }
}

#[tokio::test]
async fn a_silent_server_times_out() {
    // Bound but never read: the question goes unanswered.
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = socket.local_addr().unwrap();
    let detector = DnsDetector::new(
        format!("dns:myip.example.test@{server}").parse().unwrap(),
        Duration::from_millis(200),
    );
    assert_eq!(
        detector.detect(IpFamily::V4).await.unwrap_err().to_string(),
        format!("dns:myip.example.test@{server} IN A: no answer from {server} within 200 ms")
    );
}
