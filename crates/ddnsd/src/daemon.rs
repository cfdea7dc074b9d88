//! The ways of running: `check`, `status`, `once` and the daemon itself
//! (`healthcheck` is in its own module).

use std::fmt::Display;
use std::sync::Arc;

use ddns_core::config::{Config, Env, load};
use ddns_core::health::HealthMonitor;
use ddns_core::{AddressSnapshot, DdnsEngine, Error, SourceBinding, StateStore};
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use crate::cli::{Command, USAGE};
use crate::logging::LogSettings;
use crate::systemd::Systemd;
use crate::{EXIT_CONFIG, EXIT_OK, EXIT_RUNTIME, VERSION, registry};

fn config_failure(error: &dyn Display) -> u8 {
    eprintln!("Configuration error: {error}");
    EXIT_CONFIG
}

/// Variables that are set but that nothing read: most likely typing
/// mistakes, shown with the closest known name.
fn unknown_variables(env: &Env) -> Vec<String> {
    let mut known = registry().known_variables();
    known.extend(crate::observe::variables());
    env.unknown_ddns_variables(&known)
        .into_iter()
        .map(|(variable, suggestion)| match suggestion {
            Some(known) => format!("{variable} is not a known variable; did you mean {known}?"),
            None => format!("{variable} is not a known variable"),
        })
        .collect()
}

/// Runs a command to completion and returns the process exit code.
pub fn execute(command: Command, env: Env) -> u8 {
    match command {
        Command::Version => {
            println!("ddnsd {VERSION}");
            return EXIT_OK;
        }
        Command::Help => {
            println!("{USAGE}");
            return EXIT_OK;
        }
        // Reads only what it needs: it runs every few seconds beside the
        // daemon, and must not depend on the daemon's secrets.
        Command::Healthcheck => return crate::healthcheck::run(&env),
        Command::Run | Command::Check | Command::Once | Command::Status => {}
    }
    let log = match LogSettings::from_env(&env) {
        Ok(log) => log,
        Err(error) => return config_failure(&error),
    };
    log.install();
    if command == Command::Status {
        // Only the state store's variables: an administrator's shell does
        // not hold the service's secrets (systemd credentials, Docker
        // secrets), and the state file does not need them.
        return status(&env);
    }
    if command == Command::Run {
        info!(version = VERSION, "starting");
    }
    let config = match load(&env, &registry()) {
        Ok(config) => config,
        Err(error) => {
            let code = config_failure(&error);
            for hint in unknown_variables(&env) {
                eprintln!("hint: {hint}");
            }
            return code;
        }
    };
    let observe = match crate::observe::Observe::from_env(&env) {
        Ok(observe) => observe,
        Err(error) => return config_failure(&error),
    };
    for hint in unknown_variables(&env) {
        warn!(hint = %hint, "unknown variable ignored");
    }
    if let Some(notify) = observe.notify_timeout()
        && notify >= config.shutdown_timeout
    {
        warn!(
            notify_timeout_secs = notify.as_secs(),
            shutdown_timeout_secs = config.shutdown_timeout.as_secs(),
            "DDNS_NOTIFY_TIMEOUT_SECS is not below DDNS_SHUTDOWN_TIMEOUT_SECS: notifications still queued at shutdown may be cut off when the shutdown timeout ends the daemon"
        );
    }
    if config.allow_http {
        warn!(
            "DDNS_ALLOW_HTTP is on: URLs may use unencrypted http; keep it to devices on your own network"
        );
    }
    info!(
        records = config.engine.records.len(),
        provider = %config.provider_type,
        state_store = %config.state_store_type,
        "configuration loaded"
    );
    if command == Command::Check {
        print_check(&config, &observe);
        return EXIT_OK;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            error!(error = %error, "cannot create the async runtime");
            return EXIT_RUNTIME;
        }
    };
    let code = match command {
        Command::Once => runtime.block_on(run_once(config)),
        _ => runtime.block_on(run_daemon(config, observe)),
    };
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    code
}

fn status(env: &Env) -> u8 {
    let store = env.get("DDNS_STATE_STORE_TYPE");
    let path = env.get("DDNS_STATE_STORE_PATH");
    match (store, path) {
        (Err(error), _) | (_, Err(error)) => config_failure(&error),
        (Ok(Some(store)), Ok(Some(path))) if store.trim().eq_ignore_ascii_case("file") => {
            crate::status::print(std::path::Path::new(&path))
        }
        _ => config_failure(
            &"DDNS_STATE_STORE_TYPE: status reads the state file; it needs DDNS_STATE_STORE_TYPE=file and DDNS_STATE_STORE_PATH",
        ),
    }
}

fn print_check(config: &Config, observe: &crate::observe::Observe) {
    println!("configuration is valid");
    for setting in config.settings().into_iter().chain(observe.settings()) {
        println!("{}={}", setting.name, setting.value);
    }
    println!("managed records:");
    for record in &config.engine.records {
        println!("  {record}");
    }
}

fn failure(error: &Error) -> u8 {
    if error.is_configuration() {
        config_failure(error)
    } else {
        error!(error = %error, "daemon failed");
        EXIT_RUNTIME
    }
}

struct Parts {
    engine: DdnsEngine,
    monitor: Arc<HealthMonitor>,
    records: Vec<ddns_core::Record>,
    bindings: Vec<SourceBinding>,
    shutdown_timeout: std::time::Duration,
    once_timeout: std::time::Duration,
}

/// Opens the store and builds the provider and sources from their plans.
async fn build(config: Config) -> Result<Parts, Error> {
    let Config {
        engine: settings,
        provider,
        provider_type,
        sources,
        state_store,
        state_store_type,
        shutdown_timeout,
        once_timeout,
        verifier,
        ..
    } = config;
    let store: Arc<dyn StateStore> = state_store.open()?;
    info!(state_store = %state_store_type, "state store opened");
    let provider = provider.build().await?;
    info!(provider = %provider_type, "provider chosen");
    let mut bindings = Vec::new();
    for selection in sources {
        let families: Vec<&str> = selection.families.iter().map(|f| f.as_str()).collect();
        let source = selection.plan.build().await?;
        info!(source = %selection.type_name, families = %families.join(","), "address source chosen");
        bindings.push(SourceBinding::new(source, selection.families));
    }
    let records = settings.records.clone();
    let monitor = Arc::new(HealthMonitor::new(
        settings.records.len(),
        settings.startup_confirmations,
    ));
    let mut engine = DdnsEngine::new(settings, provider, store)
        .with_observer(monitor.clone())
        .with_state_contributor(monitor.clone());
    if let Some((name, plan)) = verifier {
        engine = engine.with_verifier(plan.build().await?);
        info!(verifier = %name, "published values are checked through DNS");
    }
    Ok(Parts {
        engine,
        monitor,
        records,
        bindings,
        shutdown_timeout,
        once_timeout,
    })
}

async fn wait_for_signal() -> Result<&'static str, std::io::Error> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    // SIGHUP would otherwise end the process on the spot; there is nothing
    // to reload (the environment is read once), so say how to apply changes.
    let mut hangup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = terminate.recv() => return Ok("SIGTERM"),
            _ = interrupt.recv() => return Ok("SIGINT"),
            _ = hangup.recv() => warn!(
                "SIGHUP ignored: the configuration is read from the environment at start; restart the daemon to apply a change"
            ),
        }
    }
}

async fn run_daemon(config: Config, observe: crate::observe::Observe) -> u8 {
    let systemd = Systemd::from_process();
    // The keep-alives run from the first moment: systemd's watchdog runs
    // during start-up too, which may wait on a slow provider.
    tokio::select! {
        code = serve(config, observe, &systemd) => code,
        never = systemd.keep_alive() => match never {},
    }
}

async fn serve(config: Config, observe: crate::observe::Observe, systemd: &Systemd) -> u8 {
    let signals = wait_for_signal();
    tokio::pin!(signals);
    let parts = tokio::select! {
        parts = build(config) => parts,
        signal = &mut signals => {
            info!(signal = signal.unwrap_or("unknown"), "shutdown signal received before start-up finished");
            systemd.stopping();
            return EXIT_OK;
        }
    };
    let Parts {
        mut engine,
        monitor,
        records,
        bindings,
        shutdown_timeout,
        ..
    } = match parts {
        Ok(parts) => parts,
        Err(error) => return failure(&error),
    };
    let (started_observer, started) = systemd.start_signal();
    if let Some(observer) = started_observer {
        engine = engine.with_observer(Arc::new(observer));
    }
    let (engine, services) = match observe.start(engine, &records, &monitor).await {
        Ok(started) => started,
        Err(message) => {
            error!(error = %message, "cannot start");
            return EXIT_RUNTIME;
        }
    };
    let report = systemd.report(started, monitor.watch());
    tokio::pin!(report);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let stop_services = services.stopper();
    let run = async {
        let engine = async {
            let result = engine
                .run(bindings, async {
                    let _ = stopped.await;
                })
                .await;
            stop_services.stop();
            result
        };
        let (result, ()) = tokio::join!(engine, services.run());
        result
    };
    tokio::pin!(run);
    let signal = tokio::select! {
        result = &mut run => return result.map_or_else(|e| failure(&e), |()| EXIT_OK),
        signal = &mut signals => signal,
        never = &mut report => match never {},
    };
    match signal {
        Ok(name) => info!(signal = name, "shutdown signal received"),
        Err(error) => {
            error!(error = %error, "cannot listen for signals");
            return EXIT_RUNTIME;
        }
    }
    systemd.stopping();
    info!(timeout_secs = shutdown_timeout.as_secs(), "shutting down");
    arm_shutdown_watchdog(shutdown_timeout);
    let _ = stop.send(());
    match tokio::time::timeout(shutdown_timeout, &mut run).await {
        Ok(Ok(())) => {
            info!("stopped");
            EXIT_OK
        }
        Ok(Err(error)) => failure(&error),
        Err(_) => {
            error!(
                timeout_secs = shutdown_timeout.as_secs(),
                "shutdown did not finish in time"
            );
            EXIT_RUNTIME
        }
    }
}

/// Ends the process with the runtime-error code if shutdown overruns its
/// timeout even when the async runtime itself is stuck (a blocked file
/// system, a runaway task): the timer runs on a thread of its own.
fn arm_shutdown_watchdog(timeout: std::time::Duration) {
    // A little later than the async timeout, which reports more precisely.
    let limit = timeout + std::time::Duration::from_millis(500);
    let spawned = std::thread::Builder::new()
        .name("shutdown-watchdog".into())
        .spawn(move || {
            std::thread::sleep(limit);
            eprintln!(
                "ddnsd: shutdown did not finish within {}s; exiting",
                timeout.as_secs()
            );
            std::process::exit(i32::from(EXIT_RUNTIME));
        });
    if let Err(error) = spawned {
        warn!(error = %error, "cannot start the shutdown watchdog");
    }
}

async fn run_once(config: Config) -> u8 {
    let Parts {
        engine,
        bindings,
        once_timeout,
        ..
    } = match build(config).await {
        Ok(parts) => parts,
        Err(error) => return failure(&error),
    };
    let mut snapshot = AddressSnapshot::default();
    for binding in &bindings {
        match binding.source().current().await {
            Ok(found) => {
                for family in binding.families() {
                    snapshot.set(*family, found.get(*family));
                }
            }
            Err(error) => {
                warn!(source = binding.source().name(), error = %error, "cannot read the current addresses")
            }
        }
    }
    match engine.run_once(snapshot, once_timeout).await {
        Ok(report) => {
            print!("{report}");
            if report.all_ok() {
                EXIT_OK
            } else {
                EXIT_RUNTIME
            }
        }
        Err(error) => failure(&error),
    }
}
