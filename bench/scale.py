#!/usr/bin/env python3
"""Scale: one ddnsd managing 1 to 10,000 records, against a real BIND9
(rfc2136 provider) and the Cloudflare API stand-in, beside Debian's ddclient
doing the same work into the same BIND.

    sudo bench/scale.py                  # the published figures (~13 min)
    sudo bench/scale.py --quick          # a smoke test (~2 min)
    sudo bench/scale.py --binary PATH    # measure an existing ddnsd
    sudo bench/scale.py --no-ddclient    # ddnsd only

It builds ddnsd in release, and a small program that serves the Cloudflare
stand-in (crates/ddns-cloudflare-standin) as its own process, then creates
a network namespace with a veth pair v0/v1 and re-runs itself inside it.
The address source is netlink on v0, which holds 192.0.2.1/32 at the start;
the change adds 192.0.2.2/32 and deletes 192.0.2.1 (two rtnetlink requests
sent back to back, as bench/rfc2136.py does).

For each number of records N and each provider, a fresh ddnsd (the
environment only; DDNS_RECORDS lists h0.z.test ... h{N-1}.z.test) is timed
from its spawn:

- rfc2136: a fresh `named -f -n 1` with the zone z.test, empty, allowing
  updates with a tsig-keygen key. Converged = BIND answers the address for
  every record (the last record in configuration order is polled, then
  every record is queried). Requests = BIND's own counters (opcodes QUERY
  and UPDATE of the statistics channel), minus the script's queries.
- cloudflare: the stand-in with one zone z.test holding the N A records
  with 198.51.100.1, and Cloudflare's limit (1,200 requests per 5 min).
  Converged = ddnsd has logged `record updated` N times (the stand-in has
  then applied every batch); the stand-in's records are checked afterwards.
  Requests = the stand-in's request log.

Then it waits for the confirming pass (the default
DDNS_READY_CONFIRMATIONS=2 reads every record again 10 s after the first
pass), reads VmRSS, RssAnon, RssFile and VmHWM from /proc/PID/status and the
CPU time from /proc/PID/task/*/schedstat, makes the address change, times
it the same way, and reads them again; then three more changes (memory
must not grow), and with gdb, if installed, glibc's malloc_stats() and
malloc_trim(0). Memory and time are fitted against N with least squares
(slope, intercept, R squared, residuals, growth exponent).

ddclient 3.10 (protocol nsupdate, use=if) does the same work into a fresh
BIND: `ddclient -daemon 0` with an empty cache, and again after the address
change, as a hook would run it; then a ddclient daemon over the filled
cache, whose RSS is read once it sleeps. `ddnsd once` makes the same two
runs beside it. ddclient sends every host of a zone in one UPDATE, which
nsupdate cannot build from 1,750–1,800 hosts on; such a run is reported as
failed, with nsupdate's message.

Everything it starts (named, ddnsd, ddclient, nsupdate, the stand-in), the
namespace and its temporary directory are removed on exit, also after an
error or Ctrl-C. Needs root, BIND (apt-get install bind9 bind9-utils),
cargo, and ddclient for the side-by-side part. Python 3 standard library
only; the helpers shared with bench/rfc2136.py are imported from it.
"""

import argparse
import datetime
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import rfc2136
from rfc2136 import (
    BenchError,
    Netlink,
    Resolver,
    commit,
    ddclient_version,
    machine,
    named_conf,
    program,
    run,
    stop,
    version,
    write,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Short names on purpose: Linux refuses an environment string longer than
# 128 KiB (MAX_ARG_STRLEN) with E2BIG, and DDNS_RECORDS is one string.
# The list of 10,000 names of this form is 128,889 bytes; see
# docs/BENCHMARKS.md, section 8.
ZONE = "z.test"
PREFIX = "h"
KEY_NAME = "ddns-key"
STATS_URL = "http://127.0.0.1:8053/json/v1/server"
FIRST = "192.0.2.1"
SECOND = "192.0.2.2"
CF_BEFORE = "198.51.100.1"
TOKEN = "bench-token-5d1f0c9a7e3b2468"
SETTLE = 2.0  # after the confirming pass or the change, before memory is read
EXTRA_ENV = []  # --daemon-env
MORE_CHANGES = [0]  # --more-changes

STANDIN_SOURCE = r'''//! Serves the Cloudflare API stand-in (crates/ddns-cloudflare-standin) as
//! a process of its own, for bench/scale.py: one zone with N A records,
//! Cloudflare's documented rate limit, and a line protocol on stdin/stdout.
//!
//!   ddns-scale-standin ZONE PREFIX N CONTENT TOKEN
//!
//! Prints `url URL`, then answers one line per command:
//!   `requests`      -> `requests TOTAL 429S METHOD:KIND=COUNT ...`, and
//!                      forgets them;
//!   `holding ADDR`  -> `holding COUNT`, the A records whose content is ADDR;
//!   `cpu`           -> `cpu NS`, the time on CPU of all its threads.
//! It exits at `quit` or at the end of its input.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use ddns_cloudflare_standin::{RateLimit, StandIn, TokenSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [zone, prefix, count, content, token] = args.as_slice() else {
        eprintln!("usage: ddns-scale-standin ZONE PREFIX N CONTENT TOKEN");
        std::process::exit(2);
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("N must be a whole number");
        std::process::exit(2);
    };
    let cf = StandIn::start_in_thread();
    cf.set_rate_limit(Some(RateLimit::cloudflare()));
    cf.add_token(token, TokenSpec::user());
    let zone_id = cf.add_zone(zone);
    for i in 0..count {
        cf.add_record(&zone_id, "A", &format!("{prefix}{i}.{zone}"), content);
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "url {}", cf.url());
    let _ = out.flush();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        let words: Vec<&str> = line.split_whitespace().collect();
        let reply = match words.as_slice() {
            ["requests"] => {
                let sent = cf.requests();
                cf.clear_requests();
                let limited = sent.iter().filter(|r| r.status == Some(429)).count();
                let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
                for r in &sent {
                    let kind = if r.path.ends_with("/batch") {
                        "batch"
                    } else if r.path.ends_with("/dns_records") {
                        "listing"
                    } else if r.path.contains("/dns_records/") {
                        "record"
                    } else if r.path.contains("/verify") {
                        "verify"
                    } else if r.path.starts_with("/zones") {
                        "zones"
                    } else {
                        "other"
                    };
                    *kinds.entry(format!("{}:{kind}", r.method)).or_default() += 1;
                }
                let detail: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}={n}")).collect();
                format!("requests {} {limited} {}", sent.len(), detail.join(" "))
            }
            ["holding", address] => {
                let records = cf.records(&zone_id);
                let n = records
                    .iter()
                    .filter(|r| r.record_type == "A" && r.content == *address)
                    .count();
                format!("holding {n}")
            }
            ["cpu"] => {
                // Time on CPU of every thread, in ns (schedstat's first field).
                let mut total: u64 = 0;
                if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
                    for task in tasks.flatten() {
                        let stat = std::fs::read_to_string(task.path().join("schedstat"))
                            .unwrap_or_default();
                        total += stat
                            .split_whitespace()
                            .next()
                            .and_then(|f| f.parse::<u64>().ok())
                            .unwrap_or(0);
                    }
                }
                format!("cpu {total}")
            }
            ["quit"] => break,
            _ => format!("error unknown command {line:?}"),
        };
        let _ = writeln!(out, "{reply}");
        let _ = out.flush();
    }
}
'''


# ---------------------------------------------------------------- helpers


def names(n):
    return [f"{PREFIX}{i}.{ZONE}" for i in range(n)]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def secs(seconds):
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def kib(value):
    """'1234 kB' -> 1234."""
    return int(value.split()[0])


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def memory(pid):
    s = proc_status(pid)
    return {
        "rss": kib(s["VmRSS"]),
        "anon": kib(s["RssAnon"]),
        "file": kib(s["RssFile"]),
        "hwm": kib(s["VmHWM"]),
    }


def cpu_seconds(pid):
    """Time on CPU of every thread of `pid` (schedstat's first field, ns),
    finer than the 10 ms ticks of /proc/PID/stat."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def log_time(line):
    """Seconds since the epoch of a ddnsd log line (`2026-01-01T00:00:00.123456Z ...`)."""
    stamp = line.split(" ", 1)[0]
    when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return when.replace(tzinfo=datetime.timezone.utc).timestamp()


def linear_fit(xs, ys):
    """Least squares y = a + b x: (b, a, R squared, residuals)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    slope = sxy / sxx
    intercept = my - slope * mx
    residuals = [y - (intercept + slope * x) for x, y in zip(xs, ys)]
    total = sum((y - my) ** 2 for y in ys)
    r2 = 1 - sum(r * r for r in residuals) / total if total else 1.0
    return slope, intercept, r2, residuals


def exponent(xs, ys):
    """The growth exponent between the two largest sizes: 1 is linear,
    2 quadratic."""
    pairs = sorted((x, y) for x, y in zip(xs, ys) if y and y > 0)
    if len(pairs) < 2:
        return None
    (x1, y1), (x2, y2) = pairs[-2], pairs[-1]
    return math.log(y2 / y1) / math.log(x2 / x1)


class CountingResolver(Resolver):
    """The resolver of bench/rfc2136.py (127.0.0.1:53), counting its own
    queries so that BIND's counters can be split from ddnsd's."""

    def __init__(self):
        super().__init__(("127.0.0.1", 53))
        self.sent = 0

    def query(self, name, rtype=1):
        self.sent += 1
        return super().query(name, rtype)

    def wait_all(self, records, address, timeout, poll_s=0.001, alive=None):
        """Polls the last record until BIND answers `address`, then asks
        every record; any that does not answer yet is polled again. Returns
        the monotonic time of the last record's first right answer. When
        `alive()` turns false (the updater exited), every record is asked
        once more and any still wrong raises."""
        deadline = time.monotonic() + timeout
        expected = [address]
        pending = [records[-1]]
        last = None
        swept = False
        while True:
            running = alive is None or alive()
            if not running:
                # The updater is gone: nothing will change any more.
                pending = [r for r in records if self.addresses(r) != expected]
                if pending:
                    raise BenchError(self.missing(address, pending, records))
                return last if swept and last is not None else time.monotonic()
            still = []
            for name in pending:
                if self.addresses(name) == expected:
                    last = time.monotonic()
                else:
                    still.append(name)
            if not still:
                if swept:
                    return last
                swept = True
                still = [r for r in records[:-1] if self.addresses(r) != expected]
                if not still:
                    return last
            pending = still
            if time.monotonic() > deadline:
                raise BenchError(self.missing(address, pending, records))
            time.sleep(poll_s)

    def missing(self, address, pending, records):
        shown = ", ".join(f"{name} answers {self.addresses(name)}" for name in pending[:3])
        return f"BIND does not answer {address} for {len(pending)} of {len(records)} records ({shown})"


def bind_counters():
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(STATS_URL, timeout=10) as response:
        stats = json.load(response)
    opcodes = stats.get("opcodes", {})
    return {"query": opcodes.get("QUERY", 0), "update": opcodes.get("UPDATE", 0)}


class Bind:
    """A fresh named serving the empty zone z.test on 127.0.0.1:53 in this
    namespace, updatable with a tsig-keygen key (as in bench/rfc2136.py,
    whose Bind is tied to its own zone)."""

    def __init__(self, directory):
        os.makedirs(directory)
        self.dir = directory
        self.key_file = os.path.join(directory, f"{KEY_NAME}.key")
        key_text = run(program("tsig-keygen"), "-a", "hmac-sha256", KEY_NAME)
        write(self.key_file, key_text, 0o600)
        self.secret = key_text.split('secret "', 1)[1].split('"', 1)[0]
        zone_file = os.path.join(directory, f"{ZONE}.zone")
        write(
            zone_file,
            "$TTL 300\n"
            f"@ IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60\n"
            f"@ IN NS ns.{ZONE}.\n"
            "ns IN A 127.0.0.1\n",
        )
        conf = os.path.join(directory, "named.conf")
        d = directory
        write(conf, named_conf(d, self.key_file, ZONE, zone_file, quiet_updates=True))
        run(program("named-checkconf"), conf)
        self.log = open(os.path.join(directory, "named.stderr"), "w")
        self.proc = subprocess.Popen(
            [program("named"), "-f", "-n", "1", "-c", conf],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        resolver = Resolver()
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"named exited ({self.proc.returncode}); see {d}/named.stderr")
            try:
                rcode, _, answers = resolver.query(ZONE, 6)  # SOA
                if rcode == 0 and answers == 1:
                    break
            except (socket.timeout, ConnectionRefusedError):
                pass
            if time.monotonic() > deadline:
                raise BenchError("named did not serve the zone within 10 s")
            time.sleep(0.02)
        deadline = time.monotonic() + 10
        while True:
            try:
                bind_counters()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("named's statistics channel did not answer within 10 s")
                time.sleep(0.05)

    def close(self):
        stop(self.proc, "named")
        self.log.close()


class StandIn:
    """The Cloudflare stand-in, served by the helper program."""

    def __init__(self, binary, n):
        self.proc = subprocess.Popen(
            [binary, ZONE, PREFIX, str(n), CF_BEFORE, TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        first = self.proc.stdout.readline().split()
        if first[:1] != ["url"]:
            raise BenchError(f"the stand-in did not start: {first}")
        self.url = first[1]

    def ask(self, command):
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        if not answer or answer[0] == "error":
            raise BenchError(f"the stand-in answered {answer} to {command!r}")
        return answer[1:]

    def requests(self):
        words = self.ask("requests")
        return {"total": int(words[0]), "limited": int(words[1]), "kinds": " ".join(words[2:])}

    def holding(self, address):
        return int(self.ask(f"holding {address}")[0])

    def cpu(self):
        return int(self.ask("cpu")[0]) / 1e9

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Log:
    """A ddnsd log file, read as it grows."""

    def __init__(self, path):
        self.path = path
        # The daemon writes through its own file description (appending);
        # this one only reads, so their offsets never mix.
        self.file = open(path, "a")
        self.reader = open(path)
        self.lines = []
        self.partial = ""

    def poll(self):
        data = self.reader.read()
        if data:
            data = self.partial + data
            parts = data.split("\n")
            self.partial = parts.pop()
            self.lines.extend(parts)
        return len(self.lines)

    def wait(self, test, start, proc, timeout, poll_s=0.005):
        """Waits for the first line from index `start` for which `test` is
        true; returns its index."""
        deadline = time.monotonic() + timeout
        index = start
        while True:
            self.poll()
            while index < len(self.lines):
                if test(self.lines[index]):
                    return index
                index += 1
            if proc.poll() is not None:
                raise BenchError(f"ddnsd exited ({proc.returncode}); see {self.path}")
            if time.monotonic() > deadline:
                tail = "\n".join(self.lines[-5:])
                raise BenchError(f"ddnsd did not log what was awaited within {timeout:.0f} s; last lines:\n{tail}")
            time.sleep(poll_s)

    def count_from(self, start, text):
        return sum(1 for line in self.lines[start:] if text in line)

    def close(self):
        self.file.close()
        self.reader.close()


def heap(pid, log):
    """What glibc's allocator holds in use, against what it took from the
    system: gdb calls malloc_stats() (which prints to the daemon's stderr,
    the log) and then malloc_trim(0), after which VmRSS is read again."""
    log.poll()
    mark = len(log.lines)
    command = [program("gdb"), "-p", str(pid), "-batch", "-ex", "call (void) malloc_stats()",
               "-ex", "call (int) malloc_trim(0)"]
    if subprocess.run(command, capture_output=True).returncode != 0:
        return {}
    time.sleep(0.5)
    log.poll()
    figures = {}
    total = False
    for line in log.lines[mark:]:
        total = total or line.startswith("Total (incl. mmap)")
        if total and "=" in line:
            key, _, value = line.partition("=")
            figures[key.strip()] = int(value)
    if "in use bytes" not in figures:
        return {}
    return {"heap_in_use": figures["in use bytes"], "heap_system": figures["system bytes"], "mem_trimmed": memory(pid)}


# ddnsd names at most 20 updated records a pass at info level and counts
# the rest in one summary line (`updated=K named=20`).
UPDATED_SUMMARY = "records updated in this pass; those not named above are at debug level"


def updates_to(lines, start, address):
    """How many records were updated to `address` from line `start` on, and
    the index of the line that brought the count to its value."""
    count, last, named = 0, None, None
    for i in range(start, len(lines)):
        line = lines[i]
        if "record updated" in line and "address=" in line:
            named = line.split("address=", 1)[1].split()[0]
            if named == address:
                count, last = count + 1, i
        elif UPDATED_SUMMARY in line and named == address:
            fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
            count, last = count + int(fields["updated"]) - int(fields["named"]), i
    return count, last


def wait_updates(log, address, n, start, proc, timeout, poll_s=0.005):
    """Waits until `n` records were updated to `address` (from line
    `start` on); returns the index of the line that completed them."""
    deadline = time.monotonic() + timeout
    while True:
        log.poll()
        count, last = updates_to(log.lines, start, address)
        if count >= n:
            return last
        if proc.poll() is not None:
            raise BenchError(f"ddnsd exited ({proc.returncode}); see {log.path}")
        if time.monotonic() > deadline:
            raise BenchError(f"ddnsd logged {count} of {n} updates to {address} within {timeout:.0f} s")
        time.sleep(poll_s)


def ddnsd_env(n, provider, bind=None, standin=None):
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "DDNS_RECORDS": ",".join(names(n)),
        "DDNS_IP_SOURCE_INTERFACE": "v0",
        "DDNS_IP_FAMILIES": "ipv4",
        "DDNS_MIN_UPDATE_INTERVAL_SECS": "0",
        "DDNS_LOG_LEVEL": "info",
    }
    if provider == "rfc2136":
        env.update(
            {
                "DDNS_PROVIDER_TYPE": "rfc2136",
                "DDNS_RFC2136_SERVER": "127.0.0.1:53",
                "DDNS_RFC2136_TSIG_KEY_NAME": KEY_NAME,
                "DDNS_RFC2136_TSIG_SECRET": bind.secret,
            }
        )
    else:
        env.update(
            {
                "DDNS_PROVIDER_TYPE": "cloudflare",
                "DDNS_PROVIDER_API_TOKEN": TOKEN,
                "DDNS_CLOUDFLARE_API_URL": standin.url,
            }
        )
    env.update(pair.split("=", 1) for pair in EXTRA_ENV)
    return env


def environment_size(env):
    return max(len(k) + 1 + len(v) + 1 for k, v in env.items())


# ---------------------------------------------------------------- the daemon


def measure_daemon(args, provider, n, directory, nl):
    """One fresh ddnsd with N records: start, ready, one change."""
    os.makedirs(directory)
    records = names(n)
    bind = standin = None
    resolver = CountingResolver() if provider == "rfc2136" else None
    nl.flush()
    nl.send(add=[FIRST])
    if provider == "rfc2136":
        bind = Bind(os.path.join(directory, "bind"))
        env = ddnsd_env(n, provider, bind=bind)
    else:
        standin = StandIn(args.standin, n)
        env = ddnsd_env(n, provider, standin=standin)
    timeout = 60 + n * 0.02
    log = Log(os.path.join(directory, "ddnsd.log"))
    proc = None
    try:
        if provider == "rfc2136":
            counters = bind_counters()
            mine = resolver.sent
        else:
            standin.requests()
        spawn_wall = time.time()
        spawned = time.monotonic()
        proc = subprocess.Popen([args.binary], env=env, stdin=subprocess.DEVNULL, stdout=log.file, stderr=log.file)
        r = {"n": n, "provider": provider}
        ready_line = log.wait(lambda line: "engine ready" in line, 0, proc, timeout)
        r["engine_ready"] = log_time(log.lines[ready_line]) - spawn_wall

        # Start-up: every record gets FIRST.
        if provider == "rfc2136":
            converged = resolver.wait_all(records, FIRST, timeout)
            r["start"] = converged - spawned
            after = bind_counters()
            r["start_queries"] = after["query"] - counters["query"] - (resolver.sent - mine)
            r["start_updates"] = after["update"] - counters["update"]
            counters, mine = after, resolver.sent
        else:
            index = wait_updates(log, FIRST, n, ready_line, proc, timeout)
            r["start"] = log_time(log.lines[index]) - spawn_wall
            sent = standin.requests()
            r["start_requests"], r["start_limited"], r["start_kinds"] = sent["total"], sent["limited"], sent["kinds"]
        log.poll()
        count, last = updates_to(log.lines, 0, FIRST)
        r["start_logged"] = log_time(log.lines[last]) - spawn_wall if last is not None else None
        r["start_updated"] = count

        # `to=ready`, and the confirming pass: DDNS_READY_CONFIRMATIONS=2
        # (the default) reads every record again 10 s after the first pass.
        # The pass is awaited by its requests, since `to=ready` may come
        # before it (see docs/BENCHMARKS.md, section 8).
        ready = log.wait(lambda line: "readiness changed" in line and "to=ready" in line, 0, proc, timeout + 30)
        r["ready"] = log_time(log.lines[ready]) - spawn_wall
        deadline = time.monotonic() + 10 + timeout
        confirm_kinds = []
        confirm_total = 0
        while True:
            time.sleep(0.2)
            if provider == "rfc2136":
                after = bind_counters()
                confirm_total = after["query"] - counters["query"] - (resolver.sent - mine)
                done = confirm_total >= n
            else:
                sent = standin.requests()
                confirm_total += sent["total"]
                if sent["kinds"]:
                    confirm_kinds.append(sent["kinds"])
                done = confirm_total >= 1
            if done:
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise BenchError(f"no confirming pass within {10 + timeout:.0f} s of the start ({confirm_total} requests)")
        r["confirmed"] = time.monotonic() - spawned
        # The confirming pass starts 10 s after the first one.
        r["ready_early"] = r["ready"] < r["start"] + 5
        time.sleep(SETTLE)
        r["mem_ready"] = memory(proc.pid)
        r["cpu_start"] = cpu_seconds(proc.pid)
        if provider == "rfc2136":
            after = bind_counters()
            r["confirm_queries"] = after["query"] - counters["query"] - (resolver.sent - mine)
            r["confirm_updates"] = after["update"] - counters["update"]
            counters, mine = after, resolver.sent
        else:
            sent = standin.requests()
            confirm_total += sent["total"]
            if sent["kinds"]:
                confirm_kinds.append(sent["kinds"])
            r["confirm_requests"], r["confirm_kinds"] = confirm_total, " ".join(confirm_kinds)
            r["cf_cpu_start"] = standin.cpu()
            held = standin.holding(FIRST)
            if held != n:
                raise BenchError(f"the stand-in holds {FIRST} in {held} of {n} records after the start")

        # One address change.
        log.poll()
        mark = len(log.lines)
        r["log_start"] = (mark, sum(len(line) + 1 for line in log.lines))
        cpu_before = cpu_seconds(proc.pid)
        changed_wall = time.time()
        changed = time.monotonic()
        nl.send(add=[SECOND], delete=[FIRST])
        if provider == "rfc2136":
            converged = resolver.wait_all(records, SECOND, timeout)
            r["change"] = converged - changed
        else:
            index = wait_updates(log, SECOND, n, mark, proc, timeout)
            r["change"] = log_time(log.lines[index]) - changed_wall
        time.sleep(SETTLE)
        log.poll()
        count, last = updates_to(log.lines, mark, SECOND)
        r["change_logged"] = log_time(log.lines[last]) - changed_wall if last is not None else None
        r["change_updated"] = count
        r["log_change"] = (len(log.lines) - mark, sum(len(line) + 1 for line in log.lines[mark:]))
        r["mem_change"] = memory(proc.pid)
        r["cpu_change"] = cpu_seconds(proc.pid) - cpu_before
        if provider == "rfc2136":
            after = bind_counters()
            r["change_queries"] = after["query"] - counters["query"] - (resolver.sent - mine)
            r["change_updates"] = after["update"] - counters["update"]
        else:
            sent = standin.requests()
            r["change_requests"], r["change_limited"], r["change_kinds"] = sent["total"], sent["limited"], sent["kinds"]
            r["cf_cpu_change"] = standin.cpu() - r["cf_cpu_start"]
            held = standin.holding(SECOND)
            if held != n:
                raise BenchError(f"the stand-in holds {SECOND} in {held} of {n} records after the change")
        # More changes, only to see whether memory keeps growing.
        current = SECOND
        for k in range(args.more_changes):
            address = f"192.0.2.{3 + k}"
            log.poll()
            index = len(log.lines)
            nl.send(add=[address], delete=[current])
            current = address
            wait_updates(log, address, n, index, proc, timeout)
        if args.more_changes:
            time.sleep(SETTLE)
            r["mem_more"] = memory(proc.pid)
        if program("gdb"):
            r.update(heap(proc.pid, log))
        warnings = [line for line in log.lines if " WARN " in line or " ERROR " in line]
        r["warnings"] = len(warnings)
        if warnings:
            print(f"    ddnsd warned {len(warnings)} times; first: {warnings[0][:200]}", flush=True)
        code = stop(proc, "ddnsd", 30)
        if code != 0:
            raise BenchError(f"ddnsd exited with {code} after SIGTERM; see {log.path}")
        return r
    except BenchError:
        log.poll()
        notable = [line for line in log.lines if " WARN " in line or " ERROR " in line]
        print(f"    {provider} N={n} failed; ddnsd's log is {log.path}; its warnings and errors:", flush=True)
        for line in (notable or ["(none)"])[:20]:
            print(f"      {line[:300]}", flush=True)
        raise
    finally:
        stop(proc, "ddnsd")
        log.close()
        if bind:
            bind.close()
        if standin:
            standin.close()


def show_daemon(r):
    n, p = r["n"], r["provider"]
    m, c = r["mem_ready"], r["mem_change"]
    if p == "rfc2136":
        start_req = f"{r['start_queries']} queries + {r['start_updates']} UPDATEs"
        confirm_req = f"{r['confirm_queries']} queries + {r['confirm_updates']} UPDATEs"
        change_req = f"{r['change_queries']} queries + {r['change_updates']} UPDATEs"
    else:
        start_req = f"{r['start_requests']} requests ({r['start_kinds']}; 429s {r['start_limited']})"
        confirm_req = f"{r['confirm_requests']} requests ({r['confirm_kinds']})"
        change_req = f"{r['change_requests']} requests ({r['change_kinds']}; 429s {r['change_limited']})"
    print(
        f"  {p:<10} N={n:<6} start {secs(r['start'])} (last write logged {secs(r['start_logged'])}; "
        f"engine ready {secs(r['engine_ready'])}), {start_req}",
        flush=True,
    )
    print(
        f"  {'':<10} {'':<8} `to=ready` logged {secs(r['ready'])}; confirming pass seen by {secs(r['confirmed'])}, "
        f"{confirm_req}; CPU {r['cpu_start']:.2f} s"
    )
    print(
        f"  {'':<10} {'':<8} at rest VmRSS {m['rss']:,} KiB (anon {m['anon']:,}, file {m['file']:,}), "
        f"VmHWM {m['hwm']:,} KiB"
    )
    print(
        f"  {'':<10} {'':<8} change {secs(r['change'])} (last write logged {secs(r['change_logged'])}), "
        f"{change_req}; CPU {r['cpu_change']:.2f} s; {r['change_updated']} records updated"
    )
    print(
        f"  {'':<10} {'':<8} log (info): {r['log_start'][0]:,} lines, {r['log_start'][1]:,} bytes until the change; "
        f"{r['log_change'][0]:,} lines, {r['log_change'][1]:,} bytes for it"
    )
    print(
        f"  {'':<10} {'':<8} after it VmRSS {c['rss']:,} KiB (anon {c['anon']:,}), VmHWM {c['hwm']:,} KiB"
        + (f"; stand-in CPU {r['cf_cpu_start']:.2f} s + {r['cf_cpu_change']:.2f} s" if p == "cloudflare" else ""),
        flush=True,
    )
    if "mem_more" in r:
        m = r["mem_more"]
        print(f"  {'':<10} {'':<8} after {1 + MORE_CHANGES[0]} changes VmRSS {m['rss']:,} KiB (anon {m['anon']:,}), VmHWM {m['hwm']:,} KiB")
    if "heap_in_use" in r:
        t = r["mem_trimmed"]
        print(
            f"  {'':<10} {'':<8} malloc: {r['heap_in_use'] / 1024:,.0f} KiB in use of {r['heap_system'] / 1024:,.0f} KiB "
            f"taken; after malloc_trim(0) VmRSS {t['rss']:,} KiB (anon {t['anon']:,})"
        )


# ---------------------------------------------------------------- ddclient and ddnsd once


class PeakWatcher:
    """Samples VmHWM of a process and of its children (nsupdate) every
    5 ms. (wait4's ru_maxrss would not do: it counts the forked Python
    before the exec.)"""

    def __init__(self, pid):
        self.pid = pid
        self.peak = {"self": 0, "children": 0}
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _children(self):
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def _run(self):
        while self.running:
            try:
                self.peak["self"] = max(self.peak["self"], memory(self.pid)["hwm"])
            except (OSError, KeyError):
                pass  # gone, or a zombie without memory
            for child in self._children():
                try:
                    self.peak["children"] = max(self.peak["children"], memory(child)["hwm"])
                except (OSError, KeyError):
                    pass
            time.sleep(0.005)

    def stop(self):
        self.running = False
        self.thread.join()
        return self.peak


class OneShot:
    """A process run once, its exit timed by a thread blocked in wait()."""

    def __init__(self, command, env, log):
        self.started = time.monotonic()
        self.proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.watcher = PeakWatcher(self.proc.pid)
        self.exited = None
        self.waiter = threading.Thread(target=self._wait, daemon=True)
        self.waiter.start()

    def _wait(self):
        self.proc.wait()
        self.exited = time.monotonic()

    def alive(self):
        return self.exited is None

    def finish(self):
        """(exit code, seconds from start to exit, peaks)."""
        self.waiter.join()
        peak = self.watcher.stop()
        return self.proc.returncode, self.exited - self.started, peak


def ddclient_conf(path, bind, n):
    # As in bench/rfc2136.py (section 3): use=if, one host per line.
    hosts = "".join(f"{name}\n" for name in names(n))
    write(
        path,
        "use=if\n"
        "if=v0\n"
        "protocol=nsupdate\n"
        "server=127.0.0.1\n"
        f"zone={ZONE}\n"
        f"password={bind.key_file}\n"
        f"login={program('nsupdate')}\n"
        "ttl=60\n"
        "min-interval=0\n"
        "min-error-interval=0\n" + hosts,
        0o600,
    )


def one_shot_pair(label, command, env, n, directory, nl, bind, timeout):
    """Runs `command` once from an empty zone and once more after the
    address change. Per phase: change -> BIND answers every record, exit,
    UPDATEs, peak VmHWM of the process (and of its children)."""
    records = names(n)
    resolver = CountingResolver()
    r = {"n": n}
    log_path = os.path.join(directory, f"{label}.log")
    with open(log_path, "w") as log:
        for phase, address in (("start", FIRST), ("change", SECOND)):
            if phase == "change":
                nl.send(add=[SECOND], delete=[FIRST])
            counters = bind_counters()
            run_ = OneShot(command, env, log)
            failed = None
            try:
                converged = resolver.wait_all(records, address, timeout, poll_s=0.005, alive=run_.alive)
            except BenchError as error:
                failed, converged = str(error), None
            code, took, peak = run_.finish()
            after = bind_counters()
            if converged is not None:
                # BIND answers an UPDATE once it is applied, and the
                # process exits after that answer: if the poller saw the
                # last record only later, the exit bounds the moment.
                converged = min(converged, run_.exited)
            r[phase] = None if converged is None else converged - run_.started
            r[f"{phase}_exit"] = took
            r[f"{phase}_code"] = code
            r[f"{phase}_updates"] = after["update"] - counters["update"]
            r[f"{phase}_peak"] = peak["self"]
            r[f"{phase}_child_peak"] = peak["children"]
            if failed or code != 0:
                log.flush()
                with open(log_path, errors="replace") as f:
                    lines = [line.strip() for line in f if "FAILED" not in line and "forcing" not in line]
                reason = next((line for line in lines if "ran out of space" in line), lines[-1] if lines else "")
                r["failed"] = f"{phase}: exit code {code}; {failed or 'BIND answers every record'}; {reason[:160]}"
                return r
    return r


def measure_ddclient(args, n, directory, nl):
    """ddclient with N hosts into a fresh BIND: `-daemon 0` from an empty
    cache, again after one change, then the RSS of a daemon idle after
    one cycle over the filled cache."""
    os.makedirs(directory)
    nl.flush()
    nl.send(add=[FIRST])
    bind = Bind(os.path.join(directory, "bind"))
    conf = os.path.join(directory, "ddclient.conf")
    cache = os.path.join(directory, "ddclient.cache")
    ddclient_conf(conf, bind, n)
    base = [program("ddclient"), "-foreground", "-file", conf, "-cache", cache]
    proc = None
    try:
        r = one_shot_pair("ddclient", base + ["-daemon", "0"], None, n, directory, nl, bind, args.ddclient_timeout)
        if "failed" in r:
            return r
        # The idle daemon: one cycle (nothing to update), then asleep.
        with open(os.path.join(directory, "ddclient-daemon.log"), "w") as log:
            proc = subprocess.Popen(base + ["-daemon", "300"], stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            idle_since = None
            deadline = time.monotonic() + args.ddclient_timeout
            while True:
                time.sleep(0.2)
                state = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()[0]
                with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                    busy = state == "R" or f.read().strip()
                idle_since = None if busy else (idle_since or time.monotonic())
                if idle_since and time.monotonic() - idle_since >= SETTLE:
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"the ddclient daemon did not settle (exit code {proc.returncode})")
            r["mem_idle"] = memory(proc.pid)
            r["cpu_idle_start"] = cpu_seconds(proc.pid)
        return r
    finally:
        stop(proc, "ddclient")
        bind.close()


def measure_once(args, n, directory, nl):
    """`ddnsd once` with N records into a fresh BIND: from nothing, then
    after one change (the memory store: it reads every record again)."""
    os.makedirs(directory)
    nl.flush()
    nl.send(add=[FIRST])
    bind = Bind(os.path.join(directory, "bind"))
    try:
        env = ddnsd_env(n, "rfc2136", bind=bind)
        return one_shot_pair("once", [args.binary, "once"], env, n, directory, nl, bind, 60 + n * 0.02)
    finally:
        bind.close()


# ---------------------------------------------------------------- report


def fit_line(label, xs, ys, unit, scale=1.0, per="record", growth=False):
    slope, intercept, r2, residuals = linear_fit(xs, ys)
    shown = ", ".join(f"N={x}: {res * scale:+,.1f}" for x, res in zip(xs, residuals))
    k = exponent(xs, ys) if growth else None
    growth_text = f"; growth exponent between the two largest N {k:.2f}" if k is not None else ""
    print(
        f"  {label:<34} {slope * scale:,.3f} {unit} per {per} + {intercept * scale:,.1f} {unit}, "
        f"R² {r2:.5f}{growth_text}"
    )
    print(f"  {'':<34} residuals ({unit}) {shown}")
    return slope, intercept, r2


def summarize(results, sizes, providers):
    print()
    print("== scale summary: medians over the runs (each run in brackets)")
    for provider in providers:
        rows = [r for r in results if r["provider"] == provider]
        if not rows:
            continue
        cf = provider == "cloudflare"
        print(f"-- {provider}: time and requests")
        print(
            "| N | start → converged | requests at start | `to=ready` logged | confirming pass | "
            "change → converged | requests for the change | ddnsd CPU, start to rest / change |"
            + (" stand-in CPU, change |" if cf else "")
            + " log lines, start / change |"
        )
        print("|---|---|---|---|---|---|---|---|" + ("---|" if cf else "") + "---|")
        per_n = {}
        for n in sizes:
            group = [r for r in rows if r["n"] == n]
            if not group:
                continue
            g = lambda key: median([r.get(key) for r in group])
            gm = lambda phase, key: median([r[phase][key] for r in group if phase in r])
            if cf:
                start_req = f"{g('start_requests'):,.0f}"
                confirm_req = f"{g('confirm_requests'):,.0f}"
                change_req = f"{g('change_requests'):,.0f}"
            else:
                start_req = f"{g('start_queries'):,.0f} queries + {g('start_updates'):,.0f} UPDATEs"
                confirm_req = f"{g('confirm_queries'):,.0f} queries"
                change_req = f"{g('change_queries'):,.0f} queries + {g('change_updates'):,.0f} UPDATEs"
            each = lambda key: " / ".join(secs(r[key]) for r in group)
            print(
                f"| {n:,} | {secs(g('start'))} ({each('start')}) | {start_req} | {secs(g('ready'))} | {confirm_req} | "
                f"{secs(g('change'))} ({each('change')}) | {change_req} | "
                f"{g('cpu_start') * 1000:,.0f} / {g('cpu_change') * 1000:,.1f} ms |"
                + (f" {g('cf_cpu_change') * 1000:,.0f} ms |" if cf else "")
                + f" {median([r['log_start'][0] for r in group]):,.0f} / {median([r['log_change'][0] for r in group]):,.0f} |"
            )
            per_n[n] = {
                "rss": gm("mem_ready", "rss") * 1024,
                "anon": gm("mem_ready", "anon") * 1024,
                "hwm": gm("mem_change", "hwm") * 1024,
                "start": g("start"),
                "change": g("change"),
                "cpu_start": g("cpu_start"),
                "cpu_change": g("cpu_change"),
            }
        print(f"-- {provider}: memory (KiB)")
        more = 1 + MORE_CHANGES[0]
        print(
            f"| N | VmRSS at rest | RssAnon | RssFile | VmHWM after the change | VmRSS after {more} changes | "
            f"RssAnon after {more} changes | malloc in use, then | RssAnon after malloc_trim |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            group = [r for r in rows if r["n"] == n]
            if not group:
                continue
            gm = lambda phase, key: median([r[phase][key] for r in group if phase in r])
            after = lambda key: f"{gm('mem_more', key):,.0f}" if any("mem_more" in r for r in group) else "-"
            in_use = median([r.get("heap_in_use") for r in group])
            trimmed = median([r["mem_trimmed"]["anon"] for r in group if "mem_trimmed" in r])
            print(
                f"| {n:,} | {gm('mem_ready', 'rss'):,.0f} | {gm('mem_ready', 'anon'):,.0f} | {gm('mem_ready', 'file'):,.0f} | "
                f"{gm('mem_change', 'hwm'):,.0f} | {after('rss')} | {after('anon')} | "
                f"{'-' if in_use is None else f'{in_use / 1024:,.0f}'} | {'-' if trimmed is None else f'{trimmed:,.0f}'} |"
            )
            if in_use is not None:
                per_n[n]["in_use"] = in_use
        xs = sorted(per_n)
        if len(xs) < 3:
            continue
        print(f"least squares over N = {', '.join(f'{x:,}' for x in xs)} (the medians):")
        for key, label in (
            ("rss", "VmRSS at rest"),
            ("anon", "RssAnon at rest"),
            ("hwm", "VmHWM after the change"),
            ("in_use", "malloc in use, after the changes"),
        ):
            if all(key in per_n[x] for x in xs):
                fit_line(label, xs, [per_n[x][key] for x in xs], "bytes")
        early = sum(1 for r in rows if r["ready_early"])
        print(f"  `to=ready` logged before the confirming pass (within 5 s of converging): {early} of {len(rows)} runs")
        for key, label in (
            ("start", "start → converged"),
            ("change", "change → converged"),
            ("cpu_start", "ddnsd CPU, start to rest"),
            ("cpu_change", "ddnsd CPU, the change"),
        ):
            fit_line(label, xs, [per_n[x][key] for x in xs], "µs", scale=1e6, growth=True)


def show_one_shot(label, n, r):
    parts = []
    for phase in ("start", "change"):
        if phase not in r:
            break
        child = f" + nsupdate {r[f'{phase}_child_peak']:,}" if r.get(f"{phase}_child_peak") else ""
        parts.append(
            f"{phase} {secs(r[phase])} (exit {secs(r[f'{phase}_exit'])}, code {r[f'{phase}_code']}, "
            f"{r[f'{phase}_updates']} UPDATEs, peak {r[f'{phase}_peak']:,}{child} KiB)"
        )
    print(f"  {label:<10} N={n:<6} " + "; ".join(parts), flush=True)
    if "failed" in r:
        print(f"  {'':<10} {'':<8} FAILED: {r['failed']}", flush=True)
    if "mem_idle" in r:
        m = r["mem_idle"]
        print(f"  {'':<10} {'':<8} daemon idle after a cycle: VmRSS {m['rss']:,} KiB (anon {m['anon']:,}), VmHWM {m['hwm']:,} KiB")


def summarize_ddclient(ddclient, once, daemon):
    print()
    print("== side by side: N records into BIND over RFC 2136, medians (peaks: VmHWM, KiB)")
    print("| N | work | ddnsd daemon | `ddnsd once` | `ddclient -daemon 0` | ddclient / ddnsd daemon | ddclient / `ddnsd once` |")
    print("|---|---|---|---|---|---|---|")

    def show(v, f):
        return "-" if v is None else f(v)

    def ratio(a, b):
        return f"{a / b:,.1f}" if a and b else "-"

    for n in sorted({r["n"] for r in ddclient} | {r["n"] for r in once}):
        c = [r for r in ddclient if r["n"] == n]
        ok = [r for r in c if "failed" not in r]
        failed = [r for r in c if "failed" in r]
        o = [r for r in once if r["n"] == n and "failed" not in r]
        d = [r for r in daemon if r["n"] == n and r["provider"] == "rfc2136"]

        def pick(rows, key):
            return median([r.get(key) for r in rows]) if rows else None

        if failed:
            print(f"| {n:,} | ddclient failed in {len(failed)} of {len(c)} runs | | | {failed[0]['failed']} | | |")
        count = lambda v: f"{v:,.0f}"
        rows = [
            ("start → BIND answers every record", pick(d, "start"), pick(o, "start"), pick(ok, "start"), secs),
            ("change → BIND answers every record", pick(d, "change"), pick(o, "change"), pick(ok, "change"), secs),
            ("one-shot run, change → exit", None, pick(o, "change_exit"), pick(ok, "change_exit"), secs),
            ("UPDATE messages, start", pick(d, "start_updates"), pick(o, "start_updates"), pick(ok, "start_updates"), count),
            ("UPDATE messages, change", pick(d, "change_updates"), pick(o, "change_updates"), pick(ok, "change_updates"), count),
        ]
        for label, dv, ov, cv, f in rows:
            print(f"| {n:,} | {label} | {show(dv, f)} | {show(ov, f)} | {show(cv, f)} | {ratio(cv, dv)} | {ratio(cv, ov)} |")
        peak_d = median([r["mem_change"]["hwm"] for r in d]) if d else None
        peak_o = max(pick(o, "start_peak") or 0, pick(o, "change_peak") or 0) or None
        peak_c = max(pick(ok, "start_peak") or 0, pick(ok, "change_peak") or 0) or None
        peak_ns = max(pick(ok, "start_child_peak") or 0, pick(ok, "change_child_peak") or 0) or None
        print(
            f"| {n:,} | peak RSS, KiB | {show(peak_d, count)} | {show(peak_o, count)} | "
            f"{show(peak_c, count)} (nsupdate {show(peak_ns, count)}) | {ratio(peak_c, peak_d)} | {ratio(peak_c, peak_o)} |"
        )
        rest = median([r["mem_ready"]["rss"] for r in d]) if d else None
        idle = median([r["mem_idle"]["rss"] for r in ok if "mem_idle" in r]) if ok else None
        print(f"| {n:,} | idle daemon VmRSS, KiB | {show(rest, count)} | | {show(idle, count)} (`-daemon 300`) | {ratio(idle, rest)} | |")


def inside(args):
    EXTRA_ENV.extend(args.daemon_env)
    MORE_CHANGES[0] = args.more_changes
    directory = args.dir
    sizes = [int(s) for s in args.sizes.split(",")]
    providers = [p for p in ("rfc2136", "cloudflare") if not (p == "cloudflare" and args.no_cloudflare)]
    ddclient_sizes = [] if args.no_ddclient else [int(s) for s in args.ddclient_sizes.split(",") if s]
    print(f"machine: {machine()}")
    print(f"BIND:    {version([program('named'), '-v'])}, named -f -n 1")
    if ddclient_sizes:
        print(f"ddclient: {ddclient_version()} (Debian package), nsupdate")
    print(f"ddnsd:   {args.binary}")
    if EXTRA_ENV:
        print(f"ddnsd environment also has: {' '.join(EXTRA_ENV)}")
    print(f"sizes:   {', '.join(map(str, sizes))} records; {args.runs} run(s); providers {', '.join(providers)}")
    longest = environment_size({"DDNS_RECORDS": ",".join(names(max(sizes + ddclient_sizes)))})
    print(f"DDNS_RECORDS for N={max(sizes + ddclient_sizes):,}: {longest:,} bytes (Linux refuses one above 131,072)")
    print("load:    {:.2f} {:.2f} {:.2f} (1, 5, 15 min averages at the start)".format(*os.getloadavg()), flush=True)
    nl = Netlink("v0")
    results, onces, ddclients = [], [], []
    step = 0
    for run_index in range(args.runs):
        print(f"\n== run {run_index + 1} of {args.runs}: ddnsd daemon", flush=True)
        for n in sizes:
            for provider in providers:
                step += 1
                r = measure_daemon(args, provider, n, os.path.join(directory, f"{step}-{provider}-{n}"), nl)
                r["run"] = run_index + 1
                results.append(r)
                show_daemon(r)
        if ddclient_sizes:
            print(f"\n== run {run_index + 1} of {args.runs}: `ddnsd once` and `ddclient -daemon 0`, RFC 2136", flush=True)
        for n in ddclient_sizes:
            step += 1
            o = measure_once(args, n, os.path.join(directory, f"{step}-once-{n}"), nl)
            onces.append(o)
            show_one_shot("ddnsd once", n, o)
            if run_index >= args.ddclient_runs:
                continue
            step += 1
            c = measure_ddclient(args, n, os.path.join(directory, f"{step}-ddclient-{n}"), nl)
            ddclients.append(c)
            show_one_shot("ddclient", n, c)
    summarize(results, sizes, providers)
    if ddclients or onces:
        summarize_ddclient(ddclients, onces, results)
    print("load at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


# ---------------------------------------------------------------- outside


def build_standin():
    """Builds the stand-in server from STANDIN_SOURCE in a project of its own
    under the target directory (outside the workspace, with the workspace's
    Cargo.lock), and returns the binary."""
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    project = os.path.join(target, "bench-scale-standin")
    os.makedirs(os.path.join(project, "src"), exist_ok=True)
    standin = os.path.join(REPO, "crates", "ddns-cloudflare-standin")
    manifest = (
        "[package]\n"
        'name = "ddns-scale-standin"\n'
        'version = "0.0.0"\n'
        'edition = "2024"\n'
        "publish = false\n\n"
        "[dependencies]\n"
        f"ddns-cloudflare-standin = {{ path = {json.dumps(standin)} }}\n\n"
        "[workspace]\n"
    )
    for path, text in ((os.path.join(project, "Cargo.toml"), manifest), (os.path.join(project, "src", "main.rs"), STANDIN_SOURCE)):
        old = open(path).read() if os.path.exists(path) else None
        if old != text:
            write(path, text)
    if not os.path.exists(os.path.join(project, "Cargo.lock")):
        shutil.copy(os.path.join(REPO, "Cargo.lock"), os.path.join(project, "Cargo.lock"))
    command = [program("cargo"), "build", "--release", "--quiet", "--manifest-path", os.path.join(project, "Cargo.toml")]
    env = dict(os.environ)
    env["CARGO_TARGET_DIR"] = os.path.join(project, "target")
    if subprocess.run(command + ["--offline"], env=env).returncode != 0:
        subprocess.run(command, env=env, check=True)
    return os.path.join(project, "target", "release", "ddns-scale-standin")


def outside(args):
    if os.geteuid() != 0:
        raise BenchError("needs root, to create a network namespace")
    needed = ["ip", "named", "named-checkconf", "tsig-keygen"]
    if not args.no_ddclient:
        needed += ["ddclient", "nsupdate"]
    if args.binary is None or (args.standin is None and not args.no_cloudflare):
        needed.append("cargo")
    missing = [tool for tool in needed if program(tool) is None]
    if missing:
        raise BenchError(
            f"{', '.join(missing)} not found (apt-get install bind9 bind9-utils bind9-dnsutils ddclient; "
            "--no-ddclient runs without ddclient)"
        )
    binary = args.binary
    built = "the given --binary" if binary else "built from it"
    if binary is None:
        subprocess.run([program("cargo"), "build", "--release", "-p", "ddnsd"], cwd=REPO, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
        binary = os.path.join(target, "release", "ddnsd")
    binary = os.path.abspath(binary)
    standin = args.standin
    if standin is None and not args.no_cloudflare:
        standin = build_standin()
    print(f"repo:    {commit()}; ddnsd {built}, {os.path.getsize(binary):,} bytes", flush=True)
    name = f"ddnsb-scale-{os.getpid()}"
    directory = tempfile.mkdtemp(prefix="ddnsb-scale-", dir="/dev/shm" if args.tmpfs else None)
    child = None
    keep = False
    run("ip", "netns", "add", name)
    try:
        for command in ("link add v0 type veth peer name v1", "link set lo up", "link set v0 up", "link set v1 up"):
            run("ip", "-n", name, *command.split())
        command = ["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__), "--inside",
                   "--dir", directory, "--binary", binary]
        if standin:
            command += ["--standin", os.path.abspath(standin)]
        for option in ("sizes", "runs", "ddclient_sizes", "ddclient_runs", "ddclient_timeout", "more_changes"):
            command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
        for pair in args.daemon_env:
            command += ["--daemon-env", pair]
        for flag in ("no_ddclient", "no_cloudflare", "tmpfs"):
            if getattr(args, flag):
                command.append(f"--{flag.replace('_', '-')}")
        child = subprocess.Popen(command)
        code = child.wait()
        if code != 0:
            keep = True
            print(f"scale.py: the files of the failed run are kept in {directory}", file=sys.stderr)
        return code
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        # Whatever still runs in the namespace was started by this script.
        for pid in rfc2136.namespace_pids(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while rfc2136.namespace_pids(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        subprocess.run(["ip", "netns", "del", name], check=False)
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--binary", help="use this ddnsd instead of building one")
    parser.add_argument("--standin", help="use this stand-in server instead of building one")
    parser.add_argument("--sizes", default="1,100,1000,3000,10000", help="numbers of records (1,100,1000,3000,10000)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every size (3)")
    parser.add_argument(
        "--ddclient-sizes", default="100,1000,3000,10000",
        help="sizes for ddclient and `ddnsd once` (100,1000,3000,10000; ddclient fails fast from ~1,800 on)",
    )
    parser.add_argument("--ddclient-runs", type=int, default=3, help="runs of ddclient, at most --runs (3)")
    parser.add_argument("--ddclient-timeout", type=float, default=600, help="give ddclient this long per phase (600 s)")
    parser.add_argument(
        "--more-changes", type=int, default=3, help="changes after the timed one, to see whether memory grows (3)"
    )
    parser.add_argument("--no-ddclient", action="store_true", help="ddnsd only")
    parser.add_argument("--no-cloudflare", action="store_true", help="BIND only (no stand-in to build)")
    parser.add_argument("--tmpfs", action="store_true", help="BIND's files in /dev/shm instead of $TMPDIR or /tmp")
    parser.add_argument(
        "--daemon-env", action="append", default=[], metavar="NAME=VALUE",
        help="one more variable for every ddnsd (for experiments, such as MALLOC_ARENA_MAX=1)",
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick and not args.inside:
        for option, value in (("sizes", "1,100,1000"), ("runs", 1), ("ddclient_sizes", "100")):
            if getattr(args, option) == parser.get_default(option):
                setattr(args, option, value)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.inside:
            inside(args)
            return 0
        return outside(args)
    except BenchError as error:
        print(f"scale.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
