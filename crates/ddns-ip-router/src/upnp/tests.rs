use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

#[test]
fn control_urls_parse() {
    let url = ControlUrl::parse("http://192.168.1.1:5000/ctl/IPConn").unwrap();
    assert_eq!(url.address(), "192.168.1.1:5000".parse().unwrap());
    assert_eq!(url.path(), "/ctl/IPConn");
    assert_eq!(url.service(), DEFAULT_SERVICE);
    assert_eq!(url.to_string(), "http://192.168.1.1:5000/ctl/IPConn");

    let default_port = ControlUrl::parse("HTTP://10.0.0.1/upnp/control?x=1").unwrap();
    assert_eq!(default_port.address(), "10.0.0.1:80".parse().unwrap());
    assert_eq!(default_port.path(), "/upnp/control?x=1");

    let v6 = ControlUrl::parse("http://[fd00::1]:49000/ctl").unwrap();
    assert_eq!(v6.address(), "[fd00::1]:49000".parse().unwrap());
    let v6_default = ControlUrl::parse("http://[fd00::1]/ctl").unwrap();
    assert_eq!(v6_default.address(), "[fd00::1]:80".parse().unwrap());

    let ppp = ControlUrl::parse("http://192.168.1.1:5000/ctl#WANPPPConnection:1").unwrap();
    assert_eq!(
        ppp.service(),
        "urn:schemas-upnp-org:service:WANPPPConnection:1"
    );
    let full = ControlUrl::parse(
        "http://192.168.1.1:5000/ctl#urn:schemas-upnp-org:service:WANIPConnection:2",
    )
    .unwrap();
    assert_eq!(
        full.service(),
        "urn:schemas-upnp-org:service:WANIPConnection:2"
    );
}

#[test]
fn bad_control_urls_say_what_is_wrong() {
    let cases = [
        (
            "192.168.1.1:5000/ctl",
            "`192.168.1.1:5000/ctl` is not an http:// URL",
        ),
        (
            "http://192.168.1.1:5000",
            "`http://192.168.1.1:5000` has no control path; give the whole URL, e.g. http://192.168.1.1:5000/ctl/IPConn",
        ),
        (
            "http://192.168.1.1:5000/",
            "`http://192.168.1.1:5000/` has no control path; give the whole URL, e.g. http://192.168.1.1:5000/ctl/IPConn",
        ),
        (
            "http://router.lan:5000/ctl",
            "`http://router.lan:5000/ctl`: the host must be an IP address with an optional port, e.g. 192.168.1.1:5000 or [fd00::1]:5000, not `router.lan:5000`",
        ),
        (
            "http://fd00::1/ctl",
            "`http://fd00::1/ctl`: the host must be an IP address with an optional port, e.g. 192.168.1.1:5000 or [fd00::1]:5000, not `fd00::1`",
        ),
        (
            "http://admin:pw@192.168.1.1/ctl",
            "`http://admin:pw@192.168.1.1/ctl`: a control URL takes no user name or password",
        ),
        (
            "http://192.168.1.1:0/ctl",
            "`http://192.168.1.1:0/ctl`: port 0 is not a port",
        ),
        (
            "http://192.168.1.1/ctl#IPConn",
            "`#IPConn` is not a UPnP service type; write e.g. #WANPPPConnection:1 or #urn:schemas-upnp-org:service:WANIPConnection:2",
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(ControlUrl::parse(text).unwrap_err(), expected, "{text}");
    }
}

/// Reads one HTTP request (headers and a Content-Length body).
async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "connection closed mid-request");
        data.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

fn soap_answer(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=\"utf-8\"\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const ENVELOPE: &str = r#"<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:schemas-upnp-org:service:WANPPPConnection:1"><NewExternalIPAddress>ADDRESS</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"#;

/// The SOAP call names the service of the `#` suffix and posts to the path.
/// (A stand-in: miniupnpd serves WANIPConnection only; the system test
/// covers the real gateway.)
#[tokio::test]
async fn a_control_url_is_called_with_its_service() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = ControlUrl::parse(&format!(
        "http://127.0.0.1:{port}/ctl/PPPConn#WANPPPConnection:1"
    ))
    .unwrap();
    let detector = UpnpDetector::with_control_url(url);
    let server = async {
        let (mut stream, _) = listener.accept().await.unwrap();
        let request = read_request(&mut stream).await;
        stream
            .write_all(soap_answer(&ENVELOPE.replace("ADDRESS", "198.51.100.44")).as_bytes())
            .await
            .unwrap();
        request
    };
    let (detected, request) = tokio::join!(detector.detect(IpFamily::V4), server);
    assert_eq!(detected.unwrap(), IpAddr::from([198, 51, 100, 44]));
    assert!(
        request.starts_with("POST /ctl/PPPConn HTTP/1.1\r\n"),
        "{request}"
    );
    let lower = request.to_ascii_lowercase();
    assert!(
        lower.contains(
            "soapaction: \"urn:schemas-upnp-org:service:wanpppconnection:1#getexternalipaddress\""
        ),
        "{request}"
    );
    assert!(
        request.contains(
            "<m:GetExternalIPAddress xmlns:m=\"urn:schemas-upnp-org:service:WANPPPConnection:1\">"
        ),
        "{request}"
    );
}

#[tokio::test]
async fn an_empty_or_zero_address_is_an_error() {
    for (answer, expected) in [
        (
            "0.0.0.0",
            "the gateway reports no external address (0.0.0.0)",
        ),
        (
            "",
            "UPnP GetExternalIPAddress at http://127.0.0.1:PORT/ctl failed",
        ),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = ControlUrl::parse(&format!("http://127.0.0.1:{port}/ctl")).unwrap();
        let detector = UpnpDetector::with_control_url(url);
        let server = async {
            let (mut stream, _) = listener.accept().await.unwrap();
            read_request(&mut stream).await;
            stream
                .write_all(soap_answer(&ENVELOPE.replace("ADDRESS", answer)).as_bytes())
                .await
                .unwrap();
        };
        let (detected, ()) = tokio::join!(detector.external_address(), server);
        let error = detected.unwrap_err();
        assert_eq!(
            error.to_string(),
            expected.replace("PORT", &port.to_string())
        );
    }
}

#[tokio::test]
async fn ipv6_is_not_asked() {
    let error = UpnpDetector::discover()
        .detect(IpFamily::V6)
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "UPnP-IGD cannot report ipv6 addresses");
}
