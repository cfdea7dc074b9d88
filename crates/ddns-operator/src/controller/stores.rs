//! Watch caches of the eight record kinds, read as one collection.

use std::fmt::Debug;
use std::sync::Arc;

use kube::api::ApiResource;
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};

use crate::crd::{
    AAAARecord, ARecord, CAARecord, CNAMERecord, MXRecord, NSRecord, RecordStatus, SRVRecord,
    TXTRecord,
};
use crate::model::{HasRecordSpec, RecordObject};

/// Access to a record resource's status (implemented for the eight kinds).
pub trait HasRecordStatus {
    /// The status, if any.
    fn record_status(&self) -> Option<&RecordStatus>;
}

macro_rules! has_record_status {
    ($($kind:ty),*) => {
        $(impl HasRecordStatus for $kind {
            fn record_status(&self) -> Option<&RecordStatus> {
                self.status.as_ref()
            }
        })*
    };
}

has_record_status!(
    ARecord,
    AAAARecord,
    CNAMERecord,
    TXTRecord,
    MXRecord,
    NSRecord,
    SRVRecord,
    CAARecord
);

/// A record as the controller sees it: the zone's view of it plus what is
/// needed to patch it.
#[derive(Debug, Clone)]
pub struct TrackedRecord {
    /// The zone's view.
    pub object: RecordObject,
    /// Where its API lives.
    pub resource: ApiResource,
    /// `metadata.finalizers`.
    pub finalizers: Vec<String>,
    /// The current status.
    pub status: Option<RecordStatus>,
    /// `metadata.generation`.
    pub generation: Option<i64>,
}

impl TrackedRecord {
    /// Whether the record belongs to zone `name` now.
    pub fn is_member(&self, name: &str) -> bool {
        self.object.zone_ref == name
    }

    /// The zone the record was last delivered into (`status.zone`).
    pub fn delivered_zone(&self) -> Option<&str> {
        self.status.as_ref().and_then(|s| s.zone.as_deref())
    }

    /// Whether it carries the operator's finalizer.
    pub fn has_finalizer(&self) -> bool {
        self.finalizers.iter().any(|f| f == super::FINALIZER)
    }
}

trait AnyStore: Send + Sync {
    fn ready(&self) -> futures_util::future::BoxFuture<'static, bool>;
    fn collect(&self, keep: &dyn Fn(&TrackedRecord) -> bool, out: &mut Vec<TrackedRecord>);
    fn find(&self, namespace: &str, name: &str) -> Option<TrackedRecord>;
    fn kind(&self) -> &'static str;
}

struct KindStore<K: Resource<DynamicType = ()> + Clone + 'static> {
    store: Store<K>,
    kind: &'static str,
}

fn track<K>(object: &K) -> TrackedRecord
where
    K: Resource<DynamicType = ()> + HasRecordSpec + HasRecordStatus,
{
    TrackedRecord {
        object: RecordObject::of(object),
        resource: ApiResource::erase::<K>(&()),
        finalizers: object.finalizers().to_vec(),
        status: object.record_status().cloned(),
        generation: object.meta().generation,
    }
}

impl<K> AnyStore for KindStore<K>
where
    K: Resource<DynamicType = ()> + HasRecordSpec + HasRecordStatus + Clone + Debug + Send + Sync,
{
    fn ready(&self) -> futures_util::future::BoxFuture<'static, bool> {
        let store = self.store.clone();
        Box::pin(async move { store.wait_until_ready().await.is_ok() })
    }

    fn collect(&self, keep: &dyn Fn(&TrackedRecord) -> bool, out: &mut Vec<TrackedRecord>) {
        for object in self.store.state() {
            let tracked = track(object.as_ref());
            if keep(&tracked) {
                out.push(tracked);
            }
        }
    }

    fn find(&self, namespace: &str, name: &str) -> Option<TrackedRecord> {
        let reference = kube::runtime::reflector::ObjectRef::<K>::new(name).within(namespace);
        self.store
            .get(&reference)
            .map(|object| track(object.as_ref()))
    }

    fn kind(&self) -> &'static str {
        self.kind
    }
}

/// The caches of every record kind.
#[derive(Clone, Default)]
pub struct RecordStores {
    stores: Vec<Arc<dyn AnyStore>>,
}

impl RecordStores {
    /// Adds the cache of one kind (`kind` is its name, such as `ARecord`).
    pub fn add<K>(&mut self, kind: &'static str, store: Store<K>)
    where
        K: Resource<DynamicType = ()>
            + HasRecordSpec
            + HasRecordStatus
            + Clone
            + Debug
            + Send
            + Sync
            + 'static,
    {
        self.stores.push(Arc::new(KindStore { store, kind }));
    }

    /// Waits until every cache holds its first full listing; `false` when
    /// a cache's writer is gone.
    pub async fn wait_ready(&self) -> bool {
        for store in &self.stores {
            if !store.ready().await {
                return false;
            }
        }
        true
    }

    /// Every record of namespace `namespace` that belongs to zone `zone`
    /// (its `metadata.name`) or was last delivered into it.
    pub fn for_zone(&self, namespace: &str, zone: &str) -> Vec<TrackedRecord> {
        let keep = |r: &TrackedRecord| {
            r.object.namespace == namespace
                && (r.is_member(zone) || r.delivered_zone() == Some(zone))
        };
        let mut out = Vec::new();
        for store in &self.stores {
            store.collect(&keep, &mut out);
        }
        out
    }

    /// One record by kind, namespace and name.
    pub fn find(&self, kind: &str, namespace: &str, name: &str) -> Option<TrackedRecord> {
        self.stores
            .iter()
            .find(|s| s.kind() == kind)
            .and_then(|s| s.find(namespace, name))
    }
}
