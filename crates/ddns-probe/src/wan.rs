//! The WAN probe: a TCP connection and a verified TLS handshake with a
//! well-known server, within one timeout.
//!
//! A completed handshake proves more than a ping: the route out works,
//! the name resolves (when a name is given), nothing in between rewrites
//! the traffic (a captive portal fails the certificate check), and the
//! far end is a real server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use tracing::debug;

use crate::error::{Error, Result, WanStep};
use crate::target::WanTarget;

/// How long the polite TLS close may take; the probe's verdict is known
/// by then, so this only bounds the wait.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(500);

/// Connects to a TLS server and completes a verified handshake.
#[derive(Clone)]
pub struct WanProbe {
    target: WanTarget,
    timeout: Duration,
    connector: TlsConnector,
}

impl std::fmt::Debug for WanProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WanProbe")
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WanProbe {
    /// A probe of `target` trusting the system's root certificates; the
    /// whole probe (resolution, connection, handshake) is bounded by
    /// `timeout`. Reads the system's roots now.
    ///
    /// # Errors
    ///
    /// [`Error::TlsSetup`] when TLS cannot be configured, or when the
    /// system has no root certificate at all: every handshake would then
    /// fail, and the network be taken for down.
    pub fn new(target: WanTarget, timeout: Duration) -> Result<Self> {
        Self::build(target, timeout, None)
    }

    /// A probe that trusts the CA certificates of `pem` besides the
    /// system's: for a target with a private CA, and for tests.
    ///
    /// # Errors
    ///
    /// [`Error::TlsSetup`] when `pem` holds no usable CA certificate.
    pub fn with_roots(target: WanTarget, timeout: Duration, pem: &[u8]) -> Result<Self> {
        Self::build(target, timeout, Some(pem))
    }

    fn build(target: WanTarget, timeout: Duration, pem: Option<&[u8]>) -> Result<Self> {
        let tls = ddns_tls::client_config(pem).map_err(|e| Error::TlsSetup {
            reason: e.to_string(),
        })?;
        if tls.roots == 0 {
            return Err(Error::TlsSetup {
                reason: "the system has no root certificates (install the ca-certificates package)"
                    .to_string(),
            });
        }
        let mut config = tls.config;
        // Nothing is sent after the handshake: no protocol to agree on.
        config.alpn_protocols.clear();
        Ok(Self {
            target,
            timeout,
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    /// The target.
    pub fn target(&self) -> &WanTarget {
        &self.target
    }

    /// The timeout of one probe.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Resolves the name (when the target has one), connects to each
    /// address in turn until one accepts, and completes a TLS handshake
    /// whose certificate must be valid for the target.
    ///
    /// # Errors
    ///
    /// Which step failed and why: the name did not resolve, the
    /// connection was refused or failed, a step timed out, the certificate
    /// was rejected, the handshake failed.
    pub async fn check(&self) -> Result<()> {
        let deadline = Instant::now() + self.timeout;
        let addresses = self.addresses(deadline).await?;
        let stream = self.connect(&addresses, deadline).await?;
        let handshake = self.connector.connect(self.target.server_name(), stream);
        let mut tls = match timeout_at(deadline, handshake).await {
            Err(_) => return Err(self.timed_out(WanStep::Handshake)),
            Ok(Err(error)) => return Err(self.handshake_error(error)),
            Ok(Ok(tls)) => tls,
        };
        // Say goodbye properly; the verdict does not depend on it.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, tls.shutdown()).await;
        debug!(target = %self.target, "TLS handshake completed");
        Ok(())
    }

    async fn addresses(&self, deadline: Instant) -> Result<Vec<SocketAddr>> {
        let name = match self.target.endpoint() {
            Ok(address) => return Ok(vec![address]),
            Err(name) => name,
        };
        let lookup = tokio::net::lookup_host((name, self.target.port()));
        let addresses: Vec<SocketAddr> = match timeout_at(deadline, lookup).await {
            Err(_) => return Err(self.timed_out(WanStep::Resolve)),
            Ok(Err(source)) => {
                return Err(Error::ResolveFailed {
                    target: self.target.clone(),
                    source,
                });
            }
            Ok(Ok(addresses)) => addresses.collect(),
        };
        if addresses.is_empty() {
            return Err(Error::NoAddress {
                target: self.target.clone(),
            });
        }
        Ok(addresses)
    }

    async fn connect(&self, addresses: &[SocketAddr], deadline: Instant) -> Result<TcpStream> {
        let mut last = None;
        for address in addresses {
            match timeout_at(deadline, TcpStream::connect(address)).await {
                Err(_) => return Err(self.timed_out(WanStep::Connect)),
                Ok(Ok(stream)) => return Ok(stream),
                Ok(Err(error)) => {
                    debug!(target = %self.target, address = %address, error = %error, "connection failed");
                    last = Some((*address, error));
                }
            }
        }
        Err(match last {
            Some((address, error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => {
                Error::ConnectionRefused {
                    target: self.target.clone(),
                    address,
                }
            }
            Some((address, source)) => Error::ConnectFailed {
                target: self.target.clone(),
                address,
                source,
            },
            None => Error::NoAddress {
                target: self.target.clone(),
            },
        })
    }

    fn timed_out(&self, step: WanStep) -> Error {
        Error::TimedOut {
            target: self.target.clone(),
            step,
            after: self.timeout,
        }
    }

    /// A certificate problem is told apart from the other handshake
    /// failures: rustls's error travels inside the I/O error.
    fn handshake_error(&self, error: std::io::Error) -> Error {
        let tls = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        match tls {
            Some(
                source @ (rustls::Error::InvalidCertificate(_)
                | rustls::Error::NoCertificatesPresented),
            ) => Error::CertificateRejected {
                target: self.target.clone(),
                source: source.clone(),
            },
            _ => Error::HandshakeFailed {
                target: self.target.clone(),
                source: error,
            },
        }
    }
}
