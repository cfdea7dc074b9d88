//! What the operator's bench programs share: the exit convention, the
//! `--records N --runs R` command line, and the zone's own settings.

use std::error::Error;
use std::process::ExitCode;

use ddns_core::zone::{HostName, Mailbox, Soa, ZoneName, ZoneSpec};

pub(crate) type BoxError = Box<dyn Error>;

/// Exit code 0, or 1 after printing `program: error`.
pub(crate) fn exit(program: &str, result: Result<(), BoxError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `--records N --runs R`.
pub(crate) struct Sizes {
    pub(crate) records: usize,
    pub(crate) runs: usize,
}

impl Sizes {
    /// Reads the command line over the defaults; `records` must be at
    /// least `min_records` and `runs` above 0.
    pub(crate) fn parse(records: usize, runs: usize, min_records: usize) -> Result<Self, BoxError> {
        let mut sizes = Sizes { records, runs };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = it.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--records" => sizes.records = value.parse()?,
                "--runs" => sizes.runs = value.parse()?,
                other => return Err(format!("unknown option {other}").into()),
            }
        }
        if sizes.records < min_records || sizes.runs == 0 {
            return Err(
                format!("--records must be at least {min_records} and --runs above 0").into(),
            );
        }
        Ok(sizes)
    }
}

pub(crate) fn host(name: &str) -> Result<HostName, BoxError> {
    Ok(HostName::parse(name)?)
}

/// Zone `name` served by two name servers outside it.
pub(crate) fn zone_spec(
    name: &ZoneName,
    ttl: u32,
    negative_ttl: u32,
) -> Result<ZoneSpec, BoxError> {
    Ok(ZoneSpec {
        name: name.clone(),
        ttl,
        soa: Soa {
            primary_ns: host("ns1.example.net")?,
            mailbox: Mailbox::parse(&format!("hostmaster@{name}"))?,
            refresh: 3600,
            retry: 600,
            expire: 604_800,
            negative_ttl,
        },
        name_servers: vec![host("ns1.example.net")?, host("ns2.example.net")?],
    })
}
