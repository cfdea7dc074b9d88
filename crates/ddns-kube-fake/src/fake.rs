//! The handle tests hold: it makes services and clients and inspects and
//! steers the server state.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::Resource;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::watch;

use crate::log::{RecordedRequest, RequestMatcher};
use crate::resource::ResourceKind;
use crate::service::FakeService;
use crate::state::{Change, State};
use crate::{Error, Result};

/// What wakes open watch streams.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Signal {
    pub(crate) rv: u64,
    pub(crate) closes: u64,
    pub(crate) bookmarks: u64,
}

#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
    pub(crate) signal: watch::Sender<Signal>,
    pub(crate) open_watches: AtomicUsize,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide the
        // state from the assertions that follow.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes watches after a change to the state.
    pub(crate) fn notify(&self, rv: u64) {
        self.signal.send_modify(|s| s.rv = rv);
    }
}

/// An in-process fake Kubernetes API server: a handle to the shared state.
///
/// Clones share the same server. See the crate documentation for what it
/// implements.
#[derive(Debug, Clone)]
pub struct FakeApi {
    shared: Arc<Shared>,
}

impl Default for FakeApi {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeApi {
    /// A server with the built-in kinds registered and no objects.
    pub fn new() -> Self {
        let (signal, _) = watch::channel(Signal::default());
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new()),
                signal,
                open_watches: AtomicUsize::new(0),
            }),
        }
    }

    /// The `tower::Service` to build a `kube::Client` on.
    pub fn service(&self) -> FakeService {
        FakeService::new(Arc::clone(&self.shared))
    }

    /// A `kube::Client` on this server with `default` as its namespace.
    ///
    /// Must be called inside a Tokio runtime (the client spawns its buffer).
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.service(), "default")
    }

    /// Serves a resource kind (like installing a CRD); replaces a kind with
    /// the same version and plural.
    pub fn register(&self, kind: ResourceKind) -> &Self {
        self.shared.lock().registry.register(kind);
        self
    }

    /// Serves what `crd` defines, as a real server does once the CRD is
    /// applied ([`ResourceKind::from_crd`]).
    pub fn install_crd(
        &self,
        crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ) -> &Self {
        for kind in ResourceKind::from_crd(crd) {
            self.register(kind);
        }
        self
    }

    /// Stores an object directly, as the server state, and returns it as
    /// stored: `uid`, `creationTimestamp`, `generation` are filled in when
    /// absent, `resourceVersion` is set, `.status` and `deletionTimestamp`
    /// are kept. A namespaced object without a namespace goes to `default`.
    /// Watches see it as `ADDED` (or `MODIFIED` when it replaced one).
    pub fn insert<T: Serialize>(&self, object: &T) -> Result<Value> {
        let value =
            serde_json::to_value(object).map_err(|source| Error::SerializeFailed { source })?;
        let mut state = self.shared.lock();
        let stored = state.insert(value)?;
        let rv = state.resource_version();
        drop(state);
        self.shared.notify(rv);
        Ok(stored)
    }

    /// Removes an object outright, finalizers or not (as if someone forced
    /// it out of etcd); watches see `DELETED`. Returns its last state.
    pub fn remove(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let mut state = self.shared.lock();
        let removed = state.remove(api_version, plural, namespace, name);
        let rv = state.resource_version();
        drop(state);
        self.shared.notify(rv);
        removed
    }

    /// One stored object as JSON.
    pub fn get_json(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        self.shared
            .lock()
            .lookup(api_version, plural, namespace, name)
    }

    /// The stored objects of one resource (in one namespace, or all), in
    /// namespace and name order.
    pub fn list_json(
        &self,
        api_version: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Vec<Value> {
        self.shared
            .lock()
            .lookup_all(api_version, plural, namespace)
    }

    /// One stored object as a kube type.
    pub fn get<K>(&self, namespace: Option<&str>, name: &str) -> Result<Option<K>>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let api_version = K::api_version(&());
        let plural = K::plural(&());
        self.get_json(&api_version, &plural, namespace, name)
            .map(|v| {
                serde_json::from_value(v).map_err(|source| Error::DeserializeFailed {
                    resource: plural.to_string(),
                    source,
                })
            })
            .transpose()
    }

    /// The stored objects of a kube type (in one namespace, or all).
    pub fn list<K>(&self, namespace: Option<&str>) -> Result<Vec<K>>
    where
        K: Resource<DynamicType = ()> + DeserializeOwned,
    {
        let api_version = K::api_version(&());
        let plural = K::plural(&());
        self.list_json(&api_version, &plural, namespace)
            .into_iter()
            .map(|v| {
                serde_json::from_value(v).map_err(|source| Error::DeserializeFailed {
                    resource: plural.to_string(),
                    source,
                })
            })
            .collect()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.lock().resource_version()
    }

    /// Every change stored so far, oldest first (compaction does not shorten
    /// this list; it only stops watches from replaying it).
    pub fn changes(&self) -> Vec<Change> {
        self.shared.lock().history().to_vec()
    }

    /// Expires every resourceVersion handed out so far, as etcd compaction
    /// would: open watches get an `ERROR` event with `410 Expired` and end,
    /// and a watch from an older version gets the same, so clients relist.
    pub fn compact(&self) {
        let mut state = self.shared.lock();
        state.compact();
        let rv = state.resource_version();
        drop(state);
        self.shared.notify(rv);
    }

    /// Ends every open watch stream without an error, as a dropped
    /// connection would; clients re-watch from their last resourceVersion.
    pub fn close_watches(&self) {
        self.shared.signal.send_modify(|s| s.closes += 1);
    }

    /// Sends a `BOOKMARK` at the current resourceVersion to every open watch
    /// that asked for bookmarks.
    pub fn send_bookmarks(&self) {
        self.shared.signal.send_modify(|s| s.bookmarks += 1);
    }

    /// How many watch streams are open now.
    pub fn open_watches(&self) -> usize {
        self.shared.open_watches.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` watch streams are open (polling; meant for
    /// tests that must not change objects before their watcher listens).
    pub async fn wait_for_watches(&self, n: usize) {
        while self.open_watches() < n {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Every request received so far, in the order they were handled.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().log.requests.clone()
    }

    /// The requests a matcher selects, in order.
    pub fn requests_matching(&self, matcher: &RequestMatcher) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .log
            .requests
            .iter()
            .filter(|r| matcher.matches(r))
            .cloned()
            .collect()
    }

    /// How many requests a matcher selects.
    pub fn count(&self, matcher: &RequestMatcher) -> usize {
        self.shared
            .lock()
            .log
            .requests
            .iter()
            .filter(|r| matcher.matches(r))
            .count()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.shared.lock().log.requests.clear();
    }

    /// Answers the next request the matcher selects with a `Status` failure
    /// of this HTTP code (`409` Conflict, `500` InternalError, ...), without
    /// touching the state. Failures are used up in the order they were added.
    pub fn fail_next(&self, matcher: RequestMatcher, code: u16) {
        self.fail_times(matcher, code, 1);
    }

    /// Like [`FakeApi::fail_next`] for the next `times` matching requests.
    pub fn fail_times(&self, matcher: RequestMatcher, code: u16, times: usize) {
        self.shared.lock().log.add_fault(matcher, code, times);
    }
}
