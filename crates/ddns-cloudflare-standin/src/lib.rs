//! A strict, in-process stand-in for the Cloudflare API v4 — the parts a DNS
//! client uses — for tests that cannot reach the real API.
//!
//! It serves plain HTTP on `127.0.0.1` under `/client/v4`, answers like the
//! documented API (envelope, status codes, error codes, pagination), refuses
//! what the real API would refuse (and some things it might merely tolerate,
//! such as unknown query parameters or body fields), and records every
//! request so a test can check what the client sent: method, path, query,
//! headers (the `Authorization` header included) and body.
//!
//! # Example
//!
//! ```
//! use ddns_cloudflare_standin::{StandIn, TokenSpec};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let _ = rustls::crypto::ring::default_provider().install_default();
//! let cf = StandIn::start().await;
//! cf.add_token("secret-token", TokenSpec::user());
//! let zone = cf.add_zone("example.com");
//! cf.add_record(&zone, "A", "home.example.com", "192.0.2.1");
//!
//! // The client under test is pointed at `cf.url()`; here, by hand:
//! let answer: serde_json::Value = reqwest::Client::new()
//!     .get(format!("{}/zones/{zone}/dns_records?type=A&name=home.example.com", cf.url()))
//!     .bearer_auth("secret-token")
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(answer["result"][0]["content"], "192.0.2.1");
//! assert_eq!(answer["result_info"]["total_count"], 1);
//!
//! let sent = cf.requests();
//! assert_eq!(sent[0].method, "GET");
//! assert_eq!(sent[0].path, format!("/zones/{zone}/dns_records"));
//! assert_eq!(sent[0].bearer_token(), Some("secret-token"));
//! assert_eq!(sent[0].query_param("type"), Some("A"));
//! # Ok(())
//! # }
//! ```
//!
//! A test driving the daemon as a subprocess uses [`StandIn::start_in_thread`]
//! and sets `DDNS_CLOUDFLARE_API_URL` to [`StandIn::url`].
//!
//! # Endpoints
//!
//! | Method and path (under `/client/v4`) | Notes |
//! | --- | --- |
//! | `GET /user/tokens/verify` | user tokens; an account token gets 401 code 1000 |
//! | `GET /accounts/{account_id}/tokens/verify` | that account's tokens, else 401 code 1000 |
//! | `GET /accounts` | `page`, `per_page` (5–50, default 20), `name`, `direction` |
//! | `GET /zones` | `name` (exact), `status`, `account.id`, `account.name`, `match`, `order`, `direction`, `page`, `per_page` (5–50, default 20) |
//! | `GET /zones/{zone_id}` | |
//! | `GET /zones/{zone_id}/dns_records` | `type`, `name`, `name.exact` (and `.contains`, `.startswith`, `.endswith`), the same for `content` and `comment`, `comment.present`, `comment.absent`, `proxied`, `match`, `order`, `direction`, `page`, `per_page` (5–5,000,000, default 100) |
//! | `POST /zones/{zone_id}/dns_records` | create |
//! | `GET`, `PATCH`, `PUT`, `DELETE /zones/{zone_id}/dns_records/{id}` | |
//! | `POST /zones/{zone_id}/dns_records/batch` | atomic; deletes, patches, puts, posts in that order |
//!
//! # Guarantees
//!
//! - Every answer is the JSON envelope `{success, errors, messages, result}`
//!   (plus `result_info` on lists), `Content-Type: application/json`, with a
//!   `cf-ray` header — except the answers of injected faults.
//! - Authentication: a missing or malformed `Authorization: Bearer …` header
//!   gets 400 code 6003 with `error_chain` code 6111; an unknown token 401 code
//!   1000 at the verify endpoints and 403 code 10000 elsewhere; a disabled or
//!   expired token 403 code 10000 (the verify endpoints report its status).
//! - Permissions ([`TokenSpec`]): a zone without Zone: Read is missing from
//!   `/zones` and its `GET /zones/{id}` and `dns_records` answer 403 code
//!   10000; writes without DNS: Edit answer 403 code 10000.
//! - Unknown zone id: 400 with codes 7003 ("Could not route to `<path>`, perhaps
//!   your object identifier is invalid?") and 7000 ("No route for that URI").
//!   Unknown record id: 404 code 81044 "Record does not exist.". Unknown path:
//!   404 code 7000; known path, wrong method: 405 code 7001.
//! - Query strings: unknown, repeated or empty parameters, and out-of-range
//!   `page`/`per_page`, answer 400 code 1004 with a message naming the
//!   parameter; parameters Cloudflare documents that the stand-in does not
//!   implement (`search`, `tag…`, `tag_match`, `type` on zones, name operators
//!   on zones) answer 400 code 1004 saying so.
//! - Bodies of writes must be `Content-Type: application/json` (else 400 code
//!   6003 with `error_chain` code 6105) and valid JSON (else 400 code 6007
//!   "Malformed JSON in request body"). Unknown fields or wrong JSON types:
//!   400 code 9207 "Request body is invalid." with the detail in
//!   `error_chain` and `source.pointer`.
//! - Records: types A, AAAA, CNAME and TXT can be written (other documented
//!   types: 400 code 9003). Names may be full, relative or `@` and come back
//!   full and in lower case. Errors: name 9000 "DNS name is invalid."; A
//!   content 9005 "Content for A record must be a valid IPv4 address."; AAAA
//!   9006 "…valid IPv6 address."; CNAME 9007; TTL other than 1 or 30–86,400
//!   9021 "TTL must be between 30 and 86400 seconds, or 1 for Automatic.";
//!   proxying a type that cannot be 9004 "This record type cannot be
//!   proxied."; comment over the plan's length (100 on Free, 500 otherwise)
//!   9101, with a newline 9102; tags on a Free zone 9103, malformed 9104; a
//!   record identical in type, name and content to another 81058 "An
//!   identical record already exists."; a CNAME sharing its name with an A,
//!   AAAA or CNAME record 81053, with another type 81054.
//! - A proxied record always gets TTL 1, whatever TTL was sent. AAAA content
//!   is stored in canonical form (`2001:DB8:0::1` becomes `2001:db8::1`).
//! - `PATCH` changes only the fields given; `PUT` needs type, name and
//!   content and resets the rest (TTL 1, not proxied, no comment, no tags).
//! - A batch runs on a copy of the records and replaces them only if every
//!   operation succeeded; a failure answers 400 with the failing operation's
//!   error, its `source.pointer` naming it (`/posts/1/content`). More than 200
//!   operations on a Free zone (3,500 otherwise) answer 400 code 81070.
//! - List order: by type, then name, then creation, unless `order` is given.
//!
//! # Caveats
//!
//! - The codes 9003, 9008, 9101–9104, 81054 and 81070, and 1004 for query
//!   errors, are the stand-in's choices where Cloudflare's exact code is not
//!   documented; assert on them only to tell errors apart. Where the real API
//!   wraps validation errors (code 1004 "DNS Validation Error" with the 9xxx
//!   code in `error_chain`), the stand-in puts the 9xxx code first.
//! - Only `Authorization: Bearer` tokens; no `X-Auth-Key`/`X-Auth-Email`.
//! - Changes made by hand ([`StandIn::add_record`], [`StandIn::set_content`],
//!   …) are not validated and not logged.
//! - HTTP/1.1 only, plain text, loopback only.

mod api;
mod envelope;
mod fault;
mod gate;
mod log;
mod model;
mod query;
mod records;
mod server;
mod state;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpListener;

pub use fault::{Fault, FaultKind, RateLimit};
pub use log::{BASE_PATH, LoggedRequest};
pub use model::{
    Access, DnsRecord, Plan, RecordSpec, TokenOwner, TokenSpec, TokenStatus, ZoneInfo, ZoneSpec,
    ZoneStatus,
};

use state::{AccountEntry, Inner, Shared, StoredRecord, TokenEntry, ZoneEntry, lock};

/// A running stand-in. Dropping it stops the server and closes its
/// connections.
pub struct StandIn {
    shared: Shared,
    addr: SocketAddr,
    runner: Runner,
}

enum Runner {
    Task(tokio::task::JoinHandle<()>),
    Thread {
        shutdown: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl fmt::Debug for StandIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandIn").field("url", &self.url()).finish()
    }
}

/// A test set the stand-in up wrong, or the machine cannot run it: there is
/// no sensible way on, and the test should stop with the reason.
#[expect(clippy::panic, reason = "misuse of a test helper is a bug in the test")]
fn broken(what: &str) -> ! {
    panic!("cloudflare stand-in: {what}")
}

impl StandIn {
    /// Starts a stand-in on `127.0.0.1` (a free port) as a task of the current
    /// tokio runtime, which must keep running for it to answer.
    ///
    /// # Panics
    ///
    /// If the loopback address cannot be bound.
    pub async fn start() -> StandIn {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap_or_else(|e| broken(&format!("cannot bind 127.0.0.1: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| broken(&format!("no local address: {e}")));
        let shared = Shared::new(std::sync::Mutex::new(Inner::new()));
        let task = tokio::spawn(server::serve(listener, server::router(shared.clone())));
        StandIn {
            shared,
            addr,
            runner: Runner::Task(task),
        }
    }

    /// Starts a stand-in on `127.0.0.1` (a free port) in a thread of its own
    /// with its own runtime: for synchronous tests, such as ones driving the
    /// daemon as a subprocess.
    ///
    /// # Panics
    ///
    /// If the loopback address cannot be bound or the thread cannot start.
    pub fn start_in_thread() -> StandIn {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| broken(&format!("cannot bind 127.0.0.1: {e}")));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| broken(&format!("no local address: {e}")));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| broken(&format!("cannot make the socket non-blocking: {e}")));
        let shared = Shared::new(std::sync::Mutex::new(Inner::new()));
        let router = server::router(shared.clone());
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cloudflare-standin".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| broken(&format!("cannot build a runtime: {e}")));
                runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener)
                        .unwrap_or_else(|e| broken(&format!("cannot use the socket: {e}")));
                    tokio::select! {
                        () = server::serve(listener, router) => {}
                        _ = stopped => {}
                    }
                });
            })
            .unwrap_or_else(|e| broken(&format!("cannot start its thread: {e}")));
        StandIn {
            shared,
            addr,
            runner: Runner::Thread {
                shutdown: Some(shutdown),
                thread: Some(thread),
            },
        }
    }

    /// The API's base URL, `http://127.0.0.1:PORT/client/v4` (no trailing
    /// slash).
    pub fn url(&self) -> String {
        format!("http://{}{BASE_PATH}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    // Accounts and tokens.

    /// The id of the account created with the stand-in ("Default Account"),
    /// which owns zones added without an account.
    pub fn default_account_id(&self) -> String {
        lock(&self.shared).default_account.clone()
    }

    /// Adds an account and returns its id (32 hex digits). User tokens see
    /// every account.
    pub fn add_account(&self, name: &str) -> String {
        let id = state::new_id();
        lock(&self.shared).accounts.push(AccountEntry {
            id: id.clone(),
            name: name.to_owned(),
            created_on: state::now_rfc3339(),
        });
        id
    }

    /// Registers an API token (the secret sent as `Bearer <token>`) and
    /// returns its id, as the verify endpoints report it. Registering the same
    /// token again replaces it.
    pub fn add_token(&self, token: &str, spec: TokenSpec) -> String {
        let id = state::new_id();
        lock(&self.shared).tokens.insert(
            token.to_owned(),
            TokenEntry {
                id: id.clone(),
                spec,
            },
        );
        id
    }

    // Zones.

    /// Adds an active Free zone to the default account and returns its id.
    pub fn add_zone(&self, name: &str) -> String {
        self.add_zone_with(ZoneSpec::new(name))
    }

    /// Adds a zone and returns its id (32 hex digits).
    ///
    /// # Panics
    ///
    /// If the account does not exist.
    pub fn add_zone_with(&self, spec: ZoneSpec) -> String {
        let mut inner = lock(&self.shared);
        let account_id = spec
            .account_id
            .unwrap_or_else(|| inner.default_account.clone());
        if inner.account(&account_id).is_none() {
            broken(&format!("no account {account_id}"));
        }
        let id = state::new_id();
        let name = spec.name.strip_suffix('.').unwrap_or(&spec.name);
        inner.zones.push(ZoneEntry {
            id: id.clone(),
            name: name.to_ascii_lowercase(),
            status: spec.status,
            account_id,
            plan: spec.plan,
            created_on: state::now_rfc3339(),
        });
        id
    }

    /// Removes a zone and its records, as if it had been deleted on
    /// Cloudflare: its id then answers as unknown.
    ///
    /// # Panics
    ///
    /// If there is no such zone.
    pub fn remove_zone(&self, zone_id: &str) {
        let mut inner = lock(&self.shared);
        let before = inner.zones.len();
        inner.zones.retain(|z| z.id != zone_id);
        if inner.zones.len() == before {
            broken(&format!("no zone {zone_id}"));
        }
        inner.records.retain(|r| r.record.zone_id != zone_id);
    }

    /// The zones, in the order they were added.
    pub fn zones(&self) -> Vec<ZoneInfo> {
        lock(&self.shared)
            .zones
            .iter()
            .map(|z| ZoneInfo {
                id: z.id.clone(),
                name: z.name.clone(),
                status: z.status,
                account_id: z.account_id.clone(),
                plan: z.plan,
            })
            .collect()
    }

    // Records, by hand.

    /// Adds a record by hand (TTL 1, not proxied) and returns its id. Not
    /// validated, not logged.
    ///
    /// # Panics
    ///
    /// If there is no such zone.
    pub fn add_record(
        &self,
        zone_id: &str,
        record_type: &str,
        name: &str,
        content: &str,
    ) -> String {
        self.add_record_with(zone_id, RecordSpec::new(record_type, name, content))
    }

    /// Adds a record by hand and returns its id. The name is completed as the
    /// API would (relative names and `@`); nothing else is validated, so a
    /// test can set up states the API refuses to create.
    ///
    /// # Panics
    ///
    /// If there is no such zone.
    pub fn add_record_with(&self, zone_id: &str, spec: RecordSpec) -> String {
        let mut guard = lock(&self.shared);
        let inner = &mut *guard;
        let Some(zone) = inner.zone(zone_id) else {
            broken(&format!("no zone {zone_id}"));
        };
        let name = records::full_name(&zone.name, &spec.name)
            .unwrap_or_else(|_| spec.name.to_ascii_lowercase());
        let now = state::now_rfc3339();
        let record = DnsRecord {
            id: state::new_id(),
            zone_id: zone.id.clone(),
            zone_name: zone.name.clone(),
            name,
            proxiable: model::is_proxiable(&spec.record_type),
            record_type: spec.record_type,
            content: spec.content,
            proxied: spec.proxied,
            ttl: spec.ttl,
            comment: spec.comment,
            tags: spec.tags,
            created_on: now.clone(),
            modified_on: now,
        };
        let id = record.id.clone();
        inner.records.push(StoredRecord {
            seq: inner.next_record_seq,
            record,
        });
        inner.next_record_seq += 1;
        id
    }

    /// Changes a record's content by hand (drift made outside the client);
    /// updates `modified_on`. Not logged.
    ///
    /// # Panics
    ///
    /// If there is no such record.
    pub fn set_content(&self, record_id: &str, content: &str) {
        self.modify_record(record_id, |r| r.content = content.to_owned());
    }

    /// Changes a record by hand in any way (its `id` and `zone_id` should be
    /// left alone); updates `modified_on`. Not logged.
    ///
    /// # Panics
    ///
    /// If there is no such record.
    pub fn modify_record(&self, record_id: &str, change: impl FnOnce(&mut DnsRecord)) {
        let mut inner = lock(&self.shared);
        let Some(stored) = inner.records.iter_mut().find(|s| s.record.id == record_id) else {
            broken(&format!("no record {record_id}"));
        };
        change(&mut stored.record);
        stored.record.modified_on = state::now_rfc3339();
    }

    /// Deletes a record by hand. Not logged.
    ///
    /// # Panics
    ///
    /// If there is no such record.
    pub fn delete_record(&self, record_id: &str) {
        let mut inner = lock(&self.shared);
        let before = inner.records.len();
        inner.records.retain(|s| s.record.id != record_id);
        if inner.records.len() == before {
            broken(&format!("no record {record_id}"));
        }
    }

    /// A record, by id, if it exists.
    pub fn record(&self, record_id: &str) -> Option<DnsRecord> {
        lock(&self.shared)
            .records
            .iter()
            .find(|s| s.record.id == record_id)
            .map(|s| s.record.clone())
    }

    /// A zone's records, in the API's default order (type, name, creation).
    pub fn records(&self, zone_id: &str) -> Vec<DnsRecord> {
        lock(&self.shared)
            .zone_records(zone_id)
            .into_iter()
            .map(|s| s.record.clone())
            .collect()
    }

    // The request log.

    /// Every request received since the start or the last
    /// [`clear_requests`](Self::clear_requests), in order of arrival.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.shared).requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        lock(&self.shared).requests.clear();
    }

    // Failures.

    /// Injects a fault; see [`Fault`] for which requests it hits.
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared).faults.push(fault);
    }

    /// Removes the faults not used up yet.
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// The faults not used up yet.
    pub fn pending_faults(&self) -> Vec<Fault> {
        lock(&self.shared).faults.clone()
    }

    /// Sets (or with `None` removes) an automatic rate limit: requests over it
    /// answer 429 code 971 with a `Retry-After` header, as Cloudflare does
    /// past 1,200 requests in five minutes ([`RateLimit::cloudflare`]). It is
    /// checked after injected faults and before authentication, and counts
    /// only the requests it lets through.
    pub fn set_rate_limit(&self, limit: Option<RateLimit>) {
        lock(&self.shared).rate.set(limit);
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        match &mut self.runner {
            Runner::Task(task) => task.abort(),
            Runner::Thread { shutdown, thread } => {
                if let Some(shutdown) = shutdown.take() {
                    // The thread may be gone already; then there is nothing to stop.
                    let _ = shutdown.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_can_be_shared_between_threads() {
        fn shareable<T: Send + Sync>() {}
        shareable::<StandIn>();
        shareable::<LoggedRequest>();
    }

    #[test]
    fn thread_standin_stops_when_dropped() {
        let cf = StandIn::start_in_thread();
        let addr = cf.addr();
        assert!(std::net::TcpStream::connect(addr).is_ok());
        drop(cf);
        assert!(std::net::TcpStream::connect(addr).is_err());
    }
}
