"""XMPP over WebSocket (RFC 7395) on a [[listen.http]] listener with a mod_websockets
handler, driven by the `websockets` library: the framing (<open/>, one complete element
per message, <close/>), SASL and bind, chat with a slixmpp user on a c2s listener of
another worker, HTTP refusals, the handler options (ping_rate, timeout,
max_stanza_size) and wss with listen.http.tls."""
import contextlib
import hashlib
import re
import ssl
import time
import urllib.error
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.sync.client import connect

from ws_client import CLIENT, FRAMING, WSClient
from xmpp_client import Client
from xmppd_harness import Server, free_port, wait_for


def http_listener(port, handler_options="", listener_options=""):
    return f"""
[[listen.http]]
  port = {port}
  ip_address = "127.0.0.1"
{listener_options}

  [[listen.http.handlers.mod_websockets]]
    host = "_"
    path = "/ws-xmpp"
{handler_options}
"""


def c2s_listener(port):
    return f"""
[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
"""


def start(tmp_path, listeners):
    server = Server(tmp_path, listeners)
    server.start()
    server.register("alice", "secret")
    server.register("bob", "secret")
    return server


def test_login_and_chat_with_a_c2s_user_on_another_worker(tmp_path):
    ws_port, c2s_port = free_port(), free_port()
    server = start(tmp_path, http_listener(ws_port) + c2s_listener(c2s_port))
    try:
        alice = WSClient(f"ws://127.0.0.1:{ws_port}/ws-xmpp")
        alice.login("alice")
        bob = Client("bob@localhost/b", "secret", c2s_port).wait_session()
        try:
            bob.send_message("alice@localhost/ws", "hello over websocket")
            text, message = alice.recv_until(f"{CLIENT}message")
            assert message.find(f"{CLIENT}body").text == "hello over websocket", text
            assert "xmlns='jabber:client'" in text or 'xmlns="jabber:client"' in text, text
            alice.send("<message xmlns='jabber:client' to='bob@localhost/b' type='chat'><body>hi bob</body></message>")
            assert bob.wait_message()["body"] == "hi bob"
            # RFC 7395 §3.6: <close/> is answered with <close/>, then the connection ends.
            alice.send(f"<close xmlns='{FRAMING}'/>")
            text, closed = alice.recv_until(f"{{{FRAMING}}}close")
            with pytest.raises(ConnectionClosed):
                alice.recv(timeout=5)
        finally:
            bob.close()
    finally:
        server.stop()


def test_http_requests_that_are_not_xmpp_websockets_are_refused(tmp_path):
    port = free_port()
    server = start(tmp_path, http_listener(port))
    try:
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing-here", timeout=10)
        assert missing.value.code == 404
        with pytest.raises(urllib.error.HTTPError) as plain:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ws-xmpp", timeout=10)
        assert plain.value.code == 426
        # RFC 7395 §3.1: without the "xmpp" subprotocol there is no upgrade.
        with pytest.raises(InvalidStatus) as refused:
            with connect(f"ws://127.0.0.1:{port}/ws-xmpp", open_timeout=10):
                pass
        assert refused.value.response.status_code == 426
        with pytest.raises(InvalidStatus) as unknown:
            with connect(f"ws://127.0.0.1:{port}/other", subprotocols=["xmpp"], open_timeout=10):
                pass
        assert unknown.value.response.status_code == 404
    finally:
        server.stop()


def test_idle_timeout_closes_and_server_pings_keep_a_responsive_client(tmp_path):
    idle_port, pinged_port = free_port(), free_port()
    server = start(tmp_path, http_listener(idle_port, "    timeout = 600")
                   + http_listener(pinged_port, "    timeout = 600\n    ping_rate = 150"))
    try:
        started = time.time()   # before the handshake: `timeout` runs from the connect
        idle = WSClient(f"ws://127.0.0.1:{idle_port}/ws-xmpp")
        with pytest.raises(ConnectionClosed):
            idle.recv(timeout=10)
        assert 0.5 < time.time() - started < 5
        # The websockets client answers pings: the pongs keep the connection alive
        # past `timeout` (twice it here: c2s_state_timeout, 2 s, ends a stream that
        # has not authenticated by then).
        pinged = WSClient(f"ws://127.0.0.1:{pinged_port}/ws-xmpp", ping_interval=None)
        with pytest.raises(TimeoutError):
            pinged.recv(timeout=1.2)
        pinged.open()
        pinged.close()
    finally:
        server.stop()


def test_max_connections_closes_connections_over_the_limit(tmp_path):
    port = free_port()
    server = start(tmp_path, http_listener(port, listener_options="  transport.max_connections = 2"))
    try:
        first, second = (WSClient(f"ws://127.0.0.1:{port}/ws-xmpp") for _ in range(2))
        first.open()
        with pytest.raises((InvalidMessage, ConnectionClosed)):   # closed before any HTTP answer
            WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
        second.close()

        def third_admitted():   # once the server has seen the close
            try:
                third = WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
            except (InvalidMessage, ConnectionClosed):
                return False
            third.open()
            third.close()
            return True
        wait_for(third_admitted, message="a connection admitted after one closed")
        first.close()
    finally:
        server.stop()


def test_max_stanza_size_ends_the_stream_with_policy_violation(tmp_path):
    port = free_port()
    server = start(tmp_path, http_listener(port, "    max_stanza_size = 1000"))
    try:
        alice = WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
        alice.login("alice")
        alice.send("<message xmlns='jabber:client' to='bob@localhost' type='chat'><body>"
                   + "x" * 2000 + "</body></message>")
        text, error = alice.recv_until("{http://etherx.jabber.org/streams}error")
        assert error.find("{urn:ietf:params:xml:ns:xmpp-streams}policy-violation") is not None, text
        alice.recv_until(f"{{{FRAMING}}}close")
    finally:
        server.stop()


def test_bad_input_ends_the_session_with_a_clear_error(tmp_path):
    port = free_port()
    server = start(tmp_path, http_listener(port))
    try:
        malformed = WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
        malformed.open()
        malformed.send("<message xmlns='jabber:client'><body>unclosed</message>")
        text, error = malformed.recv_until("{http://etherx.jabber.org/streams}error")
        assert error.find("{urn:ietf:params:xml:ns:xmpp-streams}not-well-formed") is not None, text
        malformed.recv_until(f"{{{FRAMING}}}close")
        # RFC 7395 §3.2: XMPP travels in text messages; a binary one is refused (1003).
        binary = WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
        binary.open()
        binary.ws.send(b"<presence/>")
        with pytest.raises(ConnectionClosed) as closed:
            binary.recv(timeout=5)
        assert closed.value.rcvd.code == 1003
    finally:
        server.stop()


def test_wss_with_listen_http_tls(tmp_path, pki):
    port = free_port()
    server = start(tmp_path, http_listener(port, listener_options=f'  tls.certfile = "{pki.server}"'))
    try:
        context = ssl.create_default_context(cafile=str(pki.ca))
        alice = WSClient(f"wss://localhost:{port}/ws-xmpp", ssl=context)
        alice.login("alice")
        alice.send("<iq xmlns='jabber:client' type='get' id='p1' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>")
        text, pong = alice.recv_until(f"{CLIENT}iq")
        assert pong.get("id") == "p1", text
        alice.close()
    finally:
        server.stop()


def test_http_handlers_not_served_yet_are_refused_at_start(tmp_path):
    server = Server(tmp_path, http_listener(free_port()) + """
  [[listen.http.handlers.mongoose_api]]
    host = "_"
    path = "/metrics"
    handlers = ["mongoose_api_metrics"]
""")
    output = server.start_refused()
    assert ("listen.http[1].handlers.mongoose_api[1]: mongoose_api handlers are not served by this version of xmppd yet"
            in output)


def test_client_api_rooms_need_muc_light(tmp_path):
    server = Server(tmp_path, http_listener(free_port()) + """
  [[listen.http.handlers.mongoose_client_api_rooms]]
    host = "_"
    path = "/api/rooms/[:id]"
""")
    assert ("listen.http[1].handlers.mongoose_client_api_rooms[1]: the rooms of the client API need [modules.mod_muc_light]"
            in server.start_refused())


@contextlib.contextmanager
def component_over_websocket(port, secret, to="echo.localhost"):
    """A XEP-0114 component on a WebSocket ("old-type": the stream as it is, one piece
    per message): the socket after the handshake, and the server's answer to it."""
    with connect(f"ws://127.0.0.1:{port}/ws-xmpp", subprotocols=["xmpp"], open_timeout=10) as ws:
        ws.send(f"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                f"xmlns:stream='http://etherx.jabber.org/streams' to='{to}'>")
        stream_id = re.search(r"id='([^']+)'", ws.recv(timeout=10)).group(1)
        ws.send(f"<handshake>{hashlib.sha1((stream_id + secret).encode()).hexdigest()}</handshake>")
        yield ws, ws.recv(timeout=10)


def test_a_component_connects_over_websocket_next_to_clients(tmp_path):
    port = free_port()
    server = Server(tmp_path, http_listener(port, """
    [listen.http.handlers.mod_websockets.service]
      password = "secret"
"""))
    server.start()
    try:
        server.register("alice", "secret")
        with component_over_websocket(port, "secret") as (component, answer):
            assert answer == "<handshake/>", answer
            # The same path still serves clients (RFC 7395).
            alice = WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
            alice.login("alice")
            alice.send("<message xmlns='jabber:client' to='echo.localhost' type='chat'><body>ping</body></message>")
            received = component.recv(timeout=10)
            assert "<body>ping</body>" in received and "from='alice@localhost/ws'" in received, received
            component.send("<message from='echo.localhost' to='alice@localhost/ws' type='chat'><body>pong</body></message>")
            text, message = alice.recv_until(f"{CLIENT}message")
            assert message.find(f"{CLIENT}body").text == "pong" and message.get("from") == "echo.localhost", text
            alice.close()
        with component_over_websocket(port, "wrong") as (_, answer):
            assert "not-authorized" in answer, answer
    finally:
        server.stop()


def test_the_listener_counts_http_connections_once(tmp_path):
    """xmppctl listeners: a WebSocket client is one connection of the http listener,
    its bytes counted once, its stanzas and login as a c2s session's."""
    from xmppd_harness import wait_for
    port = free_port()
    server = Server(tmp_path, http_listener(port))
    server.start()
    try:
        server.register("alice", "secret")
        alice = WSClient(f"ws://127.0.0.1:{port}/ws-xmpp")
        alice.login("alice")

        def counters():
            return server.listener(port)["counters"]
        wait_for(lambda: counters()["authSuccesses"] == 1 and counters()["stanzasIn"] >= 1)
        now = counters()
        assert now["connectionsCurrent"] == 1 and now["connectionsAccepted"] == 1, now
        assert now["bytesIn"] > 500 and now["bytesOut"] > 500, now
        alice.close()
        wait_for(lambda: counters()["connectionsCurrent"] == 0)
        assert counters()["connectionsAccepted"] == 1 and counters()["connectionsClosed"] == 1
        assert "http" in server.ctl("listeners").stdout
    finally:
        server.stop()
