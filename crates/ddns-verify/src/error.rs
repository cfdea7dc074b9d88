//! What can go wrong reading the published state.

use ddns_core::ProviderError;
use ddns_dns::hickory_proto::op::ResponseCode;

/// A failure to read what DNS serves. Every variant names the server or
/// the resolver it concerns; none holds a URL path or query.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record's name cannot be put in a DNS question.
    #[error("cannot ask for {name}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: String,
    },

    /// The system's resolver configuration gives no resolver to ask.
    #[error("cannot use the resolvers of {}: {reason}", path.display())]
    ResolvConf {
        /// The file, `/etc/resolv.conf`.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },

    /// None of the servers asked for a record answered.
    #[error("no usable answer for {question}: {}", join(failures))]
    ServersFailed {
        /// The question, as `home.example.com A`.
        question: String,
        /// Each server's failure; each names its server.
        failures: Vec<ddns_dns::Error>,
    },

    /// None of the recursive resolvers answered a question asked while
    /// looking for a zone's authoritative servers.
    #[error(
        "no usable answer from the resolvers for {question} (looking for the zone's servers): {}",
        join(failures)
    )]
    ResolversFailed {
        /// The question, as `example.com NS`.
        question: String,
        /// Each resolver's failure; each names its resolver.
        failures: Vec<ddns_dns::Error>,
    },

    /// The resolvers know no zone that holds the name.
    #[error("the resolvers know no zone that holds {name}")]
    ZoneNotFound {
        /// The record's name.
        name: String,
    },

    /// The zone has no NS record with an address.
    #[error("no name server of zone {zone} has an address{names}")]
    NoServers {
        /// The zone.
        zone: String,
        /// The NS names found, as ` (ns1.example.com, ns2.example.com)`,
        /// or empty when the zone has no NS record.
        names: String,
    },

    /// The HTTPS request did not complete: connection, TLS, timeout.
    #[error("DNS over HTTPS to {origin} failed for {question}: {reason}")]
    DohRequest {
        /// Scheme, host and port of the endpoint; never its path or query.
        origin: String,
        /// The question.
        question: String,
        /// Why, as the HTTP and TLS layers tell it.
        reason: String,
    },

    /// The endpoint answered with an HTTP status other than 200.
    #[error("{origin} answered the DNS-over-HTTPS query for {question} with HTTP {status}")]
    DohStatus {
        /// Scheme, host and port of the endpoint.
        origin: String,
        /// The question.
        question: String,
        /// The status code.
        status: u16,
    },

    /// The endpoint's answer is not a DNS answer to the question.
    #[error("bad DNS-over-HTTPS answer from {origin} for {question}: {reason}")]
    DohMalformed {
        /// Scheme, host and port of the endpoint.
        origin: String,
        /// The question.
        question: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The server answered with an error code (SERVFAIL, REFUSED, …).
    #[error("{server} answered {question} with {rcode}")]
    Rcode {
        /// The server, or the DoH endpoint's origin.
        server: String,
        /// The question.
        question: String,
        /// The response code.
        rcode: ResponseCode,
    },

    /// The HTTPS client could not be set up (no trusted root certificate).
    #[error("cannot set up the HTTPS client: {reason}")]
    HttpsClient {
        /// Why.
        reason: String,
    },
}

impl Error {
    /// Worth trying again later: everything but a setup failure.
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            Error::HttpsClient { .. } | Error::InvalidName { .. } | Error::ResolvConf { .. }
        )
    }
}

/// Whatever went wrong, a verifier cannot read the record now: the engine
/// treats that as "not confirmed" and falls back to writing.
impl From<Error> for ProviderError {
    fn from(error: Error) -> Self {
        ProviderError::transient(error.to_string())
    }
}

fn join(failures: &[ddns_dns::Error]) -> String {
    if failures.is_empty() {
        return "none was asked".to_string();
    }
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_failures_are_not_worth_retrying() {
        assert!(
            !Error::HttpsClient {
                reason: "no roots".into()
            }
            .is_transient()
        );
        let nobody = Error::ServersFailed {
            question: "h.example.test A".into(),
            failures: vec![],
        };
        assert!(nobody.is_transient());
        assert_eq!(
            nobody.to_string(),
            "no usable answer for h.example.test A: none was asked"
        );
    }
}
