#!/usr/bin/env python3
"""Address change on an interface -> BIND9 answers the new address, for
ddnsd (RFC 2136 provider, netlink source) and for Debian's ddclient
(nsupdate protocol, interface mode), on the same namespace and the same BIND.

    sudo bench/rfc2136.py                  # the published figures (~23 min)
    sudo bench/rfc2136.py --quick          # a smoke test (~1.5 min)
    sudo bench/rfc2136.py --binary PATH    # measure an existing ddnsd
    sudo bench/rfc2136.py --no-ddclient    # ddnsd only (~1 min)

It builds ddnsd in release, creates a network namespace with a veth pair
v0/v1 and re-runs itself inside it. Inside, one process does the timing: it
starts BIND (`named -f -n 1`) on 127.0.0.1:53 with the zone example.test and
a `tsig-keygen` hmac-sha256 key, changes the address of v0 with its own
rtnetlink requests (so no `ip` start-up is in the figures), and polls BIND
with plain UDP queries until the answer is the new address, timestamping
both with time.perf_counter_ns(). Each change adds the next /32 and deletes
the previous one, back to back. The UPDATE messages each updater sent are
read from BIND's statistics channel (opcodes.UPDATE).

Parts, in this order:
  1. the ddnsd daemon, 200 changes after 10 untimed ones;
  2. `ddnsd once` and `ddclient -daemon 0` started right after each change,
     as a hook would start them, 20 changes each;
  3. the ddclient daemon at its shortest poll interval (60 s), 20 changes,
     each made at a moment drawn uniformly over its poll cycle.

Everything it starts (named, ddnsd, ddclient, nsupdate), the namespace and
its temporary directory are removed on exit, also after an error or Ctrl-C.
No address outside the namespace is touched. Needs root, BIND (apt-get
install bind9 bind9-utils) and ddclient (apt-get install ddclient).
Python 3 standard library only.
"""

import argparse
import datetime
import json
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZONE = "example.test"
RECORD = "home.example.test"
KEY_NAME = "ddns-key"
DNS = ("127.0.0.1", 53)
STATS_URL = "http://127.0.0.1:8053/json/v1/server"
# ddclient's floor for -daemon (its %variables: 'daemon' minimum 60s); the
# script checks it with a probe and uses what ddclient really sleeps.
DDCLIENT_ASKED_INTERVAL = 1
GIVE_UP = 10.0


class BenchError(Exception):
    """A step failed; the message says which."""


# ---------------------------------------------------------------- helpers


def percentile(samples, p):
    """Nearest-rank percentile."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[min(rank, len(ordered)) - 1]


def fmt(ns):
    """Nanoseconds as ms, or s above 10 s."""
    if ns >= 10_000_000_000:
        return f"{ns / 1e9:.2f} s"
    return f"{ns / 1e6:.2f} ms"


def summary(samples):
    return (
        f"p50 {fmt(percentile(samples, 50))}, p90 {fmt(percentile(samples, 90))}, "
        f"p99 {fmt(percentile(samples, 99))}, max {fmt(max(samples))}, "
        f"min {fmt(min(samples))} ({len(samples)} changes)"
    )


def program(name):
    path = shutil.which(name)
    if path is None:
        for directory in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
            candidate = os.path.join(directory, name)
            if os.access(candidate, os.X_OK):
                return candidate
    return path


def run(*args):
    result = subprocess.run(list(args), capture_output=True, text=True)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
    return result.stdout


def named_conf(d, key_file, zone, zone_file, quiet_updates=False):
    """named.conf for a bench's named in directory `d`: loopback port 53
    only, the statistics channel on port 8053, no recursion, and `zone`
    open to updates signed with KEY_NAME. `quiet_updates` leaves named's
    per-RRset update lines out of its log (thousands of records)."""
    update_log = "    category update { null; };\n" if quiet_updates else ""
    return (
        f'include "{key_file}";\n'
        "options {\n"
        f'    directory "{d}";\n'
        f'    pid-file "{d}/named.pid";\n'
        f'    session-keyfile "{d}/session.key";\n'
        f'    managed-keys-directory "{d}";\n'
        f'    dump-file "{d}/cache_dump.db";\n'
        f'    statistics-file "{d}/named.stats";\n'
        "    listen-on port 53 { 127.0.0.1; };\n"
        "    listen-on-v6 { none; };\n"
        "    recursion no;\n"
        "    notify no;\n"
        "    dnssec-validation no;\n"
        # named would otherwise follow the namespace's address changes
        # over rtnetlink and rescan its interfaces on each one, on the
        # thread that then applies the UPDATE. A real server is on
        # another machine and sees none of them.
        "    automatic-interface-scan no;\n"
        "};\n"
        "logging {\n"
        f'    channel file {{ file "{d}/named.log" versions 0 size 50m; severity info;\n'
        "        print-time yes; print-category yes; };\n"
        "    category default { file; };\n"
        f"{update_log}"
        "    category lame-servers { null; };\n"
        "};\n"
        "controls { };\n"
        "statistics-channels { inet 127.0.0.1 port 8053 allow { 127.0.0.1; }; };\n"
        f'zone "{zone}" {{ type primary; file "{zone_file}"; '
        f'update-policy {{ grant "{KEY_NAME}" zonesub ANY; }}; }};\n'
    )


def write(path, text, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def stop(proc, name, timeout=15.0):
    """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
    if proc is None or proc.poll() is not None:
        return None if proc is None else proc.returncode
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"{name} ignored SIGTERM for {timeout} s; killing it", file=sys.stderr)
        proc.kill()
        return proc.wait()


# ---------------------------------------------------------------- rtnetlink


class Netlink:
    """Adds and deletes IPv4 /32 addresses with rtnetlink requests, as
    `ip addr add|del A/32 dev IF` does, without a process start."""

    RTM_NEWADDR, RTM_DELADDR, NLMSG_ERROR = 20, 21, 2
    NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
    IFA_ADDRESS, IFA_LOCAL = 1, 2

    def __init__(self, interface):
        self.index = socket.if_nametoindex(interface)
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(GIVE_UP)
        self.seq = 0

    def _message(self, kind, flags, address):
        self.seq += 1
        packed = socket.inet_aton(address)
        attrs = struct.pack("=HH4s", 8, self.IFA_LOCAL, packed)
        attrs += struct.pack("=HH4s", 8, self.IFA_ADDRESS, packed)
        # struct ifaddrmsg: family, prefix length, flags, scope (universe), index
        body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, self.index) + attrs
        flags |= self.NLM_F_REQUEST | self.NLM_F_ACK
        header = struct.pack("=IHHII", 16 + len(body), kind, flags, self.seq, 0)
        return header + body

    def send(self, add=(), delete=()):
        """Sends the additions then the deletions, then reads every
        acknowledgement; raises on an error."""
        waiting = {}
        for address in add:
            self.sock.send(self._message(self.RTM_NEWADDR, self.NLM_F_CREATE | self.NLM_F_EXCL, address))
            waiting[self.seq] = f"add {address}"
        for address in delete:
            self.sock.send(self._message(self.RTM_DELADDR, 0, address))
            waiting[self.seq] = f"delete {address}"
        while waiting:
            data = self.sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, offset)
                if kind == self.NLMSG_ERROR:
                    (error,) = struct.unpack_from("=i", data, offset + 16)
                    what = waiting.pop(seq, None)
                    if error != 0 and what is not None:
                        raise BenchError(f"rtnetlink {what}: {os.strerror(-error)}")
                offset += (length + 3) & ~3

    def flush(self):
        """Deletes every IPv4 address of the interface (off the clock)."""
        out = run("ip", "-4", "-o", "addr", "show", "dev", socket.if_indextoname(self.index))
        addresses = [line.split()[3].split("/")[0] for line in out.splitlines() if " inet " in line]
        if addresses:
            self.send(delete=addresses)


# ---------------------------------------------------------------- DNS


def encode_name(name):
    return b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"


def skip_name(data, offset):
    while True:
        length = data[offset]
        if length == 0:
            return offset + 1
        if length & 0xC0 == 0xC0:
            return offset + 2
        offset += 1 + length


class Resolver:
    """Plain UDP queries to BIND (no recursion desired), answers parsed just
    enough to read rcode and the addresses of A records."""

    def __init__(self, server=DNS):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(server)
        self.sock.settimeout(1.0)
        self.id = random.randrange(1 << 16)

    def query(self, name, rtype=1):
        """(rcode, [A addresses], number of answers)."""
        self.id = (self.id + 1) & 0xFFFF
        header = struct.pack("!HHHHHH", self.id, 0, 1, 0, 0, 0)
        self.sock.send(header + encode_name(name) + struct.pack("!HH", rtype, 1))
        while True:
            data = self.sock.recv(4096)
            qid, flags, qdcount, ancount, _, _ = struct.unpack_from("!HHHHHH", data)
            if qid == self.id:
                break  # an older answer (after a timeout) is dropped
        offset = 12
        for _ in range(qdcount):
            offset = skip_name(data, offset) + 4
        addresses = []
        for _ in range(ancount):
            offset = skip_name(data, offset)
            kind, _, _, length = struct.unpack_from("!HHIH", data, offset)
            offset += 10
            if kind == 1 and length == 4:
                addresses.append(socket.inet_ntoa(data[offset : offset + 4]))
            offset += length
        return flags & 0xF, addresses, ancount

    def addresses(self, name):
        try:
            rcode, addresses, _ = self.query(name)
        except socket.timeout:
            return None
        return addresses if rcode in (0, 3) else None

    def wait_for(self, name, address, poll_s, timeout):
        """Polls until BIND answers exactly [address]; returns
        (perf_counter_ns at the answer, number of queries)."""
        deadline = time.monotonic() + timeout
        expected = [address]
        queries = 0
        while True:
            queries += 1
            if self.addresses(name) == expected:
                return time.perf_counter_ns(), queries
            if time.monotonic() > deadline:
                raise BenchError(f"BIND still answers {self.addresses(name)} for {name}, expected {address}")
            time.sleep(poll_s)


def update_count():
    """opcodes.UPDATE of BIND's statistics channel, or None."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(STATS_URL, timeout=5) as response:
            stats = json.load(response)
    except (OSError, ValueError):
        return None
    return stats.get("opcodes", {}).get("UPDATE", 0)


def updates_since(before):
    after = update_count()
    return None if before is None or after is None else after - before


# ---------------------------------------------------------------- BIND


class Bind:
    """named serving example.test on 127.0.0.1:53 in this namespace, with a
    tsig-keygen key allowed to update it (like crates/ddns-testkit)."""

    def __init__(self, directory):
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
        self.conf = os.path.join(directory, "named.conf")
        d = directory
        write(self.conf, named_conf(d, self.key_file, ZONE, zone_file))
        run(program("named-checkconf"), self.conf)
        run(program("named-checkzone"), ZONE, zone_file)
        self.log = open(os.path.join(directory, "named.stderr"), "w")
        self.proc = subprocess.Popen(
            [program("named"), "-f", "-n", "1", "-c", self.conf],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=self.log,
        )
        resolver = Resolver()
        deadline = time.monotonic() + GIVE_UP
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

    def close(self):
        stop(self.proc, "named")
        self.log.close()


# ---------------------------------------------------------------- parts


def address_ddns(n):
    return f"192.0.2.{1 + n % 250}"


def address_ddclient(n):
    return f"198.51.100.{1 + n % 250}"


def ddnsd_env(bind):
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "DDNS_RECORDS": RECORD,
        "DDNS_PROVIDER_TYPE": "rfc2136",
        "DDNS_RFC2136_SERVER": "127.0.0.1:53",
        "DDNS_RFC2136_TSIG_KEY_NAME": KEY_NAME,
        "DDNS_RFC2136_TSIG_SECRET": bind.secret,
        "DDNS_IP_SOURCE_INTERFACE": "v0",
        "DDNS_IP_FAMILIES": "ipv4",
        "DDNS_MIN_UPDATE_INTERVAL_SECS": "0",
        "DDNS_LOG_LEVEL": "info",
    }


def wait_in_file(path, text, proc, timeout=GIVE_UP):
    deadline = time.monotonic() + timeout
    while True:
        with open(path, errors="replace") as f:
            if text in f.read():
                return
        if proc.poll() is not None:
            raise BenchError(f"{proc.args[0]} exited ({proc.returncode}) before logging {text!r}; see {path}")
        if time.monotonic() > deadline:
            raise BenchError(f"{proc.args[0]} did not log {text!r} within {timeout} s; see {path}")
        time.sleep(0.01)


def timed_change(nl, resolver, old, new, poll_s, timeout):
    """Adds `new`, deletes `old` (two rtnetlink requests sent back to back),
    then polls BIND. Returns (change -> answered, change -> kernel acks,
    queries, wall-clock ns at the change); durations in ns."""
    wall = time.time_ns()
    start = time.perf_counter_ns()
    nl.send(add=[new], delete=[old] if old else [])
    acked = time.perf_counter_ns()
    answered, queries = resolver.wait_for(RECORD, new, poll_s, timeout)
    return answered - start, acked - start, queries, wall


def part_ddnsd(args, bind, nl, resolver, directory):
    log_path = os.path.join(directory, "ddnsd.log")
    nl.flush()
    current = address_ddns(0)
    nl.send(add=[current])
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [args.binary], env=ddnsd_env(bind), stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        wait_in_file(log_path, "engine ready", proc)
        resolver.wait_for(RECORD, current, 0.001, GIVE_UP)
        n = 0
        for _ in range(args.warmup):
            n += 1
            timed_change(nl, resolver, current, address_ddns(n), args.poll_us / 1e6, GIVE_UP)
            current = address_ddns(n)
            time.sleep(args.idle_ms / 1000)
        before = update_count()
        total, kernel, queries, timed = [], [], [], []
        for _ in range(args.changes):
            time.sleep(args.idle_ms / 1000)
            n += 1
            t, k, q, wall = timed_change(nl, resolver, current, address_ddns(n), args.poll_us / 1e6, GIVE_UP)
            total.append(t)
            kernel.append(k)
            queries.append(q)
            timed.append((address_ddns(n), wall, wall + t))
            current = address_ddns(n)
        time.sleep(0.5)  # anything still pending would show in the count
        updates = updates_since(before)
        if resolver.addresses(RECORD) != [current]:
            raise BenchError(f"BIND moved off {current} after the last change")
        code = stop(proc, "ddnsd")
        if code != 0:
            raise BenchError(f"ddnsd exited with {code} after SIGTERM; see {log_path}")
        with open(log_path, errors="replace") as f:
            lines = f.read().splitlines()
        logged = sum(1 for line in lines if "record updated" in line)
        split = split_by_log(lines, timed)
        return {
            "total": total,
            "kernel": kernel,
            "queries": queries,
            "updates": updates,
            "logged": logged,
            "split": split,
        }
    finally:
        stop(proc, "ddnsd")


def log_time(line):
    """ns since the epoch of a ddnsd log line (`2026-01-01T00:00:00.123456Z ...`)."""
    stamp = line.split(" ", 1)[0]
    when = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    when = when.replace(tzinfo=datetime.timezone.utc)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def split_by_log(lines, timed):
    """Splits each change with ddnsd's own log (wall clock, µs): change ->
    `address changed` -> `record updated` -> the poller's answer."""
    split = {"to_engine": [], "update": [], "to_answer": []}
    index = 0
    for address, start, answered in timed:
        marks = {}
        for wanted in ("address changed", "record updated"):
            while index < len(lines):
                line = lines[index]
                index += 1
                if wanted in line and f" address={address} " in line + " ":
                    marks[wanted] = log_time(line)
                    break
        if len(marks) < 2:
            return None  # a line is missing: no split rather than a wrong one
        split["to_engine"].append(marks["address changed"] - start)
        split["update"].append(marks["record updated"] - marks["address changed"])
        split["to_answer"].append(answered - marks["record updated"])
    return split


def ddclient_conf(path, bind, cache_dir):
    # ddclient 3.10 (Debian 12): the legacy `use=if` strategy. With
    # `usev4=ifv4` its nsupdate protocol never records the address it sent
    # and sends an UPDATE on every poll, changed or not.
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
        "min-error-interval=0\n"
        f"{RECORD}\n",
        0o600,  # ddclient insists on 0600
    )


def ddclient_interval(ddclient, conf, directory):
    """What ddclient really sleeps when asked for -daemon 1: its -debug log
    says `sleep N` after the first cycle (-noexec: no update is sent). Perl
    buffers the log in a file, so it is read after ddclient has exited."""
    log_path = os.path.join(directory, "ddclient-probe.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            [ddclient, "-foreground", "-daemon", str(DDCLIENT_ASKED_INTERVAL), "-noexec", "-debug",
             "-file", conf, "-cache", os.path.join(directory, "ddclient-probe.cache")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
        )
    try:
        time.sleep(3)
    finally:
        stop(proc, "ddclient")
    with open(log_path, errors="replace") as f:
        for line in f:
            words = line.split()
            if words[:2] == ["DEBUG:", "sleep"]:
                return int(words[2])
    raise BenchError(f"ddclient -daemon {DDCLIENT_ASKED_INTERVAL} -debug never logged its sleep; see {log_path}")


def part_hooks(args, bind, nl, resolver, directory, ddclient, conf):
    """`ddnsd once` and `ddclient -daemon 0` started right after the change.
    Timed from the change to BIND's answer, so the process start is in."""
    results = {}
    if args.hook_runs <= 0:
        return results
    runs = [("ddnsd once", [args.binary, "once"], ddnsd_env(bind), address_ddns, 100)]
    if ddclient:
        cache = os.path.join(directory, "ddclient-once.cache")
        command = [ddclient, "-foreground", "-daemon", "0", "-file", conf, "-cache", cache]
        runs.append(("ddclient -daemon 0", command, None, address_ddclient, 100))
    for label, command, env, address, base in runs:
        log_path = os.path.join(directory, label.replace(" ", "-") + ".log")
        nl.flush()
        current = address(base)
        nl.send(add=[current])
        n = base
        total, exits = [], []
        before = None
        with open(log_path, "w") as log:
            for k in range(args.hook_runs + 1):
                if k == 1:
                    before = update_count()  # the first run is a warm-up
                time.sleep(args.idle_ms / 1000)
                n += 1
                start = time.perf_counter_ns()
                nl.send(add=[address(n)], delete=[current])
                proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
                try:
                    answered, _ = resolver.wait_for(RECORD, address(n), args.poll_us / 1e6, 30)
                finally:
                    code = proc.wait()
                exited = time.perf_counter_ns()
                if code != 0:
                    raise BenchError(f"{label} exited with {code}; see {log_path}")
                if k:
                    total.append(answered - start)
                    exits.append(exited - start)
                current = address(n)
        results[label] = {"total": total, "exited": exits, "updates": updates_since(before)}
    return results


def part_ddclient_daemon(args, nl, resolver, directory, ddclient, conf, interval):
    log_path = os.path.join(directory, "ddclient-daemon.log")
    cache = os.path.join(directory, "ddclient-daemon.cache")
    nl.flush()
    n = 200
    current = address_ddclient(n)
    nl.send(add=[current])
    command = [ddclient, "-foreground", "-daemon", str(interval), "-verbose", "-file", conf, "-cache", cache]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    rng = random.Random(args.seed)
    poll_s = args.daemon_poll_ms / 1000
    try:
        # The first cycle runs at start: it publishes `current`.
        resolver.wait_for(RECORD, current, poll_s, 30)
        before = update_count()
        total, phases = [], []
        for k in range(args.ddclient_changes):
            # A moment drawn uniformly over one poll cycle (the last cycle
            # ended a few ms ago), as a real address change would fall.
            phase = rng.uniform(0, interval)
            time.sleep(phase)
            n += 1
            # ddclient's sleep counts wall-clock seconds: a step of the
            # clock would stretch or shorten its cycle. Shown when it moved.
            offset = time.time() - time.monotonic()
            t, _, _, _ = timed_change(nl, resolver, current, address_ddclient(n), poll_s, 2 * interval + 30)
            stepped = (time.time() - time.monotonic()) - offset
            total.append(t)
            phases.append(phase)
            current = address_ddclient(n)
            note = ""
            if abs(stepped) > 0.01:
                note = f"; the wall clock moved {stepped:+.3f} s against the monotonic one"
            print(
                f"  ddclient change {k + 1}/{args.ddclient_changes}: {fmt(t)} "
                f"(changed {phase:.1f} s into the cycle{note})",
                flush=True,
            )
        updates = updates_since(before)
        return {"total": total, "updates": updates}
    finally:
        stop(proc, "ddclient")


# ---------------------------------------------------------------- report


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs, {model}, Linux {os.uname().release}"


def version(command):
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def ddclient_version():
    command = ["dpkg-query", "-W", "-f", "${Version}", "ddclient"]
    out = subprocess.run(command, capture_output=True, text=True)
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def fsync_cost(directory):
    """What BIND's journal commits cost on this filesystem right now."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    took = []
    try:
        for _ in range(100):
            os.write(fd, b"x" * 300)
            start = time.perf_counter_ns()
            os.fsync(fd)
            took.append(time.perf_counter_ns() - start)
            time.sleep(0.005)
    finally:
        os.close(fd)
        os.unlink(path)
    return f"p50 {fmt(percentile(took, 50))}, p90 {fmt(percentile(took, 90))}, max {fmt(max(took))}"


def inside(args):
    directory = args.dir
    ddclient = None if args.no_ddclient else program("ddclient")
    print(f"machine: {machine()}")
    print(f"BIND:    {version([program('named'), '-v'])}, named -f -n 1")
    if ddclient:
        print(f"ddclient: {ddclient_version()} (Debian package)")
    print(f"ddnsd:   {args.binary}")
    command = ["findmnt", "-n", "-o", "FSTYPE", "--target", directory]
    fs = subprocess.run(command, capture_output=True, text=True).stdout.split("\n")[0].strip()
    print(f"files:   {directory} ({fs}; BIND fsyncs its journal twice per UPDATE)")
    print(f"fsync:   {fsync_cost(directory)} (a 300-byte append in that directory, 100 times)")
    print("load:    {:.2f} {:.2f} {:.2f} (1, 5, 15 min averages at the start)".format(*os.getloadavg()))
    print()
    bind = Bind(directory)
    try:
        nl = Netlink("v0")
        resolver = Resolver()
        rtts = []
        for _ in range(500):
            start = time.perf_counter_ns()
            resolver.query(RECORD)
            rtts.append(time.perf_counter_ns() - start)
        print(
            f"poller: one query to BIND takes p50 {fmt(percentile(rtts, 50))}, p99 {fmt(percentile(rtts, 99))}; "
            f"sleep between queries {args.poll_us} µs (ddclient daemon: {args.daemon_poll_ms} ms)"
        )
        print()

        print(
            f"== ddnsd (event-driven, DDNS_MIN_UPDATE_INTERVAL_SECS=0), {args.changes} changes, "
            f"idle {args.idle_ms} ms before each"
        )
        d = part_ddnsd(args, bind, nl, resolver, directory)
        print(f"address change -> BIND answers   {summary(d['total'])}")
        print(f"  change -> both kernel acks      p50 {fmt(percentile(d['kernel'], 50))}, max {fmt(max(d['kernel']))}")
        if d["split"]:
            for key, label in (
                ("to_engine", "change -> ddnsd logs the change"),
                ("update", "logged change -> UPDATE answered"),
                ("to_answer", "UPDATE answered -> poller sees it"),
            ):
                samples = d["split"][key]
                print(
                    f"  {label:<33} p50 {fmt(percentile(samples, 50))}, p90 {fmt(percentile(samples, 90))}, "
                    f"p99 {fmt(percentile(samples, 99))}, max {fmt(max(samples))}"
                )
        else:
            print("  (ddnsd's log did not have both lines for every change: no split)")
        print(f"  queries per change              median {statistics.median(d['queries']):.0f}")
        print(
            f"UPDATE messages BIND received     {d['updates']} for {args.changes} changes "
            f"('record updated' logged {d['logged']} times)"
        )
        rows = [("ddnsd daemon", "rtnetlink event", d)]
        p50, p99 = percentile(d["total"], 50), percentile(d["total"], 99)
        print(
            f"goal p50 < 2 ms: {'met' if p50 < 2_000_000 else 'NOT met'}; "
            f"goal p99 < 10 ms: {'met' if p99 < 10_000_000 else 'NOT met'}"
        )
        print()

        conf = os.path.join(directory, "ddclient.conf")
        interval = None
        if ddclient:
            ddclient_conf(conf, bind, directory)
            interval = ddclient_interval(ddclient, conf, directory)
            print(f"ddclient -daemon {DDCLIENT_ASKED_INTERVAL} sleeps {interval} s between polls (its minimum)")
            print()

        hooks = part_hooks(args, bind, nl, resolver, directory, ddclient, conf)
        if hooks:
            print(f"== started by a hook right after the change, {args.hook_runs} changes each")
        for label, h in hooks.items():
            print(f"{label:<19} change -> BIND answers  {summary(h['total'])}")
            print(
                f"{'':<19} change -> process exit  p50 {fmt(percentile(h['exited'], 50))}; "
                f"UPDATE messages {h['updates']}"
            )
            rows.append((f"`{label}`", "started by a hook at the change", h))
        if hooks:
            print()

        if ddclient and args.ddclient_changes > 0:
            print(
                f"== ddclient daemon (polls every {interval} s, use=if, protocol=nsupdate), "
                f"{args.ddclient_changes} changes at random moments of its cycle"
            )
            c = part_ddclient_daemon(args, nl, resolver, directory, ddclient, conf, interval)
            print(f"address change -> BIND answers   {summary(c['total'])}")
            print(f"UPDATE messages BIND received     {c['updates']} for {args.ddclient_changes} changes")
            print()
            rows.append((f"ddclient daemon (`-daemon {interval}`)", f"polls `ip addr show` every {interval} s", c))
        print("== summary (address change -> BIND answers the new address)")
        print("| updater | learns of the change | changes | p50 | p90 | p99 | max | UPDATEs |")
        print("|---|---|---|---|---|---|---|---|")
        polled = [row for row in rows if row[0].startswith("ddclient daemon")]
        hooked = [row for row in rows[1:] if row not in polled]
        for label, how, r in [rows[0]] + polled + hooked:
            t = r["total"]
            print(
                f"| {label} | {how} | {len(t)} | {fmt(percentile(t, 50))} | {fmt(percentile(t, 90))} | "
                f"{fmt(percentile(t, 99))} | {fmt(max(t))} | {r['updates']} |"
            )
        if polled:
            ratio = percentile(polled[0][2]["total"], 50) / percentile(d["total"], 50)
            print(f"ratio of the medians, ddclient daemon / ddnsd daemon: {ratio:,.0f}")
        if "ddclient -daemon 0" in hooks:
            slow = percentile(hooks["ddclient -daemon 0"]["total"], 50)
            ratio = slow / percentile(hooks["ddnsd once"]["total"], 50)
            print(f"ratio of the medians, ddclient -daemon 0 / ddnsd once (both started by a hook): {ratio:,.1f}")
        print("load at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        bind.close()


def commit():
    head = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return "unknown"
    clean = subprocess.run(["git", "-C", REPO, "diff", "--quiet", "HEAD"], capture_output=True).returncode == 0
    return head.stdout.strip() + ("" if clean else " (with local changes)")


def namespace_pids(name):
    out = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def outside(args):
    if os.geteuid() != 0:
        raise BenchError("needs root, to create a network namespace")
    needed = ["ip", "named", "named-checkconf", "named-checkzone", "tsig-keygen"]
    if not args.no_ddclient:
        needed += ["ddclient", "nsupdate"]
    if args.binary is None:
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
    print(f"repo:    {commit()}; ddnsd {built}, {os.path.getsize(binary):,} bytes", flush=True)
    name = f"ddnsb-rfc-{os.getpid()}"
    directory = tempfile.mkdtemp(prefix="ddnsb-rfc2136-", dir="/dev/shm" if args.tmpfs else None)
    child = None
    run("ip", "netns", "add", name)
    try:
        for command in ("link add v0 type veth peer name v1", "link set lo up", "link set v0 up", "link set v1 up"):
            run("ip", "-n", name, *command.split())
        command = ["ip", "netns", "exec", name, sys.executable, os.path.abspath(__file__), "--inside",
                   "--dir", directory, "--binary", binary]
        options = ("changes", "warmup", "idle_ms", "poll_us", "hook_runs", "ddclient_changes", "daemon_poll_ms", "seed")
        for option in options:
            command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
        for flag in ("no_ddclient", "tmpfs"):
            if getattr(args, flag):
                command.append(f"--{flag.replace('_', '-')}")
        child = subprocess.Popen(command)
        return child.wait()
    finally:
        if child is not None and child.poll() is None:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        # Whatever still runs in the namespace was started by this script.
        for pid in namespace_pids(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while namespace_pids(name) and time.monotonic() < deadline:
            time.sleep(0.05)
        subprocess.run(["ip", "netns", "del", name], check=False)
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--binary", help="use this ddnsd instead of building one")
    parser.add_argument("--changes", type=int, default=200, help="timed changes for ddnsd (200)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed changes first (10)")
    parser.add_argument("--idle-ms", type=int, default=100, help="idle time before each change (100)")
    parser.add_argument("--poll-us", type=int, default=200, help="sleep between two queries to BIND (200 µs)")
    parser.add_argument("--hook-runs", type=int, default=20, help="changes for `ddnsd once` and `ddclient -daemon 0` (20)")
    parser.add_argument("--ddclient-changes", type=int, default=20, help="changes for the ddclient daemon (20, ~1 min each)")
    parser.add_argument(
        "--daemon-poll-ms", type=int, default=1, help="sleep between queries while waiting for the ddclient daemon (1 ms)"
    )
    parser.add_argument("--seed", type=int, default=2136, help="seed of the moments drawn for ddclient's changes")
    parser.add_argument("--no-ddclient", action="store_true", help="measure ddnsd only")
    parser.add_argument(
        "--tmpfs", action="store_true", help="BIND's files (zone journal) in /dev/shm instead of $TMPDIR or /tmp"
    )
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick and not args.inside:
        # Shorter defaults; options given explicitly still win.
        for option, value in (("changes", 50), ("warmup", 5), ("hook_runs", 5), ("ddclient_changes", 1)):
            if getattr(args, option) == parser.get_default(option):
                setattr(args, option, value)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if args.inside:
            inside(args)
            return 0
        return outside(args)
    except BenchError as error:
        print(f"rfc2136.py: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
