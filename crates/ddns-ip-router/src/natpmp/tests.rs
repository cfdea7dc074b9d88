use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;

use super::*;

fn answer(code: u16, epoch: u32, address: [u8; 4]) -> Vec<u8> {
    let mut packet = vec![0, 128];
    packet.extend_from_slice(&code.to_be_bytes());
    packet.extend_from_slice(&epoch.to_be_bytes());
    packet.extend_from_slice(&address);
    packet
}

#[test]
fn the_request_is_version_0_opcode_0() {
    assert_eq!(PUBLIC_ADDRESS_REQUEST, [0, 0]);
}

#[test]
fn a_success_answer_gives_address_and_epoch() {
    // As captured from miniupnpd 2.3.1.
    let packet = [
        0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x0b, 0x16, 0x22, 0x37,
    ];
    assert_eq!(
        parse_public_address(&packet).unwrap(),
        PublicAddress {
            epoch: 7,
            address: Ipv4Addr::new(11, 22, 34, 55)
        }
    );
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut packet = answer(0, 1, [198, 51, 100, 7]);
    packet.extend_from_slice(&[0xff; 4]);
    assert_eq!(
        parse_public_address(&packet).unwrap().address,
        Ipv4Addr::new(198, 51, 100, 7)
    );
}

#[test]
fn every_short_packet_is_truncated() {
    let full = answer(0, 1, [198, 51, 100, 7]);
    for len in 0..full.len() {
        let error = parse_public_address(&full[..len]).unwrap_err();
        assert!(
            matches!(error, Error::Truncated { len: l, needed: 12 } if l == len),
            "{len}: {error}"
        );
    }
    assert_eq!(
        parse_public_address(&full[..5]).unwrap_err().to_string(),
        "message of 5 bytes is shorter than the 12 bytes of its format"
    );
}

#[test]
fn a_request_or_another_opcode_is_not_the_answer() {
    let mut packet = answer(0, 1, [198, 51, 100, 7]);
    packet[1] = 0; // the request itself, looped back
    assert!(matches!(
        parse_public_address(&packet),
        Err(Error::UnexpectedOpcode { opcode: 0 })
    ));
    packet[1] = 0x81; // a UDP mapping response
    let error = parse_public_address(&packet).unwrap_err();
    assert!(error.is_stray());
    assert_eq!(error.to_string(), "unexpected opcode byte 0x81");
}

#[test]
fn a_pcp_message_is_not_a_natpmp_answer() {
    // A PCP ANNOUNCE, which gateways multicast next to NAT-PMP announcements.
    let mut packet = vec![2, 0x80];
    packet.extend_from_slice(&[0; 22]);
    let error = parse_public_address(&packet).unwrap_err();
    assert!(matches!(error, Error::UnexpectedVersion { version: 2 }));
    assert!(error.is_stray());
}

#[test]
fn error_results_are_refusals_with_their_meaning_even_when_short() {
    // miniupnpd answers 3 when its external interface has no public address.
    let packet = answer(3, 1, [0; 4]);
    let error = parse_public_address(&packet).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the gateway refused the NAT-PMP request: result 3 (network failure, the gateway has no external address yet)"
    );
    assert!(!error.is_stray());
    assert!(error.is_transient());
    let short = parse_public_address(&[0, 128, 0, 2]).unwrap_err();
    assert!(matches!(short, Error::Refused { code: 2, .. }));
    let unsupported = parse_public_address(&[0, 128, 0, 1, 0, 0, 0, 0]).unwrap_err();
    assert!(!unsupported.is_transient());
    let unknown = parse_public_address(&answer(999, 0, [0; 4])).unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "the gateway refused the NAT-PMP request: result 999 (unknown result code)"
    );
}

#[test]
fn a_zero_address_is_no_external_address() {
    let error = parse_public_address(&answer(0, 1, [0; 4])).unwrap_err();
    assert_eq!(
        error.to_string(),
        "the gateway reports no external address (0.0.0.0)"
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A tiny deterministic fuzz pass; the fuzz target does the real work.
    let mut rng = fastrand::Rng::with_seed(6886);
    for _ in 0..20_000 {
        let len = rng.usize(0..24);
        let mut packet: Vec<u8> = (0..len).map(|_| rng.u8(..)).collect();
        if rng.bool() && len > 2 {
            packet[0] = 0;
            packet[1] = 128;
        }
        let _ = parse_public_address(&packet);
    }
}

/// A NAT-PMP gateway on a loopback address of its own (port 5351 is fixed).
async fn fake_gateway(address: Ipv4Addr) -> UdpSocket {
    UdpSocket::bind(SocketAddr::from((address, 5351)))
        .await
        .unwrap()
}

#[tokio::test]
async fn the_detector_skips_junk_and_reads_the_answer() {
    let address = Ipv4Addr::new(127, 0, 86, 1);
    let gateway = fake_gateway(address).await;
    let detector = NatPmpDetector::new(Some(address));
    assert_eq!(detector.name(), "natpmp:127.0.86.1");
    assert!(detector.supports(IpFamily::V4));
    assert!(!detector.supports(IpFamily::V6));
    let server = async {
        let mut buffer = [0u8; 64];
        let (len, peer) = gateway.recv_from(&mut buffer).await.unwrap();
        assert_eq!(&buffer[..len], &[0, 0], "the request on the wire");
        gateway.send_to(&[0, 128, 0], peer).await.unwrap();
        gateway.send_to(&[2, 0x80, 0, 0], peer).await.unwrap();
        gateway
            .send_to(&answer(0, 42, [198, 51, 100, 9]), peer)
            .await
            .unwrap();
    };
    let (detected, ()) = tokio::join!(detector.detect(IpFamily::V4), server);
    assert_eq!(detected.unwrap(), IpAddr::from([198, 51, 100, 9]));
}

#[tokio::test]
async fn the_detector_reports_a_refusal_in_words() {
    let address = Ipv4Addr::new(127, 0, 86, 2);
    let gateway = fake_gateway(address).await;
    let detector = NatPmpDetector::new(Some(address));
    let server = async {
        let mut buffer = [0u8; 64];
        let (_, peer) = gateway.recv_from(&mut buffer).await.unwrap();
        gateway.send_to(&answer(2, 0, [0; 4]), peer).await.unwrap();
    };
    let (detected, ()) = tokio::join!(detector.detect(IpFamily::V4), server);
    assert_eq!(
        detected.unwrap_err().to_string(),
        "the gateway refused the NAT-PMP request: result 2 (not authorized or refused, NAT-PMP may be disabled on the gateway)"
    );
}

#[tokio::test]
async fn ipv6_is_not_asked() {
    let detector = NatPmpDetector::default_gateway();
    assert_eq!(detector.name(), "natpmp:default-gateway");
    let error = detector.detect(IpFamily::V6).await.unwrap_err();
    assert_eq!(error.to_string(), "NAT-PMP cannot report ipv6 addresses");
}
