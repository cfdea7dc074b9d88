//! Name → implementation lookup for providers, sources and state stores.
//!
//! The daemon never matches on a type name: it asks the registry. Each
//! factory validates its own variables (pure, no I/O) and returns a plan;
//! only the plan's `build` step touches the system or the network.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{ConfigError, Env};
use crate::error::Result;
use crate::provider::DnsProvider;
use crate::record::IpFamily;
use crate::source::IpSource;
use crate::state::{StateStore, file::FileStoreFactory, memory::MemoryStoreFactory};
use crate::verify::Verifier;

/// One line of the effective configuration, as `ddnsd check` prints it.
/// Secret values are already redacted by the plan that produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The variable (or a descriptive key).
    pub name: String,
    /// Its effective value, redacted when secret.
    pub value: String,
}

impl Setting {
    /// A setting line.
    pub fn new(name: impl Into<String>, value: impl ToString) -> Self {
        Self {
            name: name.into(),
            value: value.to_string(),
        }
    }
}

/// Makes providers of one type.
pub trait ProviderFactory: Send + Sync {
    /// Every variable this plug-in reads (including `_FILE` forms), so
    /// that unknown ones can be reported whatever the configuration.
    fn variables(&self) -> &'static [&'static str] {
        &[]
    }

    /// The name users give in `DDNS_PROVIDER_TYPE`.
    fn name(&self) -> &'static str;

    /// Reads and validates this provider's variables.
    fn configure(&self, env: &Env) -> Result<Box<dyn ProviderPlan>, ConfigError>;
}

/// A validated provider configuration, ready to build.
#[async_trait]
pub trait ProviderPlan: Send + Sync {
    /// The effective settings, secrets redacted.
    fn settings(&self) -> Vec<Setting>;

    /// Builds the provider (may open sockets, never writes DNS).
    async fn build(self: Box<Self>) -> Result<Arc<dyn DnsProvider>>;
}

/// Makes address sources of one type.
pub trait SourceFactory: Send + Sync {
    /// Every variable this plug-in reads (including `_FILE` forms), so
    /// that unknown ones can be reported whatever the configuration.
    fn variables(&self) -> &'static [&'static str] {
        &[]
    }

    /// The name users give in `DDNS_IP_SOURCE_TYPE`.
    fn name(&self) -> &'static str;

    /// Reads and validates this source's variables for the given families.
    fn configure(
        &self,
        env: &Env,
        families: &[IpFamily],
    ) -> Result<Box<dyn SourcePlan>, ConfigError>;
}

/// A validated source configuration, ready to build.
#[async_trait]
pub trait SourcePlan: Send + Sync {
    /// The effective settings, secrets redacted.
    fn settings(&self) -> Vec<Setting>;

    /// Builds the source.
    async fn build(self: Box<Self>) -> Result<Arc<dyn IpSource>>;
}

/// Makes state stores of one type.
pub trait StateStoreFactory: Send + Sync {
    /// Every variable this plug-in reads (including `_FILE` forms), so
    /// that unknown ones can be reported whatever the configuration.
    fn variables(&self) -> &'static [&'static str] {
        &[]
    }

    /// The name users give in `DDNS_STATE_STORE_TYPE`.
    fn name(&self) -> &'static str;

    /// Reads and validates this store's variables.
    fn configure(&self, env: &Env) -> Result<Box<dyn StateStorePlan>, ConfigError>;
}

/// A validated state store configuration, ready to open.
pub trait StateStorePlan: Send + Sync {
    /// The effective settings.
    fn settings(&self) -> Vec<Setting>;

    /// Opens the store, taking its lock where it has one.
    fn open(self: Box<Self>) -> Result<Arc<dyn StateStore>>;
}

/// Makes verifiers of one kind.
pub trait VerifierFactory: Send + Sync {
    /// The name users give in `DDNS_VERIFY`.
    fn name(&self) -> &'static str;

    /// Every variable this plug-in reads.
    fn variables(&self) -> &'static [&'static str] {
        &[]
    }

    /// Reads and validates this verifier's variables.
    fn configure(&self, env: &Env) -> Result<Box<dyn VerifierPlan>, ConfigError>;
}

/// A validated verifier configuration, ready to build.
#[async_trait]
pub trait VerifierPlan: Send + Sync {
    /// The effective settings, secrets redacted.
    fn settings(&self) -> Vec<Setting>;

    /// Builds the verifier.
    async fn build(self: Box<Self>) -> Result<Arc<dyn Verifier>>;
}

/// The plug-ins known to a binary, by name.
#[derive(Default)]
pub struct Registry {
    providers: BTreeMap<&'static str, Box<dyn ProviderFactory>>,
    sources: BTreeMap<&'static str, Box<dyn SourceFactory>>,
    stores: BTreeMap<&'static str, Box<dyn StateStoreFactory>>,
    verifiers: BTreeMap<&'static str, Box<dyn VerifierFactory>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding the core's own state stores (`memory`, `file`).
    pub fn with_builtin_stores() -> Self {
        let mut registry = Self::new();
        registry.register_store(MemoryStoreFactory);
        registry.register_store(FileStoreFactory);
        registry
    }

    /// Adds a provider type.
    pub fn register_provider(&mut self, factory: impl ProviderFactory + 'static) -> &mut Self {
        self.providers.insert(factory.name(), Box::new(factory));
        self
    }

    /// Adds a source type.
    pub fn register_source(&mut self, factory: impl SourceFactory + 'static) -> &mut Self {
        self.sources.insert(factory.name(), Box::new(factory));
        self
    }

    /// Adds a state store type.
    pub fn register_store(&mut self, factory: impl StateStoreFactory + 'static) -> &mut Self {
        self.stores.insert(factory.name(), Box::new(factory));
        self
    }

    /// Adds a verifier kind.
    pub fn register_verifier(&mut self, factory: impl VerifierFactory + 'static) -> &mut Self {
        self.verifiers.insert(factory.name(), Box::new(factory));
        self
    }

    /// The verifier factory called `name`.
    pub fn verifier(
        &self,
        variable: &str,
        name: &str,
    ) -> Result<&dyn VerifierFactory, ConfigError> {
        lookup(&self.verifiers, variable, name, "verifier").map(|f| f.as_ref())
    }

    /// The provider factory called `name`; `variable` is named in the error.
    pub fn provider(
        &self,
        variable: &str,
        name: &str,
    ) -> Result<&dyn ProviderFactory, ConfigError> {
        lookup(&self.providers, variable, name, "provider").map(|f| f.as_ref())
    }

    /// The source factory called `name`.
    pub fn source(&self, variable: &str, name: &str) -> Result<&dyn SourceFactory, ConfigError> {
        lookup(&self.sources, variable, name, "address source").map(|f| f.as_ref())
    }

    /// The state store factory called `name`.
    pub fn store(&self, variable: &str, name: &str) -> Result<&dyn StateStoreFactory, ConfigError> {
        lookup(&self.stores, variable, name, "state store").map(|f| f.as_ref())
    }

    /// Every variable the core and the registered plug-ins read.
    pub fn known_variables(&self) -> Vec<&'static str> {
        let mut known: Vec<&'static str> = crate::config::CORE_VARIABLES.to_vec();
        known.extend(
            self.providers
                .values()
                .flat_map(|f| f.variables().iter().copied()),
        );
        known.extend(
            self.sources
                .values()
                .flat_map(|f| f.variables().iter().copied()),
        );
        known.extend(
            self.stores
                .values()
                .flat_map(|f| f.variables().iter().copied()),
        );
        known.extend(
            self.verifiers
                .values()
                .flat_map(|f| f.variables().iter().copied()),
        );
        known.sort_unstable();
        known.dedup();
        known
    }

    /// The registered provider names, sorted.
    pub fn provider_names(&self) -> Vec<&'static str> {
        self.providers.keys().copied().collect()
    }
}

fn lookup<'a, T>(
    map: &'a BTreeMap<&'static str, T>,
    variable: &str,
    name: &str,
    what: &str,
) -> Result<&'a T, ConfigError> {
    let wanted = name.trim().to_ascii_lowercase();
    map.get(wanted.as_str()).ok_or_else(|| {
        let known: Vec<&str> = map.keys().copied().collect();
        ConfigError::new(
            variable,
            format!(
                "unknown {what} '{}'; this build knows: {}",
                crate::config::excerpt(name, 40),
                known.join(", ")
            ),
        )
    })
}
