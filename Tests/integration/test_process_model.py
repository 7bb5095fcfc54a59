"""The supervisor / worker model as an operator uses it: xmppctl listeners, reload,
rolling restart and crash recovery, with clients connecting all the while."""
import os
import signal
import stat
import time

from connect_loop import ConnectLoop
from raw_stream import RawStream
from xmpp_client import Client
from xmppd_harness import free_port, pid_alive, wait_for


def c2s(port, extra=""):
    return f"""
[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
{extra}
"""


def test_listeners_table_and_json(server):
    record = server.listener(server.c2s_port)
    assert record["state"] == "running"
    assert record["type"] == "c2s"
    assert record["generation"] == 1
    assert pid_alive(record["workerPID"])
    table = server.ctl("listeners").stdout
    assert "c2s" in table and f"127.0.0.1:{server.c2s_port}" in table and "running" in table
    status = server.ctl("status").stdout
    assert f"supervisor pid {server.supervisor_pid}" in status


def test_state_files_are_not_for_other_users(server):
    """The database (credentials, rosters, archives) and the log get no permissions
    for other users; a database an older build left readable is tightened at start."""
    server.register("alice", "secret")
    var = server.var
    files = [var / name for name in ("xmppd.db", "xmppd.db-wal", "xmppd.db-shm", "xmppd.log")]
    assert all(stat.S_IMODE(f.stat().st_mode) & 0o007 == 0 for f in files), [oct(f.stat().st_mode) for f in files]
    server.stop()
    (var / "xmppd.db").chmod(0o644)
    server.start()
    assert stat.S_IMODE((var / "xmppd.db").stat().st_mode) == 0o640


def test_invalid_reload_changes_nothing(server):
    before = server.listener(server.c2s_port)["workerPID"]
    good = server.config.read_text()
    server.config.write_text(good + "\n[[listen.c2s]]\n  port = 99999\n")
    result = server.ctl("reload", check=False)
    assert result.returncode != 0
    assert "listen.c2s[2].port" in result.stderr and "99999" in result.stderr
    server.config.write_text(good)
    assert server.listener(server.c2s_port)["workerPID"] == before
    RawStream(server.c2s_port).open()


def test_unchanged_listener_keeps_its_worker(server):
    before = server.listener(server.c2s_port)
    assert "0 changed" in server.ctl("reload").stdout
    after = server.listener(server.c2s_port)
    assert after["workerPID"] == before["workerPID"] and after["generation"] == 1


def test_added_and_removed_listeners(server):
    second = free_port()
    listeners = c2s(server.c2s_port, '  max_stanza_size = 65536') + c2s(second)
    server.write_config(listeners)
    assert "1 added" in server.ctl("reload").stdout
    RawStream(second).open()
    assert server.listener(second)["state"] == "running"
    server.write_config(c2s(second))
    assert "1 removed" in server.ctl("reload").stdout
    wait_for(lambda: server.listener(server.c2s_port)["state"] == "stopped", message="removed listener stopped")
    try:
        RawStream(server.c2s_port, timeout=2)
        raise AssertionError("the removed listener still accepts")
    except ConnectionRefusedError:
        pass
    RawStream(second).open()


def test_reloads_and_rolling_restarts_refuse_nothing_and_keep_sessions(server):
    server.register("alice", "secret")
    server.register("bob", "secret")
    alice = Client("alice@localhost/desk", "secret", server.c2s_port).wait_session()
    bob = Client("bob@localhost/desk", "secret", server.c2s_port).wait_session()
    first_pid = server.listener(server.c2s_port)["workerPID"]
    delivered = 0
    try:
        with ConnectLoop(server.c2s_port) as loop:
            for i in range(20):
                # A changed listener option: a new worker takes over the same socket.
                server.write_config(c2s(server.c2s_port, f"  max_stanza_size = {65536 + i + 1}"))
                assert "1 changed" in server.ctl("reload").stdout
                bob.send_message("alice@localhost/desk", f"during reload {i}")
                assert alice.wait_message()["body"] == f"during reload {i}"
                delivered += 1
            for i in range(3):
                assert "restarted" in server.ctl("restart").stdout
                alice.send_message("bob@localhost/desk", f"during restart {i}")
                assert bob.wait_message()["body"] == f"during restart {i}"
                delivered += 1
            time.sleep(0.5)
        assert loop.failures == [], f"{len(loop.failures)} failed attempts, e.g. {loop.failures[:3]}"
        assert loop.ok > 20, f"the connect loop only made {loop.ok} attempts"
        assert not alice.disconnected.is_set() and not bob.disconnected.is_set()
        assert delivered == 23
        record = server.listener(server.c2s_port)
        assert record["generation"] == 24
        assert record["workerPID"] != first_pid
        # The first worker still drains: it holds alice and bob's sessions.
        assert pid_alive(first_pid)
    finally:
        alice.close()
        bob.close()
    # With its last session gone, the old worker exits well before the drain deadline.
    wait_for(lambda: not pid_alive(first_pid), timeout=10, message="old worker exits once drained")


def test_killed_worker_is_restarted_without_refusing_connections(server):
    before = server.listener(server.c2s_port)
    with ConnectLoop(server.c2s_port) as loop:
        time.sleep(0.3)
        os.kill(before["workerPID"], signal.SIGKILL)
        after = wait_for(lambda: (r := server.listener(server.c2s_port))["workerPID"] not in (None, before["workerPID"])
                         and r["state"] == "running" and r, message="restarted worker")
        time.sleep(0.5)
    assert loop.refused == []
    # The loop is sequential: only the one stream the worker held when it was
    # killed may be cut; every other attempt waited in the backlog and was served.
    assert len(loop.failures) <= 1, loop.failures[:3]
    assert loop.ok > 5
    assert after["restarts"] == 1
    assert after["generation"] == before["generation"] + 1
    table = server.ctl("listeners").stdout
    assert str(after["workerPID"]) in table
    events = [(e.get("pid"), e["event"], e.get("detail")) for e in server.events()]
    assert (before["workerPID"], "exited", "killed by signal 9") in events
    assert any(event == "restarted" for _, event, _ in events)
    assert (after["workerPID"], "spawned", "") in events or (after["workerPID"], "spawned", None) in events


def test_listeners_readable_after_supervisor_crash(server):
    os.kill(server.supervisor_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(server.supervisor_pid), message="supervisor gone")
    record = server.listener(server.c2s_port)
    assert record["type"] == "c2s"
    assert server.ctl("status", check=False).returncode != 0


def test_ipv6_listener(tmp_path):
    from xmppd_harness import Server
    import socket
    port = free_port()
    instance = Server(tmp_path, f"""
[[listen.c2s]]
  port = {port}
  ip_address = "::1"
""")
    instance.start()
    try:
        raw = RawStream(port, host="::1", family=socket.AF_INET6)
        assert "<mechanism>" in raw.open()
        assert instance.listener(port)["address"] == "::1"
    finally:
        instance.stop()


def test_sighup_reloads(server):
    before = server.listener(server.c2s_port)
    server.write_config(c2s(server.c2s_port, "  max_stanza_size = 1000"))
    os.kill(server.supervisor_pid, signal.SIGHUP)
    after = wait_for(lambda: (r := server.listener(server.c2s_port))["generation"] == 2 and r["state"] == "running" and r,
                     message="reload by SIGHUP")
    assert after["workerPID"] != before["workerPID"]
    raw = RawStream(server.c2s_port)
    raw.open()
    raw.send("<message><body>" + "x" * 2000 + "</body></message>")
    assert raw.stream_error() == "policy-violation"


def test_drain_deadline_ends_old_sessions(tmp_path):
    from xmppd_harness import Server
    port = free_port()
    instance = Server(tmp_path, c2s(port), drain_timeout=1000)
    instance.start()
    try:
        instance.register("olga", "secret")
        client = Client("olga@localhost/r", "secret", port).wait_session()
        old_pid = instance.listener(port)["workerPID"]
        instance.write_config(c2s(port, "  max_stanza_size = 5000"))
        instance.ctl("reload")
        assert client.disconnected.wait(10), "the draining worker kept the session past its deadline"
        assert "system-shutdown" in client.stream_errors
        wait_for(lambda: not pid_alive(old_pid), message="drained worker exits")
        # The client logs in again on the new worker.
        again = Client("olga@localhost/r", "secret", port).wait_session()
        again.close()
        client.close()
    finally:
        instance.stop()


def test_stop_ends_sessions_and_processes(server):
    server.register("paul", "secret")
    client = Client("paul@localhost/r", "secret", server.c2s_port).wait_session()
    worker = server.listener(server.c2s_port)["workerPID"]
    assert "stopped" in server.ctl("stop").stdout
    assert client.disconnected.wait(10)
    assert "system-shutdown" in client.stream_errors
    wait_for(lambda: not pid_alive(server.supervisor_pid) and not pid_alive(worker), message="all processes gone")
    assert server.listener(server.c2s_port)["state"] == "stopped"
    client.close()


def nio_threads(pid):
    """Event loop threads of a worker (NIO names them NIO-ELT-…)."""
    names = [open(f"/proc/{pid}/task/{tid}/comm").read() for tid in os.listdir(f"/proc/{pid}/task")]
    return sum(name.startswith("NIO-ELT") for name in names)


def test_worker_threads_sets_the_event_loops_of_each_worker(tmp_path):
    from xmppd_harness import Server
    port = free_port()
    instance = Server(tmp_path, c2s(port), extra="", worker_threads=None)
    instance.config.write_text(instance.config.read_text().replace(
        "[xmppd]\n", "[xmppd]\n  worker_threads = 3\n", 1))
    instance.start()
    try:
        pid = instance.listener(port)["workerPID"]
        assert nio_threads(pid) == 3
    finally:
        instance.stop()


def test_by_default_the_workers_share_out_the_cores(tmp_path):
    """Without worker_threads each worker runs cores / listeners loops (rounded up),
    so that two busy workers do not run twice as many loops as there are cores."""
    from xmppd_harness import Server
    ports = [free_port(), free_port()]
    instance = Server(tmp_path, c2s(ports[0]) + c2s(ports[1]), extra="", worker_threads=None)
    instance.start()
    try:
        cores = len(os.sched_getaffinity(0))
        for port in ports:
            assert nio_threads(instance.listener(port)["workerPID"]) == max(1, (cores + 1) // 2)
    finally:
        instance.stop()


def test_a_stop_during_a_drain_ends_the_old_workers_sessions_cleanly(tmp_path):
    """A stop soon after a reload: the draining worker hears it, sends its sessions
    <system-shutdown/> and exits, rather than waiting out drain_timeout until the
    supervisor kills it."""
    from raw_session import RawSession
    from xmppd_harness import Server
    port = free_port()
    instance = Server(tmp_path, c2s(port))
    instance.start()
    try:
        instance.register("alice", "secret")
        alice = RawSession(port)
        alice.login("alice")
        old = instance.listener(port)["workerPID"]
        instance.write_config(c2s(port, "  max_stanza_size = 70000"))
        assert "1 changed" in instance.ctl("reload").stdout
        assert pid_alive(old), "the old worker drains, holding alice's session"
        started = time.time()
        instance.ctl("stop", timeout=30)
        wait_for(lambda: not pid_alive(instance.supervisor_pid), timeout=15)
        assert time.time() - started < 5
        assert alice.stream_error() == "system-shutdown"
        assert "drain deadline shortened to 0 ms" in (instance.var / "xmppd.log").read_text()
    finally:
        instance.stop()
