//! `ddns-latency`: the time from a netlink address change to the provider's
//! `update` call, inside one process.
//!
//! It runs the real [`ddns_ip_netlink::NetlinkSource`] and
//! [`ddns_core::DdnsEngine`] on a current-thread runtime, as `ddnsd` does,
//! with a provider that only notes when it is called. Each iteration changes
//! the chosen IPv4 address of an interface with one rtnetlink request and
//! measures from just before that request to the provider's call; it prints
//! the count and the p50, p90, p99 and maximum in microseconds.
//!
//! # Usage
//!
//! ```text
//! ip netns exec NS ddns-latency [--mode add|replace] [--iterations N]
//!                               [--warmup N] [--interface NAME]
//! ```
//!
//! `bench/run-all.sh` creates a namespace with a veth pair `v0`/`v1`, runs
//! this program in it for both modes, and removes the namespace.
//!
//! - `add` (the default): the previous address is removed beforehand, off
//!   the clock, and the engine has seen the family lost; the timed request
//!   adds the next address.
//! - `replace`: the next address is added beforehand, off the clock (the
//!   current one stays chosen while it is eligible); the timed request
//!   deletes the current address, so the source switches to the next one.
//!
//! # Caveats
//!
//! - It adds and removes addresses (in 192.0.2.0/24, as /32s so that each
//!   is primary) on the interface, after removing the IPv4 addresses it
//!   holds: it refuses to run in the initial network namespace.
//! - No `tracing` subscriber is installed, so logging costs nothing here;
//!   the daemon figures in `docs/BENCHMARKS.md` include it.
//! - Wall-clock figures from a shared machine are noisy: compare orders of
//!   magnitude, not digits.

mod args;
mod probe;
mod stats;

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ddns_core::{
    DdnsEngine, EngineSettings, IpFamily, MemoryStateStore, Record, SelectionPolicy, SourceBinding,
};
use ddns_ip_netlink::NetlinkSource;
use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressMessage};
use rtnetlink::{AddressMessageBuilder, Handle};

use args::{Args, Mode};
use probe::Probe;

type BoxError = Box<dyn Error>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ddns-latency: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), BoxError> {
    let args = Args::parse(std::env::args().skip(1))?;
    require_scratch_namespace()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let samples = runtime.block_on(measure(&args))?;
    println!(
        "ddns-latency: mode {}, {} changes after {} warm-up, {} ms idle before each",
        args.mode,
        args.iterations,
        args.warmup,
        args.settle.as_millis()
    );
    println!("{}", stats::Summary::HEADER);
    println!(
        "{}",
        stats::Summary::of(samples.called).row("request -> provider call")
    );
    println!(
        "{}",
        stats::Summary::of(samples.acked).row("request -> ack seen")
    );
    Ok(())
}

/// The program rewrites the interface's addresses: only in a namespace made
/// with `ip netns add`, never in the one the machine runs in.
fn require_scratch_namespace() -> Result<(), BoxError> {
    let own = std::fs::metadata("/proc/self/ns/net")?;
    let named = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.metadata().ok())
        .any(|ns| (ns.dev(), ns.ino()) == (own.dev(), own.ino()));
    if !named {
        return Err(
            "ddns-latency changes the addresses of an interface; run it with \
             `ip netns exec` in a scratch namespace (bench/run-all.sh does)"
                .into(),
        );
    }
    Ok(())
}

/// The i-th address of the cycle, never the same twice in a row.
fn nth(i: usize) -> Ipv4Addr {
    let last = u8::try_from(1 + i % 254).unwrap_or(1);
    Ipv4Addr::new(192, 0, 2, last)
}

/// The measured durations, one per timed change.
#[derive(Debug, Default)]
struct Samples {
    /// From the request to the provider's call.
    called: Vec<Duration>,
    /// From the request to the moment its acknowledgement was read: the
    /// kernel's handling of the request, plus whatever ran first.
    acked: Vec<Duration>,
}

async fn measure(args: &Args) -> Result<Samples, BoxError> {
    let (connection, handle, _) = rtnetlink::new_connection()?;
    tokio::spawn(connection);
    let index = link_index(&handle, &args.interface).await?;
    let net = Net { handle, index };
    net.clear().await?;

    let (probe, mut seen) = Probe::new();
    let probe = Arc::new(probe);
    let name = "bench.example.com".parse()?;
    let mut settings = EngineSettings::new(vec![Record::new(name, IpFamily::V4)]);
    settings.min_update_interval = Duration::ZERO;
    settings.recheck_interval = None;
    let engine = DdnsEngine::new(
        settings,
        probe.clone(),
        Arc::new(MemoryStateStore::default()),
    )
    .with_observer(probe);
    let source = NetlinkSource::new(SelectionPolicy::Interfaces(vec![args.interface.clone()]))
        .with_families(&[IpFamily::V4]);
    let bindings = vec![SourceBinding::new(Arc::new(source), vec![IpFamily::V4])];

    let driver = async {
        net.add(nth(0)).await?;
        seen.called(nth(0)).await?;
        let mut samples = Samples::default();
        for i in 0..args.warmup + args.iterations {
            let (current, next) = (nth(i), nth(i + 1));
            let (start, acked) = match args.mode {
                Mode::Add => {
                    net.del(current).await?;
                    seen.lost().await?;
                    settle(args.settle).await;
                    let start = Instant::now();
                    net.add(next).await?;
                    (start, Instant::now())
                }
                Mode::Replace => {
                    net.add(next).await?;
                    settle(args.settle).await;
                    let start = Instant::now();
                    net.del(current).await?;
                    (start, Instant::now())
                }
            };
            let called = seen.called(next).await?;
            if i >= args.warmup {
                samples.called.push(called.saturating_duration_since(start));
                samples.acked.push(acked.saturating_duration_since(start));
            }
        }
        Ok::<_, BoxError>(samples)
    };
    let result = tokio::select! {
        result = driver => result,
        result = engine.run(bindings, std::future::pending()) => match result {
            Ok(()) => Err("the engine stopped".into()),
            Err(error) => Err(error.into()),
        },
    };
    // Leave the interface as it was found, even after a failed run.
    let cleared = net.clear().await;
    let samples = result?;
    cleared?;
    Ok(samples)
}

/// Leaves the thread idle before a timed change, as a daemon is when an
/// address changes; this also lets the source read the notification of the
/// off-the-clock change first.
async fn settle(pause: Duration) {
    if !pause.is_zero() {
        tokio::time::sleep(pause).await;
    }
}

async fn link_index(handle: &Handle, interface: &str) -> Result<u32, BoxError> {
    let mut links = handle
        .link()
        .get()
        .match_name(interface.to_string())
        .execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(link.header.index),
        Ok(None) | Err(_) => Err(format!(
            "no interface {interface} here; run inside a namespace with a veth pair v0/v1 \
             (bench/run-all.sh creates one)"
        )
        .into()),
    }
}

/// Changes the IPv4 addresses of one interface.
struct Net {
    handle: Handle,
    index: u32,
}

impl Net {
    fn message(&self, address: Ipv4Addr) -> AddressMessage {
        AddressMessageBuilder::<Ipv4Addr>::new()
            .index(self.index)
            .address(address, 32)
            .build()
    }

    async fn add(&self, address: Ipv4Addr) -> Result<(), BoxError> {
        self.handle
            .address()
            .add(self.index, address.into(), 32)
            .execute()
            .await
            .map_err(|e| format!("cannot add {address}/32: {e}").into())
    }

    async fn del(&self, address: Ipv4Addr) -> Result<(), BoxError> {
        self.handle
            .address()
            .del(self.message(address))
            .execute()
            .await
            .map_err(|e| format!("cannot delete {address}/32: {e}").into())
    }

    /// Removes every IPv4 address of the interface.
    async fn clear(&self) -> Result<(), BoxError> {
        let mut found = Vec::new();
        let mut dump = self
            .handle
            .address()
            .get()
            .set_link_index_filter(self.index)
            .execute();
        while let Some(message) = dump.try_next().await? {
            for attribute in &message.attributes {
                if let AddressAttribute::Local(IpAddr::V4(address)) = attribute {
                    found.push((*address, message.header.prefix_len));
                }
            }
        }
        for (address, prefix) in found {
            let message = AddressMessageBuilder::<Ipv4Addr>::new()
                .index(self.index)
                .address(address, prefix)
                .build();
            // Removing a primary address also removes its secondaries, so a
            // later delete may find its address gone already.
            let _ = self.handle.address().del(message).execute().await;
        }
        Ok(())
    }
}
