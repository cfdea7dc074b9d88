//! An in-process fake Kubernetes API server for controller tests.
//!
//! No Kubernetes API server can run on the machines this project is built
//! on, so controllers are tested against this fake: a `tower::Service` that
//! a real [`kube::Client`] talks to, so the code under test (kube's `Api`,
//! `watcher`, `Controller`, `finalizer`, kube-lease-manager) runs unchanged.
//! It is generic over resources: objects are stored as JSON keyed by
//! (group/version, plural, namespace, name), and every request is logged so
//! tests can assert exactly which API calls were made, in which order.
//!
//! # Example
//!
//! ```
//! use ddns_kube_fake::{FakeApi, RequestMatcher, Verb};
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kube::api::{Api, Patch, PatchParams, PostParams};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let fake = FakeApi::new();
//! let client = kube::Client::new(fake.service(), "default");
//! let maps: Api<ConfigMap> = Api::default_namespaced(client);
//!
//! let mut cm = ConfigMap::default();
//! cm.metadata.name = Some("settings".into());
//! maps.create(&PostParams::default(), &cm).await?;
//! let patch = serde_json::json!({ "data": { "ttl": "300" } });
//! maps.patch("settings", &PatchParams::default(), &Patch::Merge(&patch)).await?;
//!
//! let stored: ConfigMap = fake.get(Some("default"), "settings")?.expect("stored");
//! assert_eq!(stored.data.unwrap()["ttl"], "300");
//!
//! let calls: Vec<String> = fake.requests().iter().map(|r| r.summary()).collect();
//! assert_eq!(calls, [
//!     "create /api/v1/namespaces/default/configmaps",
//!     "patch /api/v1/namespaces/default/configmaps/settings",
//! ]);
//! assert_eq!(fake.count(&RequestMatcher::verb(Verb::Patch).resource("configmaps")), 1);
//! # Ok(())
//! # }
//! ```
//!
//! # Registering kinds
//!
//! A custom resource is served once its CRD is installed,
//! `fake.install_crd(&DNSZone::crd())` (served versions, scope and `/status`
//! taken from the CRD), or once registered by hand:
//! `fake.register(ResourceKind::of::<DNSZone>().with_status())`. Until then
//! its paths answer the real server's `404` "the server could not find the
//! requested resource". Built in: v1 ConfigMap, Secret, Event, Pod (status),
//! Service (status), ServiceAccount, Namespace (cluster-scoped, status);
//! events.k8s.io/v1 Event; coordination.k8s.io/v1 Lease (server-side apply).
//! [`ResourceKind::namespaced`] and [`ResourceKind::cluster`] describe a kind
//! by hand.
//!
//! # What it implements
//!
//! - **Paths**: `/api/v1/[namespaces/{ns}/]{plural}[/{name}[/status]]` and
//!   `/apis/{group}/{version}/[namespaces/{ns}/]{plural}[/{name}[/status]]`;
//!   a namespaced kind is read across namespaces without `namespaces/{ns}`.
//! - **get, list, watch** with `labelSelector` (`=`, `==`, `!=`, `in`,
//!   `notin`, `key`, `!key`, `>`, `<`) and `fieldSelector` (`=`, `==`, `!=` on
//!   any dotted path, such as `metadata.name`). A list returns everything at
//!   once with the current `metadata.resourceVersion` and no `continue`.
//!   `Accept: application/json;as=PartialObjectMetadata;...` (kube's
//!   `get_metadata`, `list_metadata`, `Api<PartialObjectMeta<K>>` watchers)
//!   answers metadata only.
//! - **resourceVersion**: one global counter; every stored change bumps it
//!   and is kept in a history. A watch from version N replays every change
//!   after N; from none or `0` it first sends `ADDED` for what exists, and
//!   with `sendInitialEvents=true` (kube's streaming lists) a bookmark with
//!   the `k8s.io/initial-events-end` annotation. Objects that stop or start
//!   matching a watch's selectors are reported as `DELETED` / `ADDED`.
//!   `timeoutSeconds` ends the stream (with a final bookmark when
//!   `allowWatchBookmarks=true`). [`FakeApi::compact`] expires every
//!   version handed out so far: open watches and watches from older versions
//!   get an `ERROR` event with `410 Expired`, which makes kube's `watcher`
//!   relist.
//! - **create** (`POST`): sets `uid`, `creationTimestamp`, `generation: 1`,
//!   `resourceVersion`; honours `generateName`; `409 AlreadyExists`.
//! - **replace** (`PUT`): `409 Conflict` when the body's `resourceVersion`
//!   is stale; an empty one is an unconditional update.
//! - **patch**: `application/merge-patch+json`, `application/json-patch+json`
//!   (all or nothing; a failed `test` is the server's `422 Invalid`, and a
//!   `test` of a missing path against `null` passes as in the real server,
//!   which kube's `finalizer()` relies on), and
//!   `application/strategic-merge-patch+json` read as a merge patch (lists
//!   are replaced, not merged by key; `$patch` directives are refused). A
//!   `resourceVersion` in the patched object is a precondition (`409`).
//! - **status subresource** ([`ResourceKind::with_status`]): writes to
//!   `/status` change only `.status`; create, update and patch of the main
//!   resource keep the stored `.status`. `metadata.generation` goes up only
//!   when something outside `metadata` (and `status`, when it is a
//!   subresource) changes, and when deletion starts.
//! - **no-op writes**: a write that changes nothing stores nothing: no new
//!   resourceVersion, no watch event (as the real server does).
//! - **delete**: without finalizers the object goes at once (`DELETED`) and
//!   a `Status` `Success` is returned; with finalizers it gets
//!   `deletionTimestamp` (`MODIFIED`, the object is returned), new finalizers
//!   are refused, and it goes (`DELETED`) when a later write empties
//!   `metadata.finalizers`. Preconditions (`uid`, `resourceVersion`) are
//!   checked. Delete of a collection with selectors works the same per object.
//! - **server-side apply**, only for kinds registered with
//!   [`ResourceKind::with_server_side_apply`] (Leases, for
//!   kube-lease-manager, which takes a free lease with an apply): apply
//!   creates or merges, a `fieldManager` is required, field ownership is
//!   kept per field manager at the level of leaf fields, and applying a
//!   field another manager owns with a different value is a `409 Conflict`
//!   unless `force=true`. For other kinds an apply is a `415` that says so.
//! - **Secrets**: `stringData` is folded into base64 `data`.
//!
//! # Test hooks
//!
//! [`FakeApi`] inserts, reads and removes objects directly
//! ([`FakeApi::insert`], [`FakeApi::get`], [`FakeApi::list`],
//! [`FakeApi::get_json`], [`FakeApi::remove`]) and shows the change history
//! ([`FakeApi::changes`]). Every request is logged as a [`RecordedRequest`]
//! (method, path, query, content type, accept, JSON body, verb, resource,
//! namespace, name, subresource, answered status code):
//! [`FakeApi::requests`], [`FakeApi::requests_matching`] and
//! [`FakeApi::count`] with a [`RequestMatcher`], and
//! [`RecordedRequest::summary`] (`"patch /apis/.../dnszones/a/status"`) for
//! exact request-order assertions. [`FakeApi::fail_next`] and
//! [`FakeApi::fail_times`] answer matching requests with an error status
//! instead. [`FakeApi::compact`], [`FakeApi::close_watches`],
//! [`FakeApi::send_bookmarks`] and [`FakeApi::wait_for_watches`] steer watches.
//!
//! # Over HTTP
//!
//! A client in another process (a real `ddns-operator run`) reaches the
//! fake through [`FakeApi::serve_http`], which serves it over plain
//! HTTP/1.1 on a listener, and the [`kubeconfig`] that names it;
//! [`FakeApi::serve_http_with`] also sees each request as it arrives, and
//! may delay its answer.
//!
//! # Caveats
//!
//! - Not implemented: list pagination (`limit` is ignored, there is never a
//!   `continue`), `resourceVersionMatch` semantics for lists (a list always
//!   reads the latest state), `dryRun` (refused with `400`), garbage
//!   collection through `ownerReferences` and propagation policies,
//!   namespace lifecycle (namespaces need not exist; deleting one deletes
//!   nothing), admission, validation against CRD schemas, defaulting,
//!   authentication and RBAC, subresources other than `status`, discovery
//!   (`/api`, `/apis`, `/version`), protobuf and YAML bodies, and
//!   `managedFields` in responses.
//! - Server-side apply is off unless a kind opts in, and then it is a model:
//!   leaf-field ownership, lists owned as a whole, no merge keys.
//! - Strategic merge patches replace lists instead of merging them by key.
//! - Field selectors accept any dotted path; the real server allows only a
//!   few fields per kind and refuses the rest.
//! - Bookmarks are sent only at the end of initial events, at
//!   `timeoutSeconds`, and on [`FakeApi::send_bookmarks`], not periodically.
//!   A watch from a resourceVersion newer than the current one just waits.
//! - [`FakeApi::compact`] also ends open watches with `410`, which a real
//!   server does only when a watcher falls too far behind; it is the
//!   deterministic way to exercise relists.
//! - `metadata.generation` is kept for every kind (the real server omits it
//!   for some built-ins), and deleting without finalizers answers a `Status`
//!   even for kinds whose real server answers the deleted object.
//! - Timestamps come from the wall clock; watch timeouts use Tokio's clock,
//!   so a paused test clock drives them.

mod apply;
mod error;
mod fake;
mod http;
mod log;
mod object;
mod patch;
mod path;
mod resource;
mod selector;
mod service;
mod state;
mod status;
mod watch;
mod write;

pub use error::{Error, Result};
pub use fake::FakeApi;
pub use http::{HttpServer, kubeconfig};
pub use log::{RecordedRequest, RequestMatcher, Verb};
pub use resource::ResourceKind;
pub use service::{FakeService, ResponseBody};
pub use state::{Change, ChangeType};
