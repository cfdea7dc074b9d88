//! `ddns-operator-update`: N records (1,000 by default) delivered by the
//! operator's update mode into a real BIND9, counting requests and time.
//!
//! It starts a `named` of its own (the test kit's: zone `example.test`,
//! a TSIG key allowed to update it, on a loopback address), builds a zone
//! of N A records `h0` .. `h{N-1}` (one RRset each, TTL 60) with two
//! name servers outside the zone, and for each of R runs (5 by default):
//!
//! 1. removes the N records (off the clock), so the run starts from scratch
//!    (the apex NS set, delivered once before the first run, stays);
//! 2. **from scratch**: one `update::deliver` with nothing managed before;
//! 3. **one change**: `h{N/2}` gets a new address, one delivery;
//! 4. **requeue**: the same zone again, nothing to do.
//!
//! For each phase it prints the median, minimum and maximum wall time of
//! the `deliver` call, and the requests: queries and UPDATE messages as the
//! delivery reports them and as named counted them (`opcodes` of its
//! statistics channel), which must agree.
//!
//! # Usage
//!
//! ```text
//! sudo ddns-operator-update [--records N] [--runs R]
//! ```
//!
//! # Caveats
//!
//! - Root is needed (named and the loopback address it listens on).
//! - Client and server share the machine's two cores, over loopback; the
//!   test kit's named logs every query to a file (`querylog yes`), which a
//!   production server usually does not. Compare orders of magnitude.
//! - No `tracing` subscriber is installed, so logging costs nothing here.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ddns_core::zone::{Assembly, Claim, Owner, RecordData, ZoneName, assemble};
use ddns_dns::TsigKey;
use ddns_operator::delivery::{ManagedRrset, UpdateReport, UpdateTarget, managed_set, update};
use ddns_testkit::{Bind, BindOptions};

mod operator_bench;

use operator_bench::{BoxError, Sizes, zone_spec};

fn main() -> ExitCode {
    operator_bench::exit("ddns-operator-update", run())
}

/// The zone with `records` A records; `changed` gets another address.
fn zone(records: usize, changed: Option<usize>) -> Result<Assembly, BoxError> {
    let name = ZoneName::parse("example.test")?;
    let spec = zone_spec(&name, 300, 60)?;
    let mut claims = Vec::with_capacity(records);
    for i in 0..records {
        let base = if Some(i) == changed {
            0xcb00_7100
        } else {
            0xc633_0000
        };
        let address = Ipv4Addr::from(base + u32::try_from(i)?);
        claims.push(Claim {
            source: format!("ARecord/h{i}"),
            owner: Owner::parse(&format!("h{i}"), &name).map_err(|e| e.to_string())?,
            ttl: Some(60),
            values: vec![RecordData::A(address)],
        });
    }
    let assembly = assemble(&spec, &claims);
    if !assembly.conflicts.is_empty() || !assembly.problems.is_empty() {
        return Err("the generated zone has conflicts or problems".into());
    }
    Ok(assembly)
}

/// One timed delivery with what named counted meanwhile.
struct Sample {
    elapsed: Duration,
    report: UpdateReport,
    named_queries: u64,
    named_updates: u64,
}

fn deliver(
    runtime: &tokio::runtime::Runtime,
    bind: &Bind,
    target: &UpdateTarget,
    assembly: &Assembly,
    previously: &BTreeSet<ManagedRrset>,
) -> Result<Sample, BoxError> {
    let queries = bind.counter("opcodes", "QUERY");
    let updates = bind.counter("opcodes", "UPDATE");
    let started = Instant::now();
    let report = runtime.block_on(update::deliver(target, assembly, previously))?;
    let elapsed = started.elapsed();
    Ok(Sample {
        elapsed,
        report,
        named_queries: bind.counter("opcodes", "QUERY") - queries,
        named_updates: bind.counter("opcodes", "UPDATE") - updates,
    })
}

fn summary(label: &str, samples: &[Sample]) {
    let mut times: Vec<Duration> = samples.iter().map(|s| s.elapsed).collect();
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let first = &samples[0];
    let consistent = samples.iter().all(|s| {
        s.report.queries_sent == first.report.queries_sent
            && s.report.updates_sent == first.report.updates_sent
            && s.named_queries == first.named_queries
            && s.named_updates == first.named_updates
    });
    println!(
        "{label:<14} {:>8.1} {:>8.1} {:>8.1} {:>8} {:>8} {:>8} {:>8} {:>8}{}",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        first.report.changes(),
        first.report.queries_sent,
        first.report.updates_sent,
        first.named_queries,
        first.named_updates,
        if consistent { "" } else { "  (counts varied)" }
    );
}

fn run() -> Result<(), BoxError> {
    let args = Sizes::parse(1000, 5, 2)?;
    let Some(bind) = Bind::start("ddns-operator-update", BindOptions::new()) else {
        return Err("BIND cannot run here (see above)".into());
    };
    let key = TsigKey::from_key_file(&std::fs::read_to_string(bind.key("ddns-key").file())?)?;
    let target = UpdateTarget::new(bind.addr(), key);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let base = zone(args.records, None)?;
    let changed = zone(args.records, Some(args.records / 2))?;
    let everything = managed_set(&base);

    // Once off the clock: the apex NS set becomes the zone's, so that every
    // run below starts from the same state.
    runtime.block_on(update::deliver(&target, &base, &BTreeSet::new()))?;
    let (mut scratch, mut one, mut requeue) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        runtime.block_on(update::remove(&target, &base.zone.name, &everything))?;
        let first = deliver(&runtime, &bind, &target, &base, &BTreeSet::new())?;
        if first.report.replaced.len() < args.records {
            return Err(format!(
                "from scratch replaced only {} RRsets",
                first.report.replaced.len()
            )
            .into());
        }
        let second = deliver(&runtime, &bind, &target, &changed, &first.report.managed)?;
        let third = deliver(&runtime, &bind, &target, &changed, &second.report.managed)?;
        if second.report.changes() != 1 || !third.report.is_unchanged() {
            return Err("the change or the requeue did not plan as expected".into());
        }
        scratch.push(first);
        one.push(second);
        requeue.push(third);
    }
    println!(
        "ddns-operator-update: {} A records into BIND at {}, {} runs; times in ms, requests per delivery",
        args.records,
        bind.addr(),
        args.runs
    );
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "", "median", "min", "max", "changes", "queries", "UPDATEs", "named Q", "named U"
    );
    summary("from scratch", &scratch);
    summary("one change", &one);
    summary("requeue", &requeue);
    Ok(())
}
