//! Tests against a real Kubernetes API server, ignored by default: no API
//! server can run on the project's machines. They check what the
//! in-process fake of the other tests cannot vouch for: that a real API
//! server accepts the CRDs and enforces their validation, that the
//! operator's least-privilege RBAC allows every call it makes, real
//! finalizer, status-subresource and generation semantics, namespace
//! deletion that removes the TSIG Secret before the zone, and leader
//! election between two replicas through a real Lease.
//!
//! # Prerequisites
//!
//! - A cluster the tests may change (kind or k3d: see "Tests on a real
//!   cluster" in docs/OPERATOR.md), the current kubeconfig context
//!   pointing at it, with rights to install CRDs, create namespaces and
//!   impersonate a ServiceAccount (the admin context kind and k3d create).
//!   The tests install or replace the CRDs of `deploy/operator/crds.yaml`,
//!   and create and delete namespaces labelled `ddns.dev/test=cluster`.
//! - The operator's namespace and RBAC:
//!   `kubectl apply -f deploy/operator/namespace.yaml -f deploy/operator/rbac.yaml`.
//!   The controller runs in the test process, with the kubeconfig's
//!   credentials but impersonating the ServiceAccount
//!   `ddns-system/ddns-operator`, so every request is checked against
//!   that RBAC.
//! - The operator's Deployment not running (scale it to 0 if it is
//!   installed): its replicas would take the Lease `ddns-operator` and
//!   reconcile the test zones. No operator image is needed.
//! - BIND9 (`named`, `dig`, `nsupdate`, `tsig-keygen`) on the machine
//!   running the tests, and root: each test starts `named` on a loopback
//!   address of its own, as the other BIND tests do, and the in-process
//!   controller delivers to it. (The cluster never needs to reach it.)
//!
//! Run with `cargo test -p ddns-operator --test cluster -- --ignored
//! --test-threads 1` (one at a time: each installs the CRDs).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::dns::answer;
use common::harness::{Running, condition, run_controllers, tokio_test_within};
use ddns_operator::config::OperatorConfig;
use ddns_operator::controller::BindDeliverer;
use ddns_operator::crd::{ARecord, DNSZone, SRVRecord};
use ddns_operator::leader::{self, LeaseSettings};
use ddns_testkit::{Bind, BindOptions};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use kube::{Client, Resource};
use serde_json::{Value, json};
use tokio::sync::watch;

/// The operator's ServiceAccount, as `deploy/operator/rbac.yaml` makes it.
const OPERATOR_NAMESPACE: &str = "ddns-system";
const OPERATOR_ACCOUNT: &str = "ddns-operator";
/// The Lease the Role in `rbac.yaml` lets the account update.
const LEASE: &str = "ddns-operator";
/// A real API server and a fresh watch take longer than the fake.
const WAIT: Duration = Duration::from_secs(90);
const LIMIT: Duration = Duration::from_secs(600);
const PREPARE: &str =
    "kubectl apply -f deploy/operator/namespace.yaml -f deploy/operator/rbac.yaml";

/// The kubeconfig's client, for what the test itself does.
async fn admin() -> Client {
    Client::try_default()
        .await
        .expect("a cluster in the current kubeconfig context (see this file's prerequisites)")
}

/// A client that acts as the operator's ServiceAccount.
async fn operator_client() -> Client {
    let mut config = kube::Config::infer()
        .await
        .expect("a cluster in the current kubeconfig context");
    config.auth_info.impersonate = Some(format!(
        "system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_ACCOUNT}"
    ));
    config.auth_info.impersonate_groups = Some(vec![
        "system:serviceaccounts".into(),
        format!("system:serviceaccounts:{OPERATOR_NAMESPACE}"),
        "system:authenticated".into(),
    ]);
    Client::try_from(config).expect("a client impersonating the operator")
}

/// Polls `check` every half second until it holds, or panics after
/// [`WAIT`] saying what was awaited.
async fn wait_for<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Creates or replaces the CRDs of `deploy/operator/crds.yaml` and waits
/// until the API server serves them.
async fn install_crds(client: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let path = common::deploy_dir().join("crds.yaml");
    for document in common::yaml_documents(&path) {
        let mut crd: CustomResourceDefinition = serde_json::from_value(document).unwrap();
        let name = crd.metadata.name.clone().unwrap();
        match crds.get_opt(&name).await.unwrap() {
            Some(existing) => {
                crd.metadata.resource_version = existing.metadata.resource_version;
                crds.replace(&name, &PostParams::default(), &crd)
                    .await
                    .unwrap_or_else(|e| panic!("replace CRD {name}: {e}"));
            }
            None => {
                crds.create(&PostParams::default(), &crd)
                    .await
                    .unwrap_or_else(|e| panic!("create CRD {name}: {e}"));
            }
        }
        wait_for(&format!("CRD {name} Established"), || async {
            crds.get(&name).await.is_ok_and(|crd| {
                crd.status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            })
        })
        .await;
    }
}

/// A namespace of the test's own, deleted by [`TestNamespace::delete`].
struct TestNamespace {
    client: Client,
    name: String,
}

impl TestNamespace {
    async fn create(client: &Client, test: &str) -> Self {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
        assert!(
            accounts.get_opt(OPERATOR_ACCOUNT).await.unwrap().is_some(),
            "no ServiceAccount {OPERATOR_NAMESPACE}/{OPERATOR_ACCOUNT}: run `{PREPARE}` first"
        );
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("ddns-test-{test}-{nanos:x}");
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"ddns.dev/test": "cluster"}}
        }))
        .unwrap();
        namespaces
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        Self {
            client: client.clone(),
            name,
        }
    }

    /// Creates an object of this namespace from JSON (`apiVersion`,
    /// `kind`, `metadata.name`, ...); the error is the API server's.
    async fn create_object(&self, object: Value) -> Result<(), kube::Error> {
        let api_version = object["apiVersion"].as_str().unwrap();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = object["kind"].as_str().unwrap();
        let gvk = GroupVersionKind::gvk(group, version, kind);
        // Every kind used here forms its plural the simple way.
        let plural = format!("{}s", kind.to_ascii_lowercase());
        let resource = ApiResource::from_gvk_with_plural(&gvk, &plural);
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.client.clone(), &self.name, &resource);
        let mut object: DynamicObject = serde_json::from_value(object).unwrap();
        object.metadata.namespace = Some(self.name.clone());
        api.create(&PostParams::default(), &object)
            .await
            .map(|_| ())
    }

    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    async fn is_gone(&self) -> bool {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        namespaces.get_opt(&self.name).await.unwrap().is_none()
    }

    /// Deletes the namespace and waits until it is gone: its finalizers
    /// must not hold it.
    async fn delete(self) {
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let _ = namespaces
            .delete(&self.name, &DeleteParams::default())
            .await;
        wait_for(&format!("namespace {} gone", self.name), || self.is_gone()).await;
    }
}

/// The Secret, the `Bind9Instance`, a `DNSZone` in update mode and two
/// records, for `bind`.
async fn seed(ns: &TestNamespace, bind: &Bind) {
    let key = bind.key("ddns-key");
    ns.create_object(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "tsig"},
        "stringData": {"secret": key.secret()}
    }))
    .await
    .unwrap();
    let ddns = |kind: &str, name: &str, spec: Value| {
        json!({"apiVersion": "ddns.dev/v1alpha1", "kind": kind,
               "metadata": {"name": name, "labels": {"ddns.dev/server": "test"}},
               "spec": spec})
    };
    for object in [
        ddns(
            "Bind9Instance",
            "bind",
            json!({"address": bind.addr().ip().to_string(), "port": bind.addr().port(),
                   "tsigKeySecretRef": {"name": "tsig", "key": "secret"},
                   "tsigKeyName": key.name(), "tsigAlgorithm": key.algorithm()}),
        ),
        ddns(
            "DNSZone",
            "example",
            json!({"zoneName": "example.test",
                   "soa": {"primaryNs": "ns1.example.net", "adminEmail": "hostmaster@example.test"},
                   "nameServers": ["ns1.example.net"],
                   "instanceSelector": {"matchLabels": {"ddns.dev/server": "test"}}}),
        ),
        ddns(
            "ARecord",
            "www",
            json!({"zoneRef": "example", "name": "www", "addresses": ["192.0.2.1"]}),
        ),
        ddns(
            "TXTRecord",
            "txt",
            json!({"zoneRef": "example", "name": "txt", "values": ["x".repeat(300)]}),
        ),
    ] {
        ns.create_object(object).await.unwrap();
    }
}

fn settings(namespace: &str, extra: &[(&str, &str)]) -> OperatorConfig {
    let mut pairs = vec![
        ("DDNS_OPERATOR_NAMESPACE", namespace),
        ("DDNS_OPERATOR_DNS_TIMEOUT_SECS", "1"),
    ];
    pairs.extend_from_slice(extra);
    common::harness::config(&pairs)
}

/// The controllers of one replica, leading at once.
async fn start_operator(config: OperatorConfig) -> (Running, watch::Sender<bool>) {
    let deliverer = Arc::new(BindDeliverer::new(&config));
    let (leading_tx, leading) = watch::channel(true);
    let running = run_controllers(operator_client().await, config, deliverer, leading);
    (running, leading_tx)
}

async fn ready<K>(api: &Api<K>, name: &str) -> bool
where
    K: Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    match api.get_opt(name).await {
        Ok(Some(object)) => {
            let value = serde_json::to_value(&object).unwrap();
            condition(&value, "Ready").is_some_and(|c| c.0 == "True")
        }
        _ => false,
    }
}

#[test]
#[ignore = "needs a Kubernetes cluster; see the module documentation"]
fn the_api_server_accepts_the_crds_and_enforces_their_validation() {
    tokio_test_within(LIMIT, async {
        let client = admin().await;
        install_crds(&client).await;
        let ns = TestNamespace::create(&client, "validation").await;
        let refused = ns
            .create_object(json!({
                "apiVersion": "ddns.dev/v1alpha1", "kind": "SRVRecord",
                "metadata": {"name": "bad"},
                "spec": {"zoneRef": "x", "name": "_sip._tcp", "priority": 0, "weight": 0,
                         "port": 70000, "target": "sip.example.com."}
            }))
            .await;
        match refused {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422, "{status:?}");
                assert!(status.message.contains("spec.port"), "{}", status.message);
            }
            other => panic!("an SRVRecord with port 70000 was not refused: {other:?}"),
        }
        let srvs: Api<SRVRecord> = ns.api();
        assert!(srvs.get_opt("bad").await.unwrap().is_none());
        ns.delete().await;
    });
}

#[test]
#[ignore = "needs a Kubernetes cluster and root for BIND; see the module documentation"]
fn a_zone_is_delivered_changed_and_cleaned_up_by_the_operator_account() {
    let Some(bind) = Bind::start("cluster_update_zone", BindOptions::new()) else {
        return;
    };
    bind.nsupdate(
        Some("ddns-key"),
        bind.zone(),
        &["update add foreign.example.test 60 A 192.0.2.200"],
    )
    .unwrap();
    tokio_test_within(LIMIT, async {
        let client = admin().await;
        install_crds(&client).await;
        let ns = TestNamespace::create(&client, "update").await;
        seed(&ns, &bind).await;
        let (operator, _leading) = start_operator(settings(&ns.name, &[])).await;
        let zones: Api<DNSZone> = ns.api();
        let records: Api<ARecord> = ns.api();

        wait_for("the zone Ready", || ready(&zones, "example")).await;
        wait_for("www Ready", || ready(&records, "www")).await;
        assert_eq!(answer(&bind, "www.example.test", "A"), ["192.0.2.1"]);
        assert_eq!(
            answer(&bind, "txt.example.test", "TXT"),
            [format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))]
        );
        let zone = zones.get("example").await.unwrap();
        assert_eq!(
            zone.metadata.finalizers,
            Some(vec!["ddns.dev/cleanup".to_string()])
        );
        let status = zone.status.unwrap();
        assert_eq!(status.observed_generation, zone.metadata.generation);
        assert_eq!(
            status.managed,
            [
                "example.test. NS",
                "txt.example.test. TXT",
                "www.example.test. A"
            ]
        );

        // A change of the spec: a new generation, a new answer.
        let patch = json!({"spec": {"addresses": ["192.0.2.2"]}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        wait_for("the new address", || async {
            answer(&bind, "www.example.test", "A") == ["192.0.2.2"]
        })
        .await;
        wait_for("www's status at generation 2", || async {
            records.get("www").await.is_ok_and(|r| {
                r.status
                    .and_then(|s| s.observed_generation)
                    .is_some_and(|g| g == 2)
            })
        })
        .await;

        // Deleting a record: gone from DNS, then from the API.
        records
            .delete("www", &DeleteParams::default())
            .await
            .unwrap();
        wait_for("www gone", || async {
            records.get_opt("www").await.unwrap().is_none()
        })
        .await;
        assert!(answer(&bind, "www.example.test", "A").is_empty());

        // Deleting the zone: its records go, the foreign one stays.
        zones
            .delete("example", &DeleteParams::default())
            .await
            .unwrap();
        wait_for("the zone gone", || async {
            zones.get_opt("example").await.unwrap().is_none()
        })
        .await;
        assert!(answer(&bind, "txt.example.test", "TXT").is_empty());
        assert_eq!(answer(&bind, "foreign.example.test", "A"), ["192.0.2.200"]);

        ns.delete().await;
        operator.stop().await;
    });
}

#[test]
#[ignore = "needs a Kubernetes cluster and root for BIND; see the module documentation"]
fn deleting_the_namespace_does_not_hang_on_finalizers() {
    let Some(bind) = Bind::start("cluster_namespace_deletion", BindOptions::new()) else {
        return;
    };
    tokio_test_within(LIMIT, async {
        let client = admin().await;
        install_crds(&client).await;
        let ns = TestNamespace::create(&client, "nsdelete").await;
        seed(&ns, &bind).await;
        // The Secret may go before the zone; the finalizer then gives up
        // after the cleanup timeout.
        let config = settings(&ns.name, &[("DDNS_OPERATOR_CLEANUP_TIMEOUT_SECS", "10")]);
        let (operator, _leading) = start_operator(config).await;
        let zones: Api<DNSZone> = ns.api();
        wait_for("the zone Ready", || ready(&zones, "example")).await;
        assert_eq!(answer(&bind, "www.example.test", "A"), ["192.0.2.1"]);
        ns.delete().await;
        operator.stop().await;
    });
}

/// One replica: leader election and the controllers, as `run` wires them.
struct Replica {
    identity: String,
    running: Running,
    leading: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    lease: tokio::task::JoinHandle<()>,
}

async fn replica(identity: &str, namespace: &str) -> Replica {
    let client = operator_client().await;
    let config = settings(
        namespace,
        &[
            ("DDNS_OPERATOR_LEADER_ELECTION", "true"),
            ("DDNS_OPERATOR_IDENTITY", identity),
        ],
    );
    let (leading_tx, leading) = watch::channel(false);
    let (stop, shutdown) = watch::channel(false);
    let settings = LeaseSettings {
        name: LEASE.into(),
        namespace: OPERATOR_NAMESPACE.into(),
        identity: identity.into(),
        duration: Duration::from_secs(15),
    };
    let lease = tokio::spawn(leader::run(client.clone(), settings, leading_tx, shutdown));
    let deliverer = Arc::new(BindDeliverer::new(&config));
    let running = run_controllers(client, config, deliverer, leading.clone());
    Replica {
        identity: identity.into(),
        running,
        leading,
        stop,
        lease,
    }
}

impl Replica {
    fn leads(&self) -> bool {
        *self.leading.borrow()
    }

    async fn stop(self) {
        self.stop.send_replace(true);
        self.lease.await.unwrap();
        self.running.stop().await;
    }
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt(LEASE)
        .await
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

#[test]
#[ignore = "needs a Kubernetes cluster and root for BIND; see the module documentation"]
fn of_two_replicas_one_leads_and_the_other_takes_over() {
    let Some(bind) = Bind::start("cluster_leader_election", BindOptions::new()) else {
        return;
    };
    tokio_test_within(LIMIT, async {
        let client = admin().await;
        install_crds(&client).await;
        let ns = TestNamespace::create(&client, "leader").await;
        let leases: Api<Lease> = Api::namespaced(client.clone(), OPERATOR_NAMESPACE);
        if let Some(current) = holder(&leases).await {
            // A Lease left by a run that was killed expires on its own.
            eprintln!("the Lease is held by {current}; waiting for it to expire");
        }
        let a = replica("ddns-test-replica-a", &ns.name).await;
        let b = replica("ddns-test-replica-b", &ns.name).await;
        wait_for("one replica leading", || async { a.leads() || b.leads() }).await;
        assert!(!(a.leads() && b.leads()), "both replicas lead");
        let (leader, standby) = if a.leads() { (a, b) } else { (b, a) };
        assert_eq!(holder(&leases).await, Some(leader.identity.clone()));

        // Only the leader reconciles.
        seed(&ns, &bind).await;
        let zones: Api<DNSZone> = ns.api();
        wait_for("the zone Ready", || ready(&zones, "example")).await;
        assert!(leader.running.zone_reconciles() > 0);
        assert_eq!(standby.running.zone_reconciles(), 0);

        // The leader stops and releases the Lease; the other takes over
        // and keeps the zone up to date.
        leader.stop().await;
        wait_for("the standby leading", || async { standby.leads() }).await;
        assert_eq!(holder(&leases).await, Some(standby.identity.clone()));
        let records: Api<ARecord> = ns.api();
        let patch = json!({"spec": {"addresses": ["192.0.2.9"]}});
        records
            .patch("www", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .unwrap();
        wait_for("the new leader delivering", || async {
            answer(&bind, "www.example.test", "A") == ["192.0.2.9"]
        })
        .await;

        ns.delete().await;
        standby.stop().await;
    });
}
