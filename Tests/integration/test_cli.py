"""xmppctl and xmppd check-config, as an operator types them."""
import subprocess

from xmppd_harness import XMPPD, Server, free_port


def test_register_errors(server):
    server.register("ivan", "secret")
    dup = server.ctl("register", "ivan", "localhost", "other", check=False)
    assert dup.returncode == 1 and "already" in dup.stderr.lower()
    unknown = server.ctl("register", "judy", "nowhere.example", "pw", check=False)
    assert unknown.returncode == 1 and "unknown domain nowhere.example" in unknown.stderr
    empty = server.ctl("register", "judy", "localhost", "", check=False)
    assert empty.returncode == 1 and "password" in empty.stderr.lower()


def test_passwd_and_unregister(server):
    server.register("kim", "old")
    server.ctl("passwd", "kim", "localhost", "new")
    server.ctl("unregister", "kim", "localhost")
    again = server.ctl("unregister", "kim", "localhost", check=False)
    assert again.returncode == 1
    missing = server.ctl("passwd", "nobody", "localhost", "x", check=False)
    assert missing.returncode == 1


def test_password_is_never_stored_in_plaintext(server):
    server.register("lena", "very-secret-password")
    data = (server.var / "xmppd.db").read_bytes()
    wal = server.var / "xmppd.db-wal"
    if wal.exists():
        data += wal.read_bytes()
    assert b"very-secret-password" not in data


def test_check_config(tmp_path):
    good = Server(tmp_path, f"[[listen.c2s]]\n  port = {free_port()}\n")
    ok = subprocess.run([XMPPD, "check-config", "-c", str(good.config)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[general]\nhosts = ["localhost"]\n\n[[listen.c2s]]\n  port = 5222\n  tls.mode = "startls"\n')
    result = subprocess.run([XMPPD, "check-config", "-c", str(bad)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"{bad}:6: listen.c2s[1].tls.mode" in result.stderr
    assert '"startls"' in result.stderr


def test_start_refuses_bad_config_and_port_in_use(tmp_path):
    import socket
    bad = tmp_path / "bad.toml"
    bad.write_text('[general]\nhosts = ["localhost"]\n[[listen.c2s]]\n  prot = 5222\n')
    result = subprocess.run([XMPPD, "start", "-c", str(bad)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "listen.c2s[1]" in result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        server = Server(tmp_path / "s", f'[[listen.c2s]]\n  port = {port}\n  ip_address = "127.0.0.1"\n')
        assert "Address already in use" in server.start_refused()


def test_sessions_and_kick_across_workers(tmp_path):
    """xmppctl sessions lists the sessions of every worker; kick ends one wherever it
    is, with <conflict/> (ejabberdctl's connected_users and kick_session)."""
    import json
    from xmpp_client import Client
    from xmppd_harness import start_two_listeners, wait_for
    server = start_two_listeners(tmp_path)
    try:
        alice = Client("alice@localhost/desk", "secret", server.port_a).wait_session()
        bob = Client("bob@localhost/phone", "secret", server.port_b).wait_session()
        workers = {server.listener(server.port_a)["workerPID"], server.listener(server.port_b)["workerPID"]}

        def sessions():
            return json.loads(server.ctl("sessions", "--json").stdout)
        wait_for(lambda: len(sessions()) == 2)
        listed = sessions()
        assert [s["jid"] for s in listed] == ["alice@localhost/desk", "bob@localhost/phone"]
        assert {s["workerPID"] for s in listed} == workers and all(s["available"] for s in listed)
        assert "bob@localhost/phone" in server.ctl("sessions").stdout

        # bob's session lives on the other worker from alice's: the kick reaches it.
        assert "kicked bob@localhost/phone" in server.ctl("kick", "bob@localhost/phone").stdout
        wait_for(lambda: bob.disconnected.is_set())
        assert "conflict" in bob.stream_errors
        wait_for(lambda: [s["jid"] for s in sessions()] == ["alice@localhost/desk"])
        missing = server.ctl("kick", "bob@localhost/phone", check=False)
        assert missing.returncode == 1 and "no session bob@localhost/phone" in missing.stderr
        alice.close()
        bob.close()
    finally:
        server.stop()
