//! What can go wrong talking to a DNS server.

use std::net::SocketAddr;

use hickory_proto::op::ResponseCode;

/// A DNS exchange failure, classified for retry decisions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No answer in time. For an UPDATE the change may still be applied.
    #[error("no answer from {server} within {timeout_ms} ms")]
    Timeout {
        /// The server asked.
        server: SocketAddr,
        /// The time allowed.
        timeout_ms: u64,
    },

    /// The server could not be reached (connection refused, no route).
    #[error("cannot reach {server}: {source}")]
    Unreachable {
        /// The server asked.
        server: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The answer could not be used: not DNS, wrong ID or question, cut short.
    #[error("bad answer from {server}: {reason}")]
    Malformed {
        /// The server asked.
        server: SocketAddr,
        /// What was wrong with it.
        reason: String,
    },

    /// The server answered with an error code.
    #[error("{server} answered {operation} with {}{hint}", rcode_name(*rcode))]
    Rcode {
        /// The server asked.
        server: SocketAddr,
        /// What was asked (`UPDATE of zone example.com`, `query a.example.com A`).
        operation: String,
        /// The response code.
        rcode: ResponseCode,
        /// What to fix, when known (starts with "; ").
        hint: String,
    },

    /// The server rejected the TSIG signature: BADSIG, BADKEY or BADTIME.
    #[error("the server rejected TSIG key {key}: {code}{detail}")]
    TsigRejected {
        /// The key name.
        key: String,
        /// `BADSIG`, `BADKEY`, `BADTIME`, …
        code: &'static str,
        /// The clock offset the server reported (server minus us, seconds), for BADTIME.
        clock_offset: Option<i64>,
        /// Extra text for the message (starts with "; " when present).
        detail: String,
    },

    /// A signed request got an answer that is not signed, or not signed right.
    #[error("answer from {server} failed TSIG verification: {reason}")]
    TsigInvalid {
        /// The server asked.
        server: SocketAddr,
        /// Why.
        reason: String,
    },

    /// No zone containing the name is served by the server.
    #[error("no zone on {server} contains {name}; set the zone explicitly or check the server")]
    ZoneNotFound {
        /// The server asked.
        server: SocketAddr,
        /// The name.
        name: String,
    },

    /// A message could not be built (a name too long, a message too big).
    #[error("cannot build the DNS message: {reason}")]
    Encode {
        /// Why.
        reason: String,
    },

    /// Another I/O failure.
    #[error("I/O error talking to {server}: {source}")]
    Io {
        /// The server asked.
        server: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The mnemonic operators know from BIND's logs and dig: `REFUSED`, `NOTAUTH`.
pub fn rcode_name(rcode: ResponseCode) -> String {
    match rcode {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::NotImp => "NOTIMP".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::YXDomain => "YXDOMAIN".into(),
        ResponseCode::YXRRSet => "YXRRSET".into(),
        ResponseCode::NXRRSet => "NXRRSET".into(),
        ResponseCode::NotAuth => "NOTAUTH".into(),
        ResponseCode::NotZone => "NOTZONE".into(),
        other => format!("rcode {}", u16::from(other)),
    }
}

impl Error {
    /// Worth retrying later: timeouts, unreachable servers, SERVFAIL,
    /// BADTIME (a clock problem), garbled or unsigned answers.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. }
            | Error::Unreachable { .. }
            | Error::Malformed { .. }
            | Error::Io { .. } => true,
            Error::TsigInvalid { .. } => true,
            Error::TsigRejected { code, .. } => *code == "BADTIME",
            Error::Rcode { rcode, .. } => matches!(rcode, ResponseCode::ServFail),
            Error::ZoneNotFound { .. } | Error::Encode { .. } => false,
        }
    }

    /// The server unambiguously rejected the key (BADSIG or BADKEY).
    pub fn is_credentials(&self) -> bool {
        matches!(self, Error::TsigRejected { code, .. } if *code == "BADSIG" || *code == "BADKEY")
    }

    /// The request got no answer, so its effect is unknown.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether the whole server is affected rather than one name.
    pub fn is_server_wide(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. }
                | Error::Unreachable { .. }
                | Error::Io { .. }
                | Error::TsigRejected { .. }
        )
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
