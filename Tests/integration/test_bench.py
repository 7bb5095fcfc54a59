"""The shipped load generator (xmppd-bench) against a real server: a short closed-loop
and open-loop run must log everyone in and lose nothing, over one listener and over
two (through the mesh), plaintext and STARTTLS. Figures are not checked here: that is
what `scripts/bench` is for."""
import subprocess

from xmppd_harness import BIN_DIR, Server, free_port


def listeners(count, pki=None):
    text = ""
    for _ in range(count):
        text += pki.c2s_listener(free_port(), "starttls") if pki else f"""
[[listen.c2s]]
  port = {free_port()}
  ip_address = "127.0.0.1"
"""
    return text


def bench(server, *args):
    # --idle-wait 1: the last bindings reach the other worker over the mesh before the
    # first message is sent to them (otherwise it bounces, which the bench counts as a failure).
    result = subprocess.run([str(BIN_DIR / "xmppd-bench"), "-c", str(server.config), "-n", "20",
                             "--idle-wait", "1", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_closed_and_open_loop_over_two_listeners(tmp_path):
    server = Server(tmp_path, listeners(2))
    server.start()
    try:
        closed = bench(server, "--duration", "1")
        assert "20 ok, 0 failed" in closed and ", 0 lost" in closed, closed
        opened = bench(server, "--rates", "200,400", "--duration", "1", "--warmup", "0.5")
        assert "200/200 received, 0 lost" in opened and "400/400 received, 0 lost" in opened, opened
    finally:
        server.stop()


def test_starttls_logins(tmp_path, pki):
    server = Server(tmp_path, listeners(1, pki))
    server.start()
    try:
        out = bench(server, "--duration", "1")
        assert "20 ok, 0 failed" in out and "starttls" in out and ", 0 lost" in out, out
    finally:
        server.stop()
