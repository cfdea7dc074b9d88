//! The provider: reads by listing, writes by PATCH, POST and batches.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use ddns_core::{DnsProvider, ProviderError, Record, RecordChange};
use reqwest::Method;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::NAME;
use crate::client::Api;
use crate::envelope::{Account, BatchResult, DnsRecord, TokenStatus, Zone};
use crate::error::ApiError;
use crate::plan::{Op, Settings, plan};
use crate::zones::{ZoneError, Zones};

/// Records per page when listing a whole zone.
const RECORDS_PER_PAGE: u32 = 5000;

/// Records per page when looking up one name.
const NAME_PER_PAGE: u32 = 100;

/// Operations in one batch call: the Free plan's limit (other plans allow
/// more).
pub(crate) const MAX_BATCH_OPS: usize = 200;

/// What a listing told about one name and type is trusted this long
/// before a write re-reads it.
const FRESH: Duration = Duration::from_secs(60);

/// (zone id, name, type)
type Key = (String, String, &'static str);

#[derive(Debug, Clone)]
struct Known {
    records: Vec<DnsRecord>,
    at: Instant,
}

/// The Cloudflare provider. See the crate documentation.
#[derive(Debug)]
pub struct CloudflareProvider {
    api: Api,
    zones: Zones,
    settings: Settings,
    account: Option<String>,
    known: Mutex<HashMap<Key, Known>>,
}

/// One change, resolved to its zone and planned.
struct Planned<'a> {
    index: usize,
    change: &'a RecordChange,
    ops: Vec<Op>,
}

impl CloudflareProvider {
    pub(crate) fn new(api: Api, zones: Zones, settings: Settings, account: Option<String>) -> Self {
        Self {
            api,
            zones,
            settings,
            account,
            known: Mutex::new(HashMap::new()),
        }
    }

    /// How many API requests this provider has sent.
    pub fn requests_sent(&self) -> u64 {
        self.api.requests_sent()
    }

    fn key(zone: &Zone, record: &Record) -> Key {
        (
            zone.id.clone(),
            record.name().as_str().to_string(),
            record.record_type(),
        )
    }

    fn remember(&self, key: Key, records: Vec<DnsRecord>) {
        if let Ok(mut known) = self.known.lock() {
            known.insert(
                key,
                Known {
                    records,
                    at: Instant::now(),
                },
            );
        }
    }

    fn recall(&self, key: &Key, fresh_only: bool) -> Option<Vec<DnsRecord>> {
        let known = self.known.lock().ok()?;
        known
            .get(key)
            .filter(|k| !fresh_only || k.at.elapsed() < FRESH)
            .map(|k| k.records.clone())
    }

    fn forget_key(&self, key: &Key) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(key);
        }
    }

    fn forget_zone_records(&self, zone_id: &str) {
        if let Ok(mut known) = self.known.lock() {
            known.retain(|(zone, _, _), _| zone != zone_id);
        }
    }

    async fn zone_for(&self, record: &Record) -> Result<Zone, ProviderError> {
        match self.zones.zone_for(&self.api, record.name()).await {
            Ok(zone) => Ok(zone),
            Err(ZoneError::NotFound(message)) => {
                Err(ProviderError::permanent(format!("Cloudflare: {message}")))
            }
            Err(ZoneError::Api(error)) => {
                if error.is_stale_id() {
                    self.zones.forget().await;
                }
                Err(error.to_provider_error("finding the zones"))
            }
        }
    }

    /// A failed call on `zone`: when the API says an ID is gone, drop what
    /// is cached so the next attempt looks everything up again.
    async fn on_error(&self, zone: &Zone, error: &ApiError) {
        if error.is_stale_id() {
            self.forget_zone_records(&zone.id);
            if error.is_stale_zone() {
                self.zones.forget().await;
            }
        }
    }

    /// Lists one name and type.
    async fn fetch_one(&self, zone: &Zone, record: &Record) -> Result<Vec<DnsRecord>, ApiError> {
        let query = [
            ("type", record.record_type().to_string()),
            ("name.exact", record.name().as_str().to_string()),
        ];
        let listed: Vec<DnsRecord> = self
            .api
            .list(&["zones", &zone.id, "dns_records"], &query, NAME_PER_PAGE)
            .await?;
        let records = matching(&listed, record);
        self.remember(Self::key(zone, record), records.clone());
        Ok(records)
    }

    /// Lists every record of the types of `records` in the zone, and
    /// remembers what each of `records` holds (nothing, for those absent).
    async fn fetch_zone(&self, zone: &Zone, records: &[&Record]) -> Result<(), ApiError> {
        let mut types: Vec<&'static str> = records.iter().map(|r| r.record_type()).collect();
        types.sort_unstable();
        types.dedup();
        let mut by_key: HashMap<(String, &'static str), Vec<DnsRecord>> = HashMap::new();
        for record_type in types {
            let listed: Vec<DnsRecord> = self
                .api
                .list(
                    &["zones", &zone.id, "dns_records"],
                    &[("type", record_type.to_string())],
                    RECORDS_PER_PAGE,
                )
                .await?;
            for entry in listed {
                if entry.record_type == record_type {
                    by_key
                        .entry((entry.name.to_ascii_lowercase(), record_type))
                        .or_default()
                        .push(entry);
                }
            }
        }
        for record in records {
            let held = by_key
                .get(&(record.name().as_str().to_string(), record.record_type()))
                .cloned()
                .unwrap_or_default();
            self.remember(Self::key(zone, record), held);
        }
        Ok(())
    }

    /// Makes sure a recent listing of every record is known.
    async fn refresh(&self, zone: &Zone, records: &[&Record]) -> Result<(), ApiError> {
        let stale: Vec<&Record> = records
            .iter()
            .copied()
            .filter(|r| self.recall(&Self::key(zone, r), true).is_none())
            .collect();
        match stale.len() {
            0 => Ok(()),
            1 => self.fetch_one(zone, stale[0]).await.map(|_| ()),
            _ => self.fetch_zone(zone, &stale).await,
        }
    }

    fn plan_change(&self, zone: &Zone, change: &RecordChange) -> Vec<Op> {
        let held = self
            .recall(&Self::key(zone, &change.record), false)
            .unwrap_or_default();
        plan(
            &held,
            change.record.name().as_str(),
            change.record.record_type(),
            &change.address.to_string(),
            &self.settings,
        )
    }

    /// Sends the operations of several changes: alone when there is one,
    /// as a batch (atomic) otherwise.
    async fn send(&self, zone: &Zone, items: &[&Planned<'_>]) -> Result<Vec<DnsRecord>, ApiError> {
        let ops: Vec<&Op> = items.iter().flat_map(|p| p.ops.iter()).collect();
        if let [op] = ops.as_slice() {
            let zone_id = zone.id.as_str();
            return match op {
                Op::Post(body) => {
                    let created: DnsRecord = self
                        .api
                        .send(Method::POST, &["zones", zone_id, "dns_records"], Some(body))
                        .await?;
                    Ok(vec![created])
                }
                Op::Patch { id, fields } => {
                    let patched: DnsRecord = self
                        .api
                        .send(
                            Method::PATCH,
                            &["zones", zone_id, "dns_records", id],
                            Some(fields),
                        )
                        .await?;
                    Ok(vec![patched])
                }
                Op::Delete { id, .. } => {
                    let _: crate::envelope::Deleted = self
                        .api
                        .send(Method::DELETE, &["zones", zone_id, "dns_records", id], None)
                        .await?;
                    Ok(Vec::new())
                }
            };
        }
        let entries = |pick: fn(&Op) -> bool| -> Vec<serde_json::Value> {
            ops.iter()
                .filter(|op| pick(op))
                .map(|op| op.batch_entry())
                .collect()
        };
        let mut body = serde_json::Map::new();
        for (field, list) in [
            ("deletes", entries(|op| matches!(op, Op::Delete { .. }))),
            ("patches", entries(|op| matches!(op, Op::Patch { .. }))),
            ("posts", entries(|op| matches!(op, Op::Post(_)))),
        ] {
            if !list.is_empty() {
                body.insert(field.into(), serde_json::Value::Array(list));
            }
        }
        let result: BatchResult = self
            .api
            .send(
                Method::POST,
                &["zones", &zone.id, "dns_records", "batch"],
                Some(&serde_json::Value::Object(body)),
            )
            .await?;
        let mut written = result.patches;
        written.extend(result.posts);
        Ok(written)
    }

    /// Records what the zone holds after `item` was applied, and logs it.
    fn applied(&self, zone: &Zone, item: &Planned<'_>, written: &[DnsRecord]) {
        let record = &item.change.record;
        let key = Self::key(zone, record);
        let content = item.change.address.to_string();
        for op in &item.ops {
            match op {
                Op::Delete { id, content } => {
                    info!(record = %record, id = %id, content = %content, "removed a duplicate record: ddns owns this name and type")
                }
                Op::Post(_) => info!(record = %record, zone = %zone.name, "created the record"),
                Op::Patch { id, .. } => {
                    debug!(record = %record, id = %id, "changed the record in place")
                }
            }
        }
        let now = written
            .iter()
            .find(|r| {
                r.name.eq_ignore_ascii_case(record.name().as_str())
                    && r.record_type == record.record_type()
                    && r.content == content
            })
            .cloned()
            .or_else(|| {
                // A batch that only removed duplicates returns no record:
                // the kept one is the one that already held the address.
                self.recall(&key, false)
                    .and_then(|held| held.into_iter().find(|r| r.content == content))
            });
        match now {
            Some(entry) => self.remember(key, vec![entry]),
            None => self.forget_key(&key),
        }
    }

    /// Applies the changes of one zone, in batches of at most
    /// [`MAX_BATCH_OPS`] operations; a change's operations never span two
    /// batches.
    async fn apply_zone(
        &self,
        zone: &Zone,
        changes: Vec<(usize, &RecordChange)>,
        results: &mut [Option<Result<(), ProviderError>>],
    ) {
        let records: Vec<&Record> = changes.iter().map(|(_, c)| &c.record).collect();
        if let Err(error) = self.refresh(zone, &records).await {
            self.on_error(zone, &error).await;
            let what = format!("listing the records of {}", zone.name);
            for (index, _) in changes {
                results[index] = Some(Err(error.to_provider_error(&what)));
            }
            return;
        }
        let mut pending: Vec<Planned<'_>> = Vec::new();
        for (index, change) in changes {
            let ops = self.plan_change(zone, change);
            if ops.is_empty() {
                debug!(record = %change.record, address = %change.address, "the record already holds the address; nothing to write");
                results[index] = Some(Ok(()));
            } else {
                pending.push(Planned { index, change, ops });
            }
        }
        let mut chunk: Vec<&Planned<'_>> = Vec::new();
        let mut size = 0;
        for item in &pending {
            if size + item.ops.len() > MAX_BATCH_OPS && !chunk.is_empty() {
                self.apply_chunk(zone, &chunk, results).await;
                chunk.clear();
                size = 0;
            }
            size += item.ops.len();
            chunk.push(item);
        }
        if !chunk.is_empty() {
            self.apply_chunk(zone, &chunk, results).await;
        }
    }

    async fn apply_chunk(
        &self,
        zone: &Zone,
        chunk: &[&Planned<'_>],
        results: &mut [Option<Result<(), ProviderError>>],
    ) {
        match self.send(zone, chunk).await {
            Ok(written) => {
                for item in chunk {
                    self.applied(zone, item, &written);
                    results[item.index] = Some(Ok(()));
                }
            }
            Err(error) if chunk.len() > 1 && !error.is_whole_api() => {
                // One bad record fails the whole (atomic) batch: find it by
                // applying the changes one by one.
                warn!(zone = %zone.name, changes = chunk.len(), error = %error, "a batch was refused; applying its changes one by one");
                for item in chunk {
                    results[item.index] = Some(self.apply_one(zone, item).await);
                }
            }
            Err(error) if chunk.len() == 1 => {
                results[chunk[0].index] = Some(self.retry_one(zone, chunk[0], error).await);
            }
            Err(error) => {
                self.on_error(zone, &error).await;
                for item in chunk {
                    results[item.index] = Some(Err(self.failure(zone, item, &error)));
                }
            }
        }
    }

    async fn apply_one(&self, zone: &Zone, item: &Planned<'_>) -> Result<(), ProviderError> {
        match self.send(zone, &[item]).await {
            Ok(written) => {
                self.applied(zone, item, &written);
                Ok(())
            }
            Err(error) => self.retry_one(zone, item, error).await,
        }
    }

    /// After a failed write of one change: when the API says the record
    /// is gone or already there, list it again and try once more.
    async fn retry_one(
        &self,
        zone: &Zone,
        item: &Planned<'_>,
        error: ApiError,
    ) -> Result<(), ProviderError> {
        let record = &item.change.record;
        let retry = matches!(error, ApiError::Exists { .. })
            || (error.is_stale_id() && !error.is_stale_zone());
        if !retry {
            self.on_error(zone, &error).await;
            return Err(self.failure(zone, item, &error));
        }
        info!(record = %record, error = %error, "the record changed at Cloudflare since it was listed; listing it again");
        if let Err(error) = self.fetch_one(zone, record).await {
            self.on_error(zone, &error).await;
            return Err(self.failure(zone, item, &error));
        }
        let ops = self.plan_change(zone, item.change);
        if ops.is_empty() {
            return Ok(());
        }
        let again = Planned {
            index: item.index,
            change: item.change,
            ops,
        };
        match self.send(zone, &[&again]).await {
            Ok(written) => {
                self.applied(zone, &again, &written);
                Ok(())
            }
            Err(error) => {
                self.on_error(zone, &error).await;
                Err(self.failure(zone, &again, &error))
            }
        }
    }

    fn failure(&self, zone: &Zone, item: &Planned<'_>, error: &ApiError) -> ProviderError {
        if matches!(error, ApiError::Timeout(_)) {
            // The write may have landed: what is known is no longer sure.
            self.forget_key(&Self::key(zone, &item.change.record));
        }
        error.to_provider_error(&format!(
            "writing {} {}",
            item.change.record.name(),
            item.change.record.record_type()
        ))
    }

    /// Verifies a token at one URL: `Ok(true)` active, `Ok(false)` not
    /// active (disabled, expired), `Err` the API refused or failed.
    async fn verify_at(&self, segments: &[&str]) -> Result<Result<(), String>, ApiError> {
        let status: TokenStatus = self.api.get(segments, &[]).await?;
        if status.status == "active" {
            Ok(Ok(()))
        } else {
            Ok(Err(status.status))
        }
    }
}

/// The entries of a listing that are exactly this name and type.
fn matching(listed: &[DnsRecord], record: &Record) -> Vec<DnsRecord> {
    listed
        .iter()
        .filter(|r| {
            r.record_type == record.record_type()
                && r.name.eq_ignore_ascii_case(record.name().as_str())
        })
        .cloned()
        .collect()
}

fn addresses(records: &[DnsRecord], record: &Record) -> Result<Vec<IpAddr>, ProviderError> {
    records
        .iter()
        .map(|r| {
            r.content.parse::<IpAddr>().map_err(|_| {
                ProviderError::transient(format!(
                    "Cloudflare: the {} record of {} holds '{}', which is not an address",
                    record.record_type(),
                    record.name(),
                    r.content.chars().take(64).collect::<String>()
                ))
            })
        })
        .collect()
}

#[async_trait]
impl DnsProvider for CloudflareProvider {
    fn name(&self) -> &str {
        NAME
    }

    fn dns_shows_published(&self, record: &Record) -> bool {
        if let Some(proxied) = self.settings.proxied {
            return !proxied;
        }
        // Unknown until a listing showed the record: a proxied record
        // answers with Cloudflare's addresses, so DNS cannot be trusted.
        let Ok(known) = self.known.lock() else {
            return false;
        };
        let mut seen = known
            .iter()
            .filter(|((_, name, record_type), _)| {
                name == record.name().as_str() && *record_type == record.record_type()
            })
            .peekable();
        seen.peek().is_some() && seen.all(|(_, k)| k.records.iter().all(|r| !r.proxied))
    }

    fn max_batch(&self) -> usize {
        // One listing per zone serves every record of a call, and writes
        // are cut into batches of 200 inside: the larger the call, the
        // fewer listings (a call per 1,000 records listed the zone again).
        10_000
    }

    async fn check_credentials(&self) -> Result<(), ProviderError> {
        let what = "checking the API token";
        let user = match self.verify_at(&["user", "tokens", "verify"]).await {
            Ok(Ok(())) => {
                info!("the Cloudflare API token is valid");
                return Ok(());
            }
            Ok(Err(status)) => {
                return Err(ProviderError::credentials(format!(
                    "Cloudflare: {what}: the API token is {status}; create a new one with the permissions Zone:Read and DNS:Edit"
                )));
            }
            Err(error) if error.is_auth() => error,
            Err(error) => return Err(error.to_provider_error(what)),
        };
        // An account-owned token verifies under its account instead.
        let accounts = match &self.account {
            Some(id) => vec![id.clone()],
            None => match self.api.list::<Account>(&["accounts"], &[], 50).await {
                Ok(accounts) => accounts.into_iter().map(|a| a.id).collect(),
                Err(error) if error.is_auth() => Vec::new(),
                Err(error) => return Err(error.to_provider_error(what)),
            },
        };
        for account in &accounts {
            match self
                .verify_at(&["accounts", account, "tokens", "verify"])
                .await
            {
                Ok(Ok(())) => {
                    info!(account = %account, "the Cloudflare API token is valid (an account token)");
                    return Ok(());
                }
                Ok(Err(status)) => {
                    return Err(ProviderError::credentials(format!(
                        "Cloudflare: {what}: the account API token is {status}; create a new one with the permissions Zone:Read and DNS:Edit"
                    )));
                }
                Err(error) if error.is_auth() => continue,
                Err(error) => return Err(error.to_provider_error(what)),
            }
        }
        Err(user.to_provider_error(&format!(
            "{what}: the API rejected the token as a user token{}",
            match accounts.len() {
                0 => " and no account accepts it".to_string(),
                n => format!(" and as a token of {n} account(s)"),
            }
        )))
    }

    async fn read(&self, record: &Record) -> Result<Option<Vec<IpAddr>>, ProviderError> {
        let zone = self.zone_for(record).await?;
        let held = match self.fetch_one(&zone, record).await {
            Ok(held) => held,
            Err(error) => {
                self.on_error(&zone, &error).await;
                return Err(error.to_provider_error(&format!(
                    "reading {} {}",
                    record.name(),
                    record.record_type()
                )));
            }
        };
        addresses(&held, record).map(Some)
    }

    async fn read_many(
        &self,
        records: &[Record],
    ) -> Vec<Result<Option<Vec<IpAddr>>, ProviderError>> {
        let mut results: Vec<Option<Result<Option<Vec<IpAddr>>, ProviderError>>> =
            (0..records.len()).map(|_| None).collect();
        let mut by_zone: BTreeMap<String, (Zone, Vec<usize>)> = BTreeMap::new();
        for (index, record) in records.iter().enumerate() {
            match self.zone_for(record).await {
                Ok(zone) => by_zone
                    .entry(zone.id.clone())
                    .or_insert_with(|| (zone, Vec::new()))
                    .1
                    .push(index),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        for (zone, indices) in by_zone.into_values() {
            let members: Vec<&Record> = indices.iter().map(|i| &records[*i]).collect();
            let fetched = if let [one] = members.as_slice() {
                self.fetch_one(&zone, one).await.map(|_| ())
            } else {
                self.fetch_zone(&zone, &members).await
            };
            match fetched {
                Ok(()) => {
                    for index in indices {
                        let record = &records[index];
                        let held = self
                            .recall(&Self::key(&zone, record), false)
                            .unwrap_or_default();
                        results[index] = Some(addresses(&held, record).map(Some));
                    }
                }
                Err(error) => {
                    self.on_error(&zone, &error).await;
                    let what = format!("listing the records of {}", zone.name);
                    for index in indices {
                        results[index] = Some(Err(error.to_provider_error(&what)));
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ProviderError::transient("not read"))))
            .collect()
    }

    async fn update(&self, change: &RecordChange) -> Result<(), ProviderError> {
        self.update_many(std::slice::from_ref(change))
            .await
            .pop()
            .unwrap_or_else(|| Err(ProviderError::transient("not written")))
    }

    async fn update_many(&self, changes: &[RecordChange]) -> Vec<Result<(), ProviderError>> {
        let mut results: Vec<Option<Result<(), ProviderError>>> =
            (0..changes.len()).map(|_| None).collect();
        let mut by_zone: BTreeMap<String, (Zone, Vec<(usize, &RecordChange)>)> = BTreeMap::new();
        for (index, change) in changes.iter().enumerate() {
            match self.zone_for(&change.record).await {
                Ok(zone) => by_zone
                    .entry(zone.id.clone())
                    .or_insert_with(|| (zone, Vec::new()))
                    .1
                    .push((index, change)),
                Err(error) => results[index] = Some(Err(error)),
            }
        }
        for (zone, members) in by_zone.into_values() {
            self.apply_zone(&zone, members, &mut results).await;
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(ProviderError::transient("not written"))))
            .collect()
    }
}
