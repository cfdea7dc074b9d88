//! The real controller (`controller::run`) against the in-process fake API
//! server, with a delivery of the test's choosing: shared by the controller
//! tests (a recording delivery) and the end-to-end tests (the real
//! delivery, against a real BIND).

use std::sync::Arc;
use std::time::Duration;

use ddns_core::config::Env;
use ddns_kube_fake::{FakeApi, RequestMatcher, Verb};
use ddns_metrics::Endpoints;
use ddns_operator::config::OperatorConfig;
use ddns_operator::controller::{self, Deliverer, RunHandles};
use ddns_operator::crd::DNSZone;
use ddns_operator::metrics::OperatorMetrics;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::watch;

/// The namespace every test works in.
pub const NS: &str = "dns";
/// How long a test waits for the controller to get somewhere.
pub const WAIT: Duration = Duration::from_secs(30);

/// A fake API server with the operator's CRDs installed.
pub fn fake_api() -> FakeApi {
    let fake = FakeApi::new();
    for crd in ddns_operator::crd::all() {
        fake.install_crd(&crd);
    }
    fake
}

/// Settings for a test: no leader election, no metrics listener, then
/// `extra` (which wins).
pub fn config(extra: &[(&str, &str)]) -> OperatorConfig {
    let mut pairs = vec![
        ("DDNS_OPERATOR_LEADER_ELECTION", "false"),
        ("DDNS_OPERATOR_IDENTITY", "test-replica"),
        ("DDNS_OPERATOR_METRICS_ADDR", "off"),
    ];
    pairs.extend_from_slice(extra);
    OperatorConfig::from_env(&Env::from_pairs(pairs)).unwrap()
}

type Explain = Box<dyn Fn() -> String + Send + Sync>;

/// `controller::run` in a task of the current runtime.
pub struct Running {
    pub metrics: Arc<OperatorMetrics>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts the controllers with `client`; they reconcile while `leading`
/// is `true`.
pub fn run_controllers(
    client: kube::Client,
    config: OperatorConfig,
    deliverer: Arc<dyn Deliverer>,
    leading: watch::Receiver<bool>,
) -> Running {
    let (stop, shutdown) = watch::channel(false);
    let metrics = Arc::new(OperatorMetrics::new());
    let handles = RunHandles {
        client,
        config,
        deliverer,
        metrics: Arc::clone(&metrics),
        leading,
        shutdown,
    };
    let task = tokio::spawn(controller::run(handles));
    Running {
        metrics,
        stop,
        task,
    }
}

impl Running {
    /// Stops the controllers and waits until they have.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("controllers stop")
            .expect("no panic");
    }

    /// Zone reconciles that finished without error so far.
    pub fn zone_reconciles(&self) -> u64 {
        let prefix = "ddns_operator_reconciles_total{kind=\"DNSZone\",result=\"ok\"} ";
        self.metrics
            .metrics()
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// The controllers running against `fake`, delivering through `delivery`.
pub struct Harness<D> {
    pub fake: FakeApi,
    pub delivery: Arc<D>,
    running: Running,
    _leading: watch::Sender<bool>,
    explain: Option<Explain>,
}

/// Starts the controllers (leading at once) on the current runtime.
pub fn start<D: Deliverer + 'static>(
    fake: FakeApi,
    config: OperatorConfig,
    delivery: Arc<D>,
) -> Harness<D> {
    let (leading_tx, leading) = watch::channel(true);
    let running = run_controllers(fake.client(), config, delivery.clone(), leading);
    Harness {
        fake,
        delivery,
        running,
        _leading: leading_tx,
        explain: None,
    }
}

impl<D> Harness<D> {
    /// Adds what `explain` says to the message of a wait that timed out.
    pub fn explain_with(mut self, explain: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.explain = Some(Box::new(explain));
        self
    }

    /// Stops the controllers and waits until they have.
    pub async fn stop(self) {
        self.running.stop().await;
    }

    /// An API of kind `K` in [`NS`].
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.fake.client(), NS)
    }

    /// Whether `check` holds within [`WAIT`].
    pub async fn poll(&self, check: impl Fn(&FakeApi, &D) -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::time::Instant::now() < deadline {
            if check(&self.fake, &self.delivery) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        check(&self.fake, &self.delivery)
    }

    /// Waits until `check` holds; panics after [`WAIT`] with the zones,
    /// the Events and what [`Harness::explain_with`] adds.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&FakeApi, &D) -> bool) {
        if !self.poll(check).await {
            panic!("timed out waiting for {what}\n{}", self.report());
        }
    }

    /// The zones, the Events, and what [`Harness::explain_with`] adds.
    pub fn report(&self) -> String {
        let zones = self
            .fake
            .list_json("ddns.dev/v1alpha1", "dnszones", Some(NS));
        let events: Vec<String> = events(&self.fake)
            .iter()
            .map(|e| format!("{} {}: {}", e["type"], e["reason"], e["note"]))
            .collect();
        let extra = self.explain.as_ref().map(|f| f()).unwrap_or_default();
        format!("zones: {zones:#?}\nevents: {events:#?}\n{extra}")
    }

    /// Zone reconciles that finished without error so far.
    pub fn zone_reconciles(&self) -> u64 {
        self.running.zone_reconciles()
    }

    /// Status writes (merge patches of a status subresource) so far.
    pub fn status_writes(&self) -> usize {
        self.fake
            .count(&RequestMatcher::verb(Verb::Patch).subresource("status"))
    }

    /// Sets an annotation on the `DNSZone` `name`: a change that makes the
    /// controller reconcile the zone and touches nothing it reads.
    pub async fn touch_zone(&self, name: &str, value: &str) {
        let zones: Api<DNSZone> = self.api();
        let touch = json!({"metadata": {"annotations": {"test.ddns.dev/touched": value}}});
        zones
            .patch(name, &PatchParams::default(), &Patch::Merge(&touch))
            .await
            .unwrap();
    }
}

/// The `(status, reason, message)` of condition `type_` of an object.
pub fn condition(object: &Value, type_: &str) -> Option<(String, String, String)> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_string(),
                c["reason"].as_str().unwrap_or_default().to_string(),
                c["message"].as_str().unwrap_or_default().to_string(),
            )
        })
}

/// The `DNSZone` `name` of [`NS`] as stored, or `null`.
pub fn zone_json(fake: &FakeApi, name: &str) -> Value {
    fake.get_json("ddns.dev/v1alpha1", "dnszones", Some(NS), name)
        .unwrap_or(Value::Null)
}

/// A record of kind `plural` (`arecords`) of [`NS`] as stored, or `null`.
pub fn record_json(fake: &FakeApi, plural: &str, name: &str) -> Value {
    fake.get_json("ddns.dev/v1alpha1", plural, Some(NS), name)
        .unwrap_or(Value::Null)
}

/// Whether the object's `Ready` condition is `True`.
pub fn is_ready(object: &Value) -> bool {
    condition(object, "Ready").is_some_and(|(status, _, _)| status == "True")
}

/// The `events.k8s.io/v1` Events of [`NS`].
pub fn events(fake: &FakeApi) -> Vec<Value> {
    fake.list_json("events.k8s.io/v1", "events", Some(NS))
}

/// Standard base64, as a Secret's `data` holds values.
pub fn base64(text: &str) -> String {
    const TABLE: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(TABLE[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Runs `test` on a two-thread runtime, failing it after `limit`.
pub fn tokio_test_within<F: std::future::Future<Output = ()>>(limit: Duration, test: F) {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            tokio::time::timeout(limit, test)
                .await
                .expect("test finished in time");
        });
}

/// [`tokio_test_within`] two minutes.
pub fn tokio_test<F: std::future::Future<Output = ()>>(test: F) {
    tokio_test_within(Duration::from_secs(120), test);
}
