//! `ddns-operator run`: settings, logging, the API client, the metrics
//! endpoint, leader election and the controllers, until SIGTERM or SIGINT.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ddns_core::config::Env;
use tokio::sync::watch;
use tracing::{error, info};

use crate::config::OperatorConfig;
use crate::controller::{self, BindDeliverer, RunHandles};
use crate::leader::{self, LeaseSettings};
use crate::logging::LogSettings;
use crate::metrics::OperatorMetrics;

/// How long a Lease holds without renewal.
const LEASE_DURATION: Duration = Duration::from_secs(15);
/// How long the first read of the API may take.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs the operator; the exit code follows the project's rule: 0 after a
/// clean stop, 1 for bad settings, 2 for a runtime failure.
pub fn main() -> ExitCode {
    let env = Env::from_process();
    let logs = match LogSettings::from_env(&env) {
        Ok(logs) => logs,
        Err(e) => {
            eprintln!("ddns-operator: configuration error: {e}");
            return ExitCode::from(1);
        }
    };
    let config = match OperatorConfig::from_env(&env) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("ddns-operator: configuration error: {e}");
            return ExitCode::from(1);
        }
    };
    logs.install();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(serve(config))
}

async fn serve(config: OperatorConfig) -> ExitCode {
    let client = match kube::Client::try_default().await {
        Ok(client) => client,
        Err(e) => {
            error!(error = %e, "cannot reach the Kubernetes API (in-cluster settings or KUBECONFIG)");
            return ExitCode::from(2);
        }
    };
    if let Err(code) = preflight(&client, config.namespace.as_deref()).await {
        return code;
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let metrics = Arc::new(OperatorMetrics::new());
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = config.metrics_addr {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let endpoints: Arc<dyn ddns_metrics::Endpoints> = metrics.clone();
                let mut stop = stop_rx.clone();
                tasks.spawn(ddns_metrics::serve_endpoints(
                    listener,
                    endpoints,
                    async move {
                        let _ = stop.wait_for(|s| *s).await;
                    },
                ));
            }
            Err(e) => {
                error!(%addr, error = %e, "cannot listen for metrics (DDNS_OPERATOR_METRICS_ADDR)");
                return ExitCode::from(2);
            }
        }
    }
    let (leading_tx, leading_rx) = watch::channel(!config.leader_election);
    if config.leader_election {
        let settings = LeaseSettings {
            name: config.lease_name.clone(),
            namespace: config.lease_namespace.clone(),
            identity: config.identity.clone(),
            duration: LEASE_DURATION,
        };
        tasks.spawn(leader::run(
            client.clone(),
            settings,
            leading_tx,
            stop_rx.clone(),
        ));
    }
    let deliverer = Arc::new(BindDeliverer::new(&config));
    let handles = RunHandles {
        client,
        config,
        deliverer,
        metrics,
        leading: leading_rx,
        shutdown: stop_rx,
    };
    let controllers = controller::run(handles);
    tokio::pin!(controllers);
    tokio::select! {
        () = &mut controllers => {}
        () = signal() => {
            info!("stopping");
            stop_tx.send_replace(true);
            controllers.await;
        }
    }
    stop_tx.send_replace(true);
    while tasks.join_next().await.is_some() {}
    info!("stopped");
    ExitCode::SUCCESS
}

/// One read of `DNSZone`s before anything starts, so that a cluster without
/// the CRDs or without the RBAC rules, or an API server that cannot be
/// reached, is reported at once instead of as watch errors retried forever.
async fn preflight(client: &kube::Client, namespace: Option<&str>) -> Result<(), ExitCode> {
    use kube::api::{Api, ListParams};
    let zones: Api<crate::crd::DNSZone> = match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let listed = tokio::time::timeout(
        PREFLIGHT_TIMEOUT,
        zones.list(&ListParams::default().limit(1)),
    )
    .await;
    match listed {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(kube::Error::Api(status))) if status.code == 404 => {
            error!(
                "the ddns.dev resources are not installed in this cluster; apply deploy/operator/crds.yaml (or the output of `ddns-operator crd`)"
            );
            Err(ExitCode::from(1))
        }
        Ok(Err(kube::Error::Api(status))) if status.code == 401 || status.code == 403 => {
            error!(
                reason = %status.message,
                "the Kubernetes API refused the operator's account; apply deploy/operator/rbac.yaml"
            );
            Err(ExitCode::from(1))
        }
        Ok(Err(e)) => {
            error!(error = %e, "cannot reach the Kubernetes API (in-cluster settings or KUBECONFIG)");
            Err(ExitCode::from(2))
        }
        Err(_) => {
            error!(
                seconds = PREFLIGHT_TIMEOUT.as_secs(),
                "cannot reach the Kubernetes API (in-cluster settings or KUBECONFIG)"
            );
            Err(ExitCode::from(2))
        }
    }
}

async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
