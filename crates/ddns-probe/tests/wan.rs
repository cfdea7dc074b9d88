//! The WAN probe against a real TLS server on 127.0.0.1 whose certificate
//! a throwaway CA signed: a handshake that completes, and each way it
//! fails, with the message an operator reads.
//!
//! Needs `openssl` (for the CA); without it each test says it is
//! skipped, unless `DDNS_REQUIRE_SYSTEM_TESTS=1` makes that a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ddns_probe::{Error, WanProbe, WanTarget};
use ddns_testkit::{ServerCertificate, TestCa};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A TLS server that completes handshakes and records the name each
/// client asked for (SNI), until dropped.
struct TlsServer {
    address: SocketAddr,
    names: Arc<Mutex<Vec<Option<String>>>>,
    task: JoinHandle<()>,
}

impl TlsServer {
    async fn start(certificate: &ServerCertificate) -> Self {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certificate.cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&certificate.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let names: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
        let seen = names.clone();
        let task = tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let acceptor = acceptor.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    // A client that rejects the certificate aborts the
                    // handshake: nothing to record then.
                    if let Ok(mut tls) = acceptor.accept(stream).await {
                        let name = tls.get_ref().1.server_name().map(str::to_string);
                        seen.lock().unwrap().push(name);
                        let mut rest = Vec::new();
                        let _ = tls.read_to_end(&mut rest).await;
                    }
                });
            }
        });
        Self {
            address,
            names,
            task,
        }
    }

    fn names(&self) -> Vec<Option<String>> {
        self.names.lock().unwrap().clone()
    }

    /// The names of the first `count` handshakes, once the server side
    /// has finished them (it may finish after the client).
    async fn wait_for_names(&self, count: usize) -> Vec<Option<String>> {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let names = self.names();
            if names.len() >= count {
                return names;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the server completed {} handshakes, not {count}",
                names.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn target(text: &str) -> WanTarget {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn roots(ca: &TestCa) -> Vec<u8> {
    std::fs::read(ca.ca_file()).unwrap()
}

#[tokio::test]
async fn a_verified_handshake_by_address_succeeds_without_sni() {
    let Some(ca) = TestCa::create("a_verified_handshake_by_address_succeeds_without_sni") else {
        return;
    };
    let server = TlsServer::start(&ca.issue(&["127.0.0.1"])).await;
    let probe =
        WanProbe::with_roots(target(&server.address.to_string()), TIMEOUT, &roots(&ca)).unwrap();
    probe.check().await.unwrap();
    // An address is verified against the certificate's IP addresses and
    // is not sent as a server name.
    assert_eq!(server.wait_for_names(1).await, vec![None]);
}

#[tokio::test]
async fn a_verified_handshake_by_name_sends_the_name() {
    let Some(ca) = TestCa::create("a_verified_handshake_by_name_sends_the_name") else {
        return;
    };
    let server = TlsServer::start(&ca.issue(&["localhost"])).await;
    let text = format!("localhost:{}", server.address.port());
    let probe = WanProbe::with_roots(target(&text), TIMEOUT, &roots(&ca)).unwrap();
    // `localhost` may resolve to ::1 first, where nothing listens: the
    // next address is tried.
    probe.check().await.unwrap();
    assert_eq!(
        server.wait_for_names(1).await,
        vec![Some("localhost".to_string())]
    );
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_a_certificate_error() {
    let test = "a_certificate_from_another_ca_is_a_certificate_error";
    let (Some(trusted), Some(other)) = (TestCa::create(test), TestCa::create(test)) else {
        return;
    };
    let server = TlsServer::start(&other.issue(&["127.0.0.1"])).await;
    let probe = WanProbe::with_roots(
        target(&server.address.to_string()),
        TIMEOUT,
        &roots(&trusted),
    )
    .unwrap();
    let error = probe.check().await.unwrap_err();
    assert!(error.is_certificate_error(), "{error:?}");
    // Both test CAs have the same name: the chain is found, and its
    // signature does not match (with CAs of different names rustls says
    // UnknownIssuer).
    let text = error.to_string();
    let prefix = format!(
        "wan {}: certificate error: invalid peer certificate: ",
        server.address
    );
    assert!(
        text == format!("{prefix}BadSignature") || text == format!("{prefix}UnknownIssuer"),
        "{text}"
    );
    assert!(server.names().is_empty(), "no handshake completed");
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_certificate_error() {
    let test = "a_certificate_for_another_name_is_a_certificate_error";
    let Some(ca) = TestCa::create(test) else {
        return;
    };
    let server = TlsServer::start(&ca.issue(&["localhost"])).await;
    let probe =
        WanProbe::with_roots(target(&server.address.to_string()), TIMEOUT, &roots(&ca)).unwrap();
    let error = probe.check().await.unwrap_err();
    assert!(error.is_certificate_error(), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(&format!(
            "wan {}: certificate error: invalid peer certificate: certificate not valid for name",
            server.address
        )),
        "{text}"
    );
}

#[tokio::test]
async fn a_refused_port_is_told_as_such() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let probe = WanProbe::new(target(&address.to_string()), TIMEOUT).unwrap();
    let error = probe.check().await.unwrap_err();
    assert!(
        matches!(error, Error::ConnectionRefused { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        format!("wan {address}: connection refused by {address}")
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_in_the_handshake() {
    // Accepts connections and says nothing.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            held.push(stream);
        }
    });
    let timeout = Duration::from_millis(300);
    let probe = WanProbe::new(target(&address.to_string()), timeout).unwrap();
    let started = std::time::Instant::now();
    let error = probe.check().await.unwrap_err();
    hold.abort();
    assert!(error.is_timeout(), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("wan {address}: timed out after 300 ms waiting for the TLS handshake")
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "bounded by the timeout"
    );
}

#[tokio::test]
async fn a_server_that_is_not_tls_fails_the_handshake() {
    // Answers like a plain HTTP server and closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serve = tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let (mut stream, _) = listener.accept().await.unwrap();
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
    });
    let probe = WanProbe::new(target(&address.to_string()), TIMEOUT).unwrap();
    let error = probe.check().await.unwrap_err();
    serve.abort();
    assert!(matches!(error, Error::HandshakeFailed { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("wan {address}: TLS handshake failed: ")),
        "{error}"
    );
}

#[tokio::test]
async fn an_unknown_name_is_a_resolution_error() {
    // `.invalid` never resolves (RFC 2606).
    let probe = WanProbe::new(target("ddns-probe-test.invalid:443"), TIMEOUT).unwrap();
    let error = probe.check().await.unwrap_err();
    assert!(
        matches!(error, Error::ResolveFailed { .. } | Error::TimedOut { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("wan ddns-probe-test.invalid:443: "),
        "{error}"
    );
}
