#!/usr/bin/env python3
"""Public-address detection behind NAT (DDNS_IP_SOURCE_TYPE=http): how soon
ddnsd notices a new public address after a reconnect, and what it costs
while nothing changes.

    sudo bench/detect.py                 # the published figures (~11 min)
    sudo bench/detect.py --quick         # a smoke test (~2 min)
    sudo bench/detect.py --binary PATH   # measure an existing ddnsd

It builds ddnsd in release (unless --binary names one) and makes two
network namespaces joined by a veth pair: the "router" (v0, 10.0.0.100/24,
default route through 10.0.0.1 or 10.0.0.2) where ddnsd runs, and the
"internet" (v1, 10.0.0.1/24 and 10.0.0.2/24) where three echo services
listen on 198.51.100.1-3 port 80. Each echo service is a separate Python
process that answers GET with the content of one shared file (the "public
address", 203.0.113.x) and reports every connection and request with its
CLOCK_MONOTONIC time. ddnsd runs with the dry-run provider, the http source
on those three URLs, quorum 2, poll 300 s, trigger netlink, JSON logs at
debug level; the script timestamps each log line as it reads it.

Parts:
  1. Reconnect -> new public address. Each change first writes a new
     answer for the echo services, then changes the router's network with
     one `ip -batch` process:
       route    `route replace default via <the other gateway> dev v0`
       address  a new /32 on v0 (100.64.0.x, a CGNAT-style WAN address)
                added and the previous one deleted
       link     `link set v0 down`, `link set v0 up`, the default route back
       wan      the router's own address (10.0.0.x/24, the source of its
                connections) replaced and the default route back; the echo
                services close each connection, so none is reused
     and times, from just before `ip` is started, the log lines `public
     address detected` and `dry run: would set the record` for the new
     address. 50 changes per way (10 with --quick) after 2 untimed ones,
     1 s of idle before each, one daemon per way.
     Then, with a fresh daemon per change and 12 s to detect (3 changes
     each, 1 with --quick):
       wan-pooled     `wan` 1 s after a round, its connections still open
       outage         link down, 2 s later up and the default route back;
                      no open connection
       outage-pooled  the same, 1 s after a round, its connections open
     and (full run only) one `outage` with a 40 s poll, to see when a
     missed change is published.
  2. Idle cost, in two namespaces of their own and alongside part 1: a
     ddnsd with the defaults (poll 300 s, quorum 2, trigger netlink, the
     same three services) left alone for 600 s (120 s with --quick, which
     polls every 30 s so that rounds show): requests and connections the
     echo services receive, CPU ticks and context switches of the daemon
     (sampled every second, to show when it wakes).

The namespaces, the temporary directory and every process the script
starts are removed on exit, also after an error, Ctrl-C or SIGTERM. Nothing
outside its namespaces is touched. Needs root and python3 (standard
library only).
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
GATEWAYS = ("10.0.0.1", "10.0.0.2")
ROUTER_ADDRESS = "10.0.0.100/24"
SERVICES = ("198.51.100.1", "198.51.100.2", "198.51.100.3")
PORT = 80
DEBOUNCE_MS = 250  # DetectionSettings::new in ddns-core
DETECTED = "public address detected"
WROTE = "dry run: would set the record to this address"
DEBOUNCED = "network changed; detecting again"
TRIGGER_STARTED = "netlink change trigger started"
# The netlink trigger's debug lines, one per reason (ddns-ip-netlink trigger.rs).
TRIGGER_REASONS = (
    "link up",
    "link down or removed",
    "link state changed",
    "global address added",
    "global address removed",
    "global address preference changed",
    "default route added",
    "default route removed",
)
GIVE_UP = 15.0
POLLER_INTERVAL = 300  # the 5-minute poller of the comparison


class BenchError(Exception):
    """A step failed; the message says which."""


# ---------------------------------------------------------------- helpers


def percentile(samples, p):
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def run(*args, input_text=None):
    result = subprocess.run(list(args), capture_output=True, text=True, input=input_text)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, Linux {os.uname().release}"


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def proc_status(path):
    fields = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        after_comm = f.read().rsplit(")", 1)[1].split()
    return int(after_comm[11]) + int(after_comm[12])


def switches(pid):
    """{tid: (name, voluntary, nonvoluntary)} over every thread."""
    result = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            status = proc_status(f"/proc/{pid}/task/{tid}/status")
        except FileNotFoundError:
            continue  # the thread ended meanwhile
        result[tid] = (
            status["Name"],
            int(status["voluntary_ctxt_switches"]),
            int(status["nonvoluntary_ctxt_switches"]),
        )
    return result


def switch_total(snapshot):
    voluntary = sum(v for _, v, _ in snapshot.values())
    nonvoluntary = sum(n for _, _, n in snapshot.values())
    return voluntary, nonvoluntary


# ---------------------------------------------------------------- echo service


def serve_echo(address, port, answer_file):
    """Runs one echo service (inside the "internet" namespace): GET answers
    the content of `answer_file`; every connection and request is reported
    on stdout with its CLOCK_MONOTONIC time in ns. Keep-alive connections
    stay open until the client closes them, unless a file `close` exists
    beside `answer_file`: then each answer closes its connection."""
    lock = threading.Lock()
    close_flag = os.path.join(os.path.dirname(answer_file), "close")

    def emit(*fields):
        with lock:
            sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
            sys.stdout.flush()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            super().setup()
            emit("conn", time.monotonic_ns(), self.client_address[0])

        def do_GET(self):
            at = time.monotonic_ns()
            with open(answer_file, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            if os.path.exists(close_flag):
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)
            emit("req", at, self.client_address[0], self.path)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer((address, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    emit("ready", time.monotonic_ns(), address)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


class Echo:
    """One echo service process, seen from the bench."""

    def __init__(self, netns, address, answer_file):
        self.address = address
        self.events = []  # (kind, monotonic seconds)
        self.lock = threading.Condition()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, sys.executable, os.path.abspath(__file__),
             "--echo-serve", address, str(PORT), answer_file],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        deadline = time.monotonic() + GIVE_UP
        with self.lock:
            while not any(kind == "ready" for kind, _ in self.events):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise BenchError(f"echo service {address} did not start")
                self.lock.wait(0.2)

    def _read(self):
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) >= 2:
                with self.lock:
                    self.events.append((parts[0], int(parts[1]) / 1e9))
                    self.lock.notify_all()

    def times(self, kind, since=0.0, until=float("inf")):
        with self.lock:
            return [t for k, t in self.events if k == kind and since <= t < until]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def write_answer(path, address):
    """Atomically: an echo service never reads half a file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(address + "\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------- ddnsd


class Daemon:
    """ddnsd in the router namespace; its JSON log lines are timestamped
    (time.monotonic) as they arrive."""

    def __init__(self, binary, netns, env):
        self.lines = []  # (monotonic time, dict)
        self.cond = threading.Condition()
        # `ip netns exec` execs the program: the pid is ddnsd's.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", netns, binary],
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
            text = raw.decode(errors="replace").strip()
            try:
                line = json.loads(text)
            except ValueError:
                line = {"message": text}
            with self.cond:
                self.lines.append((now, line))
                self.cond.notify_all()

    def mark(self):
        with self.cond:
            return len(self.lines)

    def wait_for(self, messages, start=0, address=None, timeout=GIVE_UP):
        """The first line from index `start` on whose message is one of
        `messages` (and whose address field is `address`): (time, index
        after it, line)."""
        if isinstance(messages, str):
            messages = (messages,)
        deadline = time.monotonic() + timeout
        with self.cond:
            index = start
            while True:
                while index < len(self.lines):
                    at, line = self.lines[index]
                    index += 1
                    if line.get("message") in messages and (
                        address is None or line.get("address") == address
                    ):
                        return at, index, line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    tail = "\n".join(json.dumps(line) for _, line in self.lines[-12:])
                    raise BenchError(f"ddnsd never logged {messages!r} (last lines:\n{tail})")
                self.cond.wait(min(left, 0.5))

    def find(self, messages, start, end=None):
        """(time, line) of the first line in [start, end) with one of
        `messages`, or None."""
        with self.cond:
            for at, line in self.lines[start:end]:
                if line.get("message") in messages:
                    return at, line
        return None

    def levels(self, *wanted):
        with self.cond:
            return [line for _, line in self.lines if line.get("level") in wanted]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=2)
        return self.proc.returncode


def daemon_env(urls, **extra):
    env = {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "DDNS_RECORDS": "home.example.com",
        "DDNS_PROVIDER_TYPE": "dry-run",
        "DDNS_IP_FAMILIES": "ipv4",
        "DDNS_IP_SOURCE_TYPE": "http",
        "DDNS_IP_SOURCE_URLS": ",".join(urls),
        # The echo services answer 203.0.113.x (documentation range) over
        # plain http to a non-loopback host.
        "DDNS_IP_ALLOW_NONGLOBAL": "true",
        "DDNS_ALLOW_HTTP": "true",
        "DDNS_LOG_FORMAT": "json",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


# ---------------------------------------------------------------- the lab


class Lab:
    """Two namespaces joined by a veth pair, the echo services and their
    answer file. Every process started in it is stopped by close()."""

    def __init__(self, tag):
        self.router = f"ddnsb-det-{tag}-r"
        self.internet = f"ddnsb-det-{tag}-i"
        self.made = []
        self.echoes = []
        self.daemons = []
        self.directory = tempfile.mkdtemp(prefix="ddnsb-det-")
        self.answer = os.path.join(self.directory, "ip")
        self.gateway = 0
        self.wan = None
        self.router_address = ROUTER_ADDRESS

    def setup(self):
        for name in (self.router, self.internet):
            run("ip", "netns", "add", name)
            self.made.append(name)
        r, i = ("ip", "-n", self.router), ("ip", "-n", self.internet)
        run(*r, "link", "add", "v0", "type", "veth", "peer", "name", "v1", "netns", self.internet)
        for command in (
            (*r, "link", "set", "lo", "up"),
            (*r, "link", "set", "v0", "up"),
            (*r, "addr", "add", ROUTER_ADDRESS, "dev", "v0"),
            (*r, "route", "add", "default", "via", GATEWAYS[0], "dev", "v0"),
            (*i, "link", "set", "lo", "up"),
            (*i, "link", "set", "v1", "up"),
            (*i, "addr", "add", f"{GATEWAYS[0]}/24", "dev", "v1"),
            (*i, "addr", "add", f"{GATEWAYS[1]}/24", "dev", "v1"),
            *((*i, "addr", "add", f"{s}/32", "dev", "lo") for s in SERVICES),
        ):
            run(*command)
        write_answer(self.answer, "203.0.113.1")
        for service in SERVICES:
            self.echoes.append(Echo(self.internet, service, self.answer))

    def urls(self):
        return [f"http://{s}/ip" for s in SERVICES]

    def start(self, binary, env):
        daemon = Daemon(binary, self.router, env)
        self.daemons.append(daemon)
        return daemon

    def keep_alive(self, on):
        """Whether the echo services keep connections open after answering."""
        flag = os.path.join(self.directory, "close")
        if on and os.path.exists(flag):
            os.unlink(flag)
        elif not on:
            open(flag, "w").close()

    def ip_batch(self, batch):
        result = subprocess.run(
            ["ip", "-n", self.router, "-batch", "-"], input=batch, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise BenchError(f"ip -batch failed ({batch!r}): {result.stderr.strip()}")

    def change(self, mode, k, outage=0.0):
        """One reconnect-like change of the router's network, as one
        `ip -batch` process (two for `outage`): (monotonic time just before
        the first `ip` started, seconds until the last one exited)."""
        if mode == "route":
            # A new gateway, as a DHCP lease from another server or a new
            # PPP peer gives.
            self.gateway = 1 - self.gateway
            batches = [f"route replace default via {GATEWAYS[self.gateway]} dev v0\n"]
        elif mode == "address":
            # A new WAN address (CGNAT-style /32) beside the LAN one.
            new = f"100.64.0.{1 + k % 250}"
            batch = f"address add {new}/32 dev v0\n"
            if self.wan is not None:
                batch += f"address del {self.wan}/32 dev v0\n"
            self.wan = new
            batches = [batch]
        elif mode in ("wan", "wan-pooled"):
            # The router's own address changes: the one its connections to
            # the services leave from. What a DHCP client does on a new lease.
            old = self.router_address
            self.router_address = f"10.0.0.{100 + (k + 1) % 100}/24"
            self.gateway = 0
            batches = [
                f"address del {old} dev v0\n"
                f"address add {self.router_address} dev v0\n"
                f"route replace default via {GATEWAYS[0]} dev v0\n"
            ]
        elif mode in ("link", "outage", "outage-pooled"):
            # The WAN link goes down and comes back; the kernel drops the
            # default route with the link, and it is added again.
            self.gateway = 0
            down = "link set v0 down\n"
            up = f"link set v0 up\nroute replace default via {GATEWAYS[0]} dev v0\n"
            batches = [down + up] if mode == "link" else [down, up]
        else:
            raise BenchError(f"unknown mode {mode}")
        start = time.monotonic()
        for n, batch in enumerate(batches):
            if n:
                time.sleep(outage)
            self.ip_batch(batch)
        return start, time.monotonic() - start

    def requests(self, since=0.0, until=float("inf")):
        return sorted(t for e in self.echoes for t in e.times("req", since, until))

    def connections(self, since=0.0, until=float("inf")):
        return sorted(t for e in self.echoes for t in e.times("conn", since, until))

    def close(self):
        for daemon in self.daemons:
            try:
                daemon.stop()
            except Exception:  # noqa: BLE001 - cleanup goes on
                daemon.proc.kill()
        for echo in self.echoes:
            echo.stop()
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        shutil.rmtree(self.directory, ignore_errors=True)


def rounds(times, gap=1.0):
    """Groups request times into detection rounds (requests closer than
    `gap` s to the previous one)."""
    groups = []
    for t in sorted(times):
        if groups and t - groups[-1][-1] < gap:
            groups[-1].append(t)
        else:
            groups.append([t])
    return groups


def reaction_env(lab, poll=300):
    return daemon_env(
        lab.urls(),
        DDNS_IP_SOURCE_QUORUM=2,
        DDNS_IP_SOURCE_POLL_INTERVAL_SECS=poll,
        DDNS_IP_SOURCE_TRIGGER="netlink",
        DDNS_MIN_UPDATE_INTERVAL_SECS=0,
        DDNS_LOG_LEVEL="debug",
    )


def problems(daemon, start, end=None):
    """The WARN and ERROR lines in [start, end), shortened: {text: count}."""
    found = {}
    with daemon.cond:
        for _, line in daemon.lines[start:end]:
            if line.get("level") not in ("WARN", "ERROR"):
                continue
            text = line.get("message", "")
            if "error" in line:
                # "http://198.51.100.1: request failed: ...": drop the URL.
                text += ": " + line["error"].split(": ", 1)[-1]
            found[text] = found.get(text, 0) + 1
    return found


# ---------------------------------------------------------------- part 1


def part_reaction(lab, binary, mode, changes, warmup, quiet):
    """One daemon, `warmup + changes` changes of `mode`, each after `quiet`
    seconds of idle."""
    keep_alive = mode != "wan"
    lab.keep_alive(keep_alive)
    public = 10
    write_answer(lab.answer, f"203.0.113.{public}")
    daemon = lab.start(binary, reaction_env(lab))
    rows = []
    try:
        daemon.wait_for(WROTE, address=f"203.0.113.{public}")
        daemon.wait_for(TRIGGER_STARTED)
        first = daemon.mark()
        time.sleep(quiet)
        for k in range(warmup + changes):
            public = 11 + k % 240
            address = f"203.0.113.{public}"
            write_answer(lab.answer, address)
            mark = daemon.mark()
            t0, ip_took = lab.change(mode, k)
            detected, _, _ = daemon.wait_for(DETECTED, mark, address=address)
            wrote, end, _ = daemon.wait_for(WROTE, mark, address=address)
            # Idle before the next change; a second round, if the change
            # came in two bursts, shows up meanwhile.
            time.sleep(quiet)
            if k < warmup:
                continue
            trigger = daemon.find(TRIGGER_REASONS, mark, end)
            debounced = daemon.find((DEBOUNCED,), mark, end)
            requests = lab.requests(t0, detected)
            later = lab.requests(t0, time.monotonic())
            with daemon.cond:
                reused = sum(
                    1 for _, line in daemon.lines[mark:end]
                    if line.get("message", "").startswith("reuse idle connection")
                )
            rows.append({
                "detected": detected - t0,
                "wrote": wrote - t0,
                "ip": ip_took,
                "trigger": trigger[0] - t0 if trigger else None,
                "reason": trigger[1].get("message") if trigger else None,
                "debounced": debounced[0] - t0 if debounced else None,
                "first_request": requests[0] - t0 if requests else None,
                "last_request": requests[-1] - t0 if requests else None,
                "requests": len(later),
                "connections": len(lab.connections(t0, time.monotonic())),
                "reused": reused,
                "rounds": len(rounds(later, gap=0.2)),
            })
        issues = problems(daemon, first)
    finally:
        code = daemon.stop()
        lab.keep_alive(True)
    return {"rows": rows, "code": code, "problems": issues, "keep_alive": keep_alive}


def part_failure(lab, binary, mode, changes, cap, outage, quiet, poll=300):
    """Changes that the bench expects ddnsd may miss: a fresh daemon for
    each (so that one failure does not colour the next) and `cap` seconds
    to detect. In the `-pooled` ways the echo services keep the connections
    of the daemon's first round open; otherwise every round connects anew,
    as after 90 s of idle (reqwest's pool timeout)."""
    rows = []
    for k in range(changes):
        lab.keep_alive(mode.endswith("-pooled"))
        write_answer(lab.answer, "203.0.113.10")
        daemon = lab.start(binary, reaction_env(lab, poll))
        try:
            daemon.wait_for(WROTE, address="203.0.113.10")
            daemon.wait_for(TRIGGER_STARTED)
            time.sleep(quiet)
            address = f"203.0.113.{20 + k}"
            write_answer(lab.answer, address)
            mark = daemon.mark()
            t0, _ = lab.change(mode, k, outage)
            try:
                detected, end, _ = daemon.wait_for(DETECTED, mark, address=address, timeout=cap)
                took = detected - t0
            except BenchError:
                took, end = None, None
            time.sleep(0.3)  # the echo services report a request after answering it
            with daemon.cond:
                reused = sum(
                    1 for _, line in daemon.lines[mark:end]
                    if line.get("message", "").startswith("reuse idle connection")
                )
            rows.append({
                "detected": took,
                "requests": len(lab.requests(t0, time.monotonic())),
                "reused": reused,
                "problems": problems(daemon, mark, end),
            })
        finally:
            daemon.stop()
            lab.keep_alive(True)
    return rows


def describe_reaction(result):
    rows = result["rows"]

    def stats(key):
        samples = [r[key] for r in rows if r[key] is not None]
        if not samples:
            return "n/a"
        return (
            f"p50 {ms(percentile(samples, 50))}, p90 {ms(percentile(samples, 90))}, "
            f"p99 {ms(percentile(samples, 99))}, max {ms(max(samples))}"
        )

    def median(key):
        samples = [r[key] for r in rows if r[key] is not None]
        return ms(statistics.median(samples)) if samples else "n/a"

    def mean(key):
        return sum(r[key] for r in rows) / len(rows)

    reasons = {}
    for r in rows:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    lines = [
        f"  change -> 'public address detected'   {stats('detected')} ({len(rows)} changes)",
        f"  change -> dry-run write logged         {stats('wrote')}",
        f"  split (medians): ip exited {median('ip')}, trigger logged {median('trigger')}, "
        f"debounce over {median('debounced')}, first request {median('first_request')}, "
        f"last request {median('last_request')}, detected {median('detected')}",
        f"  first trigger reason: {', '.join(f'{k} x{v}' for k, v in sorted(reasons.items(), key=str))}",
        f"  per change: {mean('requests'):.2f} requests in {mean('rounds'):.2f} rounds, "
        f"{mean('connections'):.2f} new connections, {mean('reused'):.2f} pooled ones reused "
        f"(echo services {'keep connections open' if result['keep_alive'] else 'close each connection'})",
    ]
    if result["code"] != 0:
        lines.append(f"  ddnsd exited with {result['code']} after SIGTERM")
    for text, n in result["problems"].items():
        lines.append(f"  ddnsd warned x{n}: {text}")
    return "\n".join(lines)


def describe_failure(rows, cap):
    lines = []
    for n, r in enumerate(rows, 1):
        outcome = f"detected after {ms(r['detected'])}" if r["detected"] is not None else f"not detected within {cap:.0f} s"
        lines.append(
            f"  change {n}: {outcome}; {r['requests']} requests, {r['reused']} pooled connections reused"
        )
        for text, count in r["problems"].items():
            lines.append(f"    x{count} {text}")
    return "\n".join(lines)


# ---------------------------------------------------------------- part 2


def part_idle(lab, binary, window, poll):
    """A daemon with the defaults left alone for `window` seconds."""
    extra = {"DDNS_LOG_LEVEL": "info"}
    if poll is not None:
        extra["DDNS_IP_SOURCE_POLL_INTERVAL_SECS"] = poll
    write_answer(lab.answer, "203.0.113.250")
    daemon = lab.start(binary, daemon_env(lab.urls(), **extra))
    try:
        daemon.wait_for(WROTE, address="203.0.113.250")
        daemon.wait_for(TRIGGER_STARTED)
        started = lab.requests()[0]
        time.sleep(3)
        start = time.monotonic()
        ticks0, sw0 = cpu_ticks(daemon.pid), switches(daemon.pid)
        timeline = []  # (seconds into the window, +voluntary, +nonvoluntary, threads)
        last = switch_total(sw0)
        while time.monotonic() - start < window:
            time.sleep(max(0.0, min(1.0, window - (time.monotonic() - start))))
            snap = switches(daemon.pid)
            now = switch_total(snap)
            if now != last:
                timeline.append(
                    (time.monotonic() - start, now[0] - last[0], now[1] - last[1], len(snap))
                )
                last = now
        end = time.monotonic()
        ticks1, sw1 = cpu_ticks(daemon.pid), switches(daemon.pid)
        lines_in_window = [
            f"{at - start:.1f} s: {line.get('level')} {line.get('message')}"
            for at, line in daemon.lines if start <= at < end
        ]
        status = proc_status(f"/proc/{daemon.pid}/status")
    finally:
        code = daemon.stop()
    requests = lab.requests(start, end)
    v0, n0 = switch_total(sw0)
    v1, n1 = switch_total(sw1)
    return {
        "poll": poll or 300,
        "window": end - start,
        "offset": start - started,
        "requests": len(requests),
        "per_service": {e.address: len(e.times("req", start, end)) for e in lab.echoes},
        "connections": len(lab.connections(start, end)),
        "rounds": [round(g[0] - start, 1) for g in rounds(requests)],
        "ticks": ticks1 - ticks0,
        "voluntary": v1 - v0,
        "nonvoluntary": n1 - n0,
        "threads": int(status["Threads"]),
        "rss": (int(status["VmRSS"].split()[0]), int(status["RssAnon"].split()[0]),
                int(status["RssFile"].split()[0])),
        "timeline": [(round(t, 1), v, n, th) for t, v, n, th in timeline],
        "log_lines": lines_in_window,
        "code": code,
        "problems": problems(daemon, 0),
    }


def describe_idle(idle):
    rss, anon, file_ = idle["rss"]
    return "\n".join([
        f"  window              {idle['window']:.1f} s, from {idle['offset']:.1f} s after the start-up round",
        f"  requests received   {idle['requests']} ({', '.join(f'{a}: {n}' for a, n in idle['per_service'].items())}), "
        f"new connections {idle['connections']}",
        f"  rounds at (s)       {idle['rounds']}",
        f"  CPU ticks           {idle['ticks']} (1 tick = {1000 // CLK_TCK} ms)",
        f"  context switches    voluntary {idle['voluntary']}, nonvoluntary {idle['nonvoluntary']}, "
        f"threads {idle['threads']}",
        f"  seconds with a switch (s into the window: +voluntary/+nonvoluntary) "
        + (", ".join(f"{t}: +{v}/+{n}" for t, v, n, _ in idle["timeline"]) or "none"),
        f"  log lines in window {len(idle['log_lines'])}" + "".join(f"\n    {l}" for l in idle["log_lines"]),
        f"  VmRSS at the end    {rss} KiB (anon {anon}, file {file_})",
        *(f"  ddnsd warned x{n}: {text}" for text, n in idle["problems"].items()),
    ])


# ---------------------------------------------------------------- main


def measure(args, binary):
    quick = args.quick
    changes = args.changes or (10 if quick else 50)
    window = args.idle_secs or (120 if quick else 600)
    idle_poll = 30 if quick else None  # None: the default, 300 s
    modes = [m for m in args.modes.split(",") if m]
    failing = [m for m in args.failing.split(",") if m]
    failing_changes = 1 if quick else 3
    cap = 12.0
    labs = []
    results = {}
    idle_box = {}
    try:
        print(f"machine: {machine()}")
        print(f"binary:  {binary} ({os.path.getsize(binary)} bytes; {'quick' if quick else 'full'} run)")
        print(f"load average at start: {loadavg()}")
        print()

        # Part 2 runs in a lab of its own, alongside part 1: rtnetlink
        # notifications do not cross namespaces, so part 1's changes are
        # invisible to the idle daemon.
        idle_lab = Lab(f"{os.getpid()}i")
        if not args.no_idle:
            labs.append(idle_lab)
            idle_lab.setup()

        def idle_part():
            try:
                idle_box["result"] = part_idle(idle_lab, binary, window, idle_poll)
            except BaseException as error:  # noqa: BLE001 - reported by the main thread
                idle_box["error"] = error

        idle_thread = threading.Thread(target=idle_part, daemon=True)
        if not args.no_idle:
            idle_thread.start()

        lab = Lab(f"{os.getpid()}r")
        labs.append(lab)
        lab.setup()
        print(f"echo services: {', '.join(lab.urls())} (in the peer namespace, reached through the veth)")
        print()
        print("== 1. reconnect -> new public address detected "
              f"(quorum 2 of {len(SERVICES)}, poll 300 s, trigger netlink, debounce {DEBOUNCE_MS} ms)")
        for mode in modes:
            result = part_reaction(lab, binary, mode, changes, 2, args.quiet)
            results[mode] = result
            print(f"{mode}:")
            print(describe_reaction(result))
        for mode in failing:
            rows = part_failure(lab, binary, mode, failing_changes, cap, args.outage, args.quiet)
            results[mode] = rows
            outage = f"link down, {args.outage:.0f} s later up and default route"
            what = {
                "wan-pooled": "the router's address changes 1 s after a round; pooled connections",
                "outage": f"{outage}; no pooled connection",
                "outage-pooled": f"{outage}, 1 s after a round; pooled connections",
            }.get(mode, mode)
            print(f"{mode} ({what}; a fresh daemon per change):")
            print(describe_failure(rows, cap))
        if failing and not quick and not args.no_recovery:
            # When does a missed change get published? One outage with the
            # poll at 40 s instead of 300 s, to see it happen.
            rows = part_failure(lab, binary, "outage", 1, 70.0, args.outage, args.quiet, poll=40)
            results["recovery"] = rows
            print("outage with poll 40 s (when is a missed change published?):")
            print(describe_failure(rows, 70.0))
        print()

        if not args.no_idle:
            idle_thread.join()
            if "error" in idle_box:
                raise idle_box["error"]
            idle = idle_box["result"]
            results["idle"] = idle
            label = " (quick: poll 30 s so that rounds show)" if idle_poll else ""
            print(f"== 2. idle: defaults (poll {idle['poll']} s, quorum 2, trigger netlink), "
                  f"{len(SERVICES)} services, {window} s{label}, in a lab of its own beside part 1")
            print(describe_idle(idle))
        summary(results, modes, failing, cap)
    finally:
        for each in labs:
            each.close()


def summary(results, modes, failing, cap):
    print()
    print("== summary (docs/BENCHMARKS.md, section 4)")
    print()
    print("| reconnect → `public address detected` | changes | p50 | p90 | p99 | max | requests per change | 5-minute poller, mean wait | ratio at p50 |")
    print("|---|---|---|---|---|---|---|---|---|")
    expected = POLLER_INTERVAL / 2
    for mode in modes:
        rows = results[mode]["rows"]
        s = [r["detected"] for r in rows]
        p50 = percentile(s, 50)
        print(
            f"| {mode} | {len(s)} | {ms(p50)} | {ms(percentile(s, 90))} | {ms(percentile(s, 99))} | "
            f"{ms(max(s))} | {sum(r['requests'] for r in rows) / len(rows):.1f} | "
            f"{expected:.0f} s | {expected / p50:,.0f} |"
        )
    for mode in failing + (["recovery"] if "recovery" in results else []):
        rows = results[mode]
        found = [r["detected"] for r in rows if r["detected"] is not None]
        print(
            f"| {mode} | {len(rows)} | detected {len(found)} of {len(rows)} within "
            f"{70 if mode == 'recovery' else cap:.0f} s"
            + (f" ({', '.join(f'{t:.1f} s' for t in found)})" if found else "")
            + " | | | | | | |"
        )
    if "idle" not in results:
        return
    idle = results["idle"]
    rounds_seen = len(idle["rounds"])
    per_round = idle["requests"] / rounds_seen if rounds_seen else 0
    per_hour = idle["requests"] * 3600 / idle["window"]
    at_default = per_round * 3600 / 300
    print()
    print("| idle, nothing changes | value |")
    print("|---|---|")
    print(f"| window | {idle['window']:.0f} s, poll {idle['poll']} s |")
    print(f"| requests received (all services) | {idle['requests']} in {rounds_seen} rounds, {per_round:.1f} per round |")
    print(f"| per hour, extrapolated from the window | {per_hour:.1f} |")
    print(f"| per hour at the default poll (300 s) | {at_default:.0f} (= {per_round:.0f} × 12); one 5-minute poller asking one service: 12 (ratio {at_default / 12:.1f}) |")
    print(f"| new TCP connections | {idle['connections']} |")
    print(f"| CPU ticks | {idle['ticks']} |")
    print(f"| context switches (voluntary / nonvoluntary) | {idle['voluntary']} / {idle['nonvoluntary']} |")
    print(f"| seconds with a switch | {len(idle['timeline'])}: {', '.join(str(t) for t, *_ in idle['timeline']) or 'none'} |")


def outside(args):
    if os.geteuid() != 0:
        raise BenchError("needs root, to create network namespaces")
    binary = args.binary
    if binary is None:
        if shutil.which("cargo") is None:
            raise BenchError("cargo not found (or give --binary)")
        subprocess.run(["cargo", "build", "--release", "-p", "ddnsd"], cwd=REPO, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
        binary = os.path.join(target, "release", "ddnsd")
    binary = os.path.abspath(binary)
    if not os.access(binary, os.X_OK):
        raise BenchError(f"{binary} is not executable")
    measure(args, binary)
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--binary", help="use this ddnsd instead of building one")
    parser.add_argument("--changes", type=int, help="timed changes per way (default 50, quick 10)")
    parser.add_argument("--modes", default="route,address,link,wan",
                        help="comma-separated, timed: route, address, link, wan")
    parser.add_argument("--failing", default="wan-pooled,outage,outage-pooled",
                        help="comma-separated, a fresh daemon each: wan-pooled, outage, outage-pooled ('' for none)")
    parser.add_argument("--outage", type=float, default=2.0, help="seconds the link stays down in 'outage'")
    parser.add_argument("--no-recovery", action="store_true", help="skip the outage with a 40 s poll")
    parser.add_argument("--idle-secs", type=int, help="idle window (default 600, quick 120)")
    parser.add_argument("--no-idle", action="store_true", help="skip part 2")
    parser.add_argument("--quiet", type=float, default=1.0, help="idle seconds before each change")
    parser.add_argument("--echo-serve", nargs=3, metavar=("ADDRESS", "PORT", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_serve:
        address, port, answer = args.echo_serve
        return serve_echo(address, int(port), answer)
    # SIGTERM unwinds like Ctrl-C, so that `finally` removes what was made.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return outside(args)
    except BenchError as error:
        print(f"detect.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
