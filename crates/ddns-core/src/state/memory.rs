//! A state store that lives as long as the process.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{StateSnapshot, StateStore};
use crate::config::{ConfigError, Env};
use crate::error::Result;
use crate::registry::{Setting, StateStoreFactory, StateStorePlan};

/// Keeps state in memory only: a restart starts fresh (and reads the
/// provider to learn what is published).
#[derive(Debug, Default)]
pub struct MemoryStateStore {
    snapshot: Mutex<StateSnapshot>,
}

#[async_trait]
impl StateStore for MemoryStateStore {
    fn name(&self) -> &str {
        "memory"
    }

    async fn load(&self) -> Result<StateSnapshot> {
        Ok(self.snapshot.lock().map(|s| s.clone()).unwrap_or_default())
    }

    async fn save(&self, snapshot: &StateSnapshot) -> Result<()> {
        if let Ok(mut current) = self.snapshot.lock() {
            *current = snapshot.clone();
        }
        Ok(())
    }
}

pub(crate) struct MemoryStoreFactory;

struct MemoryPlan;

impl StateStoreFactory for MemoryStoreFactory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn configure(&self, _env: &Env) -> Result<Box<dyn StateStorePlan>, ConfigError> {
        Ok(Box::new(MemoryPlan))
    }
}

impl StateStorePlan for MemoryPlan {
    fn settings(&self) -> Vec<Setting> {
        Vec::new()
    }

    fn open(self: Box<Self>) -> Result<Arc<dyn StateStore>> {
        Ok(Arc::new(MemoryStateStore::default()))
    }
}
