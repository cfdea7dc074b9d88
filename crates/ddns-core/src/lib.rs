//! The ddns engine and the contracts its plug-ins implement.
//!
//! `ddns-core` turns a stream of observed addresses into DNS records that hold
//! them. It owns every decision: which address is trusted, when a record is
//! written, how failures are retried, what is persisted. Address sources,
//! DNS providers and state stores are plug-ins behind the traits defined
//! here, resolved by name through a [`Registry`].
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use ddns_core::{DdnsEngine, EngineSettings, MemoryStateStore, Record, IpFamily, DomainName};
//! # async fn demo(provider: Arc<dyn ddns_core::DnsProvider>, source: Arc<dyn ddns_core::IpSource>) -> ddns_core::Result<()> {
//! let name: DomainName = "home.example.com".parse().expect("valid name");
//! let settings = EngineSettings::new(vec![Record::new(name, IpFamily::V4)]);
//! let engine = DdnsEngine::new(settings, provider, Arc::new(MemoryStateStore::default()));
//! engine.run(vec![ddns_core::SourceBinding::new(source, vec![IpFamily::V4])], std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! # Guarantees
//!
//! - Only an address a source reported is ever written; losing an address
//!   never deletes or blanks a record.
//! - The last observed address of each family always ends up published,
//!   however many events arrive and however the minimum interval falls.
//! - Memory is bounded: address events coalesce once the intake is full.
//! - An idle engine arms no timer except the optional drift re-check.
//!
//! # Caveats
//!
//! - One provider per engine; run several engines for several providers.
//! - Nothing here installs a `tracing` subscriber: that is the binary's job.

mod address;
pub mod config;
pub mod detect;
mod engine;
mod error;
pub mod health;
mod intake;
mod observer;
mod provider;
mod record;
mod registry;
mod secret;
mod source;
mod state;
mod verify;
pub mod zone;

pub use address::{AddressCandidate, AddressClass, AddressSelector, SelectionPolicy, classify};
pub use engine::{
    DdnsEngine, EngineSettings, OnceReport, ReconfirmHandle, RecordOutcome, SourceBinding,
};
pub use error::{Error, Result};
pub use intake::IntakeStats;
pub use observer::{EngineEvent, EngineObserver};
pub use provider::{DnsProvider, ErrorScope, ProviderError, ProviderErrorKind, RecordChange};
pub use record::{DomainName, HostId, IpFamily, Record};
pub use registry::{
    ProviderFactory, ProviderPlan, Registry, Setting, SourceFactory, SourcePlan, StateStoreFactory,
    StateStorePlan, VerifierFactory, VerifierPlan,
};
pub use secret::{REDACTED, Secret};
pub use source::{AddressSnapshot, IpEvent, IpSource, SourceError};
pub use state::{
    FileStateStore, MemoryStateStore, RecordState, STATE_FORMAT_VERSION, StateContributor,
    StateSnapshot, StateStore,
};
pub use verify::{Observation, Verifier};
