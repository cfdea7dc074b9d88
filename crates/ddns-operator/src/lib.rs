//! ddns-operator: DNS zones and records from Kubernetes resources,
//! delivered to BIND9.

pub mod crd;
pub mod model;
