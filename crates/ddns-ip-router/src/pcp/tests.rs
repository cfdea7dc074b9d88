use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::UdpSocket;

use super::*;

const NONCE: [u8; 12] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

fn request(family: IpFamily) -> MapRequest {
    MapRequest {
        lifetime: 60,
        client: IpAddr::from([192, 168, 77, 2]),
        nonce: NONCE,
        protocol: PROTOCOL_UDP,
        internal_port: 40000,
        family,
    }
}

/// A success answer to `request`, built field by field from RFC 6887.
fn answer(request: &MapRequest, code: u8, external: IpAddr) -> Vec<u8> {
    let mut packet = vec![2, 0x81, 0, code];
    packet.extend_from_slice(&120u32.to_be_bytes());
    packet.extend_from_slice(&9u32.to_be_bytes());
    packet.extend_from_slice(&[0; 12]);
    packet.extend_from_slice(&request.nonce);
    packet.extend_from_slice(&[request.protocol, 0, 0, 0]);
    packet.extend_from_slice(&request.internal_port.to_be_bytes());
    packet.extend_from_slice(&4242u16.to_be_bytes());
    packet.extend_from_slice(&to_wire(external).octets());
    packet
}

#[test]
fn the_map_request_has_the_rfc_layout() {
    let packet = request(IpFamily::V4).encode();
    assert_eq!(packet.len(), 60);
    assert_eq!(&packet[..4], &[2, 1, 0, 0], "version, opcode, reserved");
    assert_eq!(&packet[4..8], &60u32.to_be_bytes(), "lifetime");
    assert_eq!(
        &packet[8..24],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 168, 77, 2],
        "client as IPv4-mapped"
    );
    assert_eq!(&packet[24..36], &NONCE);
    assert_eq!(&packet[36..40], &[17, 0, 0, 0], "UDP, reserved");
    assert_eq!(&packet[40..42], &40000u16.to_be_bytes(), "internal port");
    assert_eq!(&packet[42..44], &[0, 0], "no suggested external port");
    assert_eq!(
        &packet[44..60],
        &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0],
        "IPv4 external asked as ::ffff:0.0.0.0"
    );
    let v6 = request(IpFamily::V6).encode();
    assert_eq!(&v6[44..60], &[0; 16], "IPv6 external asked as ::");
    let delete = request(IpFamily::V4).with_lifetime(0).encode();
    assert_eq!(&delete[4..8], &[0; 4]);
    assert_eq!(&delete[24..36], &NONCE, "a delete repeats the nonce");
}

#[test]
fn a_success_answer_from_miniupnpd_parses() {
    // Captured from miniupnpd 2.3.1 (nonce, port and address of that run).
    let hex = "02810000000000780000000200000000000000000000000028938b9f502e256f2df4342511000000be46be4600000000000000000000ffff0b162237";
    let packet: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let response = parse_map_response(&packet).unwrap();
    assert_eq!(response.lifetime, 120);
    assert_eq!(response.epoch, 2);
    assert_eq!(response.protocol, 17);
    assert_eq!(response.internal_port, 0xbe46);
    assert_eq!(response.external_port, 0xbe46);
    assert_eq!(response.external_address, IpAddr::from([11, 22, 34, 55]));
}

#[test]
fn the_answer_to_our_request_is_accepted_with_options_after_it() {
    let request = request(IpFamily::V4);
    let mut packet = answer(&request, 0, IpAddr::from([198, 51, 100, 1]));
    // An unknown option (code 0x80, optional), padded to 4 bytes.
    packet.extend_from_slice(&[0x80, 0, 0, 4, 1, 2, 3, 4]);
    let response = request.accept(&packet).unwrap();
    assert_eq!(response.external_address, IpAddr::from([198, 51, 100, 1]));
    assert_eq!(response.external_port, 4242);
    assert_eq!(response.nonce, NONCE);
}

#[test]
fn an_ipv6_answer_is_kept_as_ipv6() {
    let request = request(IpFamily::V6);
    let external: IpAddr = "2001:db8::7".parse().unwrap();
    assert_eq!(
        request
            .accept(&answer(&request, 0, external))
            .unwrap()
            .external_address,
        external
    );
}

#[test]
fn an_answer_to_another_request_is_skipped() {
    let ours = request(IpFamily::V4);
    for other in [
        MapRequest {
            nonce: [9; 12],
            ..ours
        },
        MapRequest {
            protocol: 6,
            ..ours
        },
        MapRequest {
            internal_port: 1,
            ..ours
        },
    ] {
        let error = ours
            .accept(&answer(&other, 0, IpAddr::from([198, 51, 100, 1])))
            .unwrap_err();
        assert!(matches!(error, Error::NotOurs), "{error}");
        assert!(error.is_stray());
        // An error answer to another request is no refusal of ours either.
        let error = ours
            .accept(&answer(&other, 2, IpAddr::from([198, 51, 100, 1])))
            .unwrap_err();
        assert!(matches!(error, Error::NotOurs), "{error}");
    }
}

#[test]
fn error_results_are_refusals_in_words() {
    let request = request(IpFamily::V4);
    // miniupnpd answers NO_RESOURCES when its firewall rules cannot be added.
    let error = request
        .accept(&answer(&request, 8, IpAddr::from([11, 22, 34, 55])))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the gateway refused the PCP request: result 8 (NO_RESOURCES)"
    );
    assert!(!error.is_stray());
    // A header-only error answer cannot echo the nonce; it still counts.
    let mut short = answer(&request, 2, IpAddr::from([0, 0, 0, 0]));
    short.truncate(24);
    let error = request.accept(&short).unwrap_err();
    assert!(matches!(error, Error::Refused { code: 2, .. }), "{error}");
    assert_eq!(
        error.to_string(),
        "the gateway refused the PCP request: result 2 (NOT_AUTHORIZED: PCP may be disabled on the gateway, or mappings are not allowed for this host or port)"
    );
}

#[test]
fn version_negotiation_answers_are_understood() {
    // A NAT-PMP-only gateway: version 0, opcode 128 + 1, result 1, epoch.
    let natpmp = [0, 0x81, 0, 1, 0, 0, 0, 5];
    let error = parse_map_response(&natpmp).unwrap_err();
    assert!(matches!(error, Error::PcpUnsupported));
    assert!(!error.is_transient());
    assert_eq!(
        error.to_string(),
        "the gateway speaks NAT-PMP only, not PCP; use a natpmp: source"
    );
    // A server of PCP version 1 answers UNSUPP_VERSION with its version.
    let mut older = vec![1, 0x81, 0, 1];
    older.extend_from_slice(&[0; 20]);
    let error = parse_map_response(&older).unwrap_err();
    assert!(matches!(error, Error::Refused { code: 1, .. }), "{error}");
    assert!(!error.is_transient());
}

#[test]
fn malformed_messages_are_skipped() {
    let request = request(IpFamily::V4);
    let good = answer(&request, 0, IpAddr::from([198, 51, 100, 1]));
    for len in 0..HEADER_LEN {
        let error = parse_map_response(&good[..len]).unwrap_err();
        assert!(
            matches!(error, Error::Truncated { needed: 24, .. }),
            "{len}: {error}"
        );
        assert!(error.is_stray());
    }
    for len in (HEADER_LEN..MAP_LEN).step_by(4) {
        let error = parse_map_response(&good[..len]).unwrap_err();
        assert!(
            matches!(error, Error::Truncated { needed: 60, .. }),
            "{len}: {error}"
        );
    }
    let error = parse_map_response(&good[..58]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "PCP message of 58 bytes: not a multiple of 4 up to 1100"
    );
    let mut long = good.clone();
    long.resize(1104, 0);
    assert!(matches!(
        parse_map_response(&long),
        Err(Error::BadLength { len: 1104 })
    ));
    let mut the_request = request.encode().to_vec();
    assert!(matches!(
        parse_map_response(&the_request),
        Err(Error::UnexpectedOpcode { opcode: 1 })
    ));
    // A PCP ANNOUNCE response.
    the_request[1] = 0x80;
    assert!(matches!(
        parse_map_response(&the_request[..24]),
        Err(Error::UnexpectedOpcode { opcode: 0x80 })
    ));
    let mut other_version = good.clone();
    other_version[0] = 3;
    assert!(matches!(
        parse_map_response(&other_version),
        Err(Error::UnexpectedVersion { version: 3 })
    ));
}

#[test]
fn a_zero_or_wrong_family_address_is_an_error() {
    let request = request(IpFamily::V4);
    let error = request
        .accept(&answer(&request, 0, IpAddr::from([0, 0, 0, 0])))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the gateway reports no external address (0.0.0.0)"
    );
    let error = request
        .accept(&answer(&request, 0, "2001:db8::1".parse().unwrap()))
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "asked for an ipv4 address, the gateway reported 2001:db8::1"
    );
}

#[test]
fn arbitrary_bytes_never_panic() {
    let request = request(IpFamily::V4);
    let template = answer(&request, 0, IpAddr::from([198, 51, 100, 1]));
    let mut rng = fastrand::Rng::with_seed(6887);
    for _ in 0..20_000 {
        let len = rng.usize(0..80);
        let mut packet: Vec<u8> = (0..len)
            .map(|i| {
                if rng.u8(..4) == 0 {
                    rng.u8(..)
                } else {
                    template.get(i).copied().unwrap_or(0)
                }
            })
            .collect();
        if rng.bool() {
            packet.truncate(rng.usize(0..=len));
        }
        let _ = parse_map_response(&packet);
        let _ = request.accept(&packet);
    }
}

#[tokio::test]
async fn the_detector_maps_its_own_port_and_deletes_the_mapping() {
    let address = Ipv4Addr::new(127, 0, 87, 1);
    let gateway = UdpSocket::bind(SocketAddr::from((address, 5351)))
        .await
        .unwrap();
    let detector = PcpDetector::new(Gateway::address(address));
    assert_eq!(detector.name(), "pcp:127.0.87.1");
    assert!(detector.supports(IpFamily::V4));
    assert!(!detector.supports(IpFamily::V6));
    let server = async {
        let mut buffer = [0u8; 1100];
        let (len, peer) = gateway.recv_from(&mut buffer).await.unwrap();
        assert_eq!(len, 60);
        let packet = buffer[..len].to_vec();
        assert_eq!(&packet[..2], &[2, 1]);
        assert_eq!(&packet[4..8], &60u32.to_be_bytes());
        assert_eq!(
            Ipv6Addr::from(<[u8; 16]>::try_from(&packet[8..24]).unwrap()),
            Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped(),
            "the client address is the request's source"
        );
        assert_eq!(packet[36], 17);
        assert_eq!(
            u16::from_be_bytes([packet[40], packet[41]]),
            peer.port(),
            "the mapping points to the asking socket's port"
        );
        let mut reply = vec![2, 0x81, 0, 0, 0, 0, 0, 60, 0, 0, 0, 1];
        reply.extend_from_slice(&[0; 12]);
        reply.extend_from_slice(&packet[24..44]);
        reply.extend_from_slice(&Ipv4Addr::new(198, 51, 100, 77).to_ipv6_mapped().octets());
        // Junk first, then an answer with another nonce, then ours.
        gateway.send_to(&[2, 0x81], peer).await.unwrap();
        let mut foreign = reply.clone();
        foreign[24] ^= 0xff;
        gateway.send_to(&foreign, peer).await.unwrap();
        gateway.send_to(&reply, peer).await.unwrap();
        let (len, _) = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            gateway.recv_from(&mut buffer),
        )
        .await
        .expect("a delete request")
        .unwrap();
        assert_eq!(len, 60);
        assert_eq!(&buffer[4..8], &[0; 4], "the delete has lifetime 0");
        assert_eq!(&buffer[24..36], &packet[24..36], "with the same nonce");
        assert_eq!(&buffer[36..44], &packet[36..44], "for the same mapping");
    };
    let (detected, ()) = tokio::join!(detector.detect(IpFamily::V4), server);
    assert_eq!(detected.unwrap(), IpAddr::from([198, 51, 100, 77]));
}

#[tokio::test]
async fn a_fixed_ipv4_gateway_is_not_asked_for_ipv6() {
    let detector = PcpDetector::new(Gateway::address(Ipv4Addr::new(192, 168, 1, 1)));
    let error = detector.detect(IpFamily::V6).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "PCP to this gateway cannot report ipv6 addresses"
    );
}
