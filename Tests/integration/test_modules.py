"""Modules from plugins/, configured as in MongooseIM and driven by slixmpp."""
import os
import signal
import subprocess
import time

import pytest
from slixmpp.exceptions import IqError

from raw_stream import RawStream
from xmpp_client import Client
from xmppd_harness import XMPPD, Server, free_port, wait_for


def listener(port):
    return f"""
[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
"""


@pytest.fixture
def modular(tmp_path):
    port = free_port()
    instance = Server(tmp_path, listener(port), extra="""
[modules.mod_ping]
[modules.mod_disco]
[modules.mod_offline]
""")
    instance.port = port
    instance.start()
    for user in ("alice", "bob"):
        instance.register(user, "secret")
    yield instance
    instance.stop()


def client(server, jid, **kw):
    return Client(jid, "secret", server.port, **kw).wait_session()


def test_ping_and_disco(modular):
    alice = client(modular, "alice@localhost/a", plugins=["xep_0030", "xep_0199"])
    try:
        pong = alice.run(lambda x: x.plugin["xep_0199"].send_ping(jid="localhost", timeout=5))
        assert pong["type"] == "result"
        info = alice.run(lambda x: x.plugin["xep_0030"].get_info(jid="localhost", timeout=5))
        features = info["disco_info"]["features"]
        assert "urn:xmpp:ping" in features and "http://jabber.org/protocol/disco#info" in features
        assert ("server", "im", None, "xmppd") in info["disco_info"]["identities"]
    finally:
        alice.close()


def test_offline_message_delivered_with_delay_at_next_login(modular):
    alice = client(modular, "alice@localhost/a")
    try:
        alice.send_message("bob@localhost", "while you were out")
        time.sleep(0.5)
        assert alice.messages.empty(), "the sender got an error instead of offline storage"
    finally:
        alice.close()
    bob = client(modular, "bob@localhost/b", plugins=["xep_0203"])
    try:
        message = bob.wait_message()
        assert message["body"] == "while you were out"
        assert message["delay"]["stamp"] is not None and message["delay"]["from"] == "localhost"
        assert str(message["from"]) == "alice@localhost/a"
    finally:
        bob.close()


def test_offline_message_survives_kill_of_worker(modular):
    alice = client(modular, "alice@localhost/a")
    worker = modular.listener(modular.port)["workerPID"]
    alice.send_message("bob@localhost", "keep me")
    time.sleep(0.5)
    os.kill(worker, signal.SIGKILL)
    alice.close()
    wait_for(lambda: (r := modular.listener(modular.port))["workerPID"] != worker and r["state"] == "running",
             message="worker restarted")
    bob = client(modular, "bob@localhost/b")
    try:
        assert bob.wait_message()["body"] == "keep me"
    finally:
        bob.close()


def test_offline_cap_is_100_messages(modular):
    alice = client(modular, "alice@localhost/a")
    try:
        for i in range(101):
            alice.send_message("bob@localhost", f"m{i}")
        error = alice.wait_message(timeout=15)
        assert error["type"] == "error" and error["error"]["condition"] == "resource-constraint"
        assert error["body"] == "m100"
    finally:
        alice.close()


def test_reload_enables_and_disables_a_module(tmp_path):
    port = free_port()
    instance = Server(tmp_path, listener(port))
    instance.start()
    instance.register("alice", "secret")
    try:
        alice = Client("alice@localhost/a", "secret", port, plugins=["xep_0199"]).wait_session()
        with pytest.raises(IqError) as refused:
            alice.run(lambda x: x.plugin["xep_0199"].send_ping(jid="localhost", timeout=5))
        assert refused.value.condition == "service-unavailable"
        instance.write_config(listener(port), extra="[modules.mod_ping]\n")
        assert "1 changed" in instance.ctl("reload").stdout
        fresh = Client("alice@localhost/b", "secret", port, plugins=["xep_0199"]).wait_session()
        assert fresh.run(lambda x: x.plugin["xep_0199"].send_ping(jid="localhost", timeout=5))["type"] == "result"
        fresh.close()
        alice.close()
    finally:
        instance.stop()


def test_server_pings_close_dead_sessions(tmp_path):
    port = free_port()
    instance = Server(tmp_path, listener(port), extra="""
[modules.mod_ping]
  send_pings = true
  ping_interval = 1
  ping_req_timeout = 3
  timeout_action = "kill"
""")
    instance.start()
    instance.register("alice", "secret")
    instance.register("bob", "secret")
    try:
        # slixmpp answers pings (xep_0199 registered): it stays.
        alive = Client("alice@localhost/a", "secret", port, plugins=["xep_0199"]).wait_session()
        # A raw client that never answers is closed.
        import base64
        raw = RawStream(port)
        raw.open()
        raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                 + base64.b64encode(b"\0bob\0secret").decode() + "</auth>")
        raw.read_until(b"<success")
        raw.received = b""
        raw.open()
        raw.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        raw.read_until(b"</iq>")
        assert raw.stream_error(timeout=15) == "connection-timeout"
        assert not alive.disconnected.is_set()
        alive.close()
    finally:
        instance.stop()


@pytest.mark.parametrize("modules,expected", [
    ("[modules.mod_pong]\n", ":{line}: modules.mod_pong: unknown module (known modules: mod_blocking, mod_bosh, mod_carboncopy, mod_disco, mod_mam, mod_muc_light, mod_offline, mod_ping, mod_private, mod_roster, mod_stream_management)"),
    ("[modules.mod_stream_management]\n  buffer_max = \"lots\"\n",
     ":{line2}: modules.mod_stream_management.buffer_max: found string \"lots\", expected a positive integer or \"infinity\""),
    ("[modules.mod_stream_management]\n  stale_h.enabled = 1\n",
     ":{line2}: modules.mod_stream_management.stale_h.enabled: found integer 1, expected a boolean (true or false)"),
    ("[modules.mod_ping]\n  send_pings = \"yes\"\n",
     ":{line2}: modules.mod_ping.send_pings: found string \"yes\", expected a boolean (true or false)"),
    ("[modules.mod_ping]\n  ping_intervall = 5\n", ":{line2}: modules.mod_ping.ping_intervall: unknown key"),
])
def test_bad_module_config(tmp_path, modules, expected):
    instance = Server(tmp_path, listener(free_port()), extra=modules)
    text = instance.config.read_text()
    line = text.splitlines().index(modules.splitlines()[0]) + 1
    result = subprocess.run([XMPPD, "check-config", "-c", str(instance.config)], capture_output=True, text=True)
    assert result.returncode == 1
    assert expected.format(line=line, line2=line + 1) in result.stderr, result.stderr
