//! The seam between the controller and delivery: what a reconcile asks of
//! the servers and the zone directory. The operator plugs in the RFC 2136
//! and zone-file delivery of [`crate::delivery`]; tests may plug in others.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use async_trait::async_trait;
use ddns_core::zone::{Assembly, Date, ZoneName};
use ddns_dns::TsigKey;

/// One primary server and the key that signs updates to it.
pub struct UpdateTarget {
    /// The `Bind9Instance`'s name.
    pub instance: String,
    /// Where it listens.
    pub server: SocketAddr,
    /// The TSIG key.
    pub key: TsigKey,
}

/// What an update-mode delivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateResult {
    /// RRsets changed (0: nothing was sent).
    pub changes: u32,
    /// The RRsets now managed on the server, as `name TYPE`.
    pub managed: BTreeSet<String>,
}

/// What a zone-file delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileResult {
    /// The serial of the file on disk.
    pub serial: u32,
    /// Whether a new file was written (and the zone reloaded).
    pub written: bool,
}

/// A failed delivery: the message for status and Events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryFailure {
    /// What went wrong, naming the server or file.
    pub message: String,
    /// Whether trying again may help (a server down) or a person must act
    /// (a refused key).
    pub transient: bool,
}

/// Delivery as the controller uses it.
#[async_trait]
pub trait Deliverer: Send + Sync {
    /// Brings the managed RRsets on one server in line with `assembly`;
    /// `managed` is what was managed before, so RRsets no longer wanted are
    /// deleted.
    async fn update(
        &self,
        target: &UpdateTarget,
        assembly: &Assembly,
        managed: &BTreeSet<String>,
    ) -> Result<UpdateResult, DeliveryFailure>;

    /// Deletes exactly the `managed` RRsets of `zone` from one server.
    async fn remove(
        &self,
        target: &UpdateTarget,
        zone: &ZoneName,
        managed: &BTreeSet<String>,
    ) -> Result<u32, DeliveryFailure>;

    /// Writes the zone file when its content changed and reloads the zone.
    async fn write_zone(
        &self,
        assembly: &Assembly,
        previous_serial: Option<u32>,
        today: Date,
    ) -> Result<FileResult, DeliveryFailure>;

    /// Removes a zone's file.
    async fn remove_zone(&self, zone: &ZoneName) -> Result<(), DeliveryFailure>;

    /// Writes the list of zone-file zones for named.conf and makes BIND
    /// read it when it changed; returns whether it changed.
    async fn publish_zone_list(&self, zones: &[ZoneName]) -> Result<bool, DeliveryFailure>;
}

/// The real delivery: RFC 2136 to BIND ([`crate::delivery::update`]) and
/// zone files ([`crate::delivery::zonefile`]).
pub struct BindDeliverer {
    files: Option<crate::delivery::ZoneFileTarget>,
    dns_timeout: std::time::Duration,
}

impl BindDeliverer {
    /// Delivery with the operator's settings.
    pub fn new(config: &crate::config::OperatorConfig) -> Self {
        let files = config.zone_dir.as_ref().map(|dir| {
            let mut target = crate::delivery::ZoneFileTarget::new(dir.clone());
            target.reload_command = config.reload_command.clone();
            target.reconfig_command = config.reconfig_command.clone();
            target.checkzone = config.checkzone.clone();
            target
        });
        Self {
            files,
            dns_timeout: config.dns_timeout,
        }
    }

    fn files(&self) -> Result<&crate::delivery::ZoneFileTarget, DeliveryFailure> {
        self.files.as_ref().ok_or_else(|| DeliveryFailure {
            message: "zonefile delivery needs DDNS_OPERATOR_ZONE_DIR, the directory BIND reads zone files from".into(),
            transient: false,
        })
    }

    fn target(&self, target: &UpdateTarget) -> crate::delivery::UpdateTarget {
        let mut out = crate::delivery::UpdateTarget::new(target.server, target.key.clone());
        out.query_timeout = self.dns_timeout;
        out.update_timeout = self.dns_timeout.saturating_mul(2);
        out
    }
}

fn failure(error: crate::delivery::DeliveryError) -> DeliveryFailure {
    DeliveryFailure {
        transient: error.is_transient(),
        message: error.to_string(),
    }
}

/// Reads `name TYPE` strings from a status; entries that do not parse are
/// dropped (a status edited by hand must not stop delivery).
fn parse_managed(managed: &BTreeSet<String>) -> BTreeSet<crate::delivery::ManagedRrset> {
    managed
        .iter()
        .filter_map(|entry| entry.parse().ok())
        .collect()
}

#[async_trait]
impl Deliverer for BindDeliverer {
    async fn update(
        &self,
        target: &UpdateTarget,
        assembly: &Assembly,
        managed: &BTreeSet<String>,
    ) -> Result<UpdateResult, DeliveryFailure> {
        let report = crate::delivery::update::deliver(
            &self.target(target),
            assembly,
            &parse_managed(managed),
        )
        .await
        .map_err(failure)?;
        Ok(UpdateResult {
            changes: u32::try_from(report.changes()).unwrap_or(u32::MAX),
            managed: report.managed.iter().map(ToString::to_string).collect(),
        })
    }

    async fn remove(
        &self,
        target: &UpdateTarget,
        zone: &ZoneName,
        managed: &BTreeSet<String>,
    ) -> Result<u32, DeliveryFailure> {
        let report =
            crate::delivery::update::remove(&self.target(target), zone, &parse_managed(managed))
                .await
                .map_err(failure)?;
        Ok(u32::try_from(report.deleted.len()).unwrap_or(u32::MAX))
    }

    async fn write_zone(
        &self,
        assembly: &Assembly,
        previous_serial: Option<u32>,
        today: Date,
    ) -> Result<FileResult, DeliveryFailure> {
        let report =
            crate::delivery::zonefile::deliver(self.files()?, assembly, previous_serial, today)
                .await
                .map_err(failure)?;
        Ok(FileResult {
            serial: report.serial,
            written: report.outcome == crate::delivery::ZoneFileOutcome::Written,
        })
    }

    async fn remove_zone(&self, zone: &ZoneName) -> Result<(), DeliveryFailure> {
        crate::delivery::zonefile::remove(self.files()?, zone)
            .await
            .map(|_| ())
            .map_err(failure)
    }

    async fn publish_zone_list(&self, zones: &[ZoneName]) -> Result<bool, DeliveryFailure> {
        let Ok(files) = self.files() else {
            // Without a zone directory no zone file was ever written.
            return Ok(false);
        };
        let wanted: BTreeSet<ZoneName> = zones.iter().cloned().collect();
        crate::delivery::zonefile::sync_zones(files, &wanted)
            .await
            .map(|present| present != wanted)
            .map_err(failure)
    }
}
