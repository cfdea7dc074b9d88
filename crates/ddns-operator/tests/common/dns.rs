//! Asking a test BIND from async tests: the testkit's calls block (they
//! run dig, nsupdate, named), so they run in place of a worker of the
//! multi-threaded runtime without holding up the controller's tasks.

use std::process::Command;

use ddns_testkit::Bind;

/// Runs a blocking call without holding up the runtime's other tasks.
pub fn blocking<T>(work: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(work)
}

/// What BIND answers (`dig +norec +short`, sorted).
pub fn answer(bind: &Bind, name: &str, rtype: &str) -> Vec<String> {
    blocking(|| bind.query(name, rtype))
}

/// What BIND puts in the authority and additional sections for `name NS`
/// (a referral at a delegation: its NS set and glue), as `name TYPE data`,
/// sorted; read with dig, independently of the operator's DNS client.
pub fn referral(bind: &Bind, name: &str) -> Vec<String> {
    let addr = bind.addr();
    let output = blocking(|| {
        Command::new("dig")
            .args([
                "+norec",
                "+noall",
                "+authority",
                "+additional",
                "+time=2",
                "+tries=1",
            ])
            .arg(format!("@{}", addr.ip()))
            .args(["-p", &addr.port().to_string(), name, "NS"])
            .output()
            .expect("dig runs")
    });
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            // name TTL class type data...
            format!("{} {} {}", fields[0], fields[3], fields[4..].join(" "))
        })
        .collect();
    lines.sort();
    lines
}
