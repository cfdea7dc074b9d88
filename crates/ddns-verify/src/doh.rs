//! `DDNS_VERIFY=doh`: RFC 8484 DNS over HTTPS, POST with a DNS message.

use async_trait::async_trait;
use ddns_core::{Observation, ProviderError, Record, Verifier};
use ddns_dns::hickory_proto::op::ResponseCode;
use ddns_dns::{parse_response, query_message};
use ddns_tls::describe;
use reqwest::Url;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tracing::debug;

use crate::dns::{addresses, record_name, record_type};
use crate::error::{Error, Result};
use crate::{DOH, TIMEOUT};

/// The media type of RFC 8484 bodies.
const DNS_MESSAGE: &str = "application/dns-message";

/// The largest answer read: a DNS message never exceeds 64 KiB.
const MAX_ANSWER: usize = 65_535;

/// Reads a record through a DNS-over-HTTPS endpoint: a public or
/// self-hosted resolver, or an authoritative server's own listener (BIND
/// 9.18 serves one).
///
/// The endpoint URL may hold a credential in its path or query, so this
/// type shows only the URL's origin (scheme, host, port), in `Debug`, in
/// logs and in errors.
pub struct DohVerifier {
    client: reqwest::Client,
    url: Url,
    origin: String,
}

impl std::fmt::Debug for DohVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DohVerifier")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl DohVerifier {
    /// A verifier posting to `url`, trusting the system's root certificates
    /// and those of `extra_roots_pem` (PEM text, for a private CA). TLS
    /// certificates are always verified.
    pub fn new(url: Url, extra_roots_pem: Option<&[u8]>) -> Result<Self> {
        let tls = ddns_tls::client_config(extra_roots_pem).map_err(|e| Error::HttpsClient {
            reason: e.to_string(),
        })?;
        if tls.roots == 0 {
            return Err(Error::HttpsClient {
                reason: "no trusted root certificate: the system has none (install ca-certificates) and DDNS_VERIFY_CA_FILE is not set"
                    .into(),
            });
        }
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.config)
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            // A redirect would turn the POST into a GET to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ddns/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::HttpsClient {
                reason: describe(e, TIMEOUT),
            })?;
        Ok(Self {
            origin: origin(&url),
            client,
            url,
        })
    }

    /// Scheme, host and port of the endpoint: what may be shown of it.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    async fn read(&self, record: &Record) -> Result<Observation> {
        let name = record_name(record)?;
        let record_type = record_type(record);
        let question = record.to_string();
        let mut request = query_message(&name, record_type);
        // RFC 8484 §4.1: ID 0 lets HTTP caches share answers. A resolver
        // behind the endpoint needs RD to look the name up.
        request.metadata.id = 0;
        request.metadata.recursion_desired = true;
        let body = request.to_vec().map_err(|e| Error::InvalidName {
            name: name.to_string(),
            reason: e.to_string(),
        })?;
        let failed = |reason: String| Error::DohRequest {
            origin: self.origin.clone(),
            question: question.clone(),
            reason,
        };
        let malformed = |reason: String| Error::DohMalformed {
            origin: self.origin.clone(),
            question: question.clone(),
            reason,
        };

        let mut response = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, DNS_MESSAGE)
            .header(ACCEPT, DNS_MESSAGE)
            .body(body)
            .send()
            .await
            .map_err(|e| failed(describe(e, TIMEOUT)))?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(Error::DohStatus {
                origin: self.origin.clone(),
                question,
                status: status.as_u16(),
            });
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !content_type.starts_with(DNS_MESSAGE) {
            return Err(malformed(format!(
                "the content type is '{}', not {DNS_MESSAGE}",
                content_type.chars().take(64).collect::<String>()
            )));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| failed(describe(e, TIMEOUT)))?
        {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(malformed(format!(
                    "the answer is larger than {MAX_ANSWER} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let answer = parse_response(&bytes, &request).map_err(malformed)?;
        match answer.metadata.response_code {
            ResponseCode::NoError | ResponseCode::NXDomain => {}
            rcode => {
                return Err(Error::Rcode {
                    server: self.origin.clone(),
                    question,
                    rcode,
                });
            }
        }
        let values: Vec<_> = answer
            .answers
            .iter()
            .filter(|r| r.record_type() == record_type && r.name == name)
            .map(|r| r.data.clone())
            .collect();
        let observation = Observation {
            values: addresses(&values),
            authoritative: answer.metadata.authoritative,
        };
        debug!(record = %record, endpoint = %self.origin, served = ?observation.values, authoritative = observation.authoritative, "DNS over HTTPS answered");
        Ok(observation)
    }
}

#[async_trait]
impl Verifier for DohVerifier {
    fn name(&self) -> &str {
        DOH
    }

    async fn observe(&self, record: &Record) -> Result<Observation, ProviderError> {
        self.read(record).await.map_err(ProviderError::from)
    }
}

/// `scheme://host[:port]`: what may be shown of an endpoint URL.
pub(crate) fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_origin_hides_path_query_and_user() {
        let url =
            Url::parse("https://user:pw@dns.example:8443/dns-query/s3cret?token=abc").unwrap();
        assert_eq!(origin(&url), "https://dns.example:8443");
        let url = Url::parse("https://dns.example/dns-query").unwrap();
        assert_eq!(origin(&url), "https://dns.example");
    }
}
