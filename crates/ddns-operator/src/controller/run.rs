//! Wiring: caches, watch mappings, the zone controller and the orphan
//! worker, run while this replica leads.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kube::api::Api;
use kube::runtime::controller::Config as ControllerConfig;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use super::context::{Context, RecordKey};
use super::deliver::Deliverer;
use super::record::orphan_worker;
use super::stores::{HasRecordStatus, RecordStores};
use super::triggers::{self, RecordTrigger, ZoneTrigger};
use super::zone;
use crate::config::OperatorConfig;
use crate::crd::{
    AAAARecord, ARecord, Bind9Instance, CAARecord, CNAMERecord, DNSZone, MXRecord, NSRecord,
    SRVRecord, TXTRecord,
};
use crate::metrics::OperatorMetrics;
use crate::model::HasRecordSpec;

/// Handles the controller needs from outside.
pub struct RunHandles {
    /// The API client.
    pub client: Client,
    /// Settings.
    pub config: OperatorConfig,
    /// Delivery.
    pub deliverer: Arc<dyn Deliverer>,
    /// Metrics and readiness.
    pub metrics: Arc<OperatorMetrics>,
    /// Whether this replica leads (always `true` without leader election).
    pub leading: watch::Receiver<bool>,
    /// Becomes `true` on shutdown.
    pub shutdown: watch::Receiver<bool>,
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// Runs the controllers whenever this replica leads, until shutdown.
pub async fn run(handles: RunHandles) {
    let RunHandles {
        client,
        config,
        deliverer,
        metrics,
        mut leading,
        mut shutdown,
    } = handles;
    loop {
        metrics.set_leader(false);
        metrics.set_synced();
        tokio::select! {
            result = leading.wait_for(|lead| *lead) => if result.is_err() { return },
            _ = shutdown.wait_for(|stop| *stop) => return,
        }
        if *shutdown.borrow() {
            return;
        }
        metrics.set_leader(true);
        metrics.set_filling();
        info!("starting the controllers");
        let (stop_tx, stop_rx) = watch::channel(false);
        let term = run_term(
            client.clone(),
            config.clone(),
            Arc::clone(&deliverer),
            Arc::clone(&metrics),
            stop_rx,
        );
        tokio::pin!(term);
        let mut stopping = false;
        loop {
            tokio::select! {
                () = &mut term => break,
                _ = leading.wait_for(|lead| !*lead), if !stopping => {
                    warn!("leadership lost; stopping the controllers");
                    stopping = true;
                    stop_tx.send_replace(true);
                }
                _ = shutdown.wait_for(|stop| *stop), if !stopping => {
                    stopping = true;
                    stop_tx.send_replace(true);
                }
            }
        }
        if *shutdown.borrow() {
            return;
        }
    }
}

async fn run_term(
    client: Client,
    config: OperatorConfig,
    deliverer: Arc<dyn Deliverer>,
    metrics: Arc<OperatorMetrics>,
    stop: watch::Receiver<bool>,
) {
    let namespace = config.namespace.clone();
    let ns = namespace.as_deref();
    let (zones, zone_writer) = reflector::store::<DNSZone>();
    let zone_stream = reflector(
        zone_writer,
        watcher(api::<DNSZone>(&client, ns), watcher::Config::default()),
    )
    .default_backoff();
    let zone_stream = triggers::filter::<DNSZone, ZoneTrigger, _>(zone_stream);
    let mut controller = Controller::for_stream(zone_stream, zones.clone()).with_config(
        ControllerConfig::default()
            .debounce(Duration::from_millis(300))
            .concurrency(8),
    );

    let (instances, instance_writer) = reflector::store::<Bind9Instance>();
    let instance_stream = reflector(
        instance_writer,
        watcher(
            api::<Bind9Instance>(&client, ns),
            watcher::Config::default(),
        ),
    )
    .default_backoff()
    .touched_objects();
    let zones_of_instance = zones.clone();
    controller = controller.watches_stream(instance_stream, move |instance: Bind9Instance| {
        let namespace = instance.namespace();
        zones_of_instance
            .state()
            .into_iter()
            .filter(|z| z.namespace() == namespace)
            .map(|z| ObjectRef::from_obj(z.as_ref()))
            .collect::<Vec<_>>()
    });

    let (orphans_tx, orphans_rx) = mpsc::unbounded_channel::<RecordKey>();
    let (handover_tx, handover_rx) = mpsc::unbounded_channel::<ObjectRef<DNSZone>>();
    controller = controller.reconcile_on(futures_util::stream::unfold(
        handover_rx,
        |mut rx| async move { rx.recv().await.map(|zone| (zone, rx)) },
    ));
    let mut records = RecordStores::default();
    let watch = WatchRecords {
        client: &client,
        namespace: ns,
        zones: &zones,
        orphans: &orphans_tx,
    };
    controller = watch.kind::<ARecord>("ARecord", controller, &mut records);
    controller = watch.kind::<AAAARecord>("AAAARecord", controller, &mut records);
    controller = watch.kind::<CNAMERecord>("CNAMERecord", controller, &mut records);
    controller = watch.kind::<TXTRecord>("TXTRecord", controller, &mut records);
    controller = watch.kind::<MXRecord>("MXRecord", controller, &mut records);
    controller = watch.kind::<NSRecord>("NSRecord", controller, &mut records);
    controller = watch.kind::<SRVRecord>("SRVRecord", controller, &mut records);
    controller = watch.kind::<CAARecord>("CAARecord", controller, &mut records);

    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "ddns-operator".to_string(),
            instance: Some(config.identity.clone()),
        },
    );
    let ctx = Arc::new(Context {
        client: client.clone(),
        config,
        zones,
        instances,
        records,
        recorder,
        metrics: Arc::clone(&metrics),
        failures: Mutex::new(HashMap::new()),
        orphans: orphans_tx,
        handover: handover_tx,
        now: std::time::SystemTime::now,
        deliverer,
    });

    let ready_ctx = Arc::clone(&ctx);
    let ready_metrics = Arc::clone(&metrics);
    let mut ready_stop = stop.clone();
    let readiness = async move {
        tokio::select! {
            ready = ready_ctx.wait_ready() => if ready {
                ready_metrics.set_synced();
                info!("caches filled; reconciling");
            },
            _ = ready_stop.wait_for(|s| *s) => {}
        }
    };
    let worker = orphan_worker(Arc::clone(&ctx), orphans_rx, stop.clone());
    let mut stop_signal = stop.clone();
    let controller = controller
        .graceful_shutdown_on(async move {
            let _ = stop_signal.wait_for(|s| *s).await;
        })
        .run(zone::reconcile, zone::error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => debug!(zone = %object.name, "reconciled"),
                Err(error) => debug!(%error, "reconcile failed"),
            }
        });
    tokio::join!(controller, worker, readiness);
    info!("controllers stopped");
}

struct WatchRecords<'a> {
    client: &'a Client,
    namespace: Option<&'a str>,
    zones: &'a Store<DNSZone>,
    orphans: &'a mpsc::UnboundedSender<RecordKey>,
}

impl WatchRecords<'_> {
    /// Caches one record kind and maps each of its changes to the zones it
    /// concerns.
    fn kind<K>(
        &self,
        kind: &'static str,
        controller: Controller<DNSZone>,
        stores: &mut RecordStores,
    ) -> Controller<DNSZone>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
            + HasRecordSpec
            + HasRecordStatus
            + Clone
            + DeserializeOwned
            + Debug
            + Send
            + Sync
            + 'static,
    {
        let (reader, writer) = reflector::store::<K>();
        stores.add(kind, reader);
        let stream = reflector(
            writer,
            watcher(
                api::<K>(self.client, self.namespace),
                watcher::Config::default(),
            ),
        )
        .default_backoff();
        let stream = triggers::filter::<K, RecordTrigger, _>(stream);
        let zones = self.zones.clone();
        let orphans = self.orphans.clone();
        controller.watches_stream(stream, move |record: K| {
            let namespace = record.namespace().unwrap_or_default();
            let zone_ref = record.record_spec().zone_ref().to_string();
            let current = ObjectRef::<DNSZone>::new(&zone_ref).within(&namespace);
            let mut refs = vec![current.clone()];
            if let Some(previous) = record.record_status().and_then(|s| s.zone.clone())
                && previous != zone_ref
            {
                refs.push(ObjectRef::new(&previous).within(&namespace));
            }
            if zones.get(&current).is_none() {
                let _ = orphans.send((kind, namespace, record.name_any()));
            }
            refs
        })
    }
}
