//! `DNSZone`: a zone, its SOA settings, which servers get it and how.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::Condition;

/// Host names: letters, digits, `-` and `.`, an optional trailing dot.
pub const HOST_PATTERN: &str = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$";

/// A DNS zone. Records refer to it by its `metadata.name`.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "ddns.dev",
    version = "v1alpha1",
    kind = "DNSZone",
    doc = "A DNS zone managed by ddns-operator: its SOA settings and name servers, which Bind9Instances receive it, and how.",
    plural = "dnszones",
    namespaced,
    status = "DNSZoneStatus",
    shortname = "zone",
    category = "ddns",
    printcolumn(name = "Zone", type_ = "string", json_path = ".spec.zoneName"),
    printcolumn(name = "Delivery", type_ = "string", json_path = ".spec.delivery"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(name = "Records", type_ = "integer", json_path = ".status.recordCount"),
    printcolumn(
        name = "Serial",
        type_ = "integer",
        json_path = ".status.serial",
        priority = 1
    ),
    printcolumn(
        name = "Message",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::schema::kubernetes_integers)]
pub struct DNSZoneSpec {
    /// The zone's name, such as `example.com`.
    #[schemars(length(min = 1, max = 254), regex(pattern = HOST_PATTERN))]
    pub zone_name: String,
    /// Default TTL of the zone's records, in seconds.
    #[serde(default = "default_ttl")]
    #[schemars(range(min = 0, max = 2_147_483_647))]
    pub ttl: u32,
    /// The SOA settings; the serial is managed.
    pub soa: SoaSpec,
    /// The apex NS records (fully qualified host names).
    #[schemars(length(min = 1, max = 32), inner(length(min = 1, max = 254), regex(pattern = HOST_PATTERN)))]
    pub name_servers: Vec<String>,
    /// Which `Bind9Instance`s of the namespace receive the zone (updates
    /// go to primaries only). An empty selector selects every instance.
    #[serde(default)]
    pub instance_selector: InstanceSelector,
    /// `update` (RFC 2136 to running servers) or `zonefile`.
    #[serde(default)]
    pub delivery: Delivery,
}

fn default_ttl() -> u32 {
    3600
}

/// The SOA fields a user sets.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoaSpec {
    /// The primary name server (MNAME).
    #[schemars(length(min = 1, max = 254), regex(pattern = HOST_PATTERN))]
    pub primary_ns: String,
    /// The responsible person's e-mail address; written as the SOA mailbox.
    #[schemars(length(min = 3, max = 254), regex(pattern = r"^[^@\s]+@[^@\s]+$"))]
    pub admin_email: String,
    /// Seconds between secondary refreshes.
    #[serde(default = "default_refresh")]
    #[schemars(range(min = 1, max = 2_147_483_647))]
    pub refresh: u32,
    /// Seconds between retries of a failed refresh.
    #[serde(default = "default_retry")]
    #[schemars(range(min = 1, max = 2_147_483_647))]
    pub retry: u32,
    /// Seconds after which secondaries stop answering without a refresh.
    #[serde(default = "default_expire")]
    #[schemars(range(min = 1, max = 2_147_483_647))]
    pub expire: u32,
    /// TTL of negative answers.
    #[serde(default = "default_negative_ttl")]
    #[schemars(range(min = 0, max = 2_147_483_647))]
    pub negative_ttl: u32,
}

fn default_refresh() -> u32 {
    3600
}
fn default_retry() -> u32 {
    600
}
fn default_expire() -> u32 {
    1_209_600
}
fn default_negative_ttl() -> u32 {
    300
}

/// How a zone reaches BIND.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    /// RFC 2136 updates signed with TSIG to each selected primary; only
    /// the managed RRsets change.
    #[default]
    Update,
    /// The whole zone as a file in the operator's zone directory, checked
    /// and then loaded with a reload.
    Zonefile,
}

/// A label selector (the Kubernetes `LabelSelector` shape).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceSelector {
    /// Labels that must all be present with these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Requirements that must all hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<SelectorRequirement>,
}

/// One requirement of a selector.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SelectorRequirement {
    /// The label's key.
    #[schemars(length(min = 1, max = 317))]
    pub key: String,
    /// The operator.
    pub operator: SelectorOperator,
    /// The values (required for `In` and `NotIn`, empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// A selector operator.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum SelectorOperator {
    /// The label's value is one of the values.
    In,
    /// The label is absent or its value is none of the values.
    NotIn,
    /// The label is present.
    Exists,
    /// The label is absent.
    DoesNotExist,
}

/// What the operator last did with a zone.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::schema::kubernetes_integers)]
pub struct DNSZoneStatus {
    /// `Ready` and `Degraded`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// How many records the zone holds, apart from the SOA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_count: Option<u32>,
    /// The serial of the last zone file written (zonefile delivery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<u32>,
    /// The RRsets the operator manages on the servers, as `name TYPE`
    /// (update delivery); deleting the zone removes exactly these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed: Vec<String>,
    /// The result for each selected instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<InstanceResult>,
    /// Records set aside, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
    /// The zone name and delivery that `managed` and `serial` belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<DeliveredTo>,
    /// What deliveries under an earlier `zoneName` or `delivery` left on
    /// the servers, still to be removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leftovers: Vec<Leftover>,
}

/// Where a zone was delivered: its name and how.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredTo {
    /// The zone's name then (`spec.zoneName`).
    pub zone_name: String,
    /// The delivery then (`spec.delivery`).
    pub delivery: Delivery,
}

/// An earlier delivery of the zone to remove: the operator retries until
/// it is gone, and gives up with a `CleanupAbandoned` Event after the
/// cleanup timeout.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Leftover {
    /// The zone's name then.
    pub zone_name: String,
    /// The delivery then: `update` removes `managed` from the selected
    /// primaries, `zonefile` the zone's file and its include stanza.
    pub delivery: Delivery,
    /// The RRsets managed then, as `name TYPE` (update delivery).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed: Vec<String>,
    /// The `Bind9Instance`s to remove them from, when the zone left them
    /// (`spec.instanceSelector` no longer selects them); empty: the
    /// primaries the zone selects.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<String>,
    /// When the change was seen (RFC 3339).
    pub since: String,
}

/// The outcome of delivering a zone to one instance.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceResult {
    /// The `Bind9Instance`'s name.
    pub name: String,
    /// `Delivered`, `Failed` or `Skipped` (secondaries). How many RRsets
    /// a delivery changed goes to Events and metrics, not here, so that a
    /// round with nothing to do writes no status.
    pub result: String,
    /// Details.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
