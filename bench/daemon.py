#!/usr/bin/env python3
"""Measures the real ddnsd binary: size, start-up, memory, idle cost (with
and without the metrics endpoint), reaction to an address change and
shutdown.

    sudo python3 bench/daemon.py            # the published figures (~2 min)
    sudo python3 bench/daemon.py --quick    # a smoke test (~45 s)

It builds ddnsd in release, creates a network namespace with a veth pair
v0/v1, and re-runs itself inside it, so that the daemon and the `ip`
commands it times start without `ip netns exec` in front of them. The
daemon uses the dry-run provider and the netlink source on v0. For the idle
part, daemons with and without DDNS_METRICS_ADDR (127.0.0.1, a free port;
lo is up in the namespace) run side by side, and one is scraped. The
namespace and every daemon are removed on exit, also after an error or
Ctrl-C. Python 3 standard library only; needs root for the namespace.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
READY = "engine ready"
WROTE = "dry run: would set the record"
CHANGED = "address changed"
LOST = "address lost"
READINESS = "readiness changed"
ADDRESS = re.compile(r"\baddress=([0-9A-Fa-f.:]+)")
# Far beyond any plausible figure; only stops a broken run.
GIVE_UP = 10.0
# With DDNS_READY_CONFIRMATIONS=2 (the default) the daemon makes a second,
# confirming pass 10 s after the first and only then logs `to=ready`. An idle
# window starts no earlier than this after the spawn, and 2 s after `ready`.
SETTLE = 15.0
READY_WITHIN = 30.0


class BenchError(Exception):
    """A step failed; the message says which."""


# ---------------------------------------------------------------- helpers


def percentile(samples, p):
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds):
    return f"{seconds * 1000:.2f} ms"


def ip(*args):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


def base_env(records=1, min_interval=None, recheck=None, metrics=None):
    """A clean environment: nothing from the caller's DDNS_* leaks in."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "DDNS_PROVIDER_TYPE": "dry-run",
        "DDNS_IP_SOURCE_TYPE": "netlink",
        "DDNS_IP_SOURCE_INTERFACE": "v0",
        "DDNS_IP_FAMILIES": "ipv4",
        "DDNS_RECORDS": ",".join(f"r{i}.example.com" for i in range(1, records + 1)),
        "DDNS_LOG_LEVEL": "info",
    }
    if min_interval is not None:
        env["DDNS_MIN_UPDATE_INTERVAL_SECS"] = str(min_interval)
    if recheck is not None:
        env["DDNS_RECHECK_INTERVAL_SECS"] = str(recheck)
    if metrics is not None:
        env["DDNS_METRICS_ADDR"] = metrics
    return env


def free_port():
    """A TCP port free on 127.0.0.1 (of the bench's own namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(address, path="/metrics"):
    """One GET on a new connection, read to the end and closed, as `curl`
    does: (status, body bytes, seconds)."""
    host, port = address.rsplit(":", 1)
    started = time.monotonic()
    conn = http.client.HTTPConnection(host, int(port), timeout=GIVE_UP)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        status = response.status
    finally:
        conn.close()
    return status, body, time.monotonic() - started


class Daemon:
    """A ddnsd process whose log lines are timestamped as they arrive."""

    def __init__(self, binary, env):
        self.lines = []  # (monotonic time, text)
        self.changed = threading.Condition()
        self.spawned = time.monotonic()
        self.proc = subprocess.Popen(
            [binary],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stderr:
            now = time.monotonic()
            with self.changed:
                self.lines.append((now, raw.decode(errors="replace").rstrip("\n")))
                self.changed.notify_all()

    def wait_for(self, text, start=0, address=None, timeout=GIVE_UP):
        """The first line from index `start` on that contains `text` (and
        `address=ADDRESS`): (time, index)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            index = start
            while True:
                while index < len(self.lines):
                    at, line = self.lines[index]
                    index += 1
                    if text in line:
                        found = ADDRESS.search(line)
                        if address is None or (found and found.group(1) == address):
                            return at, index
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    tail = "\n".join(line for _, line in self.lines[-10:])
                    raise BenchError(f"ddnsd never logged {text!r} (last lines:\n{tail})")
                self.changed.wait(min(left, 0.5))

    def wait_ready(self):
        """Waits for `readiness changed … to=ready`, then until SETTLE
        seconds after the spawn and at least 2 s after that line."""
        deadline = time.monotonic() + READY_WITHIN
        index = 0
        while True:
            at, index = self.wait_for(READINESS, index, timeout=max(0.1, deadline - time.monotonic()))
            with self.changed:
                line = self.lines[index - 1][1]
            if "to=ready" in line:
                break
        wake = max(at + 2.0, self.spawned + SETTLE)
        time.sleep(max(0.0, wake - time.monotonic()))
        return at - self.spawned

    def count(self, text):
        with self.changed:
            return sum(1 for _, line in self.lines if text in line)

    def terminate(self):
        """SIGTERM, then the time until the process has exited, and its
        exit code."""
        guard = threading.Timer(GIVE_UP, self.proc.kill)
        guard.start()
        sent = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        # wait() without a timeout blocks in waitpid; with one it polls.
        code = self.proc.wait()
        took = time.monotonic() - sent
        guard.cancel()
        self.reader.join(timeout=1)
        return took, code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def proc_status(pid, task=None):
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        after_comm = f.read().rsplit(")", 1)[1].split()
    # Fields 14 and 15 of proc(5), counted from the state (field 3).
    return int(after_comm[11]) + int(after_comm[12])


def switches(pid):
    """Context switches per thread: {tid: (name, voluntary + nonvoluntary)}."""
    result = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        status = proc_status(pid, tid)
        result[tid] = (
            status["Name"],
            int(status["voluntary_ctxt_switches"]) + int(status["nonvoluntary_ctxt_switches"]),
        )
    return result


def kib(value):
    """'1234 kB' -> 1234."""
    return int(value.split()[0])


def rss(pid):
    status = proc_status(pid)
    return {
        "rss": kib(status["VmRSS"]),
        "anon": kib(status["RssAnon"]),
        "file": kib(status["RssFile"]),
        "hwm": kib(status["VmHWM"]),
        "threads": int(status["Threads"]),
    }


def show_rss(m):
    return (
        f"VmRSS {m['rss']:,} KiB (anon {m['anon']:,}, file {m['file']:,}; "
        f"peak {m['hwm']:,}; threads {m['threads']})"
    )


# ---------------------------------------------------------------- figures


def binary_size(binary):
    size = os.path.getsize(binary)
    return {"bytes": size, "mib": size / (1 << 20)}


def start_and_stop(binary, runs):
    """Spawn -> `engine ready`, then after a short idle SIGTERM -> exit."""
    ip("addr", "add", "192.0.2.1/32", "dev", "v0")
    ready, stop = [], []
    try:
        for _ in range(runs):
            daemon = Daemon(binary, base_env())
            try:
                at, _ = daemon.wait_for(READY)
                ready.append(at - daemon.spawned)
                daemon.wait_for(WROTE)
                time.sleep(0.5)
                took, code = daemon.terminate()
                if code != 0:
                    raise BenchError(f"ddnsd exited with {code} after SIGTERM")
                stop.append(took)
            finally:
                daemon.kill()
    finally:
        ip("addr", "flush", "dev", "v0")
    return ready, stop


def memory(binary, records, idle):
    ip("addr", "add", "192.0.2.1/32", "dev", "v0")
    daemon = Daemon(binary, base_env(records=records))
    try:
        _, index = daemon.wait_for(READY)
        deadline = time.monotonic() + GIVE_UP
        while daemon.count(WROTE) < records:
            if time.monotonic() > deadline:
                raise BenchError(f"only {daemon.count(WROTE)} of {records} records written")
            time.sleep(0.05)
        time.sleep(idle)
        status = proc_status(daemon.pid)
        return {
            "records": records,
            "rss_kib": kib(status["VmRSS"]),
            "anon_kib": kib(status["RssAnon"]),
            "file_kib": kib(status["RssFile"]),
            "hwm_kib": kib(status["VmHWM"]),
            "threads": int(status["Threads"]),
        }
    finally:
        daemon.kill()
        ip("addr", "flush", "dev", "v0")


IDLE_VARIANTS = (
    # (label, recheck, metrics endpoint, scraped once before the window)
    ("recheck 0 s", "0", False, False),
    ("recheck 3600 s", "3600", False, False),
    ("metrics", "3600", True, False),
    ("metrics, 1 scrape", "3600", True, True),
)


def idle_cost(binary, window, scrapes, after):
    """CPU ticks, context switches and RSS of idle daemons over `window`
    seconds, side by side: nothing else touches the namespace then. The
    daemons differ in the re-check interval and in DDNS_METRICS_ADDR; one of
    those with the endpoint is scraped once before the window, then
    `scrapes` times after it, and then watched `after` seconds more."""
    ip("addr", "add", "192.0.2.1/32", "dev", "v0")
    daemons = {}
    addresses = {}
    try:
        for label, recheck, metrics, _ in IDLE_VARIANTS:
            address = f"127.0.0.1:{free_port()}" if metrics else None
            addresses[label] = address
            daemons[label] = Daemon(binary, base_env(recheck=recheck, metrics=address))
        ready = {label: d.wait_ready() for label, d in daemons.items()}
        first = {}
        for label, _, _, scraped in IDLE_VARIANTS:
            if scraped:
                pid = daemons[label].pid
                ticks0, sw0 = cpu_ticks(pid), switches(pid)
                status, body, took = scrape(addresses[label])
                if status != 200 or b"ddns_build_info" not in body:
                    raise BenchError(f"GET /metrics answered {status}, {len(body)} bytes")
                time.sleep(0.5)
                first[label] = {
                    "seconds": took,
                    "bytes": len(body),
                    "ticks": cpu_ticks(pid) - ticks0,
                    "switches": sum(n for _, n in switches(pid).values())
                    - sum(n for _, n in sw0.values()),
                }
        time.sleep(1)
        before = {
            label: (cpu_ticks(d.pid), switches(d.pid), rss(d.pid), len(d.lines))
            for label, d in daemons.items()
        }
        time.sleep(window)
        results = {}
        for label, daemon in daemons.items():
            ticks, threads = cpu_ticks(daemon.pid), switches(daemon.pid)
            ticks0, threads0, rss0, lines0 = before[label]
            per_thread = {
                f"{name}[{tid}]": count - threads0.get(tid, (name, 0))[1]
                for tid, (name, count) in threads.items()
            }
            results[label] = {
                "ready": ready[label],
                "ticks": ticks - ticks0,
                "switches": sum(per_thread.values()),
                "per_thread": per_thread,
                "log_lines": len(daemon.lines) - lines0,
                "rss_before": rss0,
                "rss_after": rss(daemon.pid),
                "first_scrape": first.get(label),
            }
        # Many scrapes, then: does the daemon go back to sleep, and what
        # did they leave in memory?
        label = next(v[0] for v in IDLE_VARIANTS if v[3])
        daemon = daemons[label]
        ticks0, sw0 = cpu_ticks(daemon.pid), switches(daemon.pid)
        times = []
        for _ in range(scrapes):
            status, _, took = scrape(addresses[label])
            if status != 200:
                raise BenchError(f"GET /metrics answered {status}")
            times.append(took)
        time.sleep(1)
        many = {
            "count": scrapes,
            "seconds": times,
            "ticks": cpu_ticks(daemon.pid) - ticks0,
            "switches": sum(n for _, n in switches(daemon.pid).values())
            - sum(n for _, n in sw0.values()),
            "rss": rss(daemon.pid),
        }
        ticks0, sw0 = cpu_ticks(daemon.pid), switches(daemon.pid)
        time.sleep(after)
        many["after"] = after
        many["after_ticks"] = cpu_ticks(daemon.pid) - ticks0
        many["after_switches"] = sum(n for _, n in switches(daemon.pid).values()) - sum(
            n for _, n in sw0.values()
        )
        many["after_rss"] = rss(daemon.pid)
        return results, many
    finally:
        for daemon in daemons.values():
            daemon.kill()
        ip("addr", "flush", "dev", "v0")


def reaction(binary, changes):
    """`ip addr add` spawned -> the daemon logs the write. Before each timed
    add, the previous address is removed and the daemon has logged the loss,
    so that the added address is the one chosen."""
    daemon = Daemon(binary, base_env(min_interval=0))
    to_line, to_engine, ip_alone = [], [], []
    try:
        _, index = daemon.wait_for(READY)
        previous = None
        for k in range(changes + 1):
            address = f"192.0.2.{1 + k % 250}"
            if previous is not None:
                ip("addr", "del", f"{previous}/32", "dev", "v0")
                _, index = daemon.wait_for(LOST, index)
            time.sleep(0.2)
            start = time.monotonic()
            proc = subprocess.Popen(
                ["ip", "addr", "add", f"{address}/32", "dev", "v0"],
                stdout=subprocess.DEVNULL,
            )
            proc.wait()
            exited = time.monotonic()
            if proc.returncode != 0:
                raise BenchError(f"ip addr add {address}/32 failed")
            changed, _ = daemon.wait_for(CHANGED, index, address=address)
            wrote, index = daemon.wait_for(WROTE, index, address=address)
            if k > 0:  # the first one is a warm-up
                to_line.append(wrote - start)
                to_engine.append(changed - start)
                ip_alone.append(exited - start)
            previous = address
        after_ip = [w - i for w, i in zip(to_line, ip_alone)]
        return {"write": to_line, "changed": to_engine, "ip": ip_alone, "after": after_ip}
    finally:
        daemon.kill()
        ip("addr", "flush", "dev", "v0")


# ---------------------------------------------------------------- report


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, Linux {os.uname().release}"


def inside(args):
    quick = args.quick
    runs = 3 if quick else 10
    idle = 1 if quick else 3
    window = 5 if quick else 60
    changes = 10 if quick else 50
    binary = args.binary
    ip("addr", "flush", "dev", "v0")

    print(f"machine: {machine()}")
    print(f"binary:  {binary} ({'quick' if quick else 'full'} run)")
    print()

    size = binary_size(binary)
    print(f"release binary size          {size['bytes']} bytes ({size['mib']:.2f} MiB)")

    ready, stop = start_and_stop(binary, runs)
    print(
        f"start -> 'engine ready'      median {ms(statistics.median(ready))}, "
        f"max {ms(max(ready))} ({runs} runs)"
    )
    print(
        f"SIGTERM -> exit              median {ms(statistics.median(stop))}, "
        f"max {ms(max(stop))} ({runs} runs)"
    )

    for records in (1, 100):
        m = memory(binary, records, idle)
        print(
            f"idle RSS, {records:>3} record(s)       VmRSS {m['rss_kib']} KiB "
            f"({m['rss_kib'] / 1024:.2f} MiB; anon {m['anon_kib']}, file {m['file_kib']}; "
            f"peak {m['hwm_kib']}; threads {m['threads']})"
        )

    reacted = reaction(binary, changes)
    for key, label in (
        ("write", "ip addr add -> write logged"),
        ("changed", "ip addr add -> change logged"),
        ("ip", "ip addr add -> ip exited"),
        ("after", "ip exited -> write logged"),
    ):
        samples = reacted[key]
        print(
            f"{label:<28} median {ms(statistics.median(samples))}, "
            f"p90 {ms(percentile(samples, 90))}, p99 {ms(percentile(samples, 99))}, "
            f"max {ms(max(samples))} ({len(samples)} changes)"
        )

    scrapes = 100
    after = 5 if quick else 15
    costs, many = idle_cost(binary, window, scrapes, after)
    print()
    print(
        f"idle daemons side by side, {window} s window (starts >= {SETTLE:.0f} s after the spawn "
        f"and >= 2 s after 'to=ready'; DDNS_READY_CONFIRMATIONS=2, the default)"
    )
    for label, cost in costs.items():
        threads = ", ".join(f"{name} {n}" for name, n in sorted(cost["per_thread"].items()))
        print(
            f"idle {window} s, {label:<18} {cost['ticks']} CPU ticks "
            f"(1 tick = {1000 // CLK_TCK} ms), {cost['switches']} context switches "
            f"({threads}), {cost['log_lines']} log lines; ready after {cost['ready']:.1f} s"
        )
        print(f"    RSS at the window's start   {show_rss(cost['rss_before'])}")
        print(f"    RSS at the window's end     {show_rss(cost['rss_after'])}")
        if cost["first_scrape"]:
            f = cost["first_scrape"]
            print(
                f"    the scrape before the window: {f['bytes']} bytes in {ms(f['seconds'])}, "
                f"{f['ticks']} CPU ticks, {f['switches']} context switches"
            )
    base = costs["recheck 3600 s"]["rss_before"]
    for label in ("metrics", "metrics, 1 scrape"):
        cost = costs[label]
        m = cost["rss_before"]
        print(
            f"{label:<18} - recheck 3600 s:  VmRSS {m['rss'] - base['rss']:+,} KiB "
            f"(anon {m['anon'] - base['anon']:+,}, file {m['file'] - base['file']:+,}), "
            f"CPU {cost['ticks'] - costs['recheck 3600 s']['ticks']:+} ticks, "
            f"context switches {cost['switches'] - costs['recheck 3600 s']['switches']:+}"
        )
    m = many["rss"]
    print(
        f"after {many['count']} more scrapes    {show_rss(m)}; "
        f"vs before the window VmRSS {m['rss'] - costs['metrics, 1 scrape']['rss_before']['rss']:+,} KiB, "
        f"vs recheck 3600 s {m['rss'] - base['rss']:+,} KiB"
    )
    t = many["seconds"]
    print(
        f"    {many['count']} scrapes: median {ms(statistics.median(t))}, max {ms(max(t))} each "
        f"(client side, new connection each); daemon {many['ticks']} CPU ticks, "
        f"{many['switches']} context switches"
    )
    print(
        f"    the {many['after']} s after them: {many['after_ticks']} CPU ticks, "
        f"{many['after_switches']} context switches; {show_rss(many['after_rss'])}"
    )


def outside(args):
    if os.geteuid() != 0:
        raise BenchError("needs root, to create a network namespace")
    needed = ["ip"] + (["cargo"] if args.binary is None else [])
    for tool in needed:
        if shutil.which(tool) is None:
            raise BenchError(f"{tool} not found")
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "-p", "ddnsd"], cwd=REPO, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
        binary = os.path.join(target, "release", "ddnsd")
    binary = os.path.abspath(binary)
    name = f"ddnsb-{os.getpid()}"
    ip("netns", "add", name)
    child = None
    try:
        for command in (
            "link add v0 type veth peer name v1",
            "link set lo up",
            "link set v0 up",
            "link set v1 up",
        ):
            ip("-n", name, *command.split())
        command = ["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__)]
        command += ["--inside", "--binary", binary] + (["--quick"] if args.quick else [])
        child = subprocess.Popen(command)
        return child.wait()
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=GIVE_UP)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        # Whatever still runs in the namespace was started by this script
        # (the child killed before its own cleanup leaves its daemons).
        left = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True)
        for pid in left.stdout.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        ip("netns", "del", name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--binary", help="use this ddnsd instead of building one")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C, so that `finally` removes what was made.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.inside:
            inside(args)
            return 0
        return outside(args)
    except BenchError as error:
        print(f"daemon.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
