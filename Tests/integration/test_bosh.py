"""XMPP over BOSH (XEP-0124, XEP-0206) on a [[listen.http]] listener with a mod_bosh
handler and [modules.mod_bosh]: session creation, SASL, restart, bind, long polling
that returns as soon as a message for the client arrives (from a slixmpp user on a c2s
listener of another worker), `wait` running out, terminate, request-id rules, unknown
sessions, bad bodies, inactivity, and CORS."""
import http.client
import threading
import time
import xml.etree.ElementTree as ET

from bosh_client import BIND, CLIENT, BOSHClient
from xmpp_client import Client
from xmppd_harness import Server, free_port


def listeners(http_port, c2s_port, http_extra=""):
    return f"""
[[listen.http]]
  port = {http_port}
  ip_address = "127.0.0.1"
{http_extra}

  [[listen.http.handlers.mod_bosh]]
    host = "_"
    path = "/http-bind"

[[listen.c2s]]
  port = {c2s_port}
  ip_address = "127.0.0.1"
"""


def start(tmp_path, module_options="", drain_timeout=30_000):
    http_port, c2s_port = free_port(), free_port()
    server = Server(tmp_path, listeners(http_port, c2s_port), extra=f"[modules.mod_bosh]\n{module_options}\n",
                    drain_timeout=drain_timeout)
    server.http_port, server.c2s_port = http_port, c2s_port
    server.start()
    server.register("alice", "secret")
    server.register("bob", "secret")
    return server


def test_bosh_session_chats_with_a_c2s_user_through_long_polling(tmp_path):
    server = start(tmp_path)
    try:
        alice = BOSHClient(server.http_port)
        alice.login("alice")
        bob = Client("bob@localhost/b", "secret", server.c2s_port).wait_session()
        try:
            # A poll is held until bob's message arrives, then answered at once.
            result = {}
            poll = threading.Thread(target=lambda: result.update(body=alice.request(), at=time.time()))
            poll.start()
            time.sleep(0.5)
            sent = time.time()
            bob.send_message("alice@localhost/web", "hello over bosh")
            poll.join(15)
            body = result["body"]
            assert body.find(f"{CLIENT}message/{CLIENT}body").text == "hello over bosh", ET.tostring(body)
            assert result["at"] - sent < 3
            alice.request("<message xmlns='jabber:client' to='bob@localhost/b' type='chat'><body>hi bob</body></message>")
            assert bob.wait_message()["body"] == "hi bob"
            ended = alice.request(type="terminate")
            assert ended.get("type") == "terminate"
            # The session is gone.
            assert alice.request().get("condition") == "item-not-found"
        finally:
            bob.close()
    finally:
        server.stop()


def test_a_session_survives_reloads_and_a_rolling_restart(tmp_path):
    """Each request comes on a new HTTP connection, which after a handover reaches the
    listener's new worker: that one relays it to the draining worker holding the session."""
    server = start(tmp_path)
    try:
        alice = BOSHClient(server.http_port)
        alice.login("alice", wait=2)   # a request with nothing to answer is held this long
        first_worker = server.listener(server.http_port)["workerPID"]
        assert alice.sid.endswith(f"-{first_worker}")
        bob = Client("bob@localhost/b", "secret", server.c2s_port).wait_session()
        try:
            for i in range(3):
                if i < 2:
                    # A changed listener option: a new worker takes over the socket.
                    server.write_config(listeners(server.http_port, server.c2s_port, f"  transport.max_connections = {1000 + i}"))
                    assert "1 changed" in server.ctl("reload").stdout
                else:
                    assert "restarted" in server.ctl("restart").stdout
                assert server.listener(server.http_port)["workerPID"] != first_worker
                bob.send_message("alice@localhost/web", f"after handover {i}")
                body = alice.request()
                message = body.find(f"{CLIENT}message/{CLIENT}body")
                assert message is not None and message.text == f"after handover {i}", ET.tostring(body)
                alice.request(f"<message xmlns='jabber:client' to='bob@localhost/b' type='chat'><body>back {i}</body></message>")
                assert bob.wait_message()["body"] == f"back {i}"
            # A new session lives in the new worker; the old one still ends cleanly.
            carol = BOSHClient(server.http_port)
            carol.create(wait=1)
            assert carol.sid.endswith(f"-{server.listener(server.http_port)['workerPID']}")
            assert alice.request(type="terminate").get("type") == "terminate"
            assert alice.request().get("condition") == "item-not-found"
        finally:
            bob.close()
    finally:
        server.stop()


def test_a_relayed_session_ends_with_the_drain_timeout(tmp_path):
    server = start(tmp_path, drain_timeout=1500)
    try:
        alice = BOSHClient(server.http_port)
        alice.login("alice", wait=5)
        server.write_config(listeners(server.http_port, server.c2s_port, "  transport.max_connections = 999"))
        assert "1 changed" in server.ctl("reload").stdout
        # Relayed to the draining worker and held there until its drain timeout ends
        # the session: the client hears of it at once, with the reason.
        started = time.time()
        body = alice.request()
        assert body.get("type") == "terminate", ET.tostring(body)
        assert body.find("{http://etherx.jabber.org/streams}error/{urn:ietf:params:xml:ns:xmpp-streams}system-shutdown") \
            is not None, ET.tostring(body)
        assert time.time() - started < 4
        # That worker has gone: its session with it.
        assert alice.request().get("condition") == "item-not-found"
    finally:
        server.stop()


def test_a_relayed_request_ends_at_once_when_the_holding_worker_dies(tmp_path):
    """kill -9 of the draining worker that holds the session: the new worker, whose
    request to it is pending, answers the client with item-not-found at once."""
    import os
    import signal
    server = start(tmp_path)
    try:
        alice = BOSHClient(server.http_port)
        alice.login("alice", wait=10)
        holder = server.listener(server.http_port)["workerPID"]
        server.write_config(listeners(server.http_port, server.c2s_port, "  transport.max_connections = 999"))
        assert "1 changed" in server.ctl("reload").stdout
        result = {}
        poll = threading.Thread(target=lambda: result.update(body=alice.request(), at=time.time()))
        poll.start()
        time.sleep(0.5)   # relayed and held by the old worker (wait = 10 s)
        killed = time.time()
        os.kill(holder, signal.SIGKILL)
        poll.join(10)
        assert result["body"].get("type") == "terminate" and result["body"].get("condition") == "item-not-found"
        assert result["at"] - killed < 3
    finally:
        server.stop()


def test_a_sid_naming_a_worker_without_bosh_gets_item_not_found(tmp_path):
    """The pid in a sid is the client's to write: a request naming the c2s worker is
    relayed there and answered at once."""
    server = start(tmp_path)
    try:
        alice = BOSHClient(server.http_port)
        alice.sid = "0" * 32 + f"-{server.listener(server.c2s_port)['workerPID']}"
        started = time.time()
        assert alice.request().get("condition") == "item-not-found"
        assert time.time() - started < 2
    finally:
        server.stop()


def test_wait_runs_out_with_an_empty_body_and_retransmission_gets_the_same_answer(tmp_path):
    server = start(tmp_path)
    try:
        alice = BOSHClient(server.http_port)
        alice.create(wait=1)
        started = time.time()
        empty = alice.request()
        assert 0.8 < time.time() - started < 5 and len(empty) == 0 and empty.get("type") is None
        # The same rid again: the same (empty) answer, not a new request.
        again = alice.request(rid=alice.rid)
        assert len(again) == 0 and again.get("type") is None
        # A rid far ahead of the window ends the session.
        assert alice.request(rid=alice.rid + 10).get("condition") == "item-not-found"
    finally:
        server.stop()


def test_a_held_request_sent_again_is_answered_on_the_new_connection(tmp_path):
    server = start(tmp_path)
    try:
        alice = BOSHClient(server.http_port)
        # wait=1: the whole test stays inside c2s_state_timeout (2 s in the harness),
        # after which the unauthenticated stream would end with an error.
        alice.create(wait=1)
        first = {}
        held = threading.Thread(target=lambda: first.update(body=alice.request(), at=time.time()))
        held.start()
        time.sleep(0.3)
        # The client thinks the first connection broke and sends the same rid again.
        started = time.time()
        again = alice.request(rid=alice.rid)
        held.join(10)
        assert first["at"] - started < 1, "the old connection was answered at once"
        assert len(first["body"]) == 0 and len(again) == 0 and again.get("type") is None
        assert 0.5 < time.time() - started < 1.6, "the new one was held for `wait`"
    finally:
        server.stop()


def test_bad_requests_and_unknown_sessions(tmp_path):
    server = start(tmp_path)
    try:
        client = BOSHClient(server.http_port)
        status, body, raw = client.post("<body xmlns='http://jabber.org/protocol/httpbind' rid='1'")
        assert status == 400 and body.get("condition") == "bad-request", raw
        status, body, raw = client.post(f"<body xmlns='{BIND}' rid='5' sid='no-such-session'/>")
        assert status == 200 and body.get("type") == "terminate" and body.get("condition") == "item-not-found", raw
        status, body, raw = client.post(f"<body xmlns='{BIND}' rid='5' to='elsewhere.example' wait='5' hold='1'/>")
        assert body.get("condition") == "host-unknown", raw
        # CORS preflight for browser clients.
        connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        connection.request("OPTIONS", "/http-bind")
        response = connection.getresponse()
        response.read()
        assert response.status == 200 and response.getheader("Access-Control-Allow-Origin") == "*"
        connection.close()
    finally:
        server.stop()


def test_inactivity_ends_the_session(tmp_path):
    server = start(tmp_path, "  inactivity = 1")
    try:
        alice = BOSHClient(server.http_port)
        created = alice.create(wait=1)
        assert created.get("inactivity") == "1"
        time.sleep(2.5)
        assert alice.request().get("condition") == "item-not-found"
    finally:
        server.stop()


def test_sessions_are_bounded_by_max_connections(tmp_path):
    http_port, c2s_port = free_port(), free_port()
    text = listeners(http_port, c2s_port).replace('  ip_address = "127.0.0.1"\n', '  ip_address = "127.0.0.1"\n  transport.max_connections = 2\n', 1)
    server = Server(tmp_path, text, extra="[modules.mod_bosh]\n")
    server.start()
    try:
        first, second, third = (BOSHClient(http_port) for _ in range(3))
        assert first.create(wait=1).get("sid") and second.create(wait=1).get("sid")
        refused = third.create(wait=1)
        assert refused.get("type") == "terminate" and refused.get("condition") == "policy-violation"
        first.request(type="terminate")
        assert BOSHClient(http_port).create(wait=1).get("sid")
    finally:
        server.stop()


def test_bosh_handler_needs_the_module(tmp_path):
    server = Server(tmp_path, listeners(free_port(), free_port()))
    assert "listen.http[1].handlers.mod_bosh[1]: BOSH needs [modules.mod_bosh]" in server.start_refused()
