//! What `/proc` tells about another process: its memory, and the CPU time
//! and context switches of its threads.

use std::collections::BTreeMap;
use std::io;

/// Memory from `/proc/PID/status`, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Memory {
    pub(crate) rss: u64,
    pub(crate) anon: u64,
    pub(crate) file: u64,
    /// The peak RSS so far (`VmHWM`).
    pub(crate) hwm: u64,
    pub(crate) threads: u64,
}

fn status(path: &str) -> io::Result<BTreeMap<String, String>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_owned(), value.trim().to_owned()))
        .collect())
}

/// The leading number of a field (`"1234 kB"` → 1234); 0 when absent.
fn number(fields: &BTreeMap<String, String>, key: &str) -> u64 {
    fields
        .get(key)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn memory(pid: u32) -> io::Result<Memory> {
    let fields = status(&format!("/proc/{pid}/status"))?;
    Ok(Memory {
        rss: number(&fields, "VmRSS"),
        anon: number(&fields, "RssAnon"),
        file: number(&fields, "RssFile"),
        hwm: number(&fields, "VmHWM"),
        threads: number(&fields, "Threads"),
    })
}

/// CPU use so far: the process's `utime + stime` (all its threads, in
/// clock ticks of 10 ms) and, per live thread, its CPU time in ns
/// (`schedstat`) and its voluntary and involuntary context switches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cpu {
    pub(crate) ticks: u64,
    threads: BTreeMap<String, ThreadCpu>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct ThreadCpu {
    ns: u64,
    voluntary: u64,
    involuntary: u64,
}

/// The difference between two [`Cpu`] readings of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CpuUse {
    pub(crate) ticks: u64,
    pub(crate) ns: u64,
    /// Voluntary switches: the thread went to sleep, so each one is a
    /// wake-up that ended.
    pub(crate) voluntary: u64,
    pub(crate) involuntary: u64,
}

pub(crate) fn cpu(pid: u32) -> io::Result<Cpu> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields 14 and 15 of proc(5), counted after the command's `)`.
    let after_comm: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| -> u64 { after_comm.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let ticks = field(11) + field(12);
    let mut threads = BTreeMap::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let tid = entry?.file_name().to_string_lossy().into_owned();
        // A thread may end between the listing and the reads.
        let Ok(fields) = status(&format!("/proc/{pid}/task/{tid}/status")) else {
            continue;
        };
        let ns = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0);
        threads.insert(
            tid,
            ThreadCpu {
                ns,
                voluntary: number(&fields, "voluntary_ctxt_switches"),
                involuntary: number(&fields, "nonvoluntary_ctxt_switches"),
            },
        );
    }
    Ok(Cpu { ticks, threads })
}

impl Cpu {
    /// What happened since `before`. A thread that ended in between is
    /// not counted (its last figures are gone); a new one counts whole.
    pub(crate) fn since(&self, before: &Cpu) -> CpuUse {
        let mut used = CpuUse {
            ticks: self.ticks.saturating_sub(before.ticks),
            ..CpuUse::default()
        };
        for (tid, now) in &self.threads {
            let then = before.threads.get(tid).copied().unwrap_or_default();
            used.ns += now.ns.saturating_sub(then.ns);
            used.voluntary += now.voluntary.saturating_sub(then.voluntary);
            used.involuntary += now.involuntary.saturating_sub(then.involuntary);
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read() {
        let pid = std::process::id();
        let memory = memory(pid).unwrap_or_else(|e| panic!("{e}"));
        assert!(memory.rss > 0 && memory.hwm >= memory.rss && memory.threads >= 1);
        let before = cpu(pid).unwrap_or_else(|e| panic!("{e}"));
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
        let used = cpu(pid).unwrap_or_else(|e| panic!("{e}")).since(&before);
        assert!(used.ns > 0, "{used:?} ({x})");
        assert!(used.voluntary >= 1, "{used:?}");
    }
}
