//! What an HTTP request failure is, in words an operator can act on.

use std::error::Error as StdError;
use std::time::Duration;

/// The error and its causes in one line, without the URL (its path or
/// query may hold a credential), such as `error sending request: client
/// error (Connect): invalid peer certificate: UnknownIssuer`. A timeout
/// ends with `no answer within N ms`, `timeout` being the one the client
/// was given.
pub fn describe(error: reqwest::Error, timeout: Duration) -> String {
    let timed_out = error.is_timeout();
    let error = error.without_url();
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn StdError + 'static)> = Some(&error);
    while let Some(e) = current {
        let text = e.to_string();
        // Layers often repeat their cause in their own message.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    if timed_out {
        parts.push(format!("no answer within {} ms", timeout.as_millis()));
    }
    parts.join(": ")
}

/// Whether a request failed because no trusted authority signed the
/// server's certificate: the case a private CA file fixes.
pub fn is_unknown_issuer(error: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) =
            e.downcast_ref::<rustls::Error>()
        {
            return true;
        }
        // An I/O error hides the error it wraps from `source()` (it gives
        // that error's source instead), and TLS errors come wrapped twice.
        current = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const URL_PATH: &str = "/dns-query/s3cret?token=abc";

    /// The error of a GET to `address` whose URL holds a credential.
    async fn failed_request(address: std::net::SocketAddr, timeout: Duration) -> reqwest::Error {
        let error = reqwest::Client::builder()
            .tls_backend_preconfigured(crate::client_config(None).unwrap().config)
            .timeout(timeout)
            .build()
            .unwrap()
            .get(format!("http://{address}{URL_PATH}"))
            .send()
            .await
            .unwrap_err();
        assert!(error.url().is_some(), "reqwest keeps the URL: {error}");
        error
    }

    #[tokio::test]
    async fn a_refused_connection_is_described_without_the_url() {
        // A port that was just free: nothing listens on it any more.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let timeout = Duration::from_secs(5);
        let text = describe(failed_request(address, timeout).await, timeout);
        assert!(
            text.starts_with("error sending request: client error (Connect)"),
            "{text}"
        );
        assert!(
            !text.contains("s3cret") && !text.contains("token"),
            "{text}"
        );
        assert!(!text.contains("no answer within"), "{text}");
    }

    #[tokio::test]
    async fn a_timeout_says_how_long_it_waited() {
        // Accepts the connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hold = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(10)).await;
            drop(stream);
        });
        let timeout = Duration::from_millis(200);
        let error = failed_request(address, timeout).await;
        hold.abort();
        let text = describe(error, timeout);
        assert!(text.ends_with(": no answer within 200 ms"), "{text}");
        assert!(
            !text.contains("s3cret") && !text.contains("token"),
            "{text}"
        );
    }

    #[test]
    fn an_unknown_issuer_is_found_inside_nested_io_errors() {
        use std::io::{Error, ErrorKind};
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = Error::other(Error::new(ErrorKind::InvalidData, tls));
        assert!(is_unknown_issuer(&nested));
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert!(!is_unknown_issuer(&Error::other(Error::new(
            ErrorKind::InvalidData,
            expired
        ))));
        assert!(!is_unknown_issuer(&Error::other("refused")));
    }
}
