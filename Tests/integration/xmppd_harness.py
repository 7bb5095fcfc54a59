"""Starts real xmppd instances on loopback for the integration tests.

Each test gets its own config file, state directory and free ports, so instances
never share anything and can run side by side.
"""
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

BIN_DIR = Path(os.environ.get("XMPPD_BIN_DIR", Path(__file__).resolve().parents[2] / ".build" / "debug"))
XMPPD = str(BIN_DIR / "xmppd")
XMPPCTL = str(BIN_DIR / "xmppctl")


def two_c2s_listeners(a: int, b: int, extra_a: str = "", extra_b: str = "") -> str:
    """Two plaintext c2s listeners on loopback: two worker processes, joined by the mesh."""
    return f"""
[[listen.c2s]]
  port = {a}
  ip_address = "127.0.0.1"
{extra_a}

[[listen.c2s]]
  port = {b}
  ip_address = "127.0.0.1"
{extra_b}
"""


def start_two_listeners(tmp_path, extra="", users=("alice", "bob", "carol"), **server_options):
    """A started server with two_c2s_listeners (ports as .port_a / .port_b) and
    accounts for `users`, password "secret"."""
    a, b = free_port(), free_port()
    instance = Server(tmp_path, two_c2s_listeners(a, b), extra=extra, **server_options)
    instance.port_a, instance.port_b = a, b
    instance.start()
    for user in users:
        instance.register(user, "secret")
    return instance


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port nobody listens on, and one this test run has not handed out
    before: the kernel may give the same free port to two calls in a row, and a
    test that asks for two listeners' ports would then configure one port twice."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


class Server:
    def __init__(self, directory: Path, listeners: str, extra: str = "", hosts=("localhost",), drain_timeout=30_000,
                 loglevel="info", auth="", password="", worker_threads=2):
        """auth, password: extra lines for [auth] (sasl_mechanisms) and [auth.password] (hash).
        worker_threads: two loops per worker whatever the machine and the number of
        listeners, so that hand-offs between loops are always exercised; None = default."""
        self.directory = directory
        self.worker_threads = worker_threads
        self.loglevel = loglevel
        self.auth, self.password = auth, password
        directory.mkdir(parents=True, exist_ok=True)
        self.var = directory / "var"
        self.config = directory / "xmppd.toml"
        self.hosts = list(hosts)
        self.extra = extra
        self.drain_timeout = drain_timeout
        self.write_config(listeners)

    def write_config(self, listeners: str, extra: str | None = None):
        if extra is not None:
            self.extra = extra
        hosts = ", ".join(f'"{h}"' for h in self.hosts)
        self.config.write_text(
            f"""
[general]
  hosts = [{hosts}]
  loglevel = "{self.loglevel}"
  c2s_state_timeout = 2_000

[auth]
{self.auth}

[auth.password]
  scram_iterations = 4096
{self.password}

[xmppd]
  state_dir = "var"
  drain_timeout = {self.drain_timeout}
  worker_restart_backoff = 200
{"" if self.worker_threads is None else f"  worker_threads = {self.worker_threads}"}
{self.extra}
{listeners}
"""
        )

    def run(self, *args, check=True, timeout=60):
        return subprocess.run([XMPPD, *args, "-c", str(self.config)], capture_output=True, text=True,
                              check=check, timeout=timeout)

    def ctl(self, *args, check=True, timeout=120):
        result = subprocess.run([XMPPCTL, *args, "-c", str(self.config)], capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"xmppctl {' '.join(args)} failed: {result.stdout}{result.stderr}")
        return result

    def start(self):
        result = self.run("start", check=False)
        assert result.returncode == 0, f"xmppd start failed: {result.stdout}{result.stderr}\n{self.log()}"
        self.supervisor_pid = int(result.stdout.split("pid ")[1].split(")")[0])

    def start_refused(self):
        """Starts a server that must refuse to start; returns what it printed (stopping it
        first if it started after all, so a wrong test leaves no process behind)."""
        result = self.run("start", check=False)
        if result.returncode == 0:
            self.supervisor_pid = int(result.stdout.split("pid ")[1].split(")")[0])
            self.stop()
        assert result.returncode != 0, f"xmppd started: {result.stdout}"
        return result.stdout + result.stderr

    def stop(self):
        if not hasattr(self, "supervisor_pid"):
            return
        self.ctl("stop", check=False, timeout=30)
        deadline = time.time() + 15
        while time.time() < deadline and pid_alive(self.supervisor_pid):
            time.sleep(0.05)
        if pid_alive(self.supervisor_pid):
            os.kill(self.supervisor_pid, signal.SIGKILL)
        for pid in self.worker_pids_from_ps():
            os.kill(pid, signal.SIGKILL)

    def worker_pids_from_ps(self):
        out = subprocess.run(["pgrep", "-P", str(self.supervisor_pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def listeners(self):
        return json.loads(self.ctl("listeners", "--json").stdout)

    def listener(self, port):
        return next(r for r in self.listeners() if r["port"] == port)

    def register(self, user, password, domain="localhost"):
        self.ctl("register", user, domain, password)

    def events(self):
        return json.loads(self.ctl("events", "--json", "--limit", "500").stdout)

    def log(self):
        path = self.var / "xmppd.log"
        return path.read_text() if path.exists() else ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not alive for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(predicate, timeout=10.0, interval=0.05, message="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")
