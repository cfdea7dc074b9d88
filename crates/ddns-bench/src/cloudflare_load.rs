//! `ddns-cloudflare-load`: many Cloudflare records through the real engine
//! and provider, against the API stand-in, counting requests.
//!
//! One zone holds N A records (1,000 by default). The engine is told the
//! address they already hold (start-up: every record must be read, none
//! written); Q seconds later (65 by default, past the 60 s for which the
//! provider trusts its last listing) a new address (every record must be
//! written); then it is left alone until the re-check (every S seconds, 120
//! by default) has read every record again (steady state). For each phase it
//! prints the requests the stand-in received, by method, and the time
//! until the engine reported every record done. The stand-in enforces
//! Cloudflare's documented limit (1,200 requests per 5 minutes), so a run
//! that needed more would show 429 answers.
//!
//! # Usage
//!
//! ```text
//! ddns-cloudflare-load [--records N] [--quiet-secs Q] [--recheck-secs S] [--per-record]
//! ```
//!
//! With `--per-record` it instead updates the records one at a time, a
//! lookup and a PATCH each, as updaters without batching do, and reports
//! how far that gets before the stand-in's limit answers 429.
//!
//! # Caveats
//!
//! - The stand-in runs in the same process and thread, over loopback: the
//!   times show the client's work and the request count, not Cloudflare's
//!   latency. The request counts are what matters.

use std::collections::BTreeMap;
use std::error::Error;
use std::net::{IpAddr, Ipv4Addr};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ddns_cloudflare_standin::{RateLimit, StandIn, TokenSpec};
use ddns_core::config::Env;
use ddns_core::{
    AddressSnapshot, DdnsEngine, EngineEvent, EngineObserver, EngineSettings, IpEvent, IpFamily,
    IpSource, MemoryStateStore, ProviderFactory, Record, SourceBinding, SourceError,
};
use futures_util::stream::{self, BoxStream, StreamExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

type BoxError = Box<dyn Error>;

const TOKEN: &str = "bench-token-5d1f0c9a7e3b2468";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ddns-cloudflare-load: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    records: usize,
    recheck: Duration,
    quiet: Duration,
    per_record: bool,
}

fn parse_args() -> Result<Args, BoxError> {
    let mut args = Args {
        records: 1000,
        recheck: Duration::from_secs(120),
        quiet: Duration::from_secs(65),
        per_record: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--per-record" {
            args.per_record = true;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--records" => args.records = value.parse()?,
            "--recheck-secs" => args.recheck = Duration::from_secs(value.parse()?),
            "--quiet-secs" => args.quiet = Duration::from_secs(value.parse()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    if args.records == 0 || args.recheck <= args.quiet {
        return Err("--records must be above 0 and --recheck-secs above --quiet-secs".into());
    }
    Ok(args)
}

fn run() -> Result<(), BoxError> {
    let args = parse_args()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if args.per_record {
        runtime.block_on(per_record(&args))
    } else {
        runtime.block_on(measure(&args))
    }
}

/// What an updater that handles one record at a time sends for the same
/// change: a lookup by name and a PATCH per record, through the same
/// provider (its `read` and `update`), until the API's limit stops it.
async fn per_record(args: &Args) -> Result<(), BoxError> {
    let cf = StandIn::start().await;
    cf.set_rate_limit(Some(RateLimit::cloudflare()));
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    let mut records = Vec::with_capacity(args.records);
    for i in 0..args.records {
        let name = format!("host{i}.example.com");
        cf.add_record(&zone, "A", &name, "192.0.2.1");
        records.push(Record::new(name.parse()?, IpFamily::V4));
    }
    let provider = CloudflareFactoryBuild::build(&cf.url()).await?;
    cf.clear_requests();
    let new = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let started = Instant::now();
    let mut done = 0;
    for record in &records {
        let read = provider.read(record).await;
        let wrote = match read {
            Ok(_) => {
                provider
                    .update(&ddns_core::RecordChange::new(record.clone(), new))
                    .await
            }
            Err(error) => Err(error),
        };
        match wrote {
            Ok(()) => done += 1,
            Err(error) if error.kind() == ddns_core::ProviderErrorKind::RateLimited => break,
            Err(error) => return Err(error.to_string().into()),
        }
    }
    let (total, methods, limited) = by_method(&cf);
    println!(
        "one record at a time: {total} requests ({methods}), 429s: {limited}; {done} of {} records updated before the API blocked further requests for {} s; {} ms",
        args.records,
        300,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// An address source driven by the bench.
struct Feed {
    events: Mutex<Option<UnboundedReceiver<IpEvent>>>,
}

#[async_trait]
impl IpSource for Feed {
    fn name(&self) -> &str {
        "bench-feed"
    }

    async fn current(&self) -> Result<AddressSnapshot, SourceError> {
        Ok(AddressSnapshot::default())
    }

    fn watch(&self) -> BoxStream<'static, Result<IpEvent, SourceError>> {
        let receiver = self.events.lock().ok().and_then(|mut r| r.take());
        match receiver {
            Some(receiver) => stream::unfold(receiver, |mut r| async move {
                r.recv().await.map(|event| (Ok(event), r))
            })
            .boxed(),
            None => stream::pending().boxed(),
        }
    }
}

/// Counts what the engine reports, per kind.
#[derive(Default)]
struct Tally {
    counts: Mutex<BTreeMap<&'static str, usize>>,
}

impl Tally {
    fn get(&self, kind: &str) -> usize {
        self.counts
            .lock()
            .map(|c| c.get(kind).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    fn reset(&self) {
        if let Ok(mut c) = self.counts.lock() {
            c.clear();
        }
    }
}

impl EngineObserver for Tally {
    fn observe(&self, event: &EngineEvent<'_>) {
        let kind = match event {
            EngineEvent::RecordConfirmed { .. } => "confirmed",
            EngineEvent::RecordWritten { .. } => "written",
            EngineEvent::RecordFailed { .. } => "failed",
            EngineEvent::PassCompleted { .. } => "passes",
            _ => return,
        };
        if let Ok(mut c) = self.counts.lock() {
            *c.entry(kind).or_default() += 1;
        }
    }
}

fn by_method(cf: &StandIn) -> (usize, String, usize) {
    let requests = cf.requests();
    let mut methods: BTreeMap<String, usize> = BTreeMap::new();
    for r in &requests {
        let key = if r.path.ends_with("/batch") {
            "POST batch".to_string()
        } else {
            format!(
                "{} {}",
                r.method,
                if r.path.ends_with("/dns_records") {
                    "list"
                } else {
                    "other"
                }
            )
        };
        *methods.entry(key).or_default() += 1;
    }
    let limited = requests.iter().filter(|r| r.status == Some(429)).count();
    let text = methods
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    (requests.len(), text, limited)
}

async fn wait_for(tally: &Tally, kind: &str, count: usize) -> Result<Duration, BoxError> {
    let start = Instant::now();
    while tally.get(kind) < count {
        if tally.get("failed") > 0 {
            return Err(format!("{} records failed", tally.get("failed")).into());
        }
        if start.elapsed() > Duration::from_secs(120) {
            return Err(format!(
                "only {} of {count} records {kind} after 120 s",
                tally.get(kind)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok(start.elapsed())
}

async fn measure(args: &Args) -> Result<(), BoxError> {
    let old = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let new = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
    let cf = StandIn::start().await;
    cf.set_rate_limit(Some(RateLimit::cloudflare()));
    cf.add_token(TOKEN, TokenSpec::user());
    let zone = cf.add_zone("example.com");
    let mut records = Vec::with_capacity(args.records);
    for i in 0..args.records {
        let name = format!("host{i}.example.com");
        cf.add_record(&zone, "A", &name, &old.to_string());
        records.push(Record::new(name.parse()?, IpFamily::V4));
    }
    let url = cf.url();
    let provider = CloudflareFactoryBuild::build(&url).await?;

    let tally = Arc::new(Tally::default());
    let mut settings = EngineSettings::new(records);
    settings.min_update_interval = Duration::ZERO;
    settings.recheck_interval = Some(args.recheck);
    let engine = DdnsEngine::new(settings, provider, Arc::new(MemoryStateStore::default()))
        .with_observer(tally.clone());
    let (feed, events): (UnboundedSender<IpEvent>, _) = unbounded_channel();
    let source = Feed {
        events: Mutex::new(Some(events)),
    };
    let bindings = vec![SourceBinding::new(Arc::new(source), vec![IpFamily::V4])];

    let n = args.records;
    let driver = async {
        println!(
            "ddns-cloudflare-load: {n} A records in one zone, stand-in limited to 1200 requests / 5 min"
        );
        feed.send(IpEvent::Observed(old))?;
        let took = wait_for(&tally, "confirmed", n).await?;
        let (total, methods, limited) = by_method(&cf);
        println!(
            "start-up (all hold the address): {total} requests ({methods}), 429s: {limited}, {} ms",
            took.as_millis()
        );

        tokio::time::sleep(args.quiet).await;
        cf.clear_requests();
        tally.reset();
        feed.send(IpEvent::Observed(new))?;
        let took = wait_for(&tally, "written", n).await?;
        let (total, methods, limited) = by_method(&cf);
        let wrong = cf
            .records(&zone)
            .iter()
            .filter(|r| r.content != new.to_string())
            .count();
        println!(
            "address change: {total} requests ({methods}), 429s: {limited}, {} ms; records not holding the new address: {wrong}",
            took.as_millis()
        );

        cf.clear_requests();
        tally.reset();
        tokio::time::sleep(args.recheck + Duration::from_secs(5)).await;
        let (total, methods, limited) = by_method(&cf);
        let per_record = total as f64 / n as f64;
        println!(
            "steady state: {total} requests for one re-check of every record ({methods}), 429s: {limited}; {per_record:.4} requests per record per re-check",
        );
        Ok::<_, BoxError>(())
    };
    tokio::select! {
        result = driver => result,
        result = engine.run(bindings, std::future::pending()) => match result {
            Ok(()) => Err("the engine stopped".into()),
            Err(error) => Err(error.into()),
        },
    }
}

/// Builds the provider from the same variables `ddnsd` reads.
struct CloudflareFactoryBuild;

impl CloudflareFactoryBuild {
    async fn build(url: &str) -> Result<Arc<dyn ddns_core::DnsProvider>, BoxError> {
        let env = Env::from_pairs([
            ("DDNS_PROVIDER_API_TOKEN", TOKEN),
            ("DDNS_CLOUDFLARE_API_URL", url),
        ]);
        let plan = ddns_provider_cloudflare::CloudflareFactory
            .configure(&env)
            .map_err(|e| e.to_string())?;
        Ok(plan.build().await?)
    }
}
