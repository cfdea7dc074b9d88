//! update delivery: RFC 2136 UPDATE messages signed with TSIG, changing
//! only the RRsets ddns manages in a zone that exists on the server.
//!
//! The server must serve the zone as a primary and let the key update it,
//! for example:
//!
//! ```text
//! key "ddns-operator" { algorithm hmac-sha256; secret "..."; };
//! zone "example.com" {
//!     type primary;
//!     file "/var/lib/bind/example.com.zone";
//!     update-policy { grant "ddns-operator" zonesub ANY; };
//! };
//! ```
//!
//! A delivery asks the zone's SOA (is the zone there, is the key
//! accepted?), then every desired RRset, [`UpdateTarget::concurrency`] at a
//! time, plans the differences and sends them in as few messages as fit.
//! RRsets managed before and no longer desired are deleted without being
//! asked for: deleting an absent RRset changes nothing, and they leave the
//! managed set at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ddns_core::zone::{Assembly, ZoneName};
use ddns_dns::hickory_proto::op::ResponseCode;
use ddns_dns::hickory_proto::rr::{Name, RecordType};
use ddns_dns::{Client, Error as DnsError, RrsetChange, Transport, TsigKey};
use tokio::task::JoinSet;
use tracing::{debug, info, instrument, warn};

use super::error::{DeliveryError, Result};
use super::managed::ManagedRrset;
use super::plan::{self, Action, Observed, PlannedChange};
use super::rdata::{self, DesiredRrset};

/// Queries in flight at once by default.
const DEFAULT_CONCURRENCY: usize = 32;
/// How often a query that timed out is asked again (queries are
/// idempotent; UPDATEs are never repeated).
const QUERY_ATTEMPTS: usize = 2;

/// One primary server and the key to update it with.
#[derive(Clone)]
pub struct UpdateTarget {
    /// The server's address and port.
    pub server: SocketAddr,
    /// The TSIG key every query and UPDATE is signed with.
    pub key: TsigKey,
    /// Timeout of one query.
    pub query_timeout: Duration,
    /// Timeout of one UPDATE message. A message that timed out may still
    /// be applied; the next delivery plans from what the server holds.
    pub update_timeout: Duration,
    /// Queries in flight at once.
    pub concurrency: usize,
}

impl fmt::Debug for UpdateTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpdateTarget")
            .field("server", &self.server)
            .field("key", &self.key.name())
            .field("query_timeout", &self.query_timeout)
            .field("update_timeout", &self.update_timeout)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl UpdateTarget {
    /// `server` with `key`, queries timing out after 2 s, UPDATEs after
    /// 10 s, 32 queries in flight.
    pub fn new(server: SocketAddr, key: TsigKey) -> Self {
        Self {
            server,
            key,
            query_timeout: Duration::from_secs(2),
            update_timeout: Duration::from_secs(10),
            concurrency: DEFAULT_CONCURRENCY,
        }
    }

    fn client(&self, timeout: Duration) -> Client {
        Client::new(self.server, Some(self.key.clone()), Transport::Udp, timeout)
    }
}

/// What an update delivery did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateReport {
    /// RRsets created or changed.
    pub replaced: Vec<ManagedRrset>,
    /// RRsets deleted: managed before, not desired now (the deletion is
    /// sent without asking whether they still exist).
    pub deleted: Vec<ManagedRrset>,
    /// UPDATE messages sent (0 when everything was up to date).
    pub updates_sent: usize,
    /// Queries sent: the SOA and every desired RRset, plus any asked again
    /// after a timeout.
    pub queries_sent: usize,
    /// What ddns manages now, for the status: every desired RRset.
    pub managed: BTreeSet<ManagedRrset>,
    /// Entries of the previous managed set that name no RRset of this zone
    /// (a status edited by hand); left alone and dropped from the set.
    pub ignored: Vec<ManagedRrset>,
}

impl UpdateReport {
    /// How many RRsets changed.
    pub fn changes(&self) -> usize {
        self.replaced.len() + self.deleted.len()
    }

    /// Whether nothing had to change.
    pub fn is_unchanged(&self) -> bool {
        self.changes() == 0
    }
}

/// What a removal did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoveReport {
    /// RRsets deleted.
    pub deleted: Vec<ManagedRrset>,
    /// Managed RRsets left on purpose: the apex NS set (a zone always
    /// keeps its NS records) and entries outside the zone.
    pub kept: Vec<ManagedRrset>,
    /// UPDATE messages sent.
    pub updates_sent: usize,
}

fn hint_for(target: &UpdateTarget, zone: &ZoneName, error: &DnsError) -> String {
    let key = target.key.name();
    let stanza = format!(
        "zone \"{zone}\" {{ type primary; file \"...\"; update-policy {{ grant \"{key}\" zonesub ANY; }}; }};"
    );
    if error.is_credentials() {
        return format!(
            "; the Bind9Instance's tsigKeyName, tsigAlgorithm and Secret must match named.conf's key \"{key}\" {{ algorithm {}; secret \"...\"; }};",
            target.key.algorithm()
        );
    }
    match error {
        DnsError::Rcode {
            rcode: ResponseCode::Refused | ResponseCode::NotAuth,
            ..
        } => format!("; named.conf on {} needs: {stanza}", target.server),
        _ => String::new(),
    }
}

/// Whether ddns may delete `rrset` of `zone`: inside the zone, and not
/// the apex NS set.
fn deletable(rrset: &ManagedRrset, zone: &ZoneName) -> bool {
    rrset.is_in(zone) && !rrset.is_apex_ns(zone) && rdata::dns_name(rrset.name()).is_ok()
}

fn zone_name(zone: &ZoneName) -> Result<Name> {
    rdata::dns_name(&zone.absolute()).map_err(|reason| DeliveryError::InvalidTarget { reason })
}

/// Checks that the server answers for the zone with authority, with the
/// key accepted (the query is signed); returns how many queries it took.
async fn check_zone(client: &Client, target: &UpdateTarget, zone: &ZoneName) -> Result<usize> {
    let name = zone_name(zone)?;
    let not_served = || DeliveryError::ZoneNotServed {
        server: target.server,
        zone: zone.to_string(),
        hint: format!(
            "; named.conf there needs the zone as a primary that key {key} may update (and an allow-query that admits this client): zone \"{zone}\" {{ type primary; file \"...\"; update-policy {{ grant \"{key}\" zonesub ANY; }}; }};",
            key = target.key.name(),
        ),
    };
    let (answer, queries) = query_with_retry(client, &name, RecordType::SOA).await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(DnsError::Rcode {
            rcode: ResponseCode::Refused | ResponseCode::NotAuth,
            ..
        }) => return Err(not_served()),
        Err(source) => {
            return Err(DeliveryError::Query {
                server: target.server,
                zone: zone.to_string(),
                hint: hint_for(target, zone, &source),
                source: Box::new(source),
            });
        }
    };
    if answer.authoritative && !answer.values.is_empty() {
        return Ok(queries);
    }
    Err(not_served())
}

/// The answer, and how many queries it took.
async fn query_with_retry(
    client: &Client,
    name: &Name,
    record_type: RecordType,
) -> (Result<ddns_dns::Answer, DnsError>, usize) {
    let mut attempt = 1;
    loop {
        match client.query_zone_data(name, record_type).await {
            Err(error) if error.is_timeout() && attempt < QUERY_ATTEMPTS => attempt += 1,
            other => return (other, attempt),
        }
    }
}

/// Asks the server for every desired RRset, `concurrency` at a time;
/// returns the answers and how many queries they took.
async fn observe(
    client: &Arc<Client>,
    target: &UpdateTarget,
    zone: &ZoneName,
    desired: &[DesiredRrset],
) -> Result<(BTreeMap<ManagedRrset, Observed>, usize)> {
    let mut pending = desired
        .iter()
        .map(|set| (set.key.clone(), set.name.clone()));
    let mut tasks = JoinSet::new();
    let spawn = |tasks: &mut JoinSet<_>, (key, name): (ManagedRrset, Name)| {
        let client = Arc::clone(client);
        let record_type = plan::hickory_type(key.record_type());
        tasks.spawn(async move {
            let (answer, queries) = query_with_retry(&client, &name, record_type).await;
            (key, answer, queries)
        });
    };
    for item in pending.by_ref().take(target.concurrency.max(1)) {
        spawn(&mut tasks, item);
    }
    let mut observed = BTreeMap::new();
    let mut sent = 0;
    while let Some(joined) = tasks.join_next().await {
        let (key, answer, queries) = joined.map_err(|e| DeliveryError::Query {
            server: target.server,
            zone: zone.to_string(),
            source: Box::new(DnsError::Io {
                server: target.server,
                source: std::io::Error::other(e.to_string()),
            }),
            hint: String::new(),
        })?;
        sent += queries;
        let answer = answer.map_err(|source| DeliveryError::Query {
            server: target.server,
            zone: zone.to_string(),
            hint: hint_for(target, zone, &source),
            source: Box::new(source),
        })?;
        observed.insert(
            key,
            Observed {
                values: answer.values,
                ttl: answer.ttl,
            },
        );
        if let Some(item) = pending.next() {
            spawn(&mut tasks, item);
        }
    }
    Ok((observed, sent))
}

/// Sends `changes` in as few messages as fit; returns how many were sent.
async fn send(target: &UpdateTarget, zone: &ZoneName, changes: &[PlannedChange]) -> Result<usize> {
    let client = target.client(target.update_timeout);
    let name = zone_name(zone)?;
    let batches = plan::batches(changes);
    for (index, batch) in batches.iter().enumerate() {
        let message: Vec<RrsetChange> = batch.iter().map(|c| c.change.clone()).collect();
        let started = Instant::now();
        client
            .apply(&name, &message)
            .await
            .map_err(|source| DeliveryError::Update {
                server: target.server,
                zone: zone.to_string(),
                message: index + 1,
                messages: batches.len(),
                changes: batch.len(),
                hint: hint_for(target, zone, &source),
                source: Box::new(source),
            })?;
        debug!(
            message = index + 1,
            messages = batches.len(),
            changes = batch.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "UPDATE applied"
        );
    }
    Ok(batches.len())
}

/// Makes the server hold `assembly`'s RRsets (all but the SOA) and no
/// longer hold those of `previously_managed` that are not desired any
/// more. Sends no UPDATE when everything is already as desired.
///
/// # Errors
///
/// [`DeliveryError::ZoneProblems`] before anything is sent when the zone
/// cannot load; [`DeliveryError::ZoneNotServed`] when the server does not
/// serve the zone; [`DeliveryError::Query`] and [`DeliveryError::Update`]
/// for DNS failures (transient when the server is unreachable, timed out
/// or answered SERVFAIL; permanent for REFUSED, NOTAUTH and a rejected
/// key, with a hint naming the named.conf stanza). After an error, the
/// status should record [`super::managed_after_failure`].
#[instrument(skip_all, fields(zone = %assembly.zone.name, server = %target.server))]
pub async fn deliver(
    target: &UpdateTarget,
    assembly: &Assembly,
    previously_managed: &BTreeSet<ManagedRrset>,
) -> Result<UpdateReport> {
    let zone = &assembly.zone.name;
    if !assembly.problems.is_empty() {
        return Err(DeliveryError::ZoneProblems {
            zone: zone.to_string(),
            problems: assembly.problems.clone(),
        });
    }
    let started = Instant::now();
    let desired = rdata::desired(assembly)?;
    let managed: BTreeSet<ManagedRrset> = desired.iter().map(|d| d.key.clone()).collect();
    let (stale, ignored): (Vec<ManagedRrset>, Vec<ManagedRrset>) = previously_managed
        .iter()
        .filter(|rrset| !managed.contains(rrset))
        .cloned()
        .partition(|rrset| deletable(rrset, zone));
    for rrset in &ignored {
        warn!(rrset = %rrset, "managed entry outside the zone ignored");
    }

    let client = Arc::new(target.client(target.query_timeout));
    let checked = check_zone(&client, target, zone).await?;
    let (observed, asked) = observe(&client, target, zone, &desired).await?;
    let queries_sent = checked + asked;
    let changes = plan::plan(&desired, &observed, &stale);
    let mut report = UpdateReport {
        queries_sent,
        managed,
        ignored,
        ..UpdateReport::default()
    };
    if changes.is_empty() {
        debug!(
            rrsets = desired.len(),
            queries = queries_sent,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "zone already up to date"
        );
        return Ok(report);
    }
    report.updates_sent = send(target, zone, &changes).await?;
    for change in changes {
        match change.action {
            Action::Replace => report.replaced.push(change.rrset),
            Action::Delete => report.deleted.push(change.rrset),
        }
    }
    info!(
        replaced = report.replaced.len(),
        deleted = report.deleted.len(),
        updates = report.updates_sent,
        queries = queries_sent,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "zone updated"
    );
    Ok(report)
}

/// Deletes exactly the RRsets of `managed` in `zone` from the server, for
/// a deleted zone or record. Nothing else is touched: not the SOA, not
/// RRsets ddns does not manage, and not the apex NS set, which a zone on
/// the server must keep (BIND ignores its deletion anyway, RFC 2136
/// §3.4.2.3, and which NS records the zone had before ddns is not known).
/// Entries outside the zone are left alone. No query is sent: deleting an
/// RRset that is already gone changes nothing.
///
/// # Errors
///
/// [`DeliveryError::Update`], classified as for [`deliver`].
#[instrument(skip_all, fields(zone = %zone, server = %target.server))]
pub async fn remove(
    target: &UpdateTarget,
    zone: &ZoneName,
    managed: &BTreeSet<ManagedRrset>,
) -> Result<RemoveReport> {
    let (doomed, kept): (Vec<ManagedRrset>, Vec<ManagedRrset>) = managed
        .iter()
        .cloned()
        .partition(|rrset| deletable(rrset, zone));
    let changes = plan::plan(&[], &BTreeMap::new(), &doomed);
    let mut report = RemoveReport {
        kept,
        ..RemoveReport::default()
    };
    if changes.is_empty() {
        return Ok(report);
    }
    report.updates_sent = send(target, zone, &changes).await?;
    report.deleted = changes.into_iter().map(|c| c.rrset).collect();
    info!(
        deleted = report.deleted.len(),
        kept = report.kept.len(),
        updates = report.updates_sent,
        "managed records removed"
    );
    Ok(report)
}
