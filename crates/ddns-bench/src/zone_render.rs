//! `ddns-zone-render`: the cost of the operator's pure zone work for a
//! zone of N records (10,000 by default): assembling the claims, rendering
//! the zone file, and the unchanged-content check a requeue makes.
//!
//! The zone mixes the record kinds a real zone holds: per host an A
//! record, every second host an AAAA record, every tenth a TXT record of
//! 100 bytes, every twentieth an MX record (two exchangers), every
//! fiftieth a CNAME alias, every hundredth an SRV record. Hosts are added
//! until the zone holds N records besides the SOA and the apex NS set.
//!
//! # Usage
//!
//! ```text
//! ddns-zone-render [--records N] [--runs R]
//! ```
//!
//! Each step runs R times (25 by default) after one warm-up run; it prints
//! the minimum, median and maximum, and the rendered size.
//!
//! # Caveats
//!
//! - Single thread, no I/O: this is CPU time on this machine; compare
//!   orders of magnitude, not digits.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use ddns_core::zone::{
    Assembly, Claim, Owner, RecordData, ZoneName, ZoneSpec, assemble, render, same_content,
};

mod operator_bench;

use operator_bench::{BoxError, Sizes, host, zone_spec};

fn main() -> ExitCode {
    operator_bench::exit("ddns-zone-render", run())
}

fn claim(zone: &ZoneName, owner: &str, values: Vec<RecordData>) -> Result<Claim, BoxError> {
    Ok(Claim {
        source: format!("Bench/{owner}"),
        owner: Owner::parse(owner, zone).map_err(|e| e.to_string())?,
        ttl: None,
        values,
    })
}

/// The zone and claims for `records` records.
fn zone(records: usize) -> Result<(ZoneSpec, Vec<Claim>), BoxError> {
    let name = ZoneName::parse("bench.example")?;
    let spec = zone_spec(&name, 3600, 300)?;
    let mut claims = Vec::new();
    let mut count = 0;
    let mut i: u32 = 0;
    while count < records {
        let h = format!("host{i}");
        let v4 = Ipv4Addr::from(0xc633_0000 + i);
        claims.push(claim(&name, &h, vec![RecordData::A(v4)])?);
        count += 1;
        if i.is_multiple_of(2) && count < records {
            let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, (i >> 16) as u16, i as u16);
            claims.push(claim(&name, &h, vec![RecordData::Aaaa(v6)])?);
            count += 1;
        }
        if i.is_multiple_of(10) && count < records {
            let text = format!("v=bench1; id={i:010}; {}", "k".repeat(70));
            claims.push(claim(&name, &h, vec![RecordData::Txt(text)])?);
            count += 1;
        }
        if i.is_multiple_of(20) && count + 1 < records {
            for (preference, exchange) in [(10, "mx1.example.net"), (20, "mx2.example.net")] {
                claims.push(claim(
                    &name,
                    &h,
                    vec![RecordData::Mx {
                        preference,
                        exchange: host(exchange)?,
                    }],
                )?);
            }
            count += 2;
        }
        if i.is_multiple_of(50) && count < records {
            claims.push(claim(
                &name,
                &format!("alias{i}"),
                vec![RecordData::Cname(host(&format!("{h}.bench.example"))?)],
            )?);
            count += 1;
        }
        if i.is_multiple_of(100) && count < records {
            claims.push(claim(
                &name,
                &format!("_svc{i}._tcp"),
                vec![RecordData::Srv {
                    priority: 10,
                    weight: 5,
                    port: 8443,
                    target: host(&format!("{h}.bench.example"))?,
                }],
            )?);
            count += 1;
        }
        i += 1;
    }
    Ok((spec, claims))
}

fn time<T>(runs: usize, mut step: impl FnMut() -> T) -> (Vec<Duration>, T) {
    let mut last = step();
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        last = step();
        samples.push(started.elapsed());
    }
    samples.sort_unstable();
    (samples, last)
}

fn row(label: &str, samples: &[Duration]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<28} {:>8.2} {:>8.2} {:>8.2}",
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1])
    );
}

fn run() -> Result<(), BoxError> {
    let args = Sizes::parse(10_000, 25, 1)?;
    let (spec, claims) = zone(args.records)?;
    let (assembled, assembly): (_, Assembly) = time(args.runs, || assemble(&spec, &claims));
    if !assembly.conflicts.is_empty() || !assembly.problems.is_empty() {
        return Err(format!(
            "the generated zone has conflicts {:?} or problems {:?}",
            assembly.conflicts.first(),
            assembly.problems
        )
        .into());
    }
    let (rendered, text) = time(args.runs, || render(&assembly, 2_026_112_800));
    let (compared, same) = time(args.runs, || same_content(&assembly, &text));
    if !same {
        return Err("the rendered zone does not compare equal to itself".into());
    }
    println!(
        "ddns-zone-render: {} records ({} claims, {} RRsets), zone file {} bytes, {} lines; {} runs each",
        assembly.record_count(),
        claims.len(),
        assembly.rrsets.len(),
        text.len(),
        text.lines().count(),
        args.runs
    );
    println!("{:<28} {:>8} {:>8} {:>8}  (ms)", "", "min", "median", "max");
    row("assemble (claims -> zone)", &assembled);
    row("render (zone -> file text)", &rendered);
    row("unchanged check (requeue)", &compared);
    Ok(())
}
