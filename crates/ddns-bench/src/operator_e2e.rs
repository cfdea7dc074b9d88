//! `ddns-operator-e2e`: the real `ddns-operator run` process, release
//! build, against the fake Kubernetes API server and a real BIND9: its
//! memory, what it costs while idle, and the time from records created in
//! the API to records in BIND and reported in their status.
//!
//! This program holds the fake API server (`ddns-kube-fake`) and serves
//! it over HTTP/1.1 on 127.0.0.1 (`kube_http.rs`); the operator is a
//! separate process that reaches it through a kubeconfig
//! (`server: http://127.0.0.1:PORT`), so its memory and CPU are its own.
//! It delivers in update mode (RFC 2136 with TSIG) to a `named` started
//! here (the test kit's: zone `example.test`, one key, its own loopback
//! address). The operator runs with the settings of
//! `deploy/operator/deployment.yaml`: JSON logs at `info`, the metrics
//! endpoint on, all namespaces watched, leader election on unless said.
//!
//! The API holds a TSIG Secret, one primary `Bind9Instance` and one
//! `DNSZone` (`example.test`, two name servers outside the zone). Records
//! are `ARecord`s `h0`, `h1`, … (one address each, TTL 60), inserted
//! straight into the fake's store (as a `kubectl apply` of many objects
//! would create them, but faster, so that the clock measures the
//! operator).
//!
//! # What it runs
//!
//! 1. **Memory and idle, leader election on**: one operator; idle with the
//!    zone and no record (an idle window), then N records (1,000 by
//!    default), one of them changed, L records in all (10,000 by default),
//!    and an idle window again. `VmRSS` and `VmHWM` after each step.
//! 2. **Start with L records**: another operator, started on an API that
//!    already holds L records (a restart or a new leader): the time until
//!    every record is reported, and its memory.
//! 3. **Idle, leader election off**: another operator, no record, one idle
//!    window.
//! 4. **End to end, R runs** (5 by default): each with a new fake API, a
//!    new operator and BIND emptied of the records: the time to reconcile
//!    N records from scratch, then one changed record.
//!
//! An idle window (60 s by default) reads, before and after, the
//! process's `utime + stime`, and per thread the CPU time (`schedstat`)
//! and the context switches, and counts the API requests the operator
//! made meanwhile.
//!
//! A reconcile is timed from the moment the change is made in the API
//! (`t0`) to:
//! - **in BIND**: the first record status write, which the operator makes
//!   right after its delivery returned (every UPDATE answered);
//! - **reported**: the last status write (records, then the zone).
//!
//! It then waits until neither the API nor named sees a request for 2 s
//! and counts what happened since `t0`: API requests by kind, and DNS
//! queries and UPDATE messages by named's own counters. Last, off the
//! count, it checks that BIND holds exactly what the records say (a
//! delivery of the same zone must find nothing to change) and that every
//! record is Ready.
//!
//! # Usage
//!
//! ```text
//! sudo ddns-operator-e2e [--operator PATH] [--records N] [--large L] [--runs R] [--idle-secs S]
//!                        [--api-delay-ms D]
//! ```
//!
//! `--operator` defaults to `ddns-operator` beside this program (build it
//! with `cargo build --release -p ddns-operator`). `--large 0` skips the
//! large step, `--idle-secs 0` the idle windows, `--runs 0` part 4.
//! `--api-delay-ms D` answers every API request but watches D ms late,
//! to see how the times grow with a real API server's latency.
//!
//! # Caveats
//!
//! - Root is needed (named and the loopback address it listens on).
//! - The fake API server answers from memory in microseconds; a real API
//!   server (etcd, admission, a network in between) answers each write in
//!   a few milliseconds, and the operator makes one write per record
//!   (finalizer) and one per changed record status, 16 at a time
//!   (`--api-delay-ms` shows the effect). The figures here are a lower
//!   bound on a cluster's.
//! - The operator, named and this program (the API server) share the
//!   machine's two cores over loopback; compare orders of magnitude.

mod kube_http;
mod procfs;

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::net::{Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ddns_dns::TsigKey;
use ddns_kube_fake::FakeApi;
use ddns_operator::crd::{ARecord, DNSZone};
use ddns_operator::delivery::{ManagedRrset, UpdateTarget, update};
use ddns_operator::model::{RecordObject, assemble_zone, zone_spec};
use ddns_testkit::{Bind, BindOptions};
use serde_json::{Value, json};

use kube_http::{Arrival, Served};

type BoxError = Box<dyn Error>;

const NS: &str = "dns";
const ZONE: &str = "example-test";
const API_VERSION: &str = "ddns.dev/v1alpha1";
/// No request to the API (but watches and the Lease) nor to named for this
/// long: the operator is done.
const QUIET: Duration = Duration::from_secs(2);
/// Time for memory to settle after a step before it is read.
const SETTLE: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ddns-operator-e2e: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    operator: PathBuf,
    records: usize,
    large: usize,
    runs: usize,
    idle: Duration,
    api_delay: Duration,
}

fn parse_args() -> Result<Args, BoxError> {
    let beside = std::env::current_exe()?
        .parent()
        .map(|dir| dir.join("ddns-operator"))
        .ok_or("cannot tell this program's directory")?;
    let mut args = Args {
        operator: beside,
        records: 1000,
        large: 10_000,
        runs: 5,
        idle: Duration::from_secs(60),
        api_delay: Duration::ZERO,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--operator" => args.operator = PathBuf::from(value),
            "--records" => args.records = value.parse()?,
            "--large" => args.large = value.parse()?,
            "--runs" => args.runs = value.parse()?,
            "--idle-secs" => args.idle = Duration::from_secs(value.parse()?),
            "--api-delay-ms" => args.api_delay = Duration::from_millis(value.parse()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if args.records < 2 {
        return Err("--records must be at least 2".into());
    }
    if args.large != 0 && args.large <= args.records {
        return Err("--large must be above --records (or 0)".into());
    }
    if !args.operator.is_file() {
        return Err(format!(
            "{} not found: cargo build --release -p ddns-operator, or --operator PATH",
            args.operator.display()
        )
        .into());
    }
    Ok(args)
}

/// Everything a part needs: BIND, the key, a runtime, a directory.
struct Bench {
    args: Args,
    bind: Bind,
    key: TsigKey,
    runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let Some(bind) = Bind::start("ddns-operator-e2e", BindOptions::new()) else {
        return Err("BIND cannot run here (see above)".into());
    };
    let key = TsigKey::from_key_file(&std::fs::read_to_string(bind.key("ddns-key").file())?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let bench = Bench {
        args,
        bind,
        key,
        runtime,
        dir: tempfile::Builder::new()
            .prefix("ddns-operator-e2e-")
            .tempdir()?,
    };
    println!(
        "ddns-operator-e2e: {} ({} bytes), BIND at {}; {} CPUs; API requests answered {} ms late",
        bench.args.operator.display(),
        std::fs::metadata(&bench.args.operator)?.len(),
        bench.bind.addr(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        bench.args.api_delay.as_millis()
    );
    memory_and_idle(&bench)?;
    start_with_records(&bench)?;
    if !bench.args.idle.is_zero() {
        idle_without_election(&bench)?;
    }
    if bench.args.runs > 0 {
        end_to_end(&bench)?;
    }
    Ok(())
}

// ------------------------------------------------------------------ the API

/// A fake API server with the operator's kinds, served over HTTP, and the
/// kubeconfig that names it.
struct Api {
    fake: FakeApi,
    served: Served,
    kubeconfig: PathBuf,
}

impl Api {
    fn new(bench: &Bench, tag: &str) -> Result<Self, BoxError> {
        let fake = FakeApi::new();
        for crd in ddns_operator::crd::all() {
            fake.install_crd(&crd);
        }
        let served = bench
            .runtime
            .block_on(kube_http::serve(&fake, bench.args.api_delay))?;
        let kubeconfig = bench.dir.path().join(format!("kubeconfig-{tag}"));
        std::fs::write(&kubeconfig, kube_http::kubeconfig(served.addr))?;
        let api = Self {
            fake,
            served,
            kubeconfig,
        };
        api.seed(bench)?;
        Ok(api)
    }

    /// The Secret, the primary and the zone.
    fn seed(&self, bench: &Bench) -> Result<(), BoxError> {
        let key = bench.bind.key("ddns-key");
        self.fake.insert(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "tsig", "namespace": NS},
            "stringData": {"secret": key.secret()}
        }))?;
        self.fake.insert(&json!({
            "apiVersion": API_VERSION, "kind": "Bind9Instance",
            "metadata": {"name": "primary", "namespace": NS, "labels": {"role": "primary"}},
            "spec": {"address": bench.bind.addr().ip().to_string(), "port": bench.bind.addr().port(),
                     "role": "primary",
                     "tsigKeySecretRef": {"name": "tsig", "key": "secret"},
                     "tsigKeyName": key.name(), "tsigAlgorithm": key.algorithm()}
        }))?;
        self.fake.insert(&json!({
            "apiVersion": API_VERSION, "kind": "DNSZone",
            "metadata": {"name": ZONE, "namespace": NS},
            "spec": {"zoneName": "example.test", "ttl": 300,
                     "soa": {"primaryNs": "ns1.example.net", "adminEmail": "hostmaster@example.test"},
                     "nameServers": ["ns1.example.net", "ns2.example.net"],
                     "instanceSelector": {"matchLabels": {"role": "primary"}},
                     "delivery": "update"}
        }))?;
        Ok(())
    }

    fn zone(&self) -> Value {
        self.fake
            .get_json(API_VERSION, "dnszones", Some(NS), ZONE)
            .unwrap_or(Value::Null)
    }

    /// Inserts the records `h{from}` .. `h{to - 1}`.
    fn insert_records(&self, from: usize, to: usize) -> Result<(), BoxError> {
        for i in from..to {
            self.fake.insert(&json!({
                "apiVersion": API_VERSION, "kind": "ARecord",
                "metadata": {"name": format!("h{i}"), "namespace": NS},
                "spec": {"zoneRef": ZONE, "name": format!("h{i}"), "ttl": 60,
                         "addresses": [address(i, false).to_string()]}
            }))?;
        }
        Ok(())
    }

    /// Gives `h{i}` another address, as an update of its spec does (the
    /// generation goes up; status and finalizers stay).
    fn change_record(&self, i: usize) -> Result<(), BoxError> {
        let mut record = self
            .fake
            .get_json(API_VERSION, "arecords", Some(NS), &format!("h{i}"))
            .ok_or(format!("record h{i} not found"))?;
        record["spec"]["addresses"] = json!([address(i, true).to_string()]);
        let generation = record["metadata"]["generation"].as_i64().unwrap_or(1);
        record["metadata"]["generation"] = json!(generation + 1);
        self.fake.insert(&record)?;
        Ok(())
    }
}

fn address(i: usize, changed: bool) -> Ipv4Addr {
    let base: u32 = if changed { 0xcb00_7100 } else { 0xc633_0000 };
    Ipv4Addr::from(base.wrapping_add(u32::try_from(i).unwrap_or(0)))
}

fn is_ready(object: &Value) -> bool {
    object["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

// ------------------------------------------------------------ the operator

/// A running `ddns-operator run`.
struct Operator {
    child: Child,
    pid: u32,
    log: PathBuf,
    spawned: Instant,
}

impl Operator {
    fn start(bench: &Bench, api: &Api, tag: &str, leader_election: bool) -> Result<Self, BoxError> {
        let metrics = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let log = bench.dir.path().join(format!("operator-{tag}.log"));
        let out = std::fs::File::create(&log)?;
        let spawned = Instant::now();
        let child = Command::new(&bench.args.operator)
            .arg("run")
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", bench.dir.path())
            .env("KUBECONFIG", &api.kubeconfig)
            .env("DDNS_OPERATOR_METRICS_ADDR", metrics.to_string())
            .env(
                "DDNS_OPERATOR_LEADER_ELECTION",
                if leader_election { "true" } else { "false" },
            )
            .env("DDNS_OPERATOR_LEASE_NAMESPACE", NS)
            .env("DDNS_OPERATOR_IDENTITY", format!("bench-{tag}"))
            .env("DDNS_LOG_FORMAT", "json")
            .env("DDNS_LOG_LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        Ok(Self {
            pid: child.id(),
            child,
            log,
            spawned,
        })
    }

    fn memory(&self) -> Result<procfs::Memory, BoxError> {
        Ok(procfs::memory(self.pid)?)
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Fails with the end of the operator's log when it has exited.
    fn check_alive(&mut self) -> Result<(), BoxError> {
        match self.child.try_wait()? {
            None => Ok(()),
            Some(status) => Err(format!(
                "the operator exited ({status}); its log ends with:\n{}",
                self.tail()
            )
            .into()),
        }
    }

    /// SIGTERM; the time until it exited and its exit code.
    fn stop(mut self) -> Result<(Duration, Option<i32>), BoxError> {
        let asked = Instant::now();
        Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .status()?;
        let limit = asked + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok((asked.elapsed(), status.code()));
            }
            if Instant::now() > limit {
                return Err("the operator did not stop within 30 s of SIGTERM".into());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `check` every 20 ms for up to `limit`.
fn wait_until(
    what: &str,
    limit: Duration,
    operator: &mut Operator,
    mut check: impl FnMut() -> bool,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + limit;
    while !check() {
        operator.check_alive()?;
        if Instant::now() > deadline {
            return Err(format!(
                "timed out after {limit:?} waiting for {what}; the operator's log ends with:\n{}",
                operator.tail()
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Waits until neither the API (watches and the Lease aside) nor named
/// has seen a request for [`QUIET`].
fn wait_quiet(
    bench: &Bench,
    api: &Api,
    operator: &mut Operator,
    limit: Duration,
) -> Result<(), BoxError> {
    let activity = || {
        (
            api.served.log.work_count(),
            bench.bind.counter("opcodes", "QUERY"),
            bench.bind.counter("opcodes", "UPDATE"),
        )
    };
    let deadline = Instant::now() + limit;
    let mut last = activity();
    let mut since = Instant::now();
    while since.elapsed() < QUIET {
        operator.check_alive()?;
        if Instant::now() > deadline {
            return Err(format!("the operator was still busy after {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(100));
        let now = activity();
        if now != last {
            last = now;
            since = Instant::now();
        }
    }
    Ok(())
}

// ------------------------------------------------------------ measurements

/// What one reconcile took and sent.
struct Reconcile {
    /// Making the change in the API.
    change: Duration,
    /// `t0` → the first and the last finalizer written to a record.
    finalizers: Option<(Duration, Duration)>,
    /// `t0` → the first record status write.
    in_bind: Option<Duration>,
    /// `t0` → the last status write.
    reported: Option<Duration>,
    api: BTreeMap<&'static str, usize>,
    queries: u64,
    updates: u64,
}

fn kind_of(arrival: &Arrival) -> &'static str {
    let path = arrival.path.as_str();
    let method = &arrival.method;
    if arrival.is_status_patch(Some("arecords")) {
        "record status"
    } else if arrival.is_status_patch(Some("dnszones")) {
        "zone status"
    } else if *method == http::Method::PATCH && path.contains("/arecords/") {
        "record finalizer"
    } else if *method == http::Method::PATCH && path.contains("/dnszones/") {
        "zone finalizer"
    } else if path.contains("/events") {
        "event"
    } else if *method == http::Method::GET && path.contains("/secrets/") {
        "secret read"
    } else {
        "other"
    }
}

/// Makes a change in the API and measures the reconcile it causes.
fn measure(
    bench: &Bench,
    api: &Api,
    operator: &mut Operator,
    expected_records: usize,
    change: impl FnOnce(&Api) -> Result<(), BoxError>,
) -> Result<Reconcile, BoxError> {
    let queries = bench.bind.counter("opcodes", "QUERY");
    let updates = bench.bind.counter("opcodes", "UPDATE");
    let t0 = Instant::now();
    change(api)?;
    let changed = t0.elapsed();
    let limit = Duration::from_secs(60) + Duration::from_millis(20) * expected_records as u32;
    wait_until("a record status write", limit, operator, || {
        api.served
            .log
            .since(t0)
            .iter()
            .any(|a| a.is_status_patch(Some("arecords")))
    })?;
    wait_quiet(bench, api, operator, limit)?;
    let queries = bench.bind.counter("opcodes", "QUERY") - queries;
    let updates = bench.bind.counter("opcodes", "UPDATE") - updates;
    let arrivals: Vec<Arrival> = api
        .served
        .log
        .since(t0)
        .into_iter()
        .filter(|a| !a.watch && !a.is_lease())
        .collect();
    let mut counts = BTreeMap::new();
    for arrival in &arrivals {
        *counts.entry(kind_of(arrival)).or_insert(0) += 1;
    }
    let finalizers: Vec<Duration> = arrivals
        .iter()
        .filter(|a| kind_of(a) == "record finalizer")
        .map(|a| a.at - t0)
        .collect();
    let in_bind = arrivals
        .iter()
        .find(|a| a.is_status_patch(Some("arecords")))
        .map(|a| a.at - t0);
    let reported = arrivals
        .iter()
        .rev()
        .find(|a| a.is_status_patch(None))
        .map(|a| a.at - t0);
    verify(bench, api, expected_records)?;
    Ok(Reconcile {
        change: changed,
        finalizers: finalizers
            .first()
            .zip(finalizers.last())
            .map(|(a, b)| (*a, *b)),
        in_bind,
        reported,
        api: counts,
        queries,
        updates,
    })
}

/// BIND holds exactly the zone the records describe, and every record
/// and the zone are Ready.
fn verify(bench: &Bench, api: &Api, expected_records: usize) -> Result<(), BoxError> {
    let zone: DNSZone = api.fake.get(Some(NS), ZONE)?.ok_or("the DNSZone is gone")?;
    let records: Vec<ARecord> = api.fake.list(Some(NS))?;
    if records.len() != expected_records {
        return Err(format!(
            "{} records in the API, {expected_records} expected",
            records.len()
        )
        .into());
    }
    let not_ready = api
        .fake
        .list_json(API_VERSION, "arecords", Some(NS))
        .iter()
        .filter(|r| !is_ready(r))
        .count();
    if not_ready > 0 || !is_ready(&api.zone()) {
        return Err(format!("{not_ready} records not Ready, or the zone not Ready").into());
    }
    let spec = zone_spec(&zone.spec)?;
    let members: Vec<RecordObject> = records.iter().map(RecordObject::of).collect();
    let assembly = assemble_zone(&spec, &members);
    let managed: BTreeSet<ManagedRrset> = zone
        .status
        .as_ref()
        .map(|s| s.managed.iter().filter_map(|m| m.parse().ok()).collect())
        .unwrap_or_default();
    if managed.len() != expected_records + 1 {
        return Err(format!(
            "the zone's status manages {} RRsets, {} expected",
            managed.len(),
            expected_records + 1
        )
        .into());
    }
    let target = UpdateTarget::new(bench.bind.addr(), bench.key.clone());
    let report = bench
        .runtime
        .block_on(update::deliver(&target, &assembly, &managed))?;
    if !report.is_unchanged() {
        return Err(format!(
            "BIND differs from the records: {} RRsets to replace, {} to delete",
            report.replaced.len(),
            report.deleted.len()
        )
        .into());
    }
    Ok(())
}

/// Deletes `h0` .. `h{count - 1}` from BIND (off the clock).
fn clear_bind(bench: &Bench, count: usize) -> Result<(), BoxError> {
    let zone = ddns_core::zone::ZoneName::parse("example.test")?;
    let all: BTreeSet<ManagedRrset> = (0..count)
        .filter_map(|i| format!("h{i}.example.test. A").parse().ok())
        .collect();
    let target = UpdateTarget::new(bench.bind.addr(), bench.key.clone());
    bench
        .runtime
        .block_on(update::remove(&target, &zone, &all))?;
    Ok(())
}

/// Starts an operator on `api` and waits until the zone is Ready.
fn start_ready(
    bench: &Bench,
    api: &Api,
    tag: &str,
    leader_election: bool,
) -> Result<(Operator, Duration), BoxError> {
    let mut operator = Operator::start(bench, api, tag, leader_election)?;
    wait_until(
        "the zone to be Ready",
        Duration::from_secs(60),
        &mut operator,
        || is_ready(&api.zone()),
    )?;
    let ready = operator.spawned.elapsed();
    Ok((operator, ready))
}

/// An idle window: CPU, wake-ups and API requests of the operator.
struct Idle {
    cpu: procfs::CpuUse,
    lease_requests: usize,
    other_requests: usize,
    before: procfs::Memory,
    after: procfs::Memory,
}

fn idle(bench: &Bench, api: &Api, operator: &mut Operator) -> Result<Idle, BoxError> {
    std::thread::sleep(SETTLE);
    let before = operator.memory()?;
    let cpu = procfs::cpu(operator.pid)?;
    let start = Instant::now();
    std::thread::sleep(bench.args.idle);
    let used = procfs::cpu(operator.pid)?.since(&cpu);
    let after = operator.memory()?;
    operator.check_alive()?;
    let arrivals = api.served.log.since(start);
    let lease_requests = arrivals.iter().filter(|a| a.is_lease()).count();
    Ok(Idle {
        cpu: used,
        lease_requests,
        other_requests: arrivals.len() - lease_requests,
        before,
        after,
    })
}

// ------------------------------------------------------------------ output

fn ms(d: Duration) -> String {
    format!("{:.0}", d.as_secs_f64() * 1000.0)
}

fn show_memory(label: &str, m: &procfs::Memory) {
    println!(
        "  {label:<44} VmRSS {:>7} KiB (anon {:>7}, file {:>6}); VmHWM {:>7} KiB; {} thread(s)",
        m.rss, m.anon, m.file, m.hwm, m.threads
    );
}

fn show_idle(label: &str, seconds: u64, idle: &Idle) {
    println!(
        "  {label:<44} {} ticks, {:.1} ms CPU, {} voluntary + {} involuntary context switches; API requests: {} Lease, {} other",
        idle.cpu.ticks,
        idle.cpu.ns as f64 / 1e6,
        idle.cpu.voluntary,
        idle.cpu.involuntary,
        idle.lease_requests,
        idle.other_requests
    );
    println!(
        "  {:<44} VmRSS {} → {} KiB over the {seconds} s",
        "", idle.before.rss, idle.after.rss
    );
}

fn show_reconcile(label: &str, r: &Reconcile) {
    let opt = |d: Option<Duration>| d.map_or("-".to_string(), ms);
    let api: Vec<String> = r.api.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let finalizers = r.finalizers.map_or(String::new(), |(first, last)| {
        format!(", finalizers {}–{} ms", ms(first), ms(last))
    });
    println!(
        "  {label:<22} in BIND {:>6} ms, reported {:>6} ms (change made in {} ms{finalizers}); DNS: {} queries, {} UPDATEs; API: {}",
        opt(r.in_bind),
        opt(r.reported),
        ms(r.change),
        r.queries,
        r.updates,
        api.join(", ")
    );
}

// ------------------------------------------------------------------- parts

fn memory_and_idle(bench: &Bench) -> Result<(), BoxError> {
    let args = &bench.args;
    let secs = args.idle.as_secs();
    println!("\n== memory and idle cost, leader election on");
    let api = Api::new(bench, "memory")?;
    let (mut operator, ready) = start_ready(bench, &api, "memory", true)?;
    println!(
        "  spawn → zone Ready (0 records)               {} ms",
        ms(ready)
    );
    if !args.idle.is_zero() {
        let window = idle(bench, &api, &mut operator)?;
        show_idle(&format!("idle {secs} s, 0 records"), secs, &window);
    }
    std::thread::sleep(SETTLE);
    show_memory("idle, 0 records", &operator.memory()?);

    let n = args.records;
    let scratch = measure(bench, &api, &mut operator, n, |api| {
        api.insert_records(0, n)
    })?;
    show_reconcile(&format!("{n} records, scratch"), &scratch);
    std::thread::sleep(SETTLE);
    show_memory(&format!("after {n} records"), &operator.memory()?);
    let change = measure(bench, &api, &mut operator, n, |api| {
        api.change_record(n / 2)
    })?;
    show_reconcile("one record changed", &change);

    let mut total = n;
    if args.large > 0 {
        let large = args.large;
        let more = measure(bench, &api, &mut operator, large, |api| {
            api.insert_records(n, large)
        })?;
        show_reconcile(&format!("+{} → {large} records", large - n), &more);
        std::thread::sleep(SETTLE);
        show_memory(&format!("after {large} records"), &operator.memory()?);
        let change = measure(bench, &api, &mut operator, large, |api| {
            api.change_record(large / 2)
        })?;
        show_reconcile(&format!("one of {large} changed"), &change);
        total = large;
    }
    if !args.idle.is_zero() {
        let window = idle(bench, &api, &mut operator)?;
        show_idle(&format!("idle {secs} s, {total} records"), secs, &window);
        show_memory(
            &format!("idle, {total} records, after the window"),
            &window.after,
        );
    }
    let (took, code) = operator.stop()?;
    println!(
        "  SIGTERM → exit                               {} ms, exit code {code:?}",
        ms(took)
    );
    clear_bind(bench, total)?;
    Ok(())
}

/// An operator started on an API that already holds the records (a
/// restart, or a new leader): the time until every record is reported,
/// and its memory then, built in one go rather than grown step by step.
fn start_with_records(bench: &Bench) -> Result<(), BoxError> {
    let count = if bench.args.large > 0 {
        bench.args.large
    } else {
        bench.args.records
    };
    println!("\n== start with {count} records in the API, leader election on");
    let api = Api::new(bench, "restart")?;
    api.insert_records(0, count)?;
    let queries = bench.bind.counter("opcodes", "QUERY");
    let updates = bench.bind.counter("opcodes", "UPDATE");
    let mut operator = Operator::start(bench, &api, "restart", true)?;
    let spawned = operator.spawned;
    let limit = Duration::from_secs(60) + Duration::from_millis(20) * count as u32;
    wait_until("every record to be reported", limit, &mut operator, || {
        let zone = api.zone();
        is_ready(&zone)
            && zone["status"]["managed"]
                .as_array()
                .is_some_and(|m| m.len() == count + 1)
    })?;
    wait_quiet(bench, &api, &mut operator, limit)?;
    let queries = bench.bind.counter("opcodes", "QUERY") - queries;
    let updates = bench.bind.counter("opcodes", "UPDATE") - updates;
    let arrivals = api.served.log.since(spawned);
    let at = |kind: &str| -> Vec<Duration> {
        arrivals
            .iter()
            .filter(|a| kind_of(a) == kind)
            .map(|a| a.at - spawned)
            .collect()
    };
    let finalizers = at("record finalizer");
    let statuses = at("record status");
    verify(bench, &api, count)?;
    std::thread::sleep(SETTLE);
    println!(
        "  spawn → finalizers {}–{} ms, in BIND {} ms, reported {} ms; DNS: {queries} queries, {updates} UPDATEs; {} record status writes",
        finalizers.first().map_or("-".into(), |d| ms(*d)),
        finalizers.last().map_or("-".into(), |d| ms(*d)),
        statuses.first().map_or("-".into(), |d| ms(*d)),
        arrivals
            .iter()
            .rev()
            .find(|a| a.is_status_patch(None))
            .map_or("-".into(), |a| ms(a.at - spawned)),
        statuses.len()
    );
    show_memory(
        &format!("{count} records, started with them"),
        &operator.memory()?,
    );
    operator.stop()?;
    clear_bind(bench, count)?;
    Ok(())
}

fn idle_without_election(bench: &Bench) -> Result<(), BoxError> {
    let secs = bench.args.idle.as_secs();
    println!("\n== idle cost, leader election off");
    let api = Api::new(bench, "no-election")?;
    let (mut operator, ready) = start_ready(bench, &api, "no-election", false)?;
    println!(
        "  spawn → zone Ready (0 records)               {} ms",
        ms(ready)
    );
    let window = idle(bench, &api, &mut operator)?;
    show_idle(&format!("idle {secs} s, 0 records"), secs, &window);
    show_memory("idle, 0 records", &window.after);
    operator.stop()?;
    Ok(())
}

fn end_to_end(bench: &Bench) -> Result<(), BoxError> {
    let n = bench.args.records;
    println!(
        "\n== {n} records end to end, {} runs (new API, operator and BIND records each run)",
        bench.args.runs
    );
    let mut scratch = Vec::new();
    let mut one = Vec::new();
    for run in 0..bench.args.runs {
        clear_bind(bench, n)?;
        let tag = format!("e2e-{run}");
        let api = Api::new(bench, &tag)?;
        let (mut operator, _) = start_ready(bench, &api, &tag, true)?;
        let first = measure(bench, &api, &mut operator, n, |api| {
            api.insert_records(0, n)
        })?;
        show_reconcile(&format!("run {}: scratch", run + 1), &first);
        let second = measure(bench, &api, &mut operator, n, |api| {
            api.change_record(n / 2)
        })?;
        show_reconcile(&format!("run {}: one change", run + 1), &second);
        operator.stop()?;
        scratch.push(first);
        one.push(second);
    }
    clear_bind(bench, n)?;
    println!(
        "  {:<22} {:>8} {:>8} {:>8}   (ms from the change in the API)",
        "", "median", "min", "max"
    );
    for (label, runs) in [("scratch", &scratch), ("one change", &one)] {
        for (what, pick) in [
            (
                "in BIND",
                (|r: &Reconcile| r.in_bind) as fn(&Reconcile) -> Option<Duration>,
            ),
            ("reported", |r: &Reconcile| r.reported),
        ] {
            let mut times: Vec<Duration> = runs.iter().filter_map(pick).collect();
            times.sort_unstable();
            if times.is_empty() {
                continue;
            }
            println!(
                "  {:<22} {:>8} {:>8} {:>8}",
                format!("{label}, {what}"),
                ms(times[times.len() / 2]),
                ms(times[0]),
                ms(times[times.len() - 1])
            );
        }
    }
    Ok(())
}
