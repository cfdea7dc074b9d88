//! The stand-in's data: accounts, tokens, zones, records, the request log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::fault::{Fault, RateLimiter};
use crate::log::LoggedRequest;
use crate::model::{DnsRecord, Plan, TokenSpec, ZoneStatus};

/// Shared between the server and the test's handle.
pub(crate) type Shared = Arc<Mutex<Inner>>;

/// Locks the state. A panic while it was held (in a test thread) does not
/// make the data unusable, so poisoning is ignored.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone)]
pub(crate) struct AccountEntry {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) created_on: String,
}

impl AccountEntry {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "type": "standard",
            "settings": { "enforce_twofactor": false },
            "created_on": self.created_on,
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) struct TokenEntry {
    pub(crate) id: String,
    pub(crate) spec: TokenSpec,
}

#[derive(Debug, Clone)]
pub(crate) struct ZoneEntry {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) status: ZoneStatus,
    pub(crate) account_id: String,
    pub(crate) plan: Plan,
    pub(crate) created_on: String,
}

/// A record and the order in which it was created.
#[derive(Debug, Clone)]
pub(crate) struct StoredRecord {
    pub(crate) seq: u64,
    pub(crate) record: DnsRecord,
}

/// Everything, behind one lock. Never held across an `.await`.
#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) accounts: Vec<AccountEntry>,
    pub(crate) default_account: String,
    pub(crate) tokens: HashMap<String, TokenEntry>,
    pub(crate) zones: Vec<ZoneEntry>,
    pub(crate) records: Vec<StoredRecord>,
    pub(crate) next_record_seq: u64,
    pub(crate) requests: Vec<LoggedRequest>,
    pub(crate) next_request_seq: u64,
    pub(crate) faults: Vec<Fault>,
    pub(crate) rate: RateLimiter,
}

impl Inner {
    pub(crate) fn new() -> Self {
        let default_account = AccountEntry {
            id: new_id(),
            name: "Default Account".to_owned(),
            created_on: now_rfc3339(),
        };
        Inner {
            default_account: default_account.id.clone(),
            accounts: vec![default_account],
            ..Inner::default()
        }
    }

    pub(crate) fn zone(&self, id: &str) -> Option<&ZoneEntry> {
        self.zones.iter().find(|z| z.id == id)
    }

    pub(crate) fn account(&self, id: &str) -> Option<&AccountEntry> {
        self.accounts.iter().find(|a| a.id == id)
    }

    pub(crate) fn zone_json(&self, zone: &ZoneEntry) -> Value {
        let account_name = self
            .account(&zone.account_id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let (plan_id, plan_name) = zone.plan.api_name();
        json!({
            "id": zone.id,
            "name": zone.name,
            "status": zone.status.as_str(),
            "paused": false,
            "type": "full",
            "development_mode": 0,
            "name_servers": ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"],
            "original_name_servers": null,
            "account": { "id": zone.account_id, "name": account_name },
            "plan": { "id": plan_id, "name": plan_name, "legacy_id": plan_id },
            "created_on": zone.created_on,
            "modified_on": zone.created_on,
            "activated_on": if zone.status == ZoneStatus::Active { json!(zone.created_on) } else { Value::Null },
        })
    }

    /// The zone's records, in the API's default order: by type, then name,
    /// then creation.
    pub(crate) fn zone_records(&self, zone_id: &str) -> Vec<&StoredRecord> {
        let mut records: Vec<&StoredRecord> = self
            .records
            .iter()
            .filter(|r| r.record.zone_id == zone_id)
            .collect();
        sort_default(&mut records);
        records
    }
}

pub(crate) fn sort_default(records: &mut [&StoredRecord]) {
    records.sort_by(|a, b| {
        (&a.record.record_type, &a.record.name, a.seq).cmp(&(
            &b.record.record_type,
            &b.record.name,
            b.seq,
        ))
    });
}

/// A record as the API shows it.
pub(crate) fn record_json(record: &DnsRecord) -> Value {
    json!({
        "id": record.id,
        "zone_id": record.zone_id,
        "zone_name": record.zone_name,
        "name": record.name,
        "type": record.record_type,
        "content": record.content,
        "proxiable": record.proxiable,
        "proxied": record.proxied,
        "ttl": record.ttl,
        "settings": {},
        "meta": {},
        "comment": record.comment,
        "tags": record.tags,
        "created_on": record.created_on,
        "modified_on": record.modified_on,
    })
}

/// 32 random hex digits, like Cloudflare's identifiers.
pub(crate) fn new_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// Now, as Cloudflare writes times: `2024-05-01T12:34:56.123456Z`.
pub(crate) fn now_rfc3339() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_rfc3339(since.as_secs(), since.subsec_micros())
}

fn format_rfc3339(secs: u64, micros: u32) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm, restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_like_cloudflare() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_rfc3339(1_709_210_096, 42),
            "2024-02-29T12:34:56.000042Z"
        );
        assert_eq!(
            format_rfc3339(1_767_225_599, 999_999),
            "2025-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn ids_are_32_hex_digits() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }
}
