//! What can go wrong delivering a zone, classified for the controller.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::managed::ManagedRrset;

/// A delivery that failed. Each variant names the zone and what it was
/// talking to (server, file or command).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The zone has problems that stop it from loading; nothing was sent
    /// or written.
    #[error("zone {zone} is not delivered: {}", problems.join("; "))]
    ZoneProblems {
        /// The zone.
        zone: String,
        /// The assembly's problems.
        problems: Vec<String>,
    },

    /// A record cannot be put into a DNS message.
    #[error("{rrset} cannot be sent to the server: {reason}")]
    RecordData {
        /// The RRset.
        rrset: ManagedRrset,
        /// Why.
        reason: String,
    },

    /// The server does not answer for the zone with authority: the zone is
    /// not configured there (update delivery needs it to exist).
    #[error("{server} does not serve zone {zone} as an authoritative server{hint}")]
    ZoneNotServed {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: String,
        /// What to configure (starts with "; ").
        hint: String,
    },

    /// Reading the zone's RRsets from the server failed.
    #[error("reading zone {zone} from {server} failed: {source}{hint}")]
    Query {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: String,
        /// The DNS failure.
        #[source]
        source: Box<ddns_dns::Error>,
        /// What to fix, when known (starts with "; ").
        hint: String,
    },

    /// An UPDATE message failed. Messages before it were applied; the next
    /// delivery plans again from what the server then holds.
    #[error(
        "UPDATE of zone {zone} on {server} failed (message {message} of {messages}, {changes} RRset changes): {source}{hint}"
    )]
    Update {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: String,
        /// Which message failed, from 1.
        message: usize,
        /// How many messages the delivery needed.
        messages: usize,
        /// How many RRset changes the failed message held.
        changes: usize,
        /// The DNS failure.
        #[source]
        source: Box<ddns_dns::Error>,
        /// What to fix, when known (starts with "; ").
        hint: String,
    },

    /// `named-checkzone` refused the rendered zone; the previous file is
    /// kept.
    #[error("{program} refused zone {zone}; {path} is left as it was: {output}")]
    CheckZone {
        /// The zone.
        zone: String,
        /// The checker.
        program: String,
        /// The zone file that was kept.
        path: PathBuf,
        /// What the checker printed.
        output: String,
    },

    /// A file of the zone directory could not be read, written, synced,
    /// renamed or removed.
    #[error("cannot {action} {path}: {source}")]
    File {
        /// What was being done (`write`, `rename`, `remove`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A command (`named-checkzone`, the reload or the reconfig) could not
    /// be run, did not finish in time, or failed.
    #[error("{purpose} command `{command}` {outcome}{detail}")]
    Command {
        /// `reload of zone example.com`, `reconfig`, `check of zone example.com`.
        purpose: String,
        /// The command line.
        command: String,
        /// `failed (exit status: 1)`, `did not finish within 30 s`, `cannot be started: ...`.
        outcome: String,
        /// What it printed (starts with ": "), if anything.
        detail: String,
        /// Whether trying again later may help.
        transient: bool,
    },

    /// The zone-file target's settings cannot work.
    #[error("invalid zone-file delivery settings: {reason}")]
    InvalidTarget {
        /// Why.
        reason: String,
    },
}

impl DeliveryError {
    /// Worth retrying soon with back-off: the server is unreachable or
    /// timed out or failed (SERVFAIL), a file operation failed, a reload
    /// failed. Configuration problems (REFUSED, NOTAUTH, a rejected key, a
    /// zone that does not load) are not.
    pub fn is_transient(&self) -> bool {
        match self {
            DeliveryError::Query { source, .. } | DeliveryError::Update { source, .. } => {
                source.is_transient()
            }
            DeliveryError::File { .. } => true,
            DeliveryError::Command { transient, .. } => *transient,
            DeliveryError::ZoneProblems { .. }
            | DeliveryError::RecordData { .. }
            | DeliveryError::ZoneNotServed { .. }
            | DeliveryError::CheckZone { .. }
            | DeliveryError::InvalidTarget { .. } => false,
        }
    }

    /// The opposite of [`DeliveryError::is_transient`]: a person must
    /// change something (the zone, the server's configuration, the key).
    pub fn is_permanent(&self) -> bool {
        !self.is_transient()
    }

    /// The server rejected the TSIG key (BADSIG or BADKEY).
    pub fn is_credentials(&self) -> bool {
        match self {
            DeliveryError::Query { source, .. } | DeliveryError::Update { source, .. } => {
                source.is_credentials()
            }
            _ => false,
        }
    }

    /// A CamelCase reason for status conditions and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            DeliveryError::ZoneProblems { .. } => "ZoneNotLoadable",
            DeliveryError::RecordData { .. } => "InvalidRecord",
            DeliveryError::ZoneNotServed { .. } => "ZoneNotOnServer",
            _ if self.is_credentials() => "TsigKeyRejected",
            DeliveryError::Query { source, .. } | DeliveryError::Update { source, .. }
                if source.is_server_wide() =>
            {
                "ServerUnreachable"
            }
            DeliveryError::Query { .. } => "QueryFailed",
            DeliveryError::Update { .. } => "UpdateFailed",
            DeliveryError::CheckZone { .. } => "ZoneCheckFailed",
            DeliveryError::File { .. } => "ZoneFileError",
            DeliveryError::Command { .. } => "CommandFailed",
            DeliveryError::InvalidTarget { .. } => "InvalidSettings",
        }
    }
}

/// Results of this module.
pub type Result<T, E = DeliveryError> = std::result::Result<T, E>;
