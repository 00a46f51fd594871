"""Signaling benchmark: the app's SignalingConsumer against two relays that speak the same frames.

    .venv/bin/python bench/signaling.py [--quick] [--only app,bare,plain]
                                        [--scenario stress,capacity,burst,restart]
                                        [--set SIZE=N,...] [--compare TREE] [--json out.json]

Servers, each started fresh for every scenario, on 127.0.0.1 only:

- app:     the app as shipped, `daphne medconnect.asgi:application`, with a scratch
           SQLite database (DATA_DIR in a temporary folder, migrated, with people,
           rooms, consents and logged-in sessions made by signaling_support/
           app_fixtures.py), the in-memory channel layer (no REDIS_URL),
           DEBUG=false, HTTPS=false. Clients send the session cookie and the
           Origin header the app checks.
- bare:    signaling_support/bare_relay.py, a bare Channels consumer on Daphne with
           the same flags and channel layer: no auth, presence, checks; one direct
           channel_layer.send per relayed frame. The framework's floor.
- plain:   signaling_support/plain_relay.py, asyncio + `websockets`: the limit for Python.
- uvicorn: the app again under uvicorn, only when uvicorn is installed.
- alt:     with --compare TREE, the app from another checkout (a patch), same database.
- bareauth: (only with --only) signaling_support/auth_relay.py, the bare relay behind
           Channels' AuthMiddlewareStack on the app's sessions: a logged-in socket's floor.

Both Daphne servers run through signaling_support/daphne_gc.py, which logs the
garbage collector's pauses, so a relay's tail can be matched to full passes.

Scenarios (full sizes; --quick shrinks them to a smoke test):

- stress:   100 rooms, each participant sends 5 `signal` frames a second for
            10 s (1,000 frames/s): relay latency (a send timestamp travels in
            the data), frames lost, server CPU time per relayed frame. It
            starts once every socket is admitted and the server is quiet.
- capacity: 1,000 rooms (2,000 sockets) opened with at most 50 handshakes in
            flight, held 20 s with a `ping` every 10 s per socket: rooms
            admitted, admission time (connect -> welcome), ping round trip,
            server memory per connection (VmRSS delta). Then, with every socket
            still connected, 50 rooms relay for 5 s: what a crowded process
            costs per frame.
- burst:    50 rooms whose participants all join at once; each side, once it
            knows its peer, sends an offer-sized signal (~6 KB) and 20
            candidates: per room, the time from join start until both sides
            have everything.
- restart:  500 rooms in call; the server is killed (SIGKILL) and started
            again on the same port; every client reconnects with the
            browser's backoff (static/js/backoff.js, mirrored in next_delay)
            and signals again once it knows its peer: the time from the kill
            until every room has both sides back and hearing each other.

Every figure is printed for each server, with ratios against the baselines
measured in the same run and the app's targets marked PASS or MISS. The
targets are informational: the exit code is 0 whatever they say. Every wait is
bounded, a watchdog stops the run, and the servers are killed on exit,
exception or Ctrl+C.
"""

import argparse
import asyncio
import contextlib
import importlib.util
import json
import math
import os
import random
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
COMPARE_ROOT = ROOT  # --compare PATH
SUPPORT = Path(__file__).resolve().parent / "signaling_support"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
perf = time.perf_counter

ALL_SERVERS = ("app", "alt", "bare", "bareauth", "plain", "uvicorn")
APPS = ("app", "alt", "bareauth", "uvicorn")  # on the scratch database, with its sessions
PAIRS = (
    ("app", "bare"),
    ("alt", "bare"),
    ("alt", "app"),
    ("app", "bareauth"),
    ("alt", "bareauth"),
    ("bareauth", "bare"),
    ("app", "plain"),
    ("bare", "plain"),
)
SERVER_LABELS = {
    "app": "app (Daphne)",
    "alt": "--compare tree",
    "bareauth": "bare+auth",
    "bare": "bare Channels",
    "plain": "plain websockets",
    "uvicorn": "app (uvicorn)",
}


@dataclass
class Sizes:
    stress_rooms: int = 100
    stress_rate: int = 5  # frames per second per participant
    stress_seconds: float = 10
    capacity_rooms: int = 1000
    capacity_hold: float = 20
    capacity_ping_every: float = 10
    burst_rooms: int = 50
    burst_candidates: int = 20
    offer_bytes: int = 6000
    connect_concurrency: int = 50  # handshakes in flight (Daphne's listen backlog is 50)
    warmup_rooms: int = 2
    crowded_rooms: int = 50  # after the capacity hold: these relay while every socket stays
    crowded_seconds: float = 5
    restart_rooms: int = 500


QUICK = Sizes(
    stress_rooms=10,
    stress_seconds=2,
    capacity_rooms=50,
    capacity_hold=3,
    capacity_ping_every=1.5,
    burst_rooms=10,
    crowded_rooms=5,
    crowded_seconds=1,
    restart_rooms=20,
)

# Timeouts: every wait below is bounded by one of these.
START_TIMEOUT = 30  # a server starts listening
OPEN_TIMEOUT = 30  # one socket, connect -> welcome
READY_TIMEOUT = 30  # every room knows its peer
DRAIN_TIMEOUT = 10  # frames still in flight after the last send; later ones count as lost
RAMP_LIMIT = 120  # capacity: the whole ramp
BURST_TIMEOUT = 30
STOP_TIMEOUT = 3
QUIET_LIMIT = 15  # stress: the server settles after the admissions before measuring
RESTART_TIMEOUT = 120  # restart: every room back after the kill

# static/js/backoff.js, mirrored: the close codes after which the browser gives up,
# and the delay before reconnection attempt n (equal jitter on a capped doubling).
FATAL_CLOSE_CODES = {4401, 4403, 4404, 4409, 4410}
BACKOFF_BASE, BACKOFF_CAP = 0.5, 15.0


def next_delay(attempt: int) -> float:
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt))
    return ceiling / 2 + random.random() * ceiling / 2


CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 203.0.113.7 46154 typ srflx "
    "raddr 10.0.0.5 rport 46154 generation 0 ufrag Zp3x network-cost 999",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "Zp3x",
}


def fake_sdp(size: int) -> str:
    head = (
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        "a=group:BUNDLE 0 1\r\na=extmap-allow-mixed\r\na=msid-semantic: WMS\r\n"
    )
    lines = [
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97 102 103 104 105 106 107 108 109 127 125\r\n",
        "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 goog-remb\r\na=rtcp-fb:96 transport-cc\r\n",
        "a=rtcp-fb:96 ccm fir\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n",
        "a=fmtp:97 apt=96\r\na=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;"
        "packetization-mode=1;profile-level-id=42001f\r\n",
        "a=ssrc:2231627014 cname:4cNAiPkNl1B3ckP1\r\na=ssrc:2231627014 msid:- 7a5b1c\r\n",
    ]
    out, i = [head], 0
    while sum(map(len, out)) < size:
        out.append(lines[i % len(lines)])
        i += 1
    return "".join(out)[:size]


OFFER_SDP = fake_sdp(Sizes.offer_bytes)


# --- Measuring a process --------------------------------------------------------


def proc_cpu_seconds(pid) -> float:
    """utime + stime of every thread of the process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def proc_thread_cpu(pid: int) -> tuple[float, float]:
    """(main thread, other threads) CPU seconds: the event loop vs worker threads (the DB)."""
    total = proc_cpu_seconds(pid)  # the process's figure keeps the threads that ended
    main = proc_cpu_seconds(f"{pid}/task/{pid}")
    return main, total - main


def system_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(
            int, f.readline().split()[1:9]
        )
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def self_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def listen_overflows() -> int:
    """The kernel's count of connections dropped because an accept queue was full."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(table.get("ListenOverflows", 0))
    return 0


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else hard
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def pct(values, p: float):
    """Nearest-rank percentile; None when there is nothing to rank."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(seconds):
    return None if seconds is None else seconds * 1000


# --- Servers ----------------------------------------------------------------------


class Server:
    """One server subprocess; killed on stop, on exit and on Ctrl+C."""

    running: list["Server"] = []

    def __init__(self, kind: str, workdir: Path, app_env: dict):
        self.kind, self.workdir, self.app_env = kind, workdir, app_env
        self.proc = None
        self.port = 0
        self.tag = ""
        # --compare: the same app from another checkout (a patch to measure), same database
        self.root = COMPARE_ROOT if kind == "alt" else ROOT

    def command(self, tag: str) -> list[str]:
        port = str(self.port)
        # Both Daphne servers run through a wrapper that logs the collector's pauses.
        daphne = [sys.executable, str(SUPPORT / "daphne_gc.py"), str(self.gc_log(tag))]
        if self.kind in ("app", "alt"):
            return [*daphne, "-b", HOST, "-p", port, "medconnect.asgi:application"]
        if self.kind == "bare":
            app = "bench.signaling_support.bare_relay:application"
            return [*daphne, "-b", HOST, "-p", port, app]
        if self.kind == "bareauth":
            app = "bench.signaling_support.auth_relay:application"
            return [*daphne, "-b", HOST, "-p", port, app]
        if self.kind == "plain":
            return [sys.executable, str(SUPPORT / "plain_relay.py"), port]
        if self.kind == "uvicorn":
            return [
                sys.executable, "-m", "uvicorn", "medconnect.asgi:application",
                "--host", HOST, "--port", port,
            ]  # fmt: skip
        raise ValueError(self.kind)

    def gc_log(self, tag: str) -> Path:
        return self.workdir / f"{self.kind}-{tag}.gc"

    def gc_pauses(self, tag: str, since: float, until: float) -> list[tuple[int, float]]:
        """(generation, ms) of the collections the server logged between two wall times."""
        try:
            lines = self.gc_log(tag).read_text().splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            at, gen, took = line.split()
            if since <= float(at) <= until:
                out.append((int(gen), float(took)))
        return out

    def start(self, tag: str, port: int = 0) -> None:
        """Start and wait until it listens; `port` to come back where it was (a restart)."""
        self.port = port or free_port()
        self.tag = tag
        env = dict(os.environ)
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if self.kind in APPS:
            env.update(self.app_env)
        log = open(self.workdir / f"{self.kind}-{tag}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.command(tag),
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_nofile,
        )
        log.close()
        Server.running.append(self)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start:\n{self.log_tail(tag)}")
            with contextlib.suppress(OSError), socket.create_connection((HOST, self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} did not listen within {START_TIMEOUT} s")

    def log_tail(self, tag: str, lines: int = 30) -> str:
        path = self.workdir / f"{self.kind}-{tag}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        if self in Server.running:
            Server.running.remove(self)
        self.proc = None

    def kill(self) -> None:
        """SIGKILL, as a crash or an impatient deploy does: no close frames, no clean-up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)
        if self in Server.running:
            Server.running.remove(self)
        self.proc = None

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.running):
            with contextlib.suppress(Exception):
                server.stop()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def rss(self) -> int:
        return proc_rss_kib(self.pid)

    def url(self, code: str) -> str:
        return f"ws://{HOST}:{self.port}/ws/rooms/{code}/"

    def headers(self, session: str) -> list[tuple[str, str]]:
        # The same headers for every server, so every handshake carries the same bytes.
        return [("Origin", f"http://{HOST}:{self.port}"), ("Cookie", f"sessionid={session}")]


# --- The app's scratch database -------------------------------------------------------


def app_environment(data_dir: Path) -> dict:
    return {
        "DJANGO_SETTINGS_MODULE": "medconnect.settings",
        "DATA_DIR": str(data_dir),
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": "",
        "HTTPS": "false",
        "DEBUG": "false",
        "REDIS_URL": "",  # the in-memory channel layer, as for the bare relay
        "DATABASE_URL": "",
        "EMAIL_URL": "",
        "TURN_URLS": "",
        # Every bench socket comes from 127.0.0.1: the per-address handshake
        # limit (600 a minute) would close most of them with 4430.
        "WS_HANDSHAKES_PER_MINUTE": "1000000",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def prepare_app(data_dir: Path, rooms: int) -> list[dict]:
    env = {**os.environ, **app_environment(data_dir)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=300,
    )  # fmt: skip
    out = data_dir / "fixtures.json"
    subprocess.run(
        [sys.executable, str(SUPPORT / "app_fixtures.py"), str(rooms), str(out)],
        cwd=ROOT, env=env, check=True, timeout=300,
    )  # fmt: skip
    return json.loads(out.read_text())


def reset_presence(data_dir: Path) -> None:
    """Forget presences a killed server left behind, so the next one never sweeps them."""
    db = sqlite3.connect(data_dir / "medconnect.sqlite3", timeout=20)
    try:
        with db:
            db.execute("DELETE FROM rooms_presence")
            db.execute("DELETE FROM rooms_serverinstance")
            db.execute("DELETE FROM rooms_callsample")
    finally:
        db.close()


# --- The client side: one participant ---------------------------------------------------


class Side:
    """One participant's socket and everything it saw."""

    def __init__(self, server: Server, code: str, session: str):
        self.server, self.code, self.session = server, code, session
        self.ws = None
        self.reader = None
        self.error = ""
        self.close_code = None
        self.t_connect = None
        self.t_welcome = None
        self.welcomed = asyncio.Event()
        self.ready = asyncio.Event()  # knows its peer: welcome with peers, or peer-joined
        self.finished = asyncio.Event()
        self.sent = 0
        self.got = 0
        self.last_at = None
        self.latencies: list[float] = []
        self.pings: dict[int, float] = {}
        self.rtts: list[float] = []
        self.pings_sent = 0
        self.errors = 0
        # restart: when set, a `signal` {"hello": epoch} goes to the peer each time this side
        # learns of one (welcome with peers, peer-joined), as a browser starts negotiating;
        # hello_at is when the peer's hello of the same epoch arrived: signalling works.
        self.hello = None
        self.hello_at = None

    async def open(self, limit: asyncio.Semaphore | None = None) -> None:
        async with limit or contextlib.nullcontext():
            self.t_connect = perf()
            try:
                self.ws = await connect(
                    self.server.url(self.code),
                    additional_headers=self.server.headers(self.session),
                    compression=None,
                    ping_interval=None,
                    open_timeout=OPEN_TIMEOUT,
                    close_timeout=1,
                )
            except Exception as exc:  # every failure counts as "not admitted"
                self.error = f"{type(exc).__name__}: {exc}"[:200]
                self.finished.set()
                return
            self.reader = asyncio.create_task(self._read())
            waits = [asyncio.ensure_future(e.wait()) for e in (self.welcomed, self.finished)]
            remaining = OPEN_TIMEOUT - (perf() - self.t_connect)
            _done, pending = await asyncio.wait(
                waits, timeout=max(0.1, remaining), return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()

    async def _read(self) -> None:
        ws = self.ws
        try:
            async for message in ws:
                now = perf()
                frame = json.loads(message)
                kind = frame.get("type")
                if kind == "signal":
                    self.got += 1
                    self.last_at = now
                    sent_at = frame["data"].get("t")
                    if sent_at is not None:
                        self.latencies.append(now - sent_at)
                    elif self.hello is not None and frame["data"].get("hello") == self.hello:
                        self.hello_at = self.hello_at or now
                elif kind == "pong":
                    sent_at = self.pings.pop(frame.get("id"), None)
                    if sent_at is not None:
                        self.rtts.append(now - sent_at)
                elif kind == "welcome":
                    self.t_welcome = now
                    self.welcomed.set()
                    if frame.get("peers"):
                        self.ready.set()
                        await self._say_hello()
                elif kind == "peer-joined":
                    self.ready.set()
                    await self._say_hello()
                elif kind == "error":
                    self.errors += 1
        except ConnectionClosed:
            pass
        finally:
            self.close_code = ws.close_code
            self.finished.set()

    async def _say_hello(self) -> None:
        if self.hello is not None:
            await self.send({"type": "signal", "data": {"hello": self.hello}})

    @property
    def open_now(self) -> bool:
        return self.ws is not None and not self.finished.is_set()

    async def send(self, frame: dict) -> bool:
        try:
            await self.ws.send(json.dumps(frame))
        except ConnectionClosed:
            return False
        return True

    async def ping(self, ident: int) -> None:
        self.pings[ident] = perf()
        if await self.send({"type": "ping", "id": ident}):
            self.pings_sent += 1
        else:
            self.pings.pop(ident, None)

    def abort(self) -> None:
        if self.ws is not None and self.ws.transport is not None:
            self.ws.transport.abort()


class Room:
    def __init__(self, server: Server, fixture: dict):
        self.a = Side(server, fixture["code"], fixture["doctor"])
        self.b = Side(server, fixture["code"], fixture["patient"])

    @property
    def sides(self):
        return (self.a, self.b)

    @property
    def admitted(self) -> bool:
        return all(s.t_welcome is not None and s.open_now for s in self.sides)

    @property
    def ready(self) -> bool:
        return self.admitted and all(s.ready.is_set() for s in self.sides)


async def wait_until(predicate, timeout: float, step: float = 0.01) -> bool:
    deadline = perf() + timeout
    while perf() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


async def open_rooms(server, fixtures, concurrency: int | None, limit: float) -> list[Room]:
    rooms = [Room(server, f) for f in fixtures]
    sem = asyncio.Semaphore(concurrency) if concurrency else None
    tasks = [asyncio.ensure_future(s.open(sem)) for r in rooms for s in r.sides]
    _done, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return rooms


async def close_rooms(rooms: list[Room]) -> None:
    for room in rooms:
        for side in room.sides:
            side.abort()
    readers = [s.reader for r in rooms for s in r.sides if s.reader is not None]
    if readers:
        _done, pending = await asyncio.wait(readers, timeout=5)
        for task in pending:
            task.cancel()


async def warm_up(server: Server, fixtures: list[dict]) -> None:
    """Touch every code path once (imports, caches, the app's heartbeat) before measuring."""
    rooms = await open_rooms(server, fixtures, None, OPEN_TIMEOUT)
    await wait_until(lambda: all(r.ready for r in rooms), 5)
    for room in rooms:
        for side in room.sides:
            if side.open_now:
                for k in range(3):
                    await side.send({"type": "signal", "data": {"candidate": CANDIDATE, "k": k}})
                await side.ping(0)
    await asyncio.sleep(0.3)
    for room in rooms:
        for side in room.sides:
            if side.ws is not None:
                with contextlib.suppress(Exception):
                    await side.ws.close()
    await close_rooms(rooms)
    await asyncio.sleep(0.3)


def failures(rooms: list[Room]) -> dict:
    return failures_of([s for r in rooms for s in r.sides])


def failures_of(sides: list[Side]) -> dict:
    """Why sockets were not admitted: connection errors and close codes, counted."""
    seen: dict[str, int] = {}
    for side in sides:
        reason = ""
        if side.error:
            reason = side.error
        elif side.t_welcome is None:
            reason = f"no welcome (close code {side.close_code})"
        elif side.finished.is_set():
            reason = f"closed with {side.close_code}"
        if reason:
            seen[reason] = seen.get(reason, 0) + 1
    return seen


# --- Scenarios ----------------------------------------------------------------------


class Meter:
    """CPU of the server (and of its worker threads), of this client, and of everything else."""

    def __init__(self, server: Server):
        self.server = server
        self.start = self._read()

    def _read(self) -> dict:
        main, workers = proc_thread_cpu(self.server.pid)
        return {
            "wall": perf(),
            "server": main + workers,
            "workers": workers,
            "client": self_cpu_seconds(),
            "system": system_busy_seconds(),
            "overflows": listen_overflows(),
        }

    def stop(self) -> dict:
        end = self._read()
        d = {k: end[k] - self.start[k] for k in end}
        wall = max(d["wall"], 1e-9)
        return {
            "wall_s": d["wall"],
            "server_cpu_s": d["server"],
            "server_core_use": d["server"] / wall,
            "workers_core_use": d["workers"] / wall,
            "client_core_use": d["client"] / wall,
            # Every other process on the machine (other sessions, tests, browsers): noise.
            "others_core_use": max(0.0, d["system"] - d["server"] - d["client"]) / wall,
            "listen_overflows": d["overflows"],
        }


async def relay_phase(server: Server, rooms: list[Room], rate: float, seconds: float) -> dict:
    """Both sides of every room send `rate` candidate-sized signals a second for `seconds`."""
    sides = [s for r in rooms for s in r.sides]
    for side in sides:
        side.sent = side.got = 0
        side.latencies.clear()
    per_side = int(rate * seconds)
    period = 1 / rate

    async def sender(side: Side, first: float) -> None:
        for k in range(per_side):
            delay = first + k * period - perf()
            if delay > 0:
                await asyncio.sleep(delay)
            data = {"candidate": CANDIDATE, "seq": k, "t": perf()}
            if not await side.send({"type": "signal", "data": data}):
                return
            side.sent += 1

    meter = Meter(server)
    start = perf() + 0.1
    await asyncio.wait_for(
        asyncio.gather(*(sender(s, start + random.uniform(0, period)) for s in sides)),
        timeout=seconds + 30,
    )
    sends_done = perf()

    def drained():
        return all(r.a.got >= r.b.sent and r.b.got >= r.a.sent for r in rooms)

    await wait_until(drained, DRAIN_TIMEOUT, step=0.005)
    usage = meter.stop()
    sent = sum(s.sent for s in sides)
    got = sum(s.got for s in sides)
    latencies = [x for s in sides for x in s.latencies]
    return {
        "frames_sent": sent,
        "frames_received": got,
        "frames_lost": sent - got,
        "send_rate": sent / max(1e-9, sends_done - start),
        "latency_p50_ms": ms(pct(latencies, 50)),
        "latency_p99_ms": ms(pct(latencies, 99)),
        "latency_max_ms": ms(max(latencies, default=None)),
        "server_cpu_per_frame_us": usage["server_cpu_s"] / sent * 1e6 if sent else None,
        **usage,
    }


async def wait_quiet(server: Server, below: float = 0.05, window: float = 0.25) -> dict:
    """Wait until the server used under `below` of a core for four windows in a row.

    What follows an admission (peer-joined, the presence write, the app's
    heartbeat) must be over before a relay is measured, or the relay's tail
    measures the admissions.
    """
    began = perf()
    calm = 0
    busiest = 0.0
    cpu = proc_cpu_seconds(server.pid)
    while perf() - began < QUIET_LIMIT:
        await asyncio.sleep(window)
        now = proc_cpu_seconds(server.pid)
        use, cpu = (now - cpu) / window, now
        busiest = max(busiest, use)
        calm = calm + 1 if use < below else 0
        if calm >= 4:
            break
    return {"quiet_wait_s": perf() - began, "quiet": calm >= 4, "settle_core_use_max": busiest}


async def scenario_stress(server: Server, fixtures: list[dict], sz: Sizes) -> dict:
    warm, fixtures = fixtures[: sz.warmup_rooms], fixtures[sz.warmup_rooms :]
    await warm_up(server, warm)
    rooms = await open_rooms(server, fixtures, sz.connect_concurrency, RAMP_LIMIT)
    await wait_until(lambda: all(r.ready or not r.admitted for r in rooms), READY_TIMEOUT)
    live = [r for r in rooms if r.ready]
    settle = await wait_quiet(server)
    t0 = time.time()
    relay = await relay_phase(server, live, sz.stress_rate, sz.stress_seconds)
    pauses = server.gc_pauses(server.tag, t0, time.time())
    result = {
        "rooms": len(rooms),
        "rooms_ready": len(live),
        "sockets": 2 * len(rooms),
        "sockets_admitted": sum(s.t_welcome is not None for r in rooms for s in r.sides),
        **relay,
        **settle,
        **gc_figures(pauses),
        "error_frames": sum(s.errors for r in rooms for s in r.sides),
        "failures": failures(rooms),
    }
    await close_rooms(rooms)
    return result


def gc_figures(pauses: list[tuple[int, float]]) -> dict:
    full = [took for gen, took in pauses if gen == 2]
    return {
        "gc_full_count": len(full),
        "gc_full_max_ms": max(full, default=0.0),
        "gc_pause_total_ms": sum(took for _gen, took in pauses),
    }


async def scenario_capacity(server: Server, fixtures: list[dict], sz: Sizes) -> dict:
    warm, fixtures = fixtures[: sz.warmup_rooms], fixtures[sz.warmup_rooms :]
    await warm_up(server, warm)
    await asyncio.sleep(0.5)
    rss0 = server.rss()
    meter = Meter(server)
    t0 = time.time()
    rooms = await open_rooms(server, fixtures, sz.connect_concurrency, RAMP_LIMIT)
    ramp = meter.stop()
    ramp.update(gc_figures(server.gc_pauses(server.tag, t0, time.time())))
    # Let the server finish what follows a welcome (peer-joined) before reading its memory.
    await wait_until(lambda: all(r.ready or not r.admitted for r in rooms), 10)
    await asyncio.sleep(1.0)
    rss1 = server.rss()
    sides = [s for r in rooms for s in r.sides]
    welcomed = [s for s in sides if s.t_welcome is not None]
    admission = [s.t_welcome - s.t_connect for s in welcomed]
    admitted_rooms = sum(r.admitted for r in rooms)
    open_sides = [s for s in sides if s.open_now]

    meter = Meter(server)
    hold_start = perf()
    hold_end = hold_start + sz.capacity_hold

    async def pinger(side: Side) -> None:
        at, ident = hold_start + random.uniform(0, sz.capacity_ping_every), 0
        while at < hold_end:
            await asyncio.sleep(max(0.0, at - perf()))
            if not side.open_now:
                return
            ident += 1
            await side.ping(ident)
            at += sz.capacity_ping_every

    t0 = time.time()
    await asyncio.wait_for(
        asyncio.gather(*(pinger(s) for s in open_sides)), timeout=sz.capacity_hold + 30
    )
    await wait_until(lambda: not any(s.pings for s in open_sides), 5)
    hold = meter.stop()
    hold.update(gc_figures(server.gc_pauses(server.tag, t0, time.time())))
    rss2 = server.rss()
    rtts = [x for s in sides for x in s.rtts]
    still_open = sum(s.open_now for s in sides)
    # Then, with every socket still connected, a short relay: what a crowded process costs.
    crowd = [r for r in rooms if r.ready][: sz.crowded_rooms]
    t0 = time.time()
    crowded = await relay_phase(server, crowd, sz.stress_rate, sz.crowded_seconds)
    crowded.update(gc_figures(server.gc_pauses(server.tag, t0, time.time())))
    admitted_sockets = len(welcomed)
    result = {
        "rooms": len(rooms),
        "rooms_admitted": admitted_rooms,
        "sockets": len(sides),
        "sockets_admitted": admitted_sockets,
        "admission_p50_ms": ms(pct(admission, 50)),
        "admission_p99_ms": ms(pct(admission, 99)),
        "admission_max_ms": ms(max(admission, default=None)),
        "ramp_s": ramp["wall_s"],
        "server_cpu_per_admission_us": ramp["server_cpu_s"] / admitted_sockets * 1e6
        if admitted_sockets
        else None,
        "ramp": ramp,
        "pings_sent": sum(s.pings_sent for s in sides),
        "pongs": len(rtts),
        "ping_p50_ms": ms(pct(rtts, 50)),
        "ping_p99_ms": ms(pct(rtts, 99)),
        "ping_max_ms": ms(max(rtts, default=None)),
        "hold": hold,
        "rss_before_mib": rss0 / 1024,
        "rss_admitted_mib": rss1 / 1024,
        "rss_after_hold_mib": rss2 / 1024,
        "rss_per_connection_kib": (rss1 - rss0) / admitted_sockets if admitted_sockets else None,
        "sockets_open_after_hold": still_open,
        "crowded_rooms": len(crowd),
        "crowded": crowded,
        "error_frames": sum(s.errors for s in sides),
        "listen_overflows": ramp["listen_overflows"] + hold["listen_overflows"],
        "failures": failures(rooms),
    }
    await close_rooms(rooms)
    return result


async def scenario_burst(server: Server, fixtures: list[dict], sz: Sizes) -> dict:
    warm, fixtures = fixtures[: sz.warmup_rooms], fixtures[sz.warmup_rooms :]
    await warm_up(server, warm)
    await asyncio.sleep(0.3)
    rooms = [Room(server, f) for f in fixtures]
    expected = 1 + sz.burst_candidates
    offer = {"description": {"type": "offer", "sdp": OFFER_SDP}}

    async def participant(side: Side) -> None:
        await side.open()
        if side.ws is None:
            return
        waits = [asyncio.ensure_future(e.wait()) for e in (side.ready, side.finished)]
        _done, pending = await asyncio.wait(
            waits, timeout=BURST_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
        if not side.ready.is_set() or not side.open_now:
            return
        if await side.send({"type": "signal", "data": {**offer, "t": perf()}}):
            side.sent += 1
        for k in range(sz.burst_candidates):
            data = {"candidate": CANDIDATE, "seq": k, "t": perf()}
            if not await side.send({"type": "signal", "data": data}):
                return
            side.sent += 1

    meter = Meter(server)
    t0 = perf()
    tasks = [asyncio.ensure_future(participant(s)) for r in rooms for s in r.sides]

    def complete(room: Room) -> bool:
        return room.a.got >= expected and room.b.got >= expected

    await wait_until(lambda: all(complete(r) for r in rooms), BURST_TIMEOUT, step=0.002)
    usage = meter.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    times = [max(r.a.last_at, r.b.last_at) - t0 for r in rooms if complete(r)]
    sent = sum(s.sent for r in rooms for s in r.sides)
    got = sum(s.got for r in rooms for s in r.sides)
    welcomed = [s for r in rooms for s in r.sides if s.t_welcome is not None]
    result = {
        "rooms": len(rooms),
        "rooms_admitted": sum(r.admitted for r in rooms),
        "sockets": 2 * len(rooms),
        "sockets_admitted": len(welcomed),
        "rooms_complete": len(times),
        "frames_expected": len(rooms) * 2 * expected,
        "frames_sent": sent,
        "frames_received": got,
        "frames_lost": len(rooms) * 2 * expected - got,
        "setup_p50_ms": ms(pct(times, 50)),
        "setup_p99_ms": ms(pct(times, 99)),
        "setup_max_ms": ms(max(times, default=None)),
        "admission_p50_ms": ms(pct([s.t_welcome - t0 for s in welcomed], 50)),
        "admission_max_ms": ms(max((s.t_welcome - t0 for s in welcomed), default=None)),
        **usage,
        "error_frames": sum(s.errors for r in rooms for s in r.sides),
        "failures": failures(rooms),
    }
    await close_rooms(rooms)
    return result


class Caller:
    """One participant across reconnections, as static/js/signaling.js behaves.

    After a close it waits next_delay(attempt) and connects again; `attempt`
    goes back to 0 when a handshake succeeds (the socket's `open` event); a
    final close code (4401, 4403, 4404, 4409, 4410) ends it for good.
    """

    def __init__(self, server: Server, code: str, session: str):
        self.server, self.code, self.session = server, code, session
        self.side = Side(server, code, session)
        self.epoch = 0
        self.attempts = 0
        self.refused = 0
        self.why: dict[str, int] = {}
        self.fatal = None

    def new_side(self) -> Side:
        self.side = Side(self.server, self.code, self.session)
        self.side.hello = self.epoch
        return self.side

    @property
    def back(self) -> bool:
        side = self.side
        return side.hello == self.epoch and side.hello_at is not None and side.open_now

    async def rejoin(self) -> None:
        attempt = 0
        while True:
            await self.side.finished.wait()
            if self.side.close_code in FATAL_CLOSE_CODES:
                self.fatal = self.side.close_code
                return
            await asyncio.sleep(next_delay(attempt))
            attempt += 1
            self.attempts += 1
            side = self.new_side()
            await side.open()
            if side.ws is not None:
                attempt = 0
            else:
                self.refused += 1
                # "ConnectionRefusedError: ..." -> the kind, not the address
                reason = side.error.split(":")[0]
                self.why[reason] = self.why.get(reason, 0) + 1


async def scenario_restart(server: Server, fixtures: list[dict], sz: Sizes) -> dict:
    """Rooms in call; the server is killed and started again; every client comes back."""
    warm, fixtures = fixtures[: sz.warmup_rooms], fixtures[sz.warmup_rooms :]
    await warm_up(server, warm)
    pairs = [
        (Caller(server, f["code"], f["doctor"]), Caller(server, f["code"], f["patient"]))
        for f in fixtures
    ]
    callers = [c for pair in pairs for c in pair]
    sem = asyncio.Semaphore(sz.connect_concurrency)
    for caller in callers:
        caller.new_side()
    await asyncio.wait_for(
        asyncio.gather(*(c.side.open(sem) for c in callers)), RAMP_LIMIT + OPEN_TIMEOUT
    )
    in_call = await wait_until(
        lambda: all(a.back and b.back for a, b in pairs), READY_TIMEOUT, step=0.05
    )
    before = sum(a.back and b.back for a, b in pairs)
    await asyncio.sleep(0.5)

    for caller in callers:
        caller.epoch = 1
    t_kill = perf()
    server.kill()
    rejoins = [asyncio.ensure_future(c.rejoin()) for c in callers]
    # Start it again while the clients retry: they find the port closed until it listens.
    await asyncio.to_thread(server.start, "restart-after", server.port)
    t_listen = perf()
    meter = Meter(server)
    back_at: dict[int, float] = {}
    deadline = t_listen + RESTART_TIMEOUT
    while perf() < deadline and len(back_at) < len(pairs):
        now = perf()
        for i, (a, b) in enumerate(pairs):
            if i not in back_at and a.back and b.back:
                back_at[i] = now
        if all(c.fatal for c in callers if not c.back):
            break
        await asyncio.sleep(0.02)
    usage = meter.stop()
    for task in rejoins:
        task.cancel()
    await asyncio.gather(*rejoins, return_exceptions=True)
    times = [t - t_kill for t in back_at.values()]
    readmitted = sum(c.side.t_welcome is not None for c in callers)
    pauses = server.gc_pauses(server.tag, time.time() - usage["wall_s"], time.time())
    result = {
        "rooms": len(pairs),
        "rooms_in_call_before": before,
        "in_call_before": in_call,
        "sockets": len(callers),
        "sockets_admitted": readmitted,
        "rooms_back": len(back_at),
        "listen_s": t_listen - t_kill,
        "all_back_s": max(times) if len(times) == len(pairs) else None,
        "back_p50_s": pct(times, 50),
        "back_p99_s": pct(times, 99),
        "back_max_s": max(times, default=None),
        "attempts": sum(c.attempts for c in callers),
        "refused": sum(c.refused for c in callers),
        "gave_up": sum(c.fatal is not None for c in callers),
        "server_cpu_per_readmission_us": usage["server_cpu_s"] / readmitted * 1e6
        if readmitted
        else None,
        **usage,
        **gc_figures(pauses),
        "failures": failures_of([c.side for c in callers]),
    }
    # Why reconnection attempts failed on the way (the failures above are the last ones).
    for caller in callers:
        for why, count in caller.why.items():
            key = f"attempts that failed with {why}"
            result["failures"][key] = result["failures"].get(key, 0) + count
    for caller in callers:
        caller.side.abort()
    await asyncio.sleep(0.2)
    return result


SCENARIOS = {
    "stress": (scenario_stress, lambda sz: sz.stress_rooms),
    "capacity": (scenario_capacity, lambda sz: sz.capacity_rooms),
    "burst": (scenario_burst, lambda sz: sz.burst_rooms),
    "restart": (scenario_restart, lambda sz: sz.restart_rooms),
}


# --- Report ---------------------------------------------------------------------------


def get(res: dict, path: str):
    for key in path.split("."):
        res = res[key]
    return res


def n(path: str, digits: int, scale: float = 1):
    """A number, `digits` after the point."""
    return lambda r: num(None if get(r, path) is None else get(r, path) * scale, digits)


def of(a: str, b: str, sep: str = "/"):
    """Two counts: `a/b`."""
    return lambda r: f"{get(r, a)}{sep}{get(r, b)}"


def gcs(count: str, longest: str):
    """Full collections the server logged, and the longest, in ms."""

    def fmt(r):
        try:
            return f"{get(r, count)} / {get(r, longest):.1f}"
        except KeyError:
            return "-"

    return fmt


def co(a: str, b: str):
    """Two CPU uses, in cores (1.00 = one CPU busy the whole time)."""
    return lambda r: f"{get(r, a):.2f}/{get(r, b):.2f}"


ROWS = {
    "stress": [
        ("rooms ready / rooms", of("rooms_ready", "rooms")),
        ("frames sent", n("frames_sent", 0)),
        ("frames lost", n("frames_lost", 0)),
        ("achieved send rate (frames/s)", n("send_rate", 0)),
        ("relay latency p50 (ms)", n("latency_p50_ms", 2)),
        ("relay latency p99 (ms)", n("latency_p99_ms", 2)),
        ("relay latency max (ms)", n("latency_max_ms", 2)),
        ("server CPU per frame (µs)", n("server_cpu_per_frame_us", 0)),
        ("cores: server / its worker threads", co("server_core_use", "workers_core_use")),
        ("cores: client / other processes", co("client_core_use", "others_core_use")),
        ("error frames / listen overflows", of("error_frames", "listen_overflows")),
        ("waited for a quiet server (s)", n("quiet_wait_s", 2)),
        ("server GC: full passes / longest (ms)", gcs("gc_full_count", "gc_full_max_ms")),
        ("server GC: all pauses > 1 ms (ms)", n("gc_pause_total_ms", 1)),
    ],
    "capacity": [
        ("rooms admitted", of("rooms_admitted", "rooms")),
        ("sockets admitted", of("sockets_admitted", "sockets")),
        ("admission p50 (ms)", n("admission_p50_ms", 1)),
        ("admission p99 (ms)", n("admission_p99_ms", 1)),
        ("admission max (ms)", n("admission_max_ms", 1)),
        ("ramp: all sockets opened in (s)", n("ramp_s", 2)),
        ("server CPU per admission (µs)", n("server_cpu_per_admission_us", 0)),
        ("ramp cores: server / worker thr.", co("ramp.server_core_use", "ramp.workers_core_use")),
        ("ramp cores: client / others", co("ramp.client_core_use", "ramp.others_core_use")),
        ("ramp server GC: full / longest (ms)", gcs("ramp.gc_full_count", "ramp.gc_full_max_ms")),
        ("pongs / pings", of("pongs", "pings_sent")),
        ("ping round trip p50 (ms)", n("ping_p50_ms", 2)),
        ("ping round trip p99 (ms)", n("ping_p99_ms", 2)),
        ("ping round trip max (ms)", n("ping_max_ms", 2)),
        ("hold cores: server / others", co("hold.server_core_use", "hold.others_core_use")),
        ("hold server GC: full / longest (ms)", gcs("hold.gc_full_count", "hold.gc_full_max_ms")),
        ("server RSS before (MiB)", n("rss_before_mib", 1)),
        ("server RSS admitted (MiB)", n("rss_admitted_mib", 1)),
        ("server RSS per connection (KiB)", n("rss_per_connection_kib", 1)),
        ("sockets open after hold", n("sockets_open_after_hold", 0)),
        ("error frames / listen overflows", of("error_frames", "listen_overflows")),
        ("then, all still connected, rooms relay", n("crowded_rooms", 0)),
        ("  frames lost of sent", of("crowded.frames_lost", "crowded.frames_sent", " of ")),
        ("  relay latency p50 (ms)", n("crowded.latency_p50_ms", 2)),
        ("  relay latency p99 (ms)", n("crowded.latency_p99_ms", 2)),
        ("  server CPU per frame (µs)", n("crowded.server_cpu_per_frame_us", 0)),
        ("  cores: client / others", co("crowded.client_core_use", "crowded.others_core_use")),
        ("  server GC: full / max (ms)", gcs("crowded.gc_full_count", "crowded.gc_full_max_ms")),
    ],
    "burst": [
        ("rooms admitted", of("rooms_admitted", "rooms")),
        ("rooms complete", of("rooms_complete", "rooms")),
        ("frames lost of expected", of("frames_lost", "frames_expected", " of ")),
        ("set-up time p50 (ms)", n("setup_p50_ms", 1)),
        ("set-up time p99 (ms)", n("setup_p99_ms", 1)),
        ("set-up time max (ms)", n("setup_max_ms", 1)),
        ("welcome after join p50 (ms)", n("admission_p50_ms", 1)),
        ("welcome after join max (ms)", n("admission_max_ms", 1)),
        ("server CPU for the burst (ms)", n("server_cpu_s", 0, 1000)),
        ("cores: client / other processes", co("client_core_use", "others_core_use")),
        ("error frames / listen overflows", of("error_frames", "listen_overflows")),
    ],
    "restart": [
        ("rooms in call before the kill", of("rooms_in_call_before", "rooms")),
        ("rooms back and signalling", of("rooms_back", "rooms")),
        ("listening again after (s)", n("listen_s", 2)),
        ("every room back after (s)", n("all_back_s", 2)),
        ("room back p50 (s)", n("back_p50_s", 2)),
        ("room back p99 (s)", n("back_p99_s", 2)),
        (
            "attempts / refused / gave up",
            lambda r: f"{r['attempts']}/{r['refused']}/{r['gave_up']}",
        ),  # noqa: E501
        ("server CPU per readmission (µs)", n("server_cpu_per_readmission_us", 0)),
        ("cores: server / worker threads", co("server_core_use", "workers_core_use")),
        ("cores: client / other processes", co("client_core_use", "others_core_use")),
        ("server GC: full passes / longest (ms)", gcs("gc_full_count", "gc_full_max_ms")),
        ("listen overflows", n("listen_overflows", 0)),
    ],
}

RATIOS = [
    ("stress CPU per frame", "stress", "server_cpu_per_frame_us"),
    ("stress latency p50", "stress", "latency_p50_ms"),
    ("stress latency p99", "stress", "latency_p99_ms"),
    ("capacity admission p50", "capacity", "admission_p50_ms"),
    ("capacity admission p99", "capacity", "admission_p99_ms"),
    ("capacity CPU per admission", "capacity", "server_cpu_per_admission_us"),
    ("capacity ping p99", "capacity", "ping_p99_ms"),
    ("capacity RSS per connection", "capacity", "rss_per_connection_kib"),
    ("crowded relay CPU per frame", "capacity", ("crowded", "server_cpu_per_frame_us")),
    ("crowded relay latency p99", "capacity", ("crowded", "latency_p99_ms")),
    ("burst set-up p50", "burst", "setup_p50_ms"),
    ("burst set-up p99", "burst", "setup_p99_ms"),
    ("restart: every room back", "restart", "all_back_s"),
    ("restart: CPU per readmission", "restart", "server_cpu_per_readmission_us"),
]


def num(value, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(results, a, b, scenario, key):
    keys = key if isinstance(key, tuple) else (key,)
    try:
        x, y = results[a][scenario], results[b][scenario]
        for k in keys:
            x, y = x[k], y[k]
    except (KeyError, TypeError):
        return None
    if x is None or y is None or y <= 0:
        return None
    return x / y


def targets(results: dict) -> list[tuple[str, str, str]]:
    """(target, measured, PASS/MISS/n/a) for the app."""
    app = results.get("app", {})
    out = []

    def check(name, ok, measured):
        out.append((name, measured, "n/a" if ok is None else ("PASS" if ok else "MISS")))

    st, ca, bu, rs = (app.get(k) for k in ("stress", "capacity", "burst", "restart"))
    lost = None
    if st or bu:
        lost = (st["frames_lost"] if st else 0) + (bu["frames_lost"] if bu else 0)
    check("zero frames lost (stress + burst)", None if lost is None else lost == 0, f"{lost}")
    parts = []
    total = admitted = 0
    for name, res in (("stress", st), ("capacity", ca), ("burst", bu), ("restart", rs)):
        if res:
            n, a = res["sockets"], res["sockets_admitted"]
            parts.append(f"{name} {a}/{n}")
            total, admitted = total + n, admitted + a
    check("every socket admitted", None if not total else admitted == total, ", ".join(parts))
    for name, scenario, key, limit in (
        ("stress CPU/frame <= 1.3x bare", "stress", "server_cpu_per_frame_us", 1.3),
        ("stress p50 <= 1.5x bare p50", "stress", "latency_p50_ms", 1.5),
        ("stress p99 <= 2x bare p99", "stress", "latency_p99_ms", 2.0),
        ("burst p99 <= 1.5x bare", "burst", "setup_p99_ms", 1.5),
        ("capacity CPU/admission <= 3x bare", "capacity", "server_cpu_per_admission_us", 3.0),
        ("restart: every room back <= 3x bare", "restart", "all_back_s", 3.0),
    ):
        r = ratio(results, "app", "bare", scenario, key)
        check(name, None if r is None else r <= limit, "-" if r is None else f"{r:.2f}x")
    p99 = ca["ping_p99_ms"] if ca else None
    check("capacity ping p99 < 100 ms", None if p99 is None else p99 < 100, f"{num(p99, 2)} ms")
    return out


def report(results: dict, servers: list[str], sz: Sizes, quick: bool, notes: list[str]) -> str:
    lines = []
    mode = "--quick" if quick else "full"
    lines.append(
        f"Signaling benchmark ({mode}): stress {sz.stress_rooms} rooms x {sz.stress_rate} frames/s"
        f" x {sz.stress_seconds:g} s; capacity {sz.capacity_rooms} rooms held {sz.capacity_hold:g}"
        f" s, ping every {sz.capacity_ping_every:g} s; burst {sz.burst_rooms} rooms"
        f" (offer {sz.offer_bytes} B + {sz.burst_candidates} candidates per side)"
    )
    width = 40
    cols = [SERVER_LABELS[s] for s in servers]
    colw = max(17, *(len(c) + 2 for c in cols))
    header = " " * width + "".join(c.rjust(colw) for c in cols)
    for scenario, rows in ROWS.items():
        if not any(scenario in results.get(s, {}) for s in servers):
            continue
        lines += ["", scenario.upper(), header]
        for label, fmt in rows:
            cells = []
            for s in servers:
                res = results.get(s, {}).get(scenario)
                if res is None:
                    cells.append("skipped")
                elif "crashed" in res:
                    cells.append("FAILED")
                else:
                    cells.append(fmt(res))
            lines.append(f"  {label:<{width - 2}}" + "".join(c.rjust(colw) for c in cells))
    pairs = [(a, b) for a, b in PAIRS if a in servers and b in servers]
    if pairs:
        lines += ["", "RATIOS (lower is better for all; 1.00x = same)"]
        heads = [f"{a} / {b}" for a, b in pairs]
        lines.append(" " * width + "".join(h.rjust(colw) for h in heads))
        for label, scenario, key in RATIOS:
            cells = []
            for a, b in pairs:
                r = ratio(results, a, b, scenario, key)
                cells.append("-" if r is None else f"{r:.2f}x")
            lines.append(f"  {label:<{width - 2}}" + "".join(c.rjust(colw) for c in cells))
    if "app" in servers:
        lines += ["", "TARGETS (the app; informational)"]
        for name, measured, verdict in targets(results):
            lines.append(f"  {name:<{width + 4}}{measured:>26}   {verdict}")
    failures_seen = [
        (s, scenario, res["failures"])
        for s in servers
        for scenario, res in results.get(s, {}).items()
        if res.get("failures") or "crashed" in res
    ]
    if failures_seen:
        lines += ["", "FAILURES"]
        for s, scenario, fail in failures_seen:
            for reason, count in (fail or {}).items():
                lines.append(f"  {s} {scenario}: {count} x {reason}")
        for s in servers:
            for scenario, res in results.get(s, {}).items():
                if "crashed" in res:
                    lines.append(f"  {s} {scenario}: {res['crashed']}")
    if notes:
        lines += ["", "NOTES"] + [f"  - {n}" for n in notes]
    return "\n".join(lines)


NOTES = (
    "CPU is utime+stime of the server process from /proc/<pid>/stat (worker threads, where"
    " Channels runs the app's database calls, shown apart); memory is VmRSS; 'other"
    " processes' is the rest of the machine's busy time from /proc/stat.",
    "One client process drives every socket (both sides of a room are in it, so latencies"
    " are measured on one clock and include its event loop); its CPU use is shown.",
    "Both Daphne servers run with the same flags (-b 127.0.0.1 -p PORT) and Daphne's"
    " defaults: keepalive ping after 20 s idle (reset by any incoming frame), ping timeout"
    " 30 s, handshake timeout 5 s (--websocket_connect_timeout), listen backlog 50. The"
    " plain relay uses websockets' defaults (ping every 20 s); no server negotiates"
    " compression (the client offers none).",
    "Both Channels servers use the in-memory channel layer (REDIS_URL empty). The bare and"
    " plain relays send the first participant a minimal peer-joined, as the app does, so"
    " every client starts negotiating at the same point.",
)


# --- Main -----------------------------------------------------------------------------


class Watchdog(Exception):
    pass


async def quietly_cancelled(coro):
    """Run a scenario; on Ctrl+C, do not log the cancelled gathers as unretrieved errors."""

    def handler(loop, context):
        if not isinstance(context.get("exception"), asyncio.CancelledError):
            loop.default_exception_handler(context)

    asyncio.get_running_loop().set_exception_handler(handler)
    return await coro


def run_one(server: Server, scenario: str, fixtures: list[dict], sz: Sizes) -> dict:
    func, _size = SCENARIOS[scenario]
    server.start(scenario)
    try:
        result = asyncio.run(quietly_cancelled(func(server, fixtures, sz)))
        if not server.alive():
            result["crashed"] = "server exited during the scenario"
        return result
    finally:
        server.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--only", default="", help="comma-separated servers: app,bare,plain")
    parser.add_argument(
        "--scenarios",
        "--scenario",
        default="",
        help="comma-separated scenarios: stress,capacity,burst,restart",
    )
    parser.add_argument(
        "--set",
        metavar="SIZE=N,...",
        default="",
        help="change sizes, e.g. capacity_rooms=300,capacity_hold=5 (see Sizes)",
    )
    parser.add_argument(
        "--compare",
        metavar="TREE",
        help="also run the app from another checkout (server `alt`), e.g. with a patch applied",
    )
    parser.add_argument("--json", metavar="PATH", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, DB)")
    args = parser.parse_args(argv)

    sz = QUICK if args.quick else Sizes()
    global COMPARE_ROOT
    if args.compare:
        COMPARE_ROOT = Path(args.compare).resolve()
        if not (COMPARE_ROOT / "medconnect" / "asgi.py").exists():
            parser.error(f"{COMPARE_ROOT} is not a MedConnect checkout")
        SERVER_LABELS["alt"] = f"app ({COMPARE_ROOT.name})"
    for item in filter(None, args.set.split(",")):
        key, _, value = item.partition("=")
        if key not in Sizes.__dataclass_fields__:
            known = ", ".join(Sizes.__dataclass_fields__)
            parser.error(f"unknown size {key!r} (choose from {known})")
        try:
            sz = replace(sz, **{key: type(getattr(sz, key))(value)})
        except ValueError:
            parser.error(f"{key} needs a number, not {value!r}")
    have_uvicorn = importlib.util.find_spec("uvicorn") is not None
    notes = list(NOTES)
    if args.only:
        servers = [s.strip() for s in args.only.split(",") if s.strip()]
        unknown = [s for s in servers if s not in ALL_SERVERS]
        if unknown:
            parser.error(f"unknown servers: {', '.join(unknown)} (choose from {ALL_SERVERS})")
    else:
        servers = ["app", "bare", "plain"] + (["uvicorn"] if have_uvicorn else [])
        if args.compare:
            servers.insert(1, "alt")
    if "alt" in servers and not args.compare:
        parser.error("server `alt` needs --compare TREE")
    if "uvicorn" in servers and not have_uvicorn:
        servers.remove("uvicorn")
    if not have_uvicorn:
        notes.append("uvicorn is not installed: the app under uvicorn was skipped.")

    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()] or list(SCENARIOS)
    if unknown := [s for s in scenarios if s not in SCENARIOS]:
        parser.error(f"unknown scenarios: {', '.join(unknown)} (choose from {tuple(SCENARIOS)})")

    raise_nofile()
    workdir = Path(tempfile.mkdtemp(prefix="medconnect-bench-"))
    limit = 240 if args.quick else 900

    def on_alarm(signum, frame):
        raise Watchdog(f"the benchmark ran over {limit} s and was stopped")

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(limit)
    results: dict = {s: {} for s in servers}
    began = time.monotonic()
    try:
        # Rooms (and the app's people and sessions) for the scenarios that run only.
        per_scenario = {name: sz.warmup_rooms + SCENARIOS[name][1](sz) for name in scenarios}
        fixtures: dict[str, dict[str, list[dict]]] = {}
        synthetic, offset = {}, 0
        for name, count in per_scenario.items():
            synthetic[name] = [
                {"code": f"bench{offset + i:05d}", "doctor": "d", "patient": "p"}
                for i in range(count)
            ]
            offset += count
        app_env = app_environment(workdir / "data")
        if set(APPS) & set(servers):
            print(f"preparing the app's scratch database ({offset} rooms) ...", flush=True)
            t = time.monotonic()
            rows = prepare_app(workdir / "data", offset)
            print(f"  ready in {time.monotonic() - t:.1f} s", flush=True)
            app_rooms, offset = {}, 0
            for name, count in per_scenario.items():
                app_rooms[name] = rows[offset : offset + count]
                offset += count
        for scenario in scenarios:
            for kind in servers:
                is_app = kind in APPS
                rooms = app_rooms[scenario] if is_app else synthetic[scenario]
                fixtures.setdefault(kind, {})[scenario] = rooms
                print(f"{scenario:>8} / {SERVER_LABELS[kind]} ...", end=" ", flush=True)
                t = time.monotonic()
                server = Server(kind, workdir, app_env)
                try:
                    results[kind][scenario] = run_one(server, scenario, rooms, sz)
                except (Watchdog, KeyboardInterrupt):
                    raise
                except Exception as exc:
                    results[kind][scenario] = {"crashed": f"{type(exc).__name__}: {exc}"[:300]}
                    results[kind][scenario]["failures"] = {}
                if is_app:
                    reset_presence(workdir / "data")
                print(f"{time.monotonic() - t:.1f} s", flush=True)
    except Watchdog as exc:
        notes.append(str(exc))
        print(f"\n{exc}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the servers", flush=True)
        Server.stop_all()
        return 130
    finally:
        signal.alarm(0)
        Server.stop_all()
        if args.keep:
            print(f"scratch folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    notes.append(f"total run time {time.monotonic() - began:.0f} s on {os.cpu_count()} CPUs.")
    busiest = max(
        (
            (part.get("others_core_use", 0), kind, scenario)
            for kind, by_scenario in results.items()
            for scenario, res in by_scenario.items()
            for part in (res, res.get("ramp", {}), res.get("hold", {}), res.get("crowded", {}))
        ),
        default=None,
    )
    if busiest and busiest[0] > 0.25:
        notes.append(
            f"other processes kept up to {busiest[0]:.2f} cores busy ({busiest[1]}, {busiest[2]}):"
            " the machine was not quiet, so latencies and ratios carry that noise;"
            " rerun when it is."
        )
    text = report(results, servers, sz, args.quick, notes)
    print()
    print(text)
    if args.json:
        payload = {
            "sizes": asdict(sz),
            "quick": args.quick,
            "servers": servers,
            "results": results,
            "ratios": {
                f"{a}/{b}": {
                    label: ratio(results, a, b, scenario, key) for label, scenario, key in RATIOS
                }
                for a, b in PAIRS
                if a in servers and b in servers
            },
            "targets": [{"target": n, "measured": m, "verdict": v} for n, m, v in targets(results)],
            "notes": notes,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
