//! Asking an HTTP echo service, once per family, over a socket of that
//! family.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ddns_core::config::is_loopback_host;
use ddns_core::detect::Detector;
use ddns_core::{IpFamily, SourceError};
use ddns_tls::{ClientTls, client_config, describe, is_unknown_issuer};
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tracing::{debug, instrument};

use crate::config::CA_FILE_VARIABLE;
use crate::error::{Error, Result};
use crate::local::{Ipv6Binding, Ipv6Route, LocalIpv6Lookup, temporary_answer};
use crate::parse::{EchoFormat, MAX_BODY, parse_body};

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 3;

/// How the HTTP clients behave.
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Connect and read timeout (the detection round has its own, too).
    pub timeout: Duration,
    /// Follow redirects to plain `http://` hosts that are not loopback
    /// (`DDNS_ALLOW_HTTP=true`). A redirect from https to http is refused
    /// whatever this says.
    pub allow_http: bool,
    /// Fixed addresses for host names, like curl's `--resolve`: used
    /// instead of the system resolver for these names.
    pub resolve: Vec<(String, Vec<SocketAddr>)>,
    /// Extra root certificates (PEM text, `DDNS_IP_SOURCE_CA_FILE`),
    /// trusted besides the system's.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// Where the host's IPv6 addresses come from: IPv6 requests then leave
    /// from the best stable address, and an answer that is a temporary
    /// address is refused. Without it, the kernel chooses.
    pub local_ipv6: Option<LocalIpv6Lookup>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("timeout", &self.timeout)
            .field("allow_http", &self.allow_http)
            .field("resolve", &self.resolve)
            .field("extra_roots", &self.extra_roots_pem.is_some())
            .field("local_ipv6", &self.local_ipv6)
            .finish()
    }
}

impl ClientOptions {
    /// Options with this timeout, plain http only to loopback, the system
    /// resolver for every name, the system's roots only, and the kernel's
    /// choice of IPv6 source address.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            allow_http: false,
            resolve: Vec::new(),
            extra_roots_pem: None,
            local_ipv6: None,
        }
    }
}

/// A pair of HTTP clients, one whose connections leave from an IPv4
/// socket and one from an IPv6 socket, shared by all HTTP detectors; with
/// [`ClientOptions::local_ipv6`], IPv6 connections leave from the host's
/// stable address through a client bound to it, rebuilt when it changes.
///
/// TLS uses rustls with the ring provider, the system's root certificates
/// and [`ClientOptions::extra_roots_pem`]; proxies are never used, since a
/// proxy would be the one the service sees.
#[derive(Clone)]
pub struct HttpClients {
    v4: reqwest::Client,
    v6: reqwest::Client,
    bound_v6: Option<Arc<Ipv6Binding<reqwest::Client>>>,
    tls: ClientTls,
    options: ClientOptions,
}

impl std::fmt::Debug for HttpClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClients")
            .field("roots", &self.tls.roots)
            .field("timeout", &self.options.timeout)
            .field("stable_ipv6", &self.bound_v6.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpClients {
    /// Builds both clients. Reads the system's root certificates, which
    /// may be none: then only plain-http services can be asked (or those
    /// signed by the extra roots), and [`HttpClients::root_certificates`]
    /// says how many there are.
    pub fn new(options: &ClientOptions) -> Result<Self> {
        let tls =
            client_config(options.extra_roots_pem.as_deref()).map_err(|e| Error::HttpsClient {
                reason: e.to_string(),
            })?;
        Ok(Self {
            v4: build_client(&tls, options, IpAddr::V4(Ipv4Addr::UNSPECIFIED))?,
            v6: build_client(&tls, options, IpAddr::V6(Ipv6Addr::UNSPECIFIED))?,
            bound_v6: options
                .local_ipv6
                .clone()
                .map(|lookup| Arc::new(Ipv6Binding::new(lookup))),
            tls,
            options: options.clone(),
        })
    }

    /// How many root certificates are trusted: the system's and the extra
    /// ones.
    pub fn root_certificates(&self) -> usize {
        self.tls.roots
    }

    /// The client for `family`, and for IPv6 where it leaves from.
    async fn client(&self, family: IpFamily) -> Result<(reqwest::Client, Option<Ipv6Route>)> {
        match (family, &self.bound_v6) {
            (IpFamily::V4, _) => Ok((self.v4.clone(), None)),
            (IpFamily::V6, None) => Ok((self.v6.clone(), None)),
            (IpFamily::V6, Some(binding)) => {
                let (route, bound) = binding
                    .route(|local| build_client(&self.tls, &self.options, IpAddr::V6(local)))
                    .await?;
                Ok((bound.unwrap_or_else(|| self.v6.clone()), Some(route)))
            }
        }
    }
}

/// A client whose connections leave from `local` (an unspecified address
/// picks the family only).
fn build_client(
    tls: &ClientTls,
    options: &ClientOptions,
    local: IpAddr,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls.config.clone())
        .local_address(local)
        .connect_timeout(options.timeout)
        .read_timeout(options.timeout)
        .timeout(options.timeout)
        .no_proxy()
        // No connection is kept between rounds: after a reconnect a kept
        // one leaves from an address that no longer exists and only times
        // out, and a kept one would also wake the daemon to expire it.
        .pool_max_idle_per_host(0)
        .redirect(redirect_policy(options.allow_http))
        .user_agent(concat!("ddns/", env!("CARGO_PKG_VERSION")));
    for (host, addresses) in &options.resolve {
        builder = builder.resolve_to_addrs(host, addresses);
    }
    builder.build().map_err(|e| Error::HttpsClient {
        reason: describe(e, options.timeout),
    })
}

/// Redirects to https are followed; to plain http only from plain http
/// and only to a loopback host or when allowed. Never from https to http.
fn redirect_policy(allow_http: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let target = attempt.url();
        if target.scheme() == "https" {
            return attempt.follow();
        }
        let host = target.host_str().map(str::to_string).unwrap_or_default();
        let from_https = attempt
            .previous()
            .last()
            .is_some_and(|previous| previous.scheme() == "https");
        let loopback = target.host().is_some_and(|h| is_loopback_host(&h));
        if target.scheme() == "http" && !from_https && (allow_http || loopback) {
            attempt.follow()
        } else {
            let error = format!("refused a redirect to plain {}://{host}", target.scheme());
            attempt.error(error)
        }
    })
}

/// Asks an HTTP echo service (`https://api.ipify.org`,
/// `https://1.1.1.1/cdn-cgi/trace`) for the address it sees.
///
/// Each family is asked over a connection from a socket of that family,
/// and the answer is accepted only if the connection really used it. The
/// URL may hold a token in its path or query: the detector's name, its
/// `Debug` output and its errors show only the origin.
pub struct HttpDetector {
    name: String,
    origin: String,
    url: Url,
    format: EchoFormat,
    families: Vec<IpFamily>,
    clients: HttpClients,
}

impl std::fmt::Debug for HttpDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpDetector")
            .field("name", &self.name)
            .field("families", &self.families)
            .finish_non_exhaustive()
    }
}

impl HttpDetector {
    /// A detector for `url`, named after its origin. It answers for both
    /// families, unless the host is an address literal, which answers for
    /// its own family only. A path ending in `/cdn-cgi/trace` expects the
    /// trace shape; any other path takes whichever the body has.
    pub fn new(url: Url, clients: &HttpClients) -> Self {
        let families = url_families(&url);
        let origin = origin(&url);
        let format = if url.path().ends_with("/cdn-cgi/trace") {
            EchoFormat::Trace
        } else {
            EchoFormat::Auto
        };
        Self {
            name: origin.clone(),
            origin,
            url,
            format,
            families,
            clients: clients.clone(),
        }
    }

    /// Asks for one family only (for a host that has an address of one
    /// family, such as `ipv4.icanhazip.com`).
    pub fn only(mut self, family: IpFamily) -> Self {
        self.families.retain(|f| *f == family);
        self
    }

    /// Another name for logs (it must hold no secret).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// `scheme://host[:port]` of the service.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The families it answers for.
    pub fn families(&self) -> &[IpFamily] {
        &self.families
    }

    /// The address of `family` the service sees.
    #[instrument(level = "debug", skip_all, fields(source = %self.name, family = %family))]
    pub async fn ask(&self, family: IpFamily) -> Result<IpAddr> {
        if !self.families.contains(&family) {
            return Err(Error::FamilyUnsupported {
                source_name: self.name.clone(),
                family,
            });
        }
        let timeout = self.clients.options.timeout;
        let failed = |e: reqwest::Error| {
            let hint = if is_unknown_issuer(&e) {
                format!(
                    " (no trusted authority signed the service's certificate; for a private CA, name its certificate in {CA_FILE_VARIABLE})"
                )
            } else {
                String::new()
            };
            Error::HttpRequest {
                origin: self.origin.clone(),
                reason: format!("{}{hint}", describe(e, timeout)),
            }
        };
        let malformed = |reason: String| Error::EchoMalformed {
            origin: self.origin.clone(),
            reason,
        };
        let (client, route) = self.clients.client(family).await?;
        let mut response = client
            .get(self.url.clone())
            .header(ACCEPT, "text/plain, */*;q=0.1")
            .send()
            .await
            .map_err(failed)?;
        if let Some(peer) = response.remote_addr() {
            let actual = IpFamily::of(&peer.ip());
            if actual != family {
                return Err(Error::WrongFamily {
                    origin: self.origin.clone(),
                    family,
                    actual,
                    peer,
                });
            }
        }
        let status = response.status();
        if !status.is_success() {
            return Err(Error::HttpStatus {
                origin: self.origin.clone(),
                status: status.as_u16(),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if content_type.starts_with("text/html") || content_type.starts_with("application/xhtml") {
            return Err(malformed(
                "the answer is an HTML page (text/html), not an address".into(),
            ));
        }
        if let Some(length) = response.content_length()
            && length > MAX_BODY as u64
        {
            return Err(malformed(format!(
                "the answer is {length} bytes long; an address answer is at most {MAX_BODY}"
            )));
        }
        // Read at most MAX_BODY + 1 bytes, whatever the server sends.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(malformed(format!(
                    "the answer is longer than {MAX_BODY} bytes; an address answer is at most that"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        let address = parse_body(&body, family, self.format).map_err(malformed)?;
        if let Some(route) = &route
            && let Some(reason) = temporary_answer(address, &route.temporary)
        {
            return Err(Error::TemporaryAddress {
                source_name: self.origin.clone(),
                reason,
            });
        }
        let local = route.and_then(|r| r.local);
        debug!(source = %self.name, family = %family, address = %address, local = ?local, "echo service answered");
        Ok(address)
    }
}

#[async_trait]
impl Detector for HttpDetector {
    fn name(&self) -> &str {
        &self.name
    }

    fn supports(&self, family: IpFamily) -> bool {
        self.families.contains(&family)
    }

    async fn detect(&self, family: IpFamily) -> Result<IpAddr, SourceError> {
        self.ask(family).await.map_err(SourceError::from)
    }
}

/// Both families, or the family of an address literal host.
pub(crate) fn url_families(url: &Url) -> Vec<IpFamily> {
    match url.host() {
        Some(url::Host::Ipv4(_)) => vec![IpFamily::V4],
        Some(url::Host::Ipv6(_)) => vec![IpFamily::V6],
        _ => IpFamily::ALL.to_vec(),
    }
}

/// `scheme://host[:port]`: what may be shown of a URL.
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn an_address_literal_host_answers_for_its_family_only() {
        assert_eq!(
            url_families(&url("https://1.1.1.1/cdn-cgi/trace")),
            vec![IpFamily::V4]
        );
        assert_eq!(
            url_families(&url("https://[2606:4700:4700::1111]/cdn-cgi/trace")),
            vec![IpFamily::V6]
        );
        assert_eq!(
            url_families(&url("https://api64.ipify.org")),
            vec![IpFamily::V4, IpFamily::V6]
        );
    }

    #[test]
    fn the_origin_hides_path_query_and_user() {
        assert_eq!(
            origin(&url("https://user:pw@ip.example:8443/s3cret?token=abc")),
            "https://ip.example:8443"
        );
        let clients = HttpClients::new(&ClientOptions::new(Duration::from_secs(1))).unwrap();
        let detector = HttpDetector::new(url("https://ip.example/k/s3cret?token=abc"), &clients);
        assert_eq!(detector.name(), "https://ip.example");
        let debug = format!("{detector:?}");
        assert!(
            !debug.contains("s3cret") && !debug.contains("abc"),
            "{debug}"
        );
        assert_eq!(
            detector.format,
            EchoFormat::Auto,
            "only /cdn-cgi/trace paths expect a trace"
        );
        let trace = HttpDetector::new(url("https://1.1.1.1/cdn-cgi/trace"), &clients);
        assert_eq!(trace.format, EchoFormat::Trace);
        assert!(trace.supports(IpFamily::V4) && !trace.supports(IpFamily::V6));
        let only =
            HttpDetector::new(url("https://ipv6.icanhazip.com"), &clients).only(IpFamily::V6);
        assert_eq!(only.families(), &[IpFamily::V6]);
    }
}
