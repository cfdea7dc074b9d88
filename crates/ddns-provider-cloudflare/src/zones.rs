//! Which zone holds a record: the configured zone, or the deepest zone of
//! the account whose name is the record's name or one of its parents.
//!
//! The account's zones are listed once (one call per 50 zones) and kept;
//! a record whose zone is missing makes one fresh listing at most every
//! few minutes, and a zone the API says is gone drops the list.

use std::time::Duration;

use ddns_core::DomainName;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::client::Api;
use crate::envelope::Zone;
use crate::error::ApiError;

/// Zones per page: the most `/zones` allows.
const ZONES_PER_PAGE: u32 = 50;

/// A missing zone triggers a new listing at most this often.
const RELIST_AFTER: Duration = Duration::from_secs(300);

/// Why a record has no zone.
#[derive(Debug)]
pub(crate) enum ZoneError {
    /// The API failed.
    Api(ApiError),
    /// No zone of the account holds the name.
    NotFound(String),
}

#[derive(Debug, Default)]
struct Listing {
    zones: Vec<Zone>,
    at: Option<Instant>,
}

/// The zone directory.
#[derive(Debug)]
pub(crate) struct Zones {
    fixed_id: Option<String>,
    account: Option<String>,
    listing: Mutex<Listing>,
}

impl Zones {
    /// Zones found by name, or the one zone `fixed_id`; `account` limits
    /// the listing to one account.
    pub(crate) fn new(fixed_id: Option<String>, account: Option<String>) -> Self {
        Self {
            fixed_id,
            account,
            listing: Mutex::new(Listing::default()),
        }
    }

    /// Forgets every zone, after the API said one no longer exists.
    pub(crate) async fn forget(&self) {
        let mut listing = self.listing.lock().await;
        if listing.at.is_some() {
            info!("a zone ID is no longer valid; the zones are listed again");
        }
        *listing = Listing::default();
    }

    /// The zone that holds `name`.
    pub(crate) async fn zone_for(&self, api: &Api, name: &DomainName) -> Result<Zone, ZoneError> {
        let mut listing = self.listing.lock().await;
        if listing.at.is_none() {
            self.load(api, &mut listing).await?;
        }
        if let Some(zone) = self.find(&listing.zones, name) {
            return Ok(zone);
        }
        if self.fixed_id.is_none() && listing.at.is_some_and(|at| at.elapsed() >= RELIST_AFTER) {
            self.load(api, &mut listing).await?;
            if let Some(zone) = self.find(&listing.zones, name) {
                return Ok(zone);
            }
        }
        Err(ZoneError::NotFound(self.not_found(&listing.zones, name)))
    }

    fn find(&self, zones: &[Zone], name: &DomainName) -> Option<Zone> {
        name.ancestors()
            .find_map(|candidate| {
                zones
                    .iter()
                    .find(|z| z.name.eq_ignore_ascii_case(candidate))
            })
            .cloned()
    }

    fn not_found(&self, zones: &[Zone], name: &DomainName) -> String {
        match (&self.fixed_id, zones.first()) {
            (Some(id), Some(zone)) => format!(
                "{name} is not inside the zone {} (DDNS_CLOUDFLARE_ZONE_ID={id})",
                zone.name
            ),
            _ => {
                let tried: Vec<&str> = name.ancestors().collect();
                format!(
                    "no zone the API token can see holds {name} (tried {}); check the name, and give the token Zone:Read for its zone",
                    tried.join(", ")
                )
            }
        }
    }

    async fn load(&self, api: &Api, listing: &mut Listing) -> Result<(), ZoneError> {
        let zones = match &self.fixed_id {
            Some(id) => vec![
                api.get::<Zone>(&["zones", id], &[])
                    .await
                    .map_err(ZoneError::Api)?,
            ],
            None => {
                let mut query = Vec::new();
                if let Some(account) = &self.account {
                    query.push(("account.id", account.clone()));
                }
                api.list::<Zone>(&["zones"], &query, ZONES_PER_PAGE)
                    .await
                    .map_err(ZoneError::Api)?
            }
        };
        for zone in &zones {
            if zone.status.as_deref().is_some_and(|s| s != "active") {
                warn!(zone = %zone.name, status = zone.status.as_deref().unwrap_or_default(), "the zone is not active at Cloudflare; its records are written but may not be served");
            }
        }
        debug!(zones = zones.len(), "zones listed");
        listing.zones = zones;
        listing.at = Some(Instant::now());
        Ok(())
    }
}
