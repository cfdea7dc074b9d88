//! ddns-operator: DNS zones and records from Kubernetes resources,
//! delivered to BIND9.

pub mod cli;
pub mod config;
pub mod controller;
pub mod crd;
pub mod delivery;
#[doc(hidden)]
pub mod fuzzing;
pub mod leader;
pub mod logging;
pub mod manifests;
pub mod metrics;
pub mod model;
pub mod run;
