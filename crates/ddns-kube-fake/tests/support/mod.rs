//! Shared pieces of the fake API server's tests: a small custom resource
//! and helpers for kube errors.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::time::Duration;

use ddns_kube_fake::{FakeApi, ResourceKind};
use kube::CustomResource;
use kube::core::Status;
use serde::{Deserialize, Serialize};

/// A cut-down DNSZone, registered with a status subresource.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[kube(
    group = "ddns.dev",
    version = "v1alpha1",
    kind = "DNSZone",
    namespaced,
    status = "DNSZoneStatus",
    schema = "disabled",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct DNSZoneSpec {
    pub zone_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DNSZoneStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default)]
    pub ready: bool,
}

pub fn zone(name: &str, zone_name: &str) -> DNSZone {
    DNSZone::new(
        name,
        DNSZoneSpec {
            zone_name: zone_name.into(),
            ttl: None,
        },
    )
}

/// A fake with the DNSZone CRD "installed".
pub fn fake_with_zones() -> FakeApi {
    let fake = FakeApi::new();
    fake.register(ResourceKind::of::<DNSZone>().with_status());
    fake
}

/// The `Status` of a `kube::Error::Api`, or a panic naming the error.
pub fn status_of<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Status {
    match result {
        Err(kube::Error::Api(status)) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// Polls `check` until it holds, failing after five seconds.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
