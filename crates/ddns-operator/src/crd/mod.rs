//! The custom resources of API group `ddns.dev`, version `v1alpha1`.
//!
//! The field names are a contract: manifests and tests outside this
//! repository use them. Schemas come from these types (schemars), with
//! their patterns, ranges and required fields.

// kube's derive takes one `printcolumn(...)` per column, which clippy reads
// as the same attribute repeated.
#![allow(clippy::duplicated_attributes)]

mod instance;
mod records;
pub mod status;
mod zone;

pub use instance::{Bind9Instance, Bind9InstanceSpec, Role, SecretKeyRef, TsigAlgorithmName};
pub use records::{
    AAAARecord, AAAARecordSpec, ARecord, ARecordSpec, CAARecord, CAARecordSpec, CNAMERecord,
    CNAMERecordSpec, MXRecord, MXRecordSpec, NSRecord, NSRecordSpec, OWNER_PATTERN, RecordSpec,
    RecordStatus, SRVRecord, SRVRecordSpec, TXTRecord, TXTRecordSpec,
};
pub use zone::{
    DNSZone, DNSZoneSpec, DNSZoneStatus, Delivery, HOST_PATTERN, InstanceResult, InstanceSelector,
    SelectorOperator, SelectorRequirement, SoaSpec,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD, in the order `ddns-operator crd` prints them.
pub fn all() -> Vec<CustomResourceDefinition> {
    vec![
        Bind9Instance::crd(),
        DNSZone::crd(),
        ARecord::crd(),
        AAAARecord::crd(),
        CNAMERecord::crd(),
        TXTRecord::crd(),
        MXRecord::crd(),
        NSRecord::crd(),
        SRVRecord::crd(),
        CAARecord::crd(),
    ]
}
