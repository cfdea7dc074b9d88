//! What watches the engine besides its logs: metrics and health endpoints,
//! health-check pings and notifications, network probes and the recovery
//! action; configured from the environment, started beside the engine and
//! stopped with it. Nothing here runs, or arms a timer, unless configured.

use std::sync::Arc;

use ddns_core::config::{ConfigError, Env};
use ddns_core::health::HealthMonitor;
use ddns_core::{DdnsEngine, ReconfirmHandle, Record, Setting};
use ddns_metrics::{Metrics, MetricsConfig};
use ddns_notify::{Notifier, NotifyConfig};
use ddns_probe::ProbeConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::info;

/// Every variable read here.
pub(crate) fn variables() -> Vec<&'static str> {
    [
        ddns_metrics::VARIABLES,
        ddns_notify::VARIABLES,
        ddns_probe::VARIABLES,
    ]
    .concat()
}

/// The validated configuration of the observers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observe {
    metrics: Option<MetricsConfig>,
    notify: Option<NotifyConfig>,
    probe: Option<ProbeConfig>,
}

impl Observe {
    pub(crate) fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            metrics: MetricsConfig::from_env(env)?,
            notify: NotifyConfig::from_env(env)?,
            probe: ProbeConfig::from_env(env)?,
        })
    }

    /// How long the notifier may take at shutdown, when one is configured.
    pub(crate) fn notify_timeout(&self) -> Option<std::time::Duration> {
        self.notify.as_ref().map(NotifyConfig::timeout)
    }

    /// The lines `ddnsd check` prints.
    pub(crate) fn settings(&self) -> Vec<Setting> {
        let mut out = match &self.metrics {
            Some(metrics) => metrics.settings(),
            None => vec![Setting::new(ddns_metrics::ADDR_VARIABLE, "(off)")],
        };
        match &self.notify {
            Some(notify) => out.extend(notify.settings()),
            None => out.push(Setting::new("notifications", "(none configured)")),
        }
        match &self.probe {
            Some(probe) => out.extend(probe.settings()),
            None => out.push(Setting::new("probes", "(none configured)")),
        }
        out
    }

    /// Binds what must be bound before the engine starts and adds the
    /// observers to the engine; the services run with [`Services::run`].
    pub(crate) async fn start(
        self,
        mut engine: DdnsEngine,
        records: &[Record],
        monitor: &Arc<HealthMonitor>,
    ) -> Result<(DdnsEngine, Services), String> {
        let (stop, stopped) = watch::channel(false);
        let mut services = Services {
            stop,
            stopped,
            metrics: None,
            notifier: None,
            probe: self
                .probe
                .map(|config| (config, monitor.clone(), engine.reconfirm_handle())),
        };
        if let Some(config) = self.notify {
            // Subscribes now, before the engine reports anything.
            let notifier = Notifier::new(config, monitor).map_err(|e| e.to_string())?;
            services.notifier = Some(notifier);
        }
        if let Some(config) = &self.metrics {
            let listener = ddns_metrics::bind(config)
                .await
                .map_err(|e| e.to_string())?;
            let metrics = Arc::new(Metrics::new(records, monitor.clone()));
            engine = engine.with_observer(metrics.clone());
            info!(address = %config.addr(), "serving /metrics, /healthz and /readyz");
            services.metrics = Some((listener, metrics, monitor.clone()));
        }
        Ok((engine, services))
    }
}

/// The running side of the observers.
pub(crate) struct Services {
    stop: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
    metrics: Option<(TcpListener, Arc<Metrics>, Arc<HealthMonitor>)>,
    notifier: Option<Notifier>,
    probe: Option<(ProbeConfig, Arc<HealthMonitor>, ReconfirmHandle)>,
}

/// Stops the services.
#[derive(Clone)]
pub(crate) struct Stopper(watch::Sender<bool>);

impl Stopper {
    pub(crate) fn stop(&self) {
        self.0.send_replace(true);
    }
}

impl Services {
    pub(crate) fn stopper(&self) -> Stopper {
        Stopper(self.stop.clone())
    }

    /// Runs every configured service until [`Stopper::stop`].
    pub(crate) async fn run(self) {
        let stopped = self.stopped;
        let wait = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let metrics = async {
            if let Some((listener, metrics, monitor)) = self.metrics {
                ddns_metrics::serve(listener, metrics, monitor.watch(), wait(stopped.clone()))
                    .await;
            }
        };
        let notifier = async {
            if let Some(notifier) = self.notifier {
                notifier.run(wait(stopped.clone())).await;
            }
        };
        let probe = async {
            if let Some((config, monitor, reconfirm)) = self.probe {
                let network_up: ddns_probe::NetworkUp = Arc::new(move || reconfirm.request());
                tokio::select! {
                    () = ddns_probe::run(config, monitor, Some(network_up)) => {}
                    () = wait(stopped.clone()) => {}
                }
            }
        };
        tokio::join!(metrics, notifier, probe);
    }
}
