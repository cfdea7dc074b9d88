//! The kinds of resource the fake serves, and how each behaves.

use std::any::TypeId;

use k8s_openapi::ClusterResourceScope;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Resource;

use crate::status::GroupResource;

/// A resource type the fake serves, like a built-in type or an installed CRD.
///
/// Requests for a group, version and plural that is not registered get the
/// real server's `404` "the server could not find the requested resource",
/// which is what a controller sees when its CRD is not installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceKind {
    api_version: String,
    kind: String,
    plural: String,
    namespaced: bool,
    status_subresource: bool,
    server_side_apply: bool,
}

impl ResourceKind {
    /// A namespaced resource: `api_version` is `v1` for the core group or
    /// `group/version` otherwise, `kind` is the object kind (`ConfigMap`) and
    /// `plural` the URL segment (`configmaps`).
    pub fn namespaced(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        plural: impl Into<String>,
    ) -> Self {
        Self {
            api_version: api_version.into(),
            kind: kind.into(),
            plural: plural.into(),
            namespaced: true,
            status_subresource: false,
            server_side_apply: false,
        }
    }

    /// A cluster-scoped resource (`Namespace`, a cluster-scoped CRD).
    pub fn cluster(
        api_version: impl Into<String>,
        kind: impl Into<String>,
        plural: impl Into<String>,
    ) -> Self {
        Self {
            namespaced: false,
            ..Self::namespaced(api_version, kind, plural)
        }
    }

    /// The resource of a kube type, such as a `CustomResource` derive or a
    /// k8s-openapi type; its scope comes from `K::Scope`.
    pub fn of<K>() -> Self
    where
        K: Resource<DynamicType = ()>,
        K::Scope: 'static,
    {
        let namespaced = TypeId::of::<K::Scope>() != TypeId::of::<ClusterResourceScope>();
        Self {
            namespaced,
            ..Self::namespaced(K::api_version(&()), K::kind(&()), K::plural(&()))
        }
    }

    /// The kinds a real server serves once `crd` is installed: one per
    /// served version, with its scope, and with `/status` where the version
    /// has `subresources.status`.
    pub fn from_crd(crd: &CustomResourceDefinition) -> Vec<Self> {
        let spec = &crd.spec;
        spec.versions
            .iter()
            .filter(|version| version.served)
            .map(|version| {
                let api_version = format!("{}/{}", spec.group, version.name);
                let kind = if spec.scope == "Cluster" {
                    Self::cluster(api_version, &spec.names.kind, &spec.names.plural)
                } else {
                    Self::namespaced(api_version, &spec.names.kind, &spec.names.plural)
                };
                Self {
                    status_subresource: version
                        .subresources
                        .as_ref()
                        .is_some_and(|s| s.status.is_some()),
                    ..kind
                }
            })
            .collect()
    }

    /// Gives the resource a `/status` subresource, as a CRD with
    /// `subresources.status`: writes to `/status` change only `.status`, and
    /// writes to the main resource leave `.status` as it was.
    #[must_use]
    pub fn with_status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    /// Accepts server-side apply (`application/apply-patch+yaml`) for this
    /// resource, with the simplified field ownership described in the crate
    /// documentation. Off by default, so that an operator that must not use
    /// server-side apply gets a `415` that says so.
    #[must_use]
    pub fn with_server_side_apply(mut self) -> Self {
        self.server_side_apply = true;
        self
    }

    /// `v1` or `group/version`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// The object kind, such as `ConfigMap`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The URL segment, such as `configmaps`.
    pub fn plural(&self) -> &str {
        &self.plural
    }

    /// The API group: empty for the core group.
    pub fn group(&self) -> &str {
        self.api_version
            .rsplit_once('/')
            .map_or("", |(group, _)| group)
    }

    /// Whether objects live in a namespace.
    pub fn is_namespaced(&self) -> bool {
        self.namespaced
    }

    /// Whether the resource has a `/status` subresource.
    pub fn has_status_subresource(&self) -> bool {
        self.status_subresource
    }

    /// Whether server-side apply is accepted.
    pub fn accepts_server_side_apply(&self) -> bool {
        self.server_side_apply
    }

    pub(crate) fn group_resource(&self) -> GroupResource<'_> {
        GroupResource {
            group: self.group(),
            plural: &self.plural,
            kind: &self.kind,
        }
    }

    /// The kinds served from the start: the core and coordination types a
    /// controller touches besides its own CRDs.
    pub(crate) fn builtins() -> Vec<Self> {
        vec![
            Self::namespaced("v1", "ConfigMap", "configmaps"),
            Self::namespaced("v1", "Secret", "secrets"),
            Self::namespaced("v1", "Event", "events"),
            Self::namespaced("v1", "Pod", "pods").with_status(),
            Self::namespaced("v1", "Service", "services").with_status(),
            Self::namespaced("v1", "ServiceAccount", "serviceaccounts"),
            Self::cluster("v1", "Namespace", "namespaces").with_status(),
            Self::namespaced("events.k8s.io/v1", "Event", "events"),
            Self::namespaced("coordination.k8s.io/v1", "Lease", "leases").with_server_side_apply(),
        ]
    }
}

/// The registered kinds.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    kinds: Vec<ResourceKind>,
}

impl Registry {
    pub(crate) fn with_builtins() -> Self {
        Self {
            kinds: ResourceKind::builtins(),
        }
    }

    /// Adds a kind, replacing one with the same version and plural.
    pub(crate) fn register(&mut self, kind: ResourceKind) {
        self.kinds
            .retain(|k| !(k.api_version == kind.api_version && k.plural == kind.plural));
        self.kinds.push(kind);
    }

    pub(crate) fn by_plural(&self, api_version: &str, plural: &str) -> Option<&ResourceKind> {
        self.kinds
            .iter()
            .find(|k| k.api_version == api_version && k.plural == plural)
    }

    pub(crate) fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceKind> {
        self.kinds
            .iter()
            .find(|k| k.api_version == api_version && k.kind == kind)
    }
}

#[cfg(test)]
mod crd_tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn crd(scope: &str) -> CustomResourceDefinition {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.dev"},
            "spec": {
                "group": "example.dev",
                "scope": scope,
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "subresources": {"status": {}},
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1beta1", "served": true, "storage": false,
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1alpha1", "served": false, "storage": false,
                     "subresources": {"status": {}},
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                ],
            },
        }))
        .unwrap()
    }

    #[test]
    fn a_crd_serves_its_served_versions_with_their_status_subresource() {
        let kinds = ResourceKind::from_crd(&crd("Namespaced"));
        assert_eq!(
            kinds,
            [
                ResourceKind::namespaced("example.dev/v1", "Widget", "widgets").with_status(),
                ResourceKind::namespaced("example.dev/v1beta1", "Widget", "widgets"),
            ]
        );
        let cluster = ResourceKind::from_crd(&crd("Cluster"));
        assert!(cluster.iter().all(|k| !k.is_namespaced()));
        assert_eq!(cluster.len(), 2);
    }
}
