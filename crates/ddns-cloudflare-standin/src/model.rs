//! The things a test puts into the stand-in: tokens, zones and records.

use serde::{Deserialize, Serialize};

/// Who owns an API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOwner {
    /// A user token: it sees the zones of every account registered in the
    /// stand-in, and verifies at `GET /user/tokens/verify`.
    User,
    /// An account-owned token (the account id): it sees only that account's
    /// zones, and verifies only at `GET /accounts/{account_id}/tokens/verify`.
    Account(String),
}

/// The status of an API token, as `GET …/tokens/verify` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    /// Usable.
    Active,
    /// Switched off by its owner: every call but the verify endpoints gets
    /// 403 code 10000.
    Disabled,
    /// Past its expiry: every call but the verify endpoints gets 403 code
    /// 10000.
    Expired,
}

impl TokenStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Disabled => "disabled",
            TokenStatus::Expired => "expired",
        }
    }
}

/// Which zones a permission covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// No zone.
    None,
    /// Every zone the token's owner can reach.
    All,
    /// Only these zone ids.
    Zones(Vec<String>),
}

impl Access {
    pub(crate) fn covers(&self, zone_id: &str) -> bool {
        match self {
            Access::None => false,
            Access::All => true,
            Access::Zones(ids) => ids.iter().any(|id| id == zone_id),
        }
    }
}

/// What an API token is and may do.
///
/// `zone_read` is Cloudflare's "Zone: Read": the zone shows in `GET /zones`,
/// `GET /zones/{id}` answers, and its DNS records can be listed and read.
/// `dns_edit` is "DNS: Edit": records can be created, changed and deleted; it
/// is only useful together with `zone_read` on the same zone (without it the
/// zone's `dns_records` answer 403 code 10000, reads and writes alike).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// Who owns the token.
    pub owner: TokenOwner,
    /// Active, disabled or expired.
    pub status: TokenStatus,
    /// Zone: Read.
    pub zone_read: Access,
    /// DNS: Edit.
    pub dns_edit: Access,
}

impl TokenSpec {
    /// An active user token with Zone: Read and DNS: Edit on all zones — what
    /// a DDNS client is usually given.
    pub fn user() -> Self {
        TokenSpec {
            owner: TokenOwner::User,
            status: TokenStatus::Active,
            zone_read: Access::All,
            dns_edit: Access::All,
        }
    }

    /// An active token owned by the account `account_id`, with Zone: Read and
    /// DNS: Edit on all of that account's zones.
    pub fn account(account_id: &str) -> Self {
        TokenSpec {
            owner: TokenOwner::Account(account_id.to_owned()),
            ..TokenSpec::user()
        }
    }

    /// Sets the status.
    #[must_use]
    pub fn status(mut self, status: TokenStatus) -> Self {
        self.status = status;
        self
    }

    /// Sets the Zone: Read permission.
    #[must_use]
    pub fn zone_read(mut self, access: Access) -> Self {
        self.zone_read = access;
        self
    }

    /// Sets the DNS: Edit permission.
    #[must_use]
    pub fn dns_edit(mut self, access: Access) -> Self {
        self.dns_edit = access;
        self
    }

    /// Shorthand for `.zone_read(Access::Zones(..)).dns_edit(Access::Zones(..))`
    /// with the same zone ids.
    #[must_use]
    pub fn only_zones(self, zone_ids: &[&str]) -> Self {
        let ids: Vec<String> = zone_ids.iter().map(|id| (*id).to_owned()).collect();
        self.zone_read(Access::Zones(ids.clone()))
            .dns_edit(Access::Zones(ids))
    }
}

/// A zone's status, as the API reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZoneStatus {
    /// Serving.
    Active,
    /// Added, waiting for its name servers to be changed.
    Pending,
    /// Being set up.
    Initializing,
    /// Moved away.
    Moved,
}

impl ZoneStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ZoneStatus::Active => "active",
            ZoneStatus::Pending => "pending",
            ZoneStatus::Initializing => "initializing",
            ZoneStatus::Moved => "moved",
        }
    }

    pub(crate) const NAMES: [&'static str; 4] = ["active", "pending", "initializing", "moved"];
}

/// A zone's plan; it sets the limits the API enforces on DNS records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Comments up to 100 characters, no record tags, 200 operations a batch.
    Free,
    /// Comments up to 500 characters, tags, 3,500 operations a batch.
    Pro,
    /// As Pro.
    Business,
    /// As Pro.
    Enterprise,
}

impl Plan {
    pub(crate) fn max_comment_chars(self) -> usize {
        match self {
            Plan::Free => 100,
            Plan::Pro | Plan::Business | Plan::Enterprise => 500,
        }
    }

    pub(crate) fn allows_tags(self) -> bool {
        !matches!(self, Plan::Free)
    }

    pub(crate) fn max_batch_operations(self) -> usize {
        match self {
            Plan::Free => 200,
            Plan::Pro | Plan::Business | Plan::Enterprise => 3500,
        }
    }

    pub(crate) fn api_name(self) -> (&'static str, &'static str) {
        match self {
            Plan::Free => ("free", "Free Website"),
            Plan::Pro => ("pro", "Pro Website"),
            Plan::Business => ("business", "Business Website"),
            Plan::Enterprise => ("enterprise", "Enterprise Website"),
        }
    }
}

/// How to create a zone with [`StandIn::add_zone_with`](crate::StandIn::add_zone_with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    /// The zone's name, such as `example.com` (stored in lower case, without
    /// a trailing dot).
    pub name: String,
    /// Active by default.
    pub status: ZoneStatus,
    /// The owning account; `None` for the default account.
    pub account_id: Option<String>,
    /// Free by default.
    pub plan: Plan,
}

impl ZoneSpec {
    /// An active Free zone of the default account.
    pub fn new(name: &str) -> Self {
        ZoneSpec {
            name: name.to_owned(),
            status: ZoneStatus::Active,
            account_id: None,
            plan: Plan::Free,
        }
    }

    /// Sets the status.
    #[must_use]
    pub fn status(mut self, status: ZoneStatus) -> Self {
        self.status = status;
        self
    }

    /// Sets the owning account.
    #[must_use]
    pub fn account(mut self, account_id: &str) -> Self {
        self.account_id = Some(account_id.to_owned());
        self
    }

    /// Sets the plan.
    #[must_use]
    pub fn plan(mut self, plan: Plan) -> Self {
        self.plan = plan;
        self
    }
}

/// A snapshot of a zone, as [`StandIn::zones`](crate::StandIn::zones) returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneInfo {
    /// 32 hex digits.
    pub id: String,
    /// Lower case, no trailing dot.
    pub name: String,
    /// The status.
    pub status: ZoneStatus,
    /// The owning account's id.
    pub account_id: String,
    /// The plan.
    pub plan: Plan,
}

/// A record put in "by hand" with [`StandIn::add_record_with`](crate::StandIn::add_record_with).
///
/// Nothing is validated: a test can set up states the API would refuse to
/// create (two identical records, a CNAME beside an A record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpec {
    /// `A`, `AAAA`, `CNAME`, `TXT`, …
    pub record_type: String,
    /// Full, relative or `@`, as in the API.
    pub name: String,
    /// The content, stored as given.
    pub content: String,
    /// 1 (automatic) by default.
    pub ttl: u32,
    /// False by default.
    pub proxied: bool,
    /// None by default.
    pub comment: Option<String>,
    /// Empty by default.
    pub tags: Vec<String>,
}

impl RecordSpec {
    /// A record with TTL 1 (automatic), not proxied, no comment, no tags.
    pub fn new(record_type: &str, name: &str, content: &str) -> Self {
        RecordSpec {
            record_type: record_type.to_owned(),
            name: name.to_owned(),
            content: content.to_owned(),
            ttl: 1,
            proxied: false,
            comment: None,
            tags: Vec::new(),
        }
    }

    /// Sets the TTL.
    #[must_use]
    pub fn ttl(mut self, ttl: u32) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the proxy status.
    #[must_use]
    pub fn proxied(mut self, proxied: bool) -> Self {
        self.proxied = proxied;
        self
    }

    /// Sets the comment.
    #[must_use]
    pub fn comment(mut self, comment: &str) -> Self {
        self.comment = Some(comment.to_owned());
        self
    }

    /// Sets the tags.
    #[must_use]
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        self
    }
}

/// A DNS record as the API returns it (less `meta`, `settings` and the
/// `*_modified_on` fields, which the stand-in sends but does not model).
///
/// It deserializes from the API's JSON, so tests can read responses into it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    /// 32 hex digits.
    pub id: String,
    /// The zone's id.
    pub zone_id: String,
    /// The zone's name.
    pub zone_name: String,
    /// The full name, in lower case.
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, `TXT`, …
    #[serde(rename = "type")]
    pub record_type: String,
    /// The content (IPv6 addresses in their canonical, compressed form).
    pub content: String,
    /// Whether the record may be proxied (A, AAAA and CNAME).
    pub proxiable: bool,
    /// Whether it is proxied.
    pub proxied: bool,
    /// 1 means automatic.
    pub ttl: u32,
    /// The comment, if any.
    pub comment: Option<String>,
    /// The tags (`name:value`).
    pub tags: Vec<String>,
    /// RFC 3339, UTC.
    pub created_on: String,
    /// RFC 3339, UTC.
    pub modified_on: String,
}

pub(crate) fn is_proxiable(record_type: &str) -> bool {
    matches!(record_type, "A" | "AAAA" | "CNAME")
}
