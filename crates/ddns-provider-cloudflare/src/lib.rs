//! The Cloudflare provider: API v4 with a bearer token.
//!
//! - The token is checked at start (`/user/tokens/verify`, then, for an
//!   account-owned token, `/accounts/{id}/tokens/verify`). A structured
//!   authentication error stops the daemon with a configuration exit code
//!   and says which permissions the token needs; a network failure or an
//!   HTML page is retried.
//! - Each record's zone is the deepest zone of the account whose name is
//!   the record's name or a parent (`vpn.sub.example.com` →
//!   `sub.example.com` → `example.com`), unless `DDNS_CLOUDFLARE_ZONE_ID`
//!   names it. Zone and record IDs are cached and forgotten when the API
//!   says one no longer exists.
//! - A record is changed in place (PATCH of its content), so it keeps its
//!   ID, proxy status, TTL, comment and tags unless `DDNS_CLOUDFLARE_PROXIED`,
//!   `DDNS_TTL` or `DDNS_CLOUDFLARE_COMMENT` say otherwise. A missing record
//!   is created; extra records of the same name and type are removed (ddns
//!   owns the name and type); other records are never touched.
//! - Many records: one listing per zone and batches of up to 200
//!   operations, each batch applied atomically by Cloudflare.
//!
//! # Example
//!
//! ```
//! use ddns_core::{ProviderFactory, config::Env};
//! let env = Env::from_pairs([
//!     ("DDNS_PROVIDER_API_TOKEN", "Zk3r9-qP2mXa7LwTq8Vn4Rb6Ys1Hc0Jd5Fg2Kh7M"),
//!     ("DDNS_CLOUDFLARE_PROXIED", "false"),
//! ]);
//! let plan = ddns_provider_cloudflare::CloudflareFactory.configure(&env).expect("valid");
//! assert!(plan.settings().iter().any(|s| s.value == "<redacted>"));
//! ```
//!
//! # Caveats
//!
//! - A setting configured here (proxied, TTL, comment) is applied with the
//!   next write; a record that already holds the right address is not
//!   rewritten only to change a setting.

mod client;
mod config;
mod envelope;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod plan;
mod provider;
mod zones;

pub use config::{CloudflareFactory, DEFAULT_API_URL};
pub use provider::CloudflareProvider;

/// The registry name.
pub const NAME: &str = "cloudflare";
