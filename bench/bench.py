#!/usr/bin/env python3
"""hookd benchmark driver. Run it through bench/run, which installs the tools and builds.

Measures hookd against a do-nothing HTTP server (nginx `return 200`) in the same run, so every
hookd figure also reads as a ratio of the machine's ceiling. Workloads (issue 5):
  ceiling  nginx answering `return 200`, driven by wrk (plain POST, fixed body) and by hookd-loadgen
  a        durable ingest: signed ~1 KB Altoviz events, `file` handler, spool on disk (fsync);
           the same with event ids in no order (as providers' UUIDs are; 64 connections);
           the same with the spool on tmpfs (no real fsync, NOT durable) for comparison
  b        the exec handler running /bin/true: ingest rate, then executed rate until drained
  c        10 000 idle keep-alive connections: hookd's RSS
  d        idle RSS and start-up time to ready with an empty spool
Every process started here is stopped by PID on exit; every wait is bounded in time.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-altoviz-secret"
CHILDREN: list[subprocess.Popen] = []
TEMP_DIRS: list[Path] = []


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Processes: every child is registered and stopped by PID at exit.


def spawn(argv: list[str], **kw) -> subprocess.Popen:
    p = subprocess.Popen(argv, **kw)
    CHILDREN.append(p)
    return p


def stop(p: subprocess.Popen | None, grace: float = 10.0) -> None:
    if p is None or p.poll() is not None:
        return
    try:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)
    except ProcessLookupError:
        pass


def cleanup() -> None:
    for p in reversed(CHILDREN):
        try:
            stop(p, grace=5)
        except Exception as e:  # keep stopping the others
            log(f"stopping pid {p.pid}: {e}")
    for d in TEMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


def on_signal(signo, _frame):
    log(f"signal {signo}: stopping")
    sys.exit(128 + signo)  # runs atexit -> cleanup()


# --------------------------------------------------------------------------------------------
# /proc readings.


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def reset_peak_rss(pid: int) -> None:
    """Resets VmHWM to the current RSS (Linux >= 4.0), so the peak is the measured run's."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        log(f"cannot reset peak RSS of {pid}: {e}")


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if ppid == pid:
            out.append(int(entry))
    return out


class process_group_view:
    """CPU and memory of a server: one process (hookd) or a master and its workers (nginx)."""

    def __init__(self, pid: int, with_children: bool):
        self.pid = pid
        self.with_children = with_children

    def pids(self) -> list[int]:
        return [self.pid] + (children_of(self.pid) if self.with_children else [])

    def cpu(self) -> float:
        return sum(proc_cpu_seconds(p) for p in self.pids())

    def kb(self, key: str) -> int:
        return sum(proc_status_kb(p, key) for p in self.pids())

    def reset_peak(self) -> None:
        for p in self.pids():
            reset_peak_rss(p)


# --------------------------------------------------------------------------------------------
# Sockets.


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float) -> float:
    """Seconds until 127.0.0.1:port accepts a connection (polling every ms); raises on timeout."""
    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before accepting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return time.perf_counter() - start
        except OSError:
            time.sleep(0.001)
    raise RuntimeError(f"port {port} not accepting within {timeout} s")


def http_get_status(port: int, path: str, timeout: float = 2.0) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else 0


def wait_http_ok(port: int, path: str, proc: subprocess.Popen, timeout: float) -> float:
    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if http_get_status(port, path) == 200:
                return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.001)
    raise RuntimeError(f"GET {path} not answered 200 within {timeout} s")


# --------------------------------------------------------------------------------------------
# Servers.


class hookd_server:
    def __init__(self, bench: "bench", label: str, base_dir: Path, handler: str = "file",
                 wrapper: list[str] | None = None):
        self.bench = bench
        self.label = label
        self.dir = Path(tempfile.mkdtemp(prefix=f"hookd-{label}-", dir=base_dir))
        TEMP_DIRS.append(self.dir)
        self.port = free_port()
        self.admin_port = free_port()
        self.config = self.dir / "hookd.yaml"
        self.spool = self.dir / "spool.db"
        self.proc: subprocess.Popen | None = None
        self.view: process_group_view | None = None
        self.ready_seconds = 0.0
        self.healthy_seconds = 0.0
        if handler == "file":
            handlers = (f"  sink:\n    type: file\n    path: {self.dir / 'events.jsonl'}\n")
        else:
            handlers = ("  sink:\n    type: exec\n    command: [\"/bin/true\"]\n"
                        f"    concurrency: {bench.args.exec_concurrency}\n    timeout: 30s\n")
        self.config.write_text(
            "# Written by bench/bench.py for one benchmark run.\n"
            "server:\n"
            f"  listen: \"127.0.0.1:{self.port}\"\n"
            "  threads: 0\n"
            f"  max_connections: {bench.args.idle_connections + 1000}\n"
            "  idle_timeout: 600s\n"
            "  request_timeout: 60s\n"
            "  shutdown_grace: 2s\n"
            "admin:\n"
            f"  listen: \"127.0.0.1:{self.admin_port}\"\n"
            "spool:\n"
            f"  path: {self.spool}\n"
            "log:\n"
            f"  level: {bench.args.log_level}\n"
            "endpoints:\n"
            "  altoviz:\n"
            "    provider: altoviz\n"
            f"    secret: \"{SECRET}\"\n"
            "handlers:\n" + handlers +
            "routes:\n"
            "  - to: [sink]\n")
        self.wrapper = wrapper or []

    def counters(self) -> dict[str, float]:
        """What the runs read from /metrics, summed over labels: events and transactions
        carrying events committed so far (group commit), deliveries done, deliveries pending."""
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/metrics",
                                    timeout=10) as resp:
            text = resp.read().decode()
        wanted = {"hookd_spool_commit_batch_size_sum": "events",
                  "hookd_spool_commit_batch_size_count": "commits",
                  'hookd_deliveries_total{outcome="done"}': "delivered",
                  "hookd_deliveries_pending": "pending"}
        got = dict.fromkeys(wanted.values(), 0.0)
        for line in text.splitlines():
            m = re.match(r"(\w+)(?:\{([^}]*)\})? (\S+)$", line)
            if not m:
                continue
            name, labels, value = m.groups()
            outcome = re.search(r'outcome="(\w+)"', labels or "")
            key = f'{name}{{outcome="{outcome.group(1)}"}}' if outcome else name
            if key in wanted:
                got[wanted[key]] += float(value)
        return got

    def start(self, ready_timeout: float = 30.0) -> None:
        self.log_file = open(self.dir / "hookd.log", "wb")
        t0 = time.perf_counter()
        self.proc = spawn(self.wrapper + [str(self.bench.hookd), "run", "--config", str(self.config)],
                          stdout=self.log_file, stderr=subprocess.STDOUT, cwd=self.dir)
        try:
            wait_port(self.port, self.proc, ready_timeout)
            self.ready_seconds = time.perf_counter() - t0
            wait_http_ok(self.port, "/healthz", self.proc, ready_timeout)
            self.healthy_seconds = time.perf_counter() - t0
        except RuntimeError as e:
            raise RuntimeError(f"hookd ({self.label}): {e}; log:\n{self.log_tail()}") from None
        self.view = process_group_view(self.proc.pid, with_children=False)

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join((self.dir / "hookd.log").read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        stop(self.proc, grace)
        if self.proc is not None and self.proc.returncode not in (0, None):
            log(f"hookd ({self.label}) exited with {self.proc.returncode}; log:\n{self.log_tail()}")
        if hasattr(self, "log_file"):
            self.log_file.close()

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def delivery_counts(self) -> dict[str, int] | None:
        """Deliveries per state, read with the sqlite3 CLI (readers never block the daemon)."""
        try:
            out = subprocess.run(
                ["sqlite3", f"file:{self.spool}?mode=ro",
                 "SELECT state, count(*) FROM deliveries GROUP BY state;"],
                capture_output=True, text=True, timeout=20).stdout
        except subprocess.TimeoutExpired:
            return None
        counts = {"pending": 0, "done": 0, "dead": 0}
        ok = False
        for line in out.splitlines():
            state, _, n = line.partition("|")
            if n.isdigit():
                counts[state] = int(n)
                ok = True
        return counts if ok or out == "" else None


class nginx_server:
    def __init__(self, bench: "bench", base_dir: Path):
        self.bench = bench
        self.dir = Path(tempfile.mkdtemp(prefix="nginx-", dir=base_dir))
        TEMP_DIRS.append(self.dir)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.view: process_group_view | None = None
        conf = self.dir / "nginx.conf"
        conf.write_text(f"""# Written by bench/bench.py: the do-nothing ceiling.
worker_processes {bench.args.nginx_workers};
daemon off;
master_process on;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
worker_rlimit_nofile {bench.fd_limit};
events {{ worker_connections {bench.args.idle_connections + 1000}; }}
http {{
  access_log off;
  client_body_temp_path {self.dir}/client_body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 600s;
  client_max_body_size 1m;
  server {{
    listen 127.0.0.1:{self.port};
    location / {{ default_type application/json; return 200 '{{"status":"accepted"}}'; }}
  }}
}}
""")
        self.conf = conf

    def start(self, ready_timeout: float = 15.0) -> None:
        t0 = time.perf_counter()
        self.proc = spawn(["nginx", "-p", str(self.dir), "-c", str(self.conf), "-e",
                           str(self.dir / "error.log")],
                          stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "wb"))
        wait_port(self.port, self.proc, ready_timeout)
        self.ready_seconds = time.perf_counter() - t0
        self.view = process_group_view(self.proc.pid, with_children=True)
        # The workers are forked after the port is bound: wait (bounded) until they exist.
        deadline = time.time() + 5
        while len(self.view.pids()) < 2 and time.time() < deadline:
            time.sleep(0.01)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        # SIGQUIT is nginx's graceful stop; SIGTERM (stop()) its fast one: either ends the workers.
        stop(self.proc, grace=10)


# --------------------------------------------------------------------------------------------
# Load.


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


class bench:
    def __init__(self, args):
        self.args = args
        self.hookd = Path(args.hookd).resolve()
        self.loadgen = Path(args.loadgen).resolve()
        self.fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        self.results: dict = {"runs": []}
        self.base_dir = Path(args.work_dir).resolve()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.run_counter = 0
        self.wrk_script = self.base_dir / "wrk-post.lua"
        self.write_wrk_script()

    # -- clients --------------------------------------------------------------------------

    def write_wrk_script(self) -> None:
        # Static settings only (no request() hook): wrk builds the request once and replays it,
        # its fastest path. done() only formats the summary after the run.
        # The same shape and size as hookd-loadgen's bodies.
        head = ('{"id":"wrk-1","type":"CustomerCreated","data":{"id":1,"companyName":"Load test",'
                '"email":"load@example.com","pad":"')
        body = head + "x" * max(0, self.args.body_size - len(head) - 3) + '"}}'
        self.wrk_script.write_text(f"""wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-SIGNATURE"] = "{'0' * 64}"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {{"requests":%d,"seconds":%.3f,"non2xx":%d,"errors":%d,' ..
    '"p50_ms":%.3f,"p99_ms":%.3f,"p999_ms":%.3f}}\\n', summary.requests, summary.duration / 1e6,
    e.status, e.connect + e.read + e.write + e.timeout, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000))
end
""")

    def run_loadgen(self, port: int, connections: int, seconds: float, prefix: str,
                    requests: int = 0, random_ids: bool = False) -> dict:
        argv = [str(self.loadgen), "--port", str(port), "--secret", SECRET, "--connections",
                str(connections), "--seconds", str(seconds), "--body-size",
                str(self.args.body_size), "--id-prefix", prefix, "--json"]
        if requests:
            argv += ["--requests", str(requests)]
        if random_ids:
            argv.append("--random-ids")
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
        if out.returncode != 0:
            raise RuntimeError(f"hookd-loadgen failed ({out.returncode}): {out.stderr.strip()}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def run_wrk(self, port: int, connections: int, seconds: float) -> dict:
        threads = max(1, min(connections, os.cpu_count() or 2))
        argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d",
                f"{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(self.wrk_script),
                f"http://127.0.0.1:{port}/hooks/altoviz"]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
        m = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.M)
        if out.returncode != 0 or not m:
            raise RuntimeError(f"wrk failed ({out.returncode}): {out.stdout[-500:]} {out.stderr}")
        r = json.loads(m.group(1))
        r["ok"] = r["requests"] - r["non2xx"]
        r["rps"] = r["ok"] / r["seconds"] if r["seconds"] > 0 else 0
        r["connections"] = connections
        return r

    # -- one measured run -----------------------------------------------------------------

    def measured(self, view: process_group_view, fn) -> dict:
        """Runs fn() and adds the server's CPU per 1000 accepted events and peak RSS."""
        view.reset_peak()
        cpu0 = view.cpu()
        r = fn()
        cpu = view.cpu() - cpu0
        r["server_cpu_s"] = round(cpu, 3)
        r["cpu_s_per_1000"] = round(cpu / r["ok"] * 1000, 4) if r["ok"] else None
        r["peak_rss_kb"] = view.kb("VmHWM")
        return r

    def record(self, workload: str, server: str, client: str, r: dict, run: int) -> dict:
        r = dict(r, workload=workload, server=server, client=client, run=run,
                 loadavg=round(os.getloadavg()[0], 2))
        self.results["runs"].append(r)
        if workload != "ingest":
            return r
        log(f"{workload:7} {server:14} {client:8} c={r.get('connections', '-'):>4} run {run}: "
            f"{r.get('rps', 0):9.0f} req/s  p50 {r.get('p50_ms', 0):7.3f}  p99 "
            f"{r.get('p99_ms', 0):7.3f}  p99.9 {r.get('p999_ms', 0):7.3f} ms  non2xx "
            f"{r.get('non2xx', 0)}  err {r.get('errors', 0)}  cpu/1000 {r.get('cpu_s_per_1000')}  "
            f"rss {r.get('peak_rss_kb', 0) / 1024:.1f} MiB")
        return r

    def hookd_ingest_run(self, label: str, base: Path, connections: int, run: int,
                         random_ids: bool = False) -> dict:
        self.run_counter += 1
        h = hookd_server(self, label, base)
        try:
            h.start()
            # Warm-up (not measured): connections, SQLite's caches, the allocator's arenas.
            if self.args.warmup > 0:
                self.run_loadgen(h.port, connections, self.args.warmup, f"w{self.run_counter}",
                                 random_ids=random_ids)
            before = h.counters()
            r = self.measured(h.view, lambda: self.run_loadgen(
                h.port, connections, self.args.seconds, f"r{self.run_counter}",
                random_ids=random_ids))
            if not h.alive():
                raise RuntimeError(f"hookd died during the run; log:\n{h.log_tail()}")
            after = h.counters()
            # What group commit bought: events per committed (fsync'd) transaction.
            commits = after["commits"] - before["commits"]
            if commits > 0:
                r["commits"] = int(commits)
                r["events_per_commit"] = round((after["events"] - before["events"]) / commits, 2)
            # The file handler's deliveries made meanwhile: the dispatcher claims through the
            # same writer, so under full load the backlog grows and drains once the load stops.
            r["delivered"] = int(after["delivered"] - before["delivered"])
            r["delivered_rps"] = round(r["delivered"] / r["seconds"], 1) if r.get("seconds") else None
            r["pending_at_end"] = int(after["pending"])
            return r
        finally:
            h.stop()
            h.remove()

    # -- workloads ------------------------------------------------------------------------

    def workload_a(self) -> None:
        a = self.args
        nginx = nginx_server(self, self.base_dir) if a.ceiling else None
        if nginx:
            nginx.start()
        tmpfs = Path("/dev/shm") if "tmpfs" in a.servers and is_tmpfs("/dev/shm") else None
        if "tmpfs" in a.servers and tmpfs is None:
            log("/dev/shm is not a tmpfs here: skipping the fsync-free comparison")
        try:
            for c in a.connections:
                for run in range(1, a.runs + 1):
                    if nginx:
                        if not nginx.alive():
                            raise RuntimeError("nginx died")
                        if shutil.which("wrk"):
                            self.record("ingest", "nginx", "wrk", self.measured(
                                nginx.view, lambda: self.run_wrk(nginx.port, c, a.seconds)), run)
                        self.record("ingest", "nginx", "loadgen", self.measured(
                            nginx.view, lambda: self.run_loadgen(
                                nginx.port, c, a.seconds, f"n{c}-{run}")), run)
                    if "durable" in a.servers:
                        self.record("ingest", "hookd-durable", "loadgen",
                                    self.hookd_ingest_run("durable", self.base_dir, c, run), run)
                    if "random" in a.servers and c in a.random_connections:
                        self.record("ingest", "hookd-random", "loadgen",
                                    self.hookd_ingest_run("random", self.base_dir, c, run,
                                                          random_ids=True), run)
                    if tmpfs:
                        self.record("ingest", "hookd-tmpfs", "loadgen",
                                    self.hookd_ingest_run("tmpfs", tmpfs, c, run), run)
        finally:
            if nginx:
                nginx.stop()

    def workload_b(self) -> None:
        """exec handler running /bin/true: ingest, then drain the backlog."""
        a = self.args
        if "durable" not in a.servers:
            return
        # What starting /bin/true costs on this machine now (one after the other, from Python's
        # fork/exec): the executed rate cannot exceed about concurrency times this.
        n_spawn = 100
        t_spawn = time.perf_counter()
        for _ in range(n_spawn):
            subprocess.run(["/bin/true"], check=False, timeout=30)
        spawn_rps = n_spawn / (time.perf_counter() - t_spawn)
        log(f"exec: /bin/true started one after the other at {spawn_rps:.0f}/s")
        h = hookd_server(self, "exec", self.base_dir, handler="exec")
        try:
            h.start()
            cpu0 = h.view.cpu()
            t0 = time.perf_counter()
            r = self.run_loadgen(h.port, a.exec_connections, a.seconds, "exec")
            t_ingest = time.perf_counter() - t0
            at_end = h.delivery_counts() or {}
            done_during = at_end.get("done", 0)
            deadline = time.perf_counter() + a.drain_timeout
            counts = at_end
            while time.perf_counter() < deadline and h.alive():
                counts = h.delivery_counts() or counts
                if counts and counts.get("pending", 1) == 0:
                    break
                time.sleep(0.5)
            t_total = time.perf_counter() - t0
            cpu = h.view.cpu() - cpu0
            executed = counts.get("done", 0) + counts.get("dead", 0)
            r.update({
                "handler": f"exec /bin/true (concurrency {a.exec_concurrency})",
                "ingest_seconds": round(t_ingest, 2),
                "executed_during_ingest": done_during,
                "executed_rps_during_ingest": round(done_during / t_ingest, 1),
                "drained": counts.get("pending", 1) == 0,
                "drain_seconds": round(t_total, 2),
                "executed": executed,
                "dead": counts.get("dead", 0),
                "pending_left": counts.get("pending", 0),
                "executed_rps": round(executed / t_total, 1) if t_total > 0 else None,
                "executed_rps_after_ingest": (round((executed - done_during) / (t_total - t_ingest), 1)
                                              if t_total > t_ingest else None),
                "spawn_floor_rps": round(spawn_rps, 1),
                "server_cpu_s": round(cpu, 3),
                "cpu_s_per_1000": round(cpu / r["ok"] * 1000, 4) if r["ok"] else None,
                "peak_rss_kb": h.view.kb("VmHWM"),
            })
            self.record("exec", "hookd-durable", "loadgen", r, 1)
            log(f"exec: executed {executed} in {t_total:.1f} s ({r['executed_rps']}/s), "
                f"during ingest {r['executed_rps_during_ingest']}/s, drained={r['drained']}")
        finally:
            h.stop()
            h.remove()

    def wait_drained(self, h: hookd_server, timeout: float) -> bool:
        """Polls (bounded) until no delivery is pending."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline and h.alive():
            counts = h.delivery_counts()
            if counts is not None and counts.get("pending", 1) == 0:
                return True
            time.sleep(0.5)
        return False

    def idle_connections(self, port: int, view: process_group_view, request: bool) -> dict:
        n = self.args.idle_connections
        if self.fd_limit < n + 100:
            log(f"open files limit {self.fd_limit} < {n + 100}: lowering idle connections")
            n = self.fd_limit - 100
        rss_before = view.kb("VmRSS")
        view.reset_peak()
        argv = [str(self.loadgen), "--port", str(port), "--secret", SECRET, "--idle", str(n),
                "--hold", str(self.args.idle_hold), "--id-prefix", "idle", "--json",
                "--body-size", str(self.args.body_size)]
        if not request:
            argv.append("--no-idle-request")
        p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = [None]

        def read_first():
            line[0] = p.stdout.readline()

        t = threading.Thread(target=read_first, daemon=True)
        t.start()
        t.join(timeout=300)
        if not line[0] or not line[0].startswith("open "):
            stop(p)
            raise RuntimeError(f"idle connections not opened: {line[0]!r} {p.stderr.read()}")
        time.sleep(1.0)  # let the server settle (sessions parked in their idle read)
        rss_held = view.kb("VmRSS")
        hwm = view.kb("VmHWM")
        try:
            out, err = p.communicate(timeout=self.args.idle_hold + 120)
        except subprocess.TimeoutExpired:
            stop(p)
            raise
        summary = json.loads(out.strip().splitlines()[-1])
        return dict(summary, rss_before_kb=rss_before, rss_held_kb=rss_held, peak_rss_kb=hwm,
                    kb_per_connection=round((rss_held - rss_before) / max(1, n), 2),
                    with_request=request, opened=line[0].strip())

    def workload_c(self) -> None:
        a = self.args
        if "durable" in a.servers:
            h = hookd_server(self, "idle", self.base_dir)
            try:
                h.start()
                r = self.idle_connections(h.port, h.view, request=True)
                self.record("idle", "hookd-durable", "loadgen", r, 1)
                log(f"idle: hookd RSS {r['rss_before_kb']/1024:.1f} MiB -> "
                    f"{r['rss_held_kb']/1024:.1f} MiB with {r['connections']} connections "
                    f"(still open {r['still_open']})")
            finally:
                h.stop()
                h.remove()
        if a.ceiling:
            n = nginx_server(self, self.base_dir)
            try:
                n.start()
                r = self.idle_connections(n.port, n.view, request=True)
                self.record("idle", "nginx", "loadgen", r, 1)
            finally:
                n.stop()

    def workload_d(self) -> None:
        a = self.args
        for run in range(1, a.startup_runs + 1 if "durable" in a.servers else 1):
            h = hookd_server(self, "startup", self.base_dir)
            try:
                h.start()
                time.sleep(1.0)
                r = {"ready_ms": round(h.ready_seconds * 1000, 1),
                     "healthz_ms": round(h.healthy_seconds * 1000, 1),
                     "idle_rss_kb": h.view.kb("VmRSS"), "peak_rss_kb": h.view.kb("VmHWM"),
                     "threads": proc_status_kb(h.proc.pid, "Threads")}
                self.record("startup", "hookd-durable", "-", r, run)
                log(f"startup run {run}: ready {r['ready_ms']} ms, /healthz {r['healthz_ms']} ms, "
                    f"idle RSS {r['idle_rss_kb']/1024:.1f} MiB")
            finally:
                h.stop()
                h.remove()
        if a.ceiling:
            for run in range(1, a.startup_runs + 1):
                n = nginx_server(self, self.base_dir)
                try:
                    n.start()
                    time.sleep(1.0)
                    r = {"ready_ms": round(n.ready_seconds * 1000, 1),
                         "idle_rss_kb": n.view.kb("VmRSS"), "peak_rss_kb": n.view.kb("VmHWM")}
                    self.record("startup", "nginx", "-", r, run)
                finally:
                    n.stop()

    # -- profile ---------------------------------------------------------------------------

    def profile(self) -> None:
        """callgrind over a fixed number of requests (instructions are stable on a noisy machine),
        then perf stat (software counters) over a timed run."""
        a = self.args
        out_dir = Path(a.profile_dir).resolve()  # hookd runs in its own directory
        out_dir.mkdir(parents=True, exist_ok=True)
        if shutil.which("valgrind"):
            cg_out = out_dir / "callgrind.out"
            for f in out_dir.glob("callgrind.out*"):
                f.unlink()
            h = hookd_server(self, "callgrind", self.base_dir, wrapper=[
                "valgrind", "--tool=callgrind", f"--callgrind-out-file={cg_out}"])
            try:
                h.start(ready_timeout=120)
                # Warm up, zero the counters, send exactly the measured requests, wait until the
                # file handler has delivered them all (bounded), then dump: the profile holds the
                # whole cost of those events, request path and delivery, and nothing else.
                self.run_loadgen(h.port, a.profile_connections, 120, "cgw", requests=200)
                self.wait_drained(h, 300)
                callgrind_control("-z", h.proc.pid)
                r = self.run_loadgen(h.port, a.profile_connections, 600, "cg",
                                     requests=a.profile_requests)
                drained = self.wait_drained(h, 600)
                callgrind_control("-d", h.proc.pid)
                log(f"callgrind: {r['ok']} requests answered 2xx, {r['non2xx']} non-2xx; "
                    f"delivered: {drained}")
            finally:
                h.stop(grace=120)
                h.remove()
            dumps = sorted(f for f in out_dir.glob("callgrind.out*") if f.suffix != ".txt")
            # The dump taken after the measured requests is the one before the exit dump.
            measured = [f for f in dumps if f.name != "callgrind.out"]
            for f in measured[-1:]:
                for inclusive in ("yes", "no"):
                    ann = subprocess.run(["callgrind_annotate", f"--inclusive={inclusive}",
                                          "--threshold=99", str(f)],
                                         capture_output=True, text=True, timeout=300).stdout
                    name = f"callgrind.{'inclusive' if inclusive == 'yes' else 'self'}.txt"
                    (out_dir / name).write_text(
                        f"# {a.profile_requests} requests at {a.profile_connections} connections"
                        f" (after 200 warm-up requests), delivered by the file handler\n" + ann)
                    log(f"wrote {out_dir / name}")
        if shutil.which("perf"):
            h = hookd_server(self, "perf", self.base_dir)
            try:
                h.start()
                perf_out = out_dir / "perf-stat.txt"
                perf = spawn(["perf", "stat", "-e",
                              "task-clock,context-switches,cpu-migrations,page-faults,"
                              "cycles,instructions", "-p", str(h.proc.pid), "-o", str(perf_out)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(0.3)
                r = self.run_loadgen(h.port, 64, a.seconds, "perf")
                perf.send_signal(signal.SIGINT)
                perf.wait(timeout=30)
                text = perf_out.read_text() if perf_out.exists() else ""
                (out_dir / "perf-stat.txt").write_text(
                    f"# {r['ok']} events accepted at 64 connections in {r['seconds']} s "
                    f"({r['rps']} req/s)\n" + text)
                log(f"wrote {perf_out}")
            finally:
                h.stop()
                h.remove()


def fsync_floor(work_dir: Path, count: int = 200) -> dict:
    """Latency of one 4 KiB pwrite + fdatasync on the spools' disk, as a WAL commit does: the
    floor under any durable answer on this machine right now (1 connection's p50 cannot be
    below it). Measured in the same run because a shared disk's fsync time varies by minutes."""
    path = work_dir / "fsync-floor.bin"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        page = b"\0" * 4096
        for i in range(64):  # allocated first, as a WAL in use is: no size change per commit
            os.pwrite(fd, page, i * 4096)
        os.fsync(fd)
        lat = []
        for i in range(count):
            t = time.perf_counter()
            os.pwrite(fd, page, (i % 64) * 4096)
            os.fdatasync(fd)
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    lat.sort()
    return {"count": count, "p50_ms": round(lat[len(lat) // 2], 3),
            "p90_ms": round(lat[int(len(lat) * 0.9)], 3), "p99_ms": round(lat[int(len(lat) * 0.99)], 3),
            "loadavg": round(os.getloadavg()[0], 2)}


def hookd_version(path: Path) -> str:
    try:
        return subprocess.run([str(path), "version"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except OSError:
        return "(not built)"


def callgrind_control(option: str, pid: int) -> None:
    out = subprocess.run(["callgrind_control", option, str(pid)], capture_output=True, text=True,
                         timeout=120)
    if out.returncode != 0 or "OK" not in out.stdout:
        log(f"callgrind_control {option} {pid}: {out.stdout.strip()} {out.stderr.strip()}")


def is_tmpfs(path: str) -> bool:
    try:
        out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        return out == "tmpfs"
    except (OSError, subprocess.TimeoutExpired):
        return False


# --------------------------------------------------------------------------------------------
# Summary: medians over runs, ratios to nginx from the same run, targets.


def per_run_ratios(runs: list, server: str, ref_server: str, ref_client: str,
                   connections: int) -> list[float]:
    """server's rate / ref_server's rate, run by run (same run number, same connections)."""
    def rates(name, client):
        return {r["run"]: r["rps"] for r in runs if r["workload"] == "ingest" and
                r["server"] == name and r["client"] == client and
                r["connections"] == connections}
    mine, ref = rates(server, "loadgen"), rates(ref_server, ref_client)
    return [mine[k] / ref[k] for k in sorted(mine) if k in ref and ref[k]]


def summarize(b: bench) -> dict:
    runs = b.results["runs"]
    groups: dict[tuple, list] = {}
    for r in runs:
        if r["workload"] == "ingest":
            groups.setdefault((r["server"], r["client"], r["connections"]), []).append(r)
    agg = {}
    for key, rs in groups.items():
        agg[key] = {
            "server": key[0], "client": key[1], "connections": key[2], "runs": len(rs),
            "rps": median([r["rps"] for r in rs]),
            "p50_ms": median([r["p50_ms"] for r in rs]),
            "p99_ms": median([r["p99_ms"] for r in rs]),
            "p999_ms": median([r["p999_ms"] for r in rs]),
            "non2xx": sum(r["non2xx"] for r in rs),
            "errors": sum(r.get("errors", 0) for r in rs),
            "cpu_s_per_1000": median([r.get("cpu_s_per_1000") for r in rs]),
            "peak_rss_kb": max(r.get("peak_rss_kb", 0) for r in rs),
        }
        per_commit = [r["events_per_commit"] for r in rs if r.get("events_per_commit")]
        if per_commit:
            agg[key]["events_per_commit"] = median(per_commit)
        delivered = [r["delivered_rps"] for r in rs if r.get("delivered_rps") is not None]
        if delivered:
            agg[key]["delivered_rps"] = median(delivered)
            agg[key]["pending_at_end"] = median([r.get("pending_at_end", 0) for r in rs])

    def ratio(x, y):
        return round(x / y, 3) if x is not None and y else None

    for key, g in agg.items():
        if not key[0].startswith("hookd"):
            continue
        for ref_client in ("loadgen", "wrk"):
            ref = agg.get(("nginx", ref_client, key[2]))
            if ref:
                g[f"vs_nginx_{ref_client}"] = {
                    k: ratio(g[k], ref[k])
                    for k in ("rps", "p50_ms", "p99_ms", "p999_ms", "cpu_s_per_1000", "peak_rss_kb")}
    summary = {"ingest": sorted(agg.values(), key=lambda g: (g["connections"], g["server"],
                                                             g["client"]))}
    for w in ("exec", "idle", "startup"):
        rs = [r for r in runs if r["workload"] == w]
        if rs:
            summary[w] = rs
    st = [r for r in runs if r["workload"] == "startup" and r["server"] == "hookd-durable"]
    if st:
        summary["startup_median"] = {
            "ready_ms": median([r["ready_ms"] for r in st]),
            "healthz_ms": median([r["healthz_ms"] for r in st]),
            "idle_rss_kb": median([r["idle_rss_kb"] for r in st])}

    # Issue 5's targets (measured, never asserted in tests).
    targets = []
    d64 = agg.get(("hookd-durable", "loadgen", 64))
    if d64:
        for ref_client in ("loadgen", "wrk"):
            ref = agg.get(("nginx", ref_client, 64))
            if ref:
                rt = d64["rps"] / ref["rps"] if ref["rps"] else 0
                # Beside the ratio of the medians, each run's own (hookd's run k against
                # nginx's run k, minutes apart at most): how far the noise moves it.
                per_run = per_run_ratios(runs, "hookd-durable", "nginx", ref_client, 64)
                runs_text = (f" (run by run: {', '.join(f'{x * 100:.1f}' for x in per_run)} %)"
                             if per_run else "")
                targets.append({"target": f"64 conns: >= 30 % of nginx ({ref_client}) rate",
                                "value": f"{rt * 100:.1f} %{runs_text}", "met": rt >= 0.30})
        targets.append({"target": "64 conns: p99 < 10 ms", "value": f"{d64['p99_ms']:.2f} ms",
                        "met": d64["p99_ms"] < 10})
        targets.append({"target": "64 conns: no non-2xx", "value": str(d64["non2xx"]),
                        "met": d64["non2xx"] == 0})
    r64 = agg.get(("hookd-random", "loadgen", 64))
    if r64:
        vs = r64.get("vs_nginx_loadgen", {}).get("rps")
        rt = f"{vs * 100:.1f} % of nginx (loadgen), " if vs is not None else ""
        targets.append({"target": "64 conns, event ids in no order (shown, not a target)",
                        "value": f"{rt}p99 {r64['p99_ms']:.2f} ms, non-2xx {r64['non2xx']}",
                        "met": None})
    d1 = agg.get(("hookd-durable", "loadgen", 1))
    if d1:
        floor = b.results.get("fsync_floor") or []
        note = (f" (fsync floor p50 {', '.join(str(f['p50_ms']) for f in floor)} ms)"
                if floor else "")
        targets.append({"target": "1 conn: p50 < 1 ms (with fsync)",
                        "value": f"{d1['p50_ms']:.3f} ms{note}", "met": d1["p50_ms"] < 1})
    idle = [r for r in runs if r["workload"] == "idle" and r["server"] == "hookd-durable"]
    if idle:
        rss = idle[0]["rss_held_kb"] / 1024
        targets.append({"target": f"{idle[0]['connections']} idle conns: RSS < 100 MB",
                        "value": f"{rss:.1f} MiB", "met": rss * 1.048576 < 100})
    if st:
        m = summary["startup_median"]
        targets.append({"target": "idle RSS < 15 MB", "value": f"{m['idle_rss_kb'] / 1024:.1f} MiB",
                        "met": m["idle_rss_kb"] * 1.024 / 1000 < 15})
        targets.append({"target": "start-up to ready < 100 ms (empty spool)",
                        "value": f"{m['ready_ms']:.1f} ms", "met": m["ready_ms"] < 100})
    summary["targets"] = targets
    if b.results.get("fsync_floor"):
        summary["fsync_floor"] = b.results["fsync_floor"]
    return summary


def fmt_num(x, spec):
    if x is not None:
        return format(x, spec)
    width = re.match(r"\d*", spec).group(0)
    return format("-", f">{width}") if width else "-"


def print_table(summary: dict) -> str:
    lines = []
    add = lines.append
    add("")
    add("Durable ingest (a): medians over runs; ratios = hookd / nginx from the same run "
        "(L: nginx driven by hookd-loadgen, like for like; W: nginx driven by wrk)")
    add(f"{'server':14} {'client':8} {'conns':>5} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'p99.9 ms':>9} {'non2xx':>6} {'err':>4} {'cpu s/1k':>9} {'peak MiB':>8}  "
        f"{'rate/L':>7} {'rate/W':>7} {'p99/L':>6} {'cpu/L':>6}")
    for g in summary.get("ingest", []):
        vl = g.get("vs_nginx_loadgen", {})
        vw = g.get("vs_nginx_wrk", {})
        add(f"{g['server']:14} {g['client']:8} {g['connections']:>5} {fmt_num(g['rps'], '9.0f')} "
            f"{fmt_num(g['p50_ms'], '8.3f')} {fmt_num(g['p99_ms'], '8.3f')} "
            f"{fmt_num(g['p999_ms'], '9.3f')} {g['non2xx']:>6} {g['errors']:>4} "
            f"{fmt_num(g['cpu_s_per_1000'], '9.4f')} {g['peak_rss_kb'] / 1024:8.1f}  "
            f"{fmt_num(vl.get('rps'), '7.3f')} {fmt_num(vw.get('rps'), '7.3f')} "
            f"{fmt_num(vl.get('p99_ms'), '6.2f')} {fmt_num(vl.get('cpu_s_per_1000'), '6.2f')}")
    gc = [g for g in summary.get("ingest", []) if g.get("events_per_commit")]
    if gc:
        add("")
        add("Group commit (a): events per committed transaction (one fsync each), medians: " +
            ", ".join(f"{g['server']} {g['connections']} conns {g['events_per_commit']:.1f}"
                      for g in gc))
        floor = summary.get("fsync_floor") or []
        if floor and floor[0].get("p50_ms"):
            add(f"  one fsync per event instead would cap the durable rate near "
                f"{1000 / floor[0]['p50_ms']:.0f} events/s (1 / fsync floor p50)")
    dl = [g for g in summary.get("ingest", []) if g.get("delivered_rps") is not None]
    if dl:
        add("")
        add("Deliveries (a) made by the file handler during the runs, medians (what is not "
            "delivered waits in the spool and goes once the load stops):")
        for g in dl:
            share = f" = {g['delivered_rps'] / g['rps'] * 100:.0f} % of ingest" if g["rps"] else ""
            add(f"  {g['server']:14} {g['connections']:>4} conns: {g['delivered_rps']:9.0f}/s"
                f"{share}, {g['pending_at_end']:.0f} pending at the end")
    for r in summary.get("exec", []):
        add("")
        add(f"exec handler (b), {r['handler']}, {r['connections']} conns: ingest "
            f"{r['rps']:.0f} req/s (p50 {r['p50_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms, non2xx "
            f"{r['non2xx']}); executed {r['executed']} in {r['drain_seconds']} s = "
            f"{r['executed_rps']}/s ({r['executed_rps_during_ingest']}/s during ingest, "
            f"{r.get('executed_rps_after_ingest')}/s after; /bin/true alone, one after the other: "
            f"{r.get('spawn_floor_rps')}/s); "
            f"drained: {r['drained']}, dead {r['dead']}; cpu s/1k {r['cpu_s_per_1000']}; "
            f"peak RSS {r['peak_rss_kb'] / 1024:.1f} MiB")
    idle = summary.get("idle", [])
    if idle:
        add("")
        for r in idle:
            add(f"idle connections (c), {r['server']}: {r['connections']} opened "
                f"(one request each: {r['ok']} 2xx), {r['still_open']} still open after "
                f"{r['hold_seconds']} s; RSS {r['rss_before_kb'] / 1024:.1f} -> "
                f"{r['rss_held_kb'] / 1024:.1f} MiB ({r['kb_per_connection']} KiB/conn)")
        h = [r for r in idle if r["server"] == "hookd-durable"]
        n = [r for r in idle if r["server"] == "nginx"]
        if h and n and n[0]["rss_held_kb"]:
            add(f"  hookd / nginx RSS with idle connections: "
                f"{h[0]['rss_held_kb'] / n[0]['rss_held_kb']:.2f}")
    st = summary.get("startup", [])
    if st:
        add("")
        hs = [r for r in st if r["server"] == "hookd-durable"]
        ns = [r for r in st if r["server"] == "nginx"]
        m = summary.get("startup_median", {})
        if hs:
            add(f"start-up (d), hookd, {len(hs)} runs: ready (port accepting) median "
                f"{fmt_num(m.get('ready_ms'), '.1f')} ms [{', '.join(str(r['ready_ms']) for r in hs)}]"
                f", /healthz 200 median {fmt_num(m.get('healthz_ms'), '.1f')} ms; idle RSS median "
                f"{m.get('idle_rss_kb', 0) / 1024:.1f} MiB")
        if ns:
            nr = median([r["ready_ms"] for r in ns])
            nrss = median([r["idle_rss_kb"] for r in ns])
            line = (f"start-up (d), nginx (master + workers): ready median {nr:.1f} ms; idle RSS "
                    f"{nrss / 1024:.1f} MiB")
            if hs and nr and nrss:
                line += (f"; hookd/nginx: ready {m.get('ready_ms', 0) / nr:.2f}, "
                         f"idle RSS {m.get('idle_rss_kb', 0) / nrss:.2f}")
            add(line)
    for i, f in enumerate(summary.get("fsync_floor", [])):
        if i == 0:
            add("")
        add(f"fsync floor ({'before' if i == 0 else 'after'} the workloads): 4 KiB pwrite + "
            f"fdatasync on the spools' disk, {f['count']} times: p50 {f['p50_ms']} ms, "
            f"p90 {f['p90_ms']} ms, p99 {f['p99_ms']} ms (load average {f['loadavg']})")
    if summary.get("targets"):
        add("")
        add("Issue 5 targets:")
        for t in summary["targets"]:
            mark = "info" if t["met"] is None else "met" if t["met"] else "NOT met"
            add(f"  [{mark}] {t['target']}: {t['value']}")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def machine_info() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        total = int(open("/proc/meminfo").readline().split()[1])
    except (OSError, ValueError, IndexError):
        total = 0
    return {"nproc": os.cpu_count(), "cpu_model": model, "mem_total_kb": total,
            "kernel": platform.release(), "loadavg_start": os.getloadavg()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    env = os.environ.get
    ap.add_argument("--hookd", required=True)
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--work-dir", required=True,
                    help="temp files (spools, configs): must be on a real disk for durability")
    ap.add_argument("--out", help="JSON results file (default bench/results/<UTC time>.json)")
    ap.add_argument("--workloads", default=env("BENCH_WORKLOADS", "a,b,c,d"),
                    help="comma-separated subset of a,b,c,d (default all)")
    ap.add_argument("--seconds", type=float, default=float(env("BENCH_SECONDS", "10")))
    ap.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "3")))
    ap.add_argument("--connections", default=env("BENCH_CONNECTIONS", "1,16,64,256"))
    ap.add_argument("--warmup", type=float, default=float(env("BENCH_WARMUP", "1")))
    ap.add_argument("--body-size", type=int, default=int(env("BENCH_BODY_SIZE", "1024")))
    ap.add_argument("--servers", default=env("BENCH_SERVERS", "nginx,durable,random,tmpfs"),
                    help="comma-separated subset of nginx (the ceiling), durable (hookd, spool on "
                         "disk), random (durable with event ids in no order), tmpfs (hookd, "
                         "spool on /dev/shm)")
    ap.add_argument("--random-connections", default=env("BENCH_RANDOM_CONNECTIONS", "64"),
                    help="the connection counts at which the random server runs (default 64)")
    ap.add_argument("--no-ceiling", dest="ceiling", action="store_false",
                    help="skip nginx (then there are no ratios)")
    ap.add_argument("--no-tmpfs", dest="tmpfs", action="store_false",
                    help="skip the fsync-free (tmpfs) comparison")
    ap.add_argument("--nginx-workers", default=env("BENCH_NGINX_WORKERS", "auto"))
    ap.add_argument("--log-level", default=env("BENCH_LOG_LEVEL", "warn"),
                    help="hookd's log.level (default warn: no line per request)")
    ap.add_argument("--exec-connections", type=int, default=int(env("BENCH_EXEC_CONNECTIONS", "64")))
    ap.add_argument("--exec-concurrency", type=int, default=int(env("BENCH_EXEC_CONCURRENCY", "4")))
    ap.add_argument("--drain-timeout", type=float, default=float(env("BENCH_DRAIN_TIMEOUT", "300")))
    ap.add_argument("--idle-connections", type=int, default=int(env("BENCH_IDLE", "10000")))
    ap.add_argument("--idle-hold", type=float, default=float(env("BENCH_IDLE_HOLD", "5")))
    ap.add_argument("--startup-runs", type=int, default=int(env("BENCH_STARTUP_RUNS", "5")))
    ap.add_argument("--profile", action="store_true",
                    help="instead of the workloads: callgrind over a fixed number of requests, "
                         "then perf stat")
    ap.add_argument("--profile-dir", default="build-bench/profile")
    ap.add_argument("--profile-requests", type=int, default=int(env("BENCH_PROFILE_REQUESTS", "2000")))
    ap.add_argument("--profile-connections", type=int,
                    default=int(env("BENCH_PROFILE_CONNECTIONS", "4")))
    args = ap.parse_args()
    args.connections = [int(c) for c in str(args.connections).split(",") if c.strip()]
    args.random_connections = [int(c) for c in str(args.random_connections).split(",")
                               if c.strip()]
    workloads = {w.strip() for w in args.workloads.split(",") if w.strip()}
    args.servers = {s.strip() for s in args.servers.split(",") if s.strip()}
    if "nginx" not in args.servers:
        args.ceiling = False
    if not args.tmpfs:
        args.servers.discard("tmpfs")

    atexit.register(cleanup)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    b = bench(args)
    if is_tmpfs(args.work_dir):
        log(f"WARNING: {args.work_dir} is a tmpfs: the 'durable' figures would not include a "
            "real fsync")
    started = dt.datetime.now(dt.timezone.utc)
    b.results.update({
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "command": os.environ.get("BENCH_COMMAND", " ".join(sys.argv)),
        "environment": {k: v for k, v in os.environ.items() if k.startswith("BENCH_")},
        "settings": {k: (v if not isinstance(v, Path) else str(v)) for k, v in vars(args).items()},
        "hookd_version": hookd_version(b.hookd),
        "work_dir_fs": subprocess.run(["stat", "-f", "-c", "%T", args.work_dir],
                                      capture_output=True, text=True, timeout=10).stdout.strip(),
    })
    if args.profile:
        b.profile()
        return 0
    steps = [("d", b.workload_d), ("a", b.workload_a), ("b", b.workload_b), ("c", b.workload_c)]
    failures = []
    b.results["fsync_floor"] = [fsync_floor(b.base_dir)]
    log(f"fsync floor: {b.results['fsync_floor'][0]}")
    for name, fn in steps:
        if name in workloads:
            log(f"workload {name}")
            try:
                fn()
            except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError) as e:
                log(f"workload {name} failed: {e}")
                failures.append(f"{name}: {e}")
    b.results["fsync_floor"].append(fsync_floor(b.base_dir))
    b.results["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    b.results["failures"] = failures
    summary = summarize(b)
    b.results["summary"] = {k: v for k, v in summary.items()}
    text = print_table(summary)
    b.results["table"] = text
    out = Path(args.out) if args.out else Path("bench/results") / (
        started.strftime("%Y-%m-%dT%H%M%SZ") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(b.results, indent=2, default=str) + "\n")
    log(f"results written to {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
