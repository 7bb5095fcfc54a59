"""[[listen.service]]: XEP-0114 external components (slixmpp's ComponentXMPP) serving
c2s users on other workers, with every option of the spec's service listener."""
import hashlib
import json
import os
import signal
import queue
import re
import socket
import time

import pytest

from component_client import SECRET, Component
from raw_session import RawSession
from xmpp_client import Client
from xmppd_harness import Server, free_port, pid_alive, wait_for


class RawComponent:
    """A raw TCP component stream, for what libraries never send."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.received = b""

    def send(self, data):
        self.sock.sendall(data.encode())

    def open(self, to="echo.localhost", xmlns="jabber:component:accept", extra=""):
        to_attr = f" to='{to}'" if to is not None else ""
        self.send(f"<?xml version='1.0'?><stream:stream xmlns='{xmlns}' "
                  f"xmlns:stream='http://etherx.jabber.org/streams'{to_attr}{extra}>")

    def stream_id(self):
        deadline = time.time() + 10
        while not re.search(rb"<stream:stream[^>]*>", self.received):
            assert time.time() < deadline, f"no stream header: {self.received!r}"
            chunk = self.sock.recv(65536)
            assert chunk, f"closed before the stream header: {self.received!r}"
            self.received += chunk
        return re.search(rb"id='([^']+)'", self.received).group(1).decode()

    def handshake(self, secret):
        digest = hashlib.sha1((self.stream_id() + secret).encode()).hexdigest()
        self.send(f"<handshake>{digest}</handshake>")

    def read_to_close(self, timeout=10):
        self.sock.settimeout(timeout)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            self.received += chunk
        return self.received.decode(errors="replace")

    def stream_error(self):
        text = self.read_to_close()
        match = re.search(r"<stream:error><([a-z-]+) xmlns='urn:ietf:params:xml:ns:xmpp-streams'", text)
        return match.group(1) if match else None

    def close(self):
        self.sock.close()


def service(port, extra=""):
    return f"""
[[listen.service]]
  port = {port}
  ip_address = "127.0.0.1"
  password = "{SECRET}"
{extra}
"""


def c2s(port, extra=""):
    return f"""
[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
{extra}
"""


def start(tmp_path, listeners, hosts=("localhost",), users=("alice",), drain_timeout=30_000):
    server = Server(tmp_path, listeners, hosts=hosts, drain_timeout=drain_timeout)
    server.start()
    for user in users:
        server.register(user, "secret", hosts[0])
    return server


@pytest.fixture
def deployment(tmp_path):
    """A c2s listener and two service listeners: three worker processes."""
    ports = {"c2s": free_port(), "svc": free_port(), "svc2": free_port()}
    server = start(tmp_path, c2s(ports["c2s"]) + service(ports["svc"]) + service(ports["svc2"]))
    server.ports = ports
    yield server
    server.stop()


def component_error(stanza):
    """The stanza error condition of a stanza a component received. slixmpp looks
    for <error/> in jabber:client (unless fix_error_ns, which is process-wide and
    would break the c2s clients of the same test); on a component stream it is in
    jabber:component:accept."""
    error = stanza.xml.find("{jabber:component:accept}error")
    assert error is not None, f"no error in {stanza}"
    return next(c.tag.split("}")[1] for c in error if c.tag.startswith("{urn:ietf:params:xml:ns:xmpp-stanzas}"))


def login(port, jid):
    return Client(jid, "secret", port).wait_session()


def echo_check(user, to, body):
    user.send_message(to, body)
    reply = user.wait_message()
    assert reply["type"] != "error", f"error instead of echo: {reply}"
    assert reply["body"] == f"echo: {body}"
    return reply


def test_echo_round_trip_across_workers(deployment):
    component = Component("echo.localhost", deployment.ports["svc"]).wait_connected()
    alice = login(deployment.ports["c2s"], "alice@localhost/a")
    try:
        svc, c2s_listener = deployment.listener(deployment.ports["svc"]), deployment.listener(deployment.ports["c2s"])
        assert svc["workerPID"] != c2s_listener["workerPID"]
        reply = echo_check(alice, "echo.localhost", "hello")
        assert str(reply["from"]) == "echo.localhost"
        received = component.messages.get(timeout=1)
        assert str(received["from"]) == "alice@localhost/a" and str(received["to"]) == "echo.localhost"
        # A JID at the component's domain reaches it too, and its replies come from it.
        reply = echo_check(alice, "bot@echo.localhost/x", "to a user of the component")
        assert str(reply["from"]) == "bot@echo.localhost/x"
        # The component reaches the user on its own initiative.
        component.send_message("alice@localhost/a", "unprompted", mfrom="news@echo.localhost")
        message = alice.wait_message()
        assert message["body"] == "unprompted" and str(message["from"]) == "news@echo.localhost"
        # A bounce from the router goes back to the component.
        component.send_message("nobody@localhost", "anyone?", mfrom="echo.localhost")
        bounce = component.wait_message()
        while bounce["type"] != "error":
            bounce = component.wait_message()
        assert component_error(bounce) == "service-unavailable"
        counters = wait_for(lambda: (lambda c: c if c["authSuccesses"] >= 1 and c["stanzasIn"] >= 4 else None)(
            deployment.listener(deployment.ports["svc"])["counters"]), message="component counters")
        assert counters["connectionsCurrent"] == 1
    finally:
        alice.close()
        component.close()


def test_component_reachable_from_every_worker_once_its_handshake_is_answered(deployment):
    """The <handshake/> waits until every worker knows the component: a user on the
    c2s worker reaches it the moment it has been answered (raw sockets on both
    sides, so nothing but the server stands between the two)."""
    alice = RawSession(deployment.ports["c2s"])
    alice.login("alice")
    try:
        for round in range(20):
            domain = f"fresh{round}.localhost"
            raw = RawComponent(deployment.ports["svc"])
            raw.open(to=domain)
            raw.handshake(SECRET)
            read_until(raw, b"<handshake/>")
            alice.send(f"<message to='{domain}' type='chat'><body>round {round}</body></message>")
            assert f"round {round}".encode() in read_until(raw, b"</message>"), alice.read_all()
            raw.close()
    finally:
        alice.close()


def read_until(raw, marker):
    raw.sock.settimeout(10)
    while marker not in raw.received:
        chunk = raw.sock.recv(65536)
        assert chunk, f"closed: {raw.received!r}"
        raw.received += chunk
    return raw.received


def test_bad_secret_is_not_authorized(deployment):
    raw = RawComponent(deployment.ports["svc"])
    raw.open()
    raw.handshake("wrong secret")
    assert raw.stream_error() == "not-authorized"
    raw.close()
    component = Component("echo.localhost", deployment.ports["svc"], secret="wrong")
    try:
        assert component.disconnected.wait(10)
        assert "not-authorized" in component.stream_errors and not component.connected.is_set()
    finally:
        component.close()
    wait_for(lambda: deployment.listener(deployment.ports["svc"])["counters"]["authFailures"] >= 2, message="auth failures")


def test_refused_stream_headers(deployment):
    port = deployment.ports["svc"]
    # A served host is not a component's to take (MongooseIM: registration conflict).
    raw = RawComponent(port)
    raw.open(to="localhost")
    raw.handshake(SECRET)
    assert raw.stream_error() == "conflict"
    raw = RawComponent(port)
    raw.open(to=None)
    assert raw.stream_error() == "host-unknown"
    raw = RawComponent(port)
    raw.open(xmlns="jabber:client")
    assert raw.stream_error() == "invalid-namespace"
    # Stanzas before the handshake.
    raw = RawComponent(port)
    raw.open()
    raw.stream_id()
    raw.send("<message to='alice@localhost' from='echo.localhost'><body>x</body></message>")
    assert raw.stream_error() == "not-authorized"


def test_conflict_disconnect_keeps_the_first(deployment):
    alice = login(deployment.ports["c2s"], "alice@localhost/a")
    first = Component("echo.localhost", deployment.ports["svc"]).wait_connected()
    try:
        # Its handshake was answered once every worker knew it: no wait needed.
        for port in (deployment.ports["svc"], deployment.ports["svc2"]):  # same worker, then another
            second = Component("echo.localhost", port)
            assert second.disconnected.wait(10), "the second component was not refused"
            assert "conflict" in second.stream_errors and not second.connected.is_set()
            second.close()
        assert not first.disconnected.is_set()
        echo_check(alice, "echo.localhost", "still the first")
        assert first.messages.get(timeout=1)["body"] == "still the first"
    finally:
        alice.close()
        first.close()


@pytest.mark.parametrize("same_worker", [True, False])
def test_conflict_kick_old_replaces(tmp_path, same_worker):
    ports = {"c2s": free_port(), "svc": free_port(), "kick": free_port()}
    server = start(tmp_path, c2s(ports["c2s"]) + service(ports["svc"], '  conflict_behaviour = "kick_old"')
                   + service(ports["kick"], '  conflict_behaviour = "kick_old"'))
    alice = login(ports["c2s"], "alice@localhost/a")
    old = Component("echo.localhost", ports["svc"]).wait_connected()
    try:
        new = Component("echo.localhost", ports["svc"] if same_worker else ports["kick"]).wait_connected()
        assert old.disconnected.wait(10), "the old component was not kicked"
        assert "conflict" in old.stream_errors
        echo_check(alice, "echo.localhost", "the new one")
        assert new.messages.get(timeout=1)["body"] == "the new one"
        assert old.messages.empty()
        new.close()
    finally:
        alice.close()
        old.close()
        server.stop()


@pytest.mark.parametrize("check_from", [True, False])
def test_check_from(tmp_path, check_from):
    ports = {"c2s": free_port(), "svc": free_port()}
    server = start(tmp_path, c2s(ports["c2s"]) + service(ports["svc"], f"  check_from = {str(check_from).lower()}"))
    alice = login(ports["c2s"], "alice@localhost/a")
    component = Component("echo.localhost", ports["svc"], echo=False).wait_connected()
    try:
        component.send_message("alice@localhost/a", "spoofed", mfrom="bob@localhost/x")
        component.send_message("alice@localhost/a", "genuine", mfrom="echo.localhost")
        if check_from:
            error = component.wait_message()
            assert error["type"] == "error" and component_error(error) == "bad-request"
            assert alice.wait_message()["body"] == "genuine"
            time.sleep(0.3)
            assert alice.messages.empty(), "the spoofed message reached the user"
        else:
            spoofed = alice.wait_message()
            assert spoofed["body"] == "spoofed" and str(spoofed["from"]) == "bob@localhost/x"
            assert alice.wait_message()["body"] == "genuine"
    finally:
        alice.close()
        component.close()
        server.stop()


def test_is_subdomain_serves_every_host(tmp_path):
    ports = {"c2s": free_port(), "svc": free_port()}
    server = start(tmp_path, c2s(ports["c2s"]) + service(ports["svc"]), hosts=("localhost", "example.test"),
                   users=())
    server.register("alice", "secret", "localhost")
    server.register("bob", "secret", "example.test")
    component = Component("echo", ports["svc"], is_subdomain=True).wait_connected()
    alice = login(ports["c2s"], "alice@localhost/a")
    bob = login(ports["c2s"], "bob@example.test/b")
    try:
        assert str(echo_check(alice, "echo.localhost", "from localhost")["from"]) == "echo.localhost"
        assert str(echo_check(bob, "echo.example.test", "from example.test")["from"]) == "echo.example.test"
        # A second component with is_subdomain for the same name conflicts.
        second = Component("echo", ports["svc"], is_subdomain=True)
        assert second.disconnected.wait(10) and "conflict" in second.stream_errors
        second.close()
    finally:
        alice.close()
        bob.close()
        component.close()
        server.stop()


def test_component_not_connected(deployment):
    alice = login(deployment.ports["c2s"], "alice@localhost/a")
    try:
        alice.send_message("ghost.localhost", "anyone?")
        error = alice.wait_message()
        assert error["type"] == "error" and error["error"]["condition"] == "remote-server-not-found"
        # The handshake is answered once every worker knows the component: the c2s
        # worker routes to it at once.
        component = Component("ghost.localhost", deployment.ports["svc"]).wait_connected()
        alice.send_message("ghost.localhost", "now?")
        assert alice.wait_message()["type"] != "error"
        component.close()
        # Gone again: unregistered everywhere (a stanza routed meanwhile to the
        # worker it was on is bounced from there).
        def bounced():
            alice.send_message("ghost.localhost", "and now?")
            try:
                reply = alice.wait_message(timeout=2)
            except AssertionError:
                return False
            return reply["type"] == "error" and reply["error"]["condition"] == "remote-server-not-found"
        wait_for(bounced, timeout=10, message="remote-server-not-found after the component left")
    finally:
        alice.close()


ACCESS_SECTIONS = """
[acl]
  blocked = [{user = "mallory"}]
[access]
  component = [{acl = "blocked", value = "deny"}, {acl = "all", value = "allow"}]
[shaper]
  fast = {max_rate = 50_000}
"""


def test_access_rule_is_matched_against_senders(tmp_path):
    # MongooseIM matches the service listener's `access` rule against the sender of
    # every stanza routed to the component (mongoose_component_connection:handle_route).
    c2s_port, svc_port = free_port(), free_port()
    server = start(tmp_path, ACCESS_SECTIONS + c2s(c2s_port) + service(svc_port, '  access = "component"\n  shaper_rule = "fast"'),
                   users=("alice", "mallory"))
    component = Component("echo.localhost", svc_port).wait_connected()
    alice = login(c2s_port, "alice@localhost/a")
    mallory = login(c2s_port, "mallory@localhost/m")
    try:
        echo_check(alice, "echo.localhost", "allowed")
        mallory.send_message("echo.localhost", "denied?")
        reply = mallory.wait_message()
        assert reply["type"] == "error" and reply["error"]["condition"] == "not-allowed"
    finally:
        for c in (alice, mallory, component):
            c.close()
        server.stop()


def test_proxy_protocol_on_service_listener(tmp_path):
    svc_port = free_port()
    server = start(tmp_path, c2s(free_port()) + service(svc_port, "  proxy_protocol = true"))
    try:
        raw = RawComponent(svc_port)
        raw.sock.sendall(b"PROXY TCP4 192.0.2.10 127.0.0.1 41000 8888\r\n")
        raw.open()
        raw.handshake(SECRET)
        deadline = time.time() + 10
        while b"<handshake/>" not in raw.received:
            assert time.time() < deadline, raw.received
            raw.received += raw.sock.recv(65536)
        raw.close()
        bare = RawComponent(svc_port)
        bare.open()
        assert bare.read_to_close() == ""
    finally:
        server.stop()


def test_component_survives_reload_and_restart(tmp_path):
    ports = {"c2s": free_port(), "c2s2": free_port(), "svc": free_port()}

    def listeners(size):
        return c2s(ports["c2s"]) + c2s(ports["c2s2"], f"  max_stanza_size = {size}") + service(ports["svc"])

    server = start(tmp_path, listeners(70_000), drain_timeout=6_000)
    component = Component("echo.localhost", ports["svc"]).wait_connected()
    alice = login(ports["c2s"], "alice@localhost/a")
    try:
        pid = server.listener(ports["svc"])["workerPID"]
        server.write_config(listeners(80_000))
        assert "1 changed" in server.ctl("reload").stdout
        assert server.listener(ports["svc"])["workerPID"] == pid
        echo_check(alice, "echo.localhost", "after reload")
        carol = login(ports["c2s2"], "alice@localhost/on-new-worker")
        echo_check(carol, "echo.localhost", "from the reloaded worker")
        carol.close()

        server.ctl("restart")
        assert server.listener(ports["svc"])["workerPID"] != pid
        # The old connection lives on in the draining worker, still routed to.
        assert not component.disconnected.is_set()
        echo_check(alice, "echo.localhost", "after restart")
        # At the drain deadline it is told to go; it comes back to the new worker.
        assert component.disconnected.wait(25), "the draining worker did not end the component"
        assert "system-shutdown" in component.stream_errors
        component.close()
        wait_for(lambda: not pid_alive(pid), timeout=10, message="old service worker exit")
        component = Component("echo.localhost", ports["svc"]).wait_connected()
        alice.close()
        alice = login(ports["c2s"], "alice@localhost/a")
        echo_check(alice, "echo.localhost", "reconnected")
    finally:
        alice.close()
        component.close()
        server.stop()


def test_xmppctl_components_lists_workers_and_hidden_flag(tmp_path):
    ports = {"c2s": free_port(), "svc": free_port(), "hidden": free_port()}
    server = start(tmp_path, c2s(ports["c2s"]) + service(ports["svc"])
                   + service(ports["hidden"], "  hidden_components = true"))
    public = Component("public.localhost", ports["svc"]).wait_connected()
    hidden = Component("helper", ports["hidden"], is_subdomain=True).wait_connected()
    try:
        def listing():
            return json.loads(server.ctl("components", "--json").stdout)

        expected = [
            {"domain": "helper", "hidden": True, "workerPID": server.listener(ports["hidden"])["workerPID"]},
            {"domain": "helper.localhost", "hidden": True, "workerPID": server.listener(ports["hidden"])["workerPID"]},
            {"domain": "public.localhost", "hidden": False, "workerPID": server.listener(ports["svc"])["workerPID"]},
        ]
        wait_for(lambda: listing() == expected, message=f"component listing {expected}")
        text = server.ctl("components").stdout
        assert "public.localhost" in text and "helper.localhost" in text
        hidden.close()
        wait_for(lambda: [c["domain"] for c in listing()] == ["public.localhost"], message="hidden one gone")
    finally:
        public.close()
        hidden.close()
        server.stop()


def test_max_stanza_size(tmp_path):
    port = free_port()
    server = start(tmp_path, c2s(free_port()) + service(port, "  max_stanza_size = 1000"), users=())
    try:
        raw = RawComponent(port)
        raw.open()
        raw.handshake(SECRET)
        deadline = time.time() + 10
        while b"<handshake/>" not in raw.received:
            assert time.time() < deadline, raw.received
            raw.received += raw.sock.recv(65536)
        raw.send(f"<message from='echo.localhost' to='alice@localhost'><body>{'x' * 2000}</body></message>")
        assert raw.stream_error() == "policy-violation"
    finally:
        server.stop()


def test_component_worker_crash(deployment):
    component = Component("echo.localhost", deployment.ports["svc"]).wait_connected()
    alice = login(deployment.ports["c2s"], "alice@localhost/a")
    try:
        echo_check(alice, "echo.localhost", "before the crash")
        old = deployment.listener(deployment.ports["svc"])["workerPID"]
        os.kill(old, signal.SIGKILL)
        assert component.disconnected.wait(10)

        def gone():
            # Until the mesh notices the worker died, a stanza to it is lost, as
            # one to a session of that worker would be.
            alice.send_message("echo.localhost", "anyone?")
            try:
                reply = alice.messages.get(timeout=1)
            except queue.Empty:
                return False
            return reply["type"] == "error" and reply["error"]["condition"] == "remote-server-not-found"
        wait_for(gone, message="the crashed worker's component forgotten")
        time.sleep(0.5)
        while not alice.messages.empty():  # late answers to earlier probes
            alice.messages.get_nowait()
        wait_for(lambda: deployment.listener(deployment.ports["svc"])["workerPID"] not in (None, old),
                 message="service worker restarted")
        component.close()
        component = Component("echo.localhost", deployment.ports["svc"]).wait_connected()

        # Its handshake waited for every worker to know it: reachable at once.
        echo_check(alice, "echo.localhost", "after the crash")
    finally:
        alice.close()
        component.close()


@pytest.mark.parametrize("behaviour", ["disconnect", "kick_old"])
def test_simultaneous_registrations_on_two_workers_settle(tmp_path, behaviour):
    """Two workers accept one domain at the same moment: every worker settles the
    race the same way, so exactly one component stays and gets the traffic."""
    ports = {"c2s": free_port(), "a": free_port(), "b": free_port()}
    option = f'  conflict_behaviour = "{behaviour}"'
    server = start(tmp_path, c2s(ports["c2s"]) + service(ports["a"], option) + service(ports["b"], option))
    alice = login(ports["c2s"], "alice@localhost/a")
    try:
        for round in range(3):
            pair = [Component("race.localhost", ports["a"]), Component("race.localhost", ports["b"])]
            wait_for(lambda: sum(not c.connected.is_set() or c.disconnected.is_set() for c in pair) >= 1
                     and all(c.connected.is_set() or c.disconnected.is_set() for c in pair),
                     message="the race settled")
            time.sleep(0.5)
            alive = [c for c in pair if c.connected.is_set() and not c.disconnected.is_set()]
            assert len(alive) == 1, [(c.connected.is_set(), c.disconnected.is_set(), c.stream_errors) for c in pair]
            loser = next(c for c in pair if c is not alive[0])
            assert "conflict" in loser.stream_errors
            echo_check(alice, "race.localhost", f"round {round}")
            assert alive[0].messages.get(timeout=1)["body"] == f"round {round}"
            for c in pair:
                c.close()
            wait_for(lambda: json.loads(server.ctl("components", "--json").stdout) == [], message="all gone")
    finally:
        alice.close()
        server.stop()


def read_what_arrived(raw):
    """Adds what has arrived on a raw component's socket to `received`, without
    waiting; False once the server has closed it."""
    raw.sock.setblocking(False)
    try:
        while True:
            chunk = raw.sock.recv(65536)
            if not chunk:
                return False
            raw.received += chunk
    except BlockingIOError:
        return True
    except ConnectionResetError:
        return False
    finally:
        raw.sock.setblocking(True)


@pytest.mark.parametrize("behaviour", ["disconnect", "kick_old"])
def test_racing_handshakes_on_two_workers(tmp_path, behaviour):
    """Handshakes sent back to back to two workers: both may be accepted before either
    hears of the other; the mesh then settles it so that one stays everywhere."""
    ports = {"c2s": free_port(), "a": free_port(), "b": free_port()}
    option = f'  conflict_behaviour = "{behaviour}"'
    server = start(tmp_path, c2s(ports["c2s"]) + service(ports["a"], option) + service(ports["b"], option))
    alice = login(ports["c2s"], "alice@localhost/a")
    late_conflicts = 0
    try:
        for round in range(10):
            pair = [RawComponent(ports["a"]), RawComponent(ports["b"])]
            for raw in pair:
                raw.open(to="race.localhost")
            digests = [hashlib.sha1((raw.stream_id() + SECRET).encode()).hexdigest() for raw in pair]
            for raw, digest in zip(pair, digests):
                raw.send(f"<handshake>{digest}</handshake>")
            closed = []

            def settled():
                for raw in pair:
                    if raw not in closed and not read_what_arrived(raw):
                        closed.append(raw)
                return len(closed) == 1 and b"<handshake/>" in next(r for r in pair if r not in closed).received
            wait_for(settled, message=f"one of the two closed, the other's handshake answered (round {round})")
            loser = closed[0]
            winner = next(r for r in pair if r is not loser)
            assert b"<conflict " in loser.received
            late_conflicts += b"<handshake/>" in loser.received
            assert b"<handshake/>" in winner.received
            alice.send_message("race.localhost", f"round {round}")
            winner.sock.settimeout(10)
            while f"round {round}".encode() not in winner.received:
                chunk = winner.sock.recv(65536)
                assert chunk, "the winner was closed"
                winner.received += chunk
            for raw in pair:
                raw.close()
            wait_for(lambda: json.loads(server.ctl("components", "--json").stdout) == [], message="all gone")
        print(f"{behaviour}: {late_conflicts} of 10 rounds were settled after both handshakes succeeded")
    finally:
        alice.close()
        server.stop()


def test_hidden_components_left_out_of_disco_items(tmp_path):
    c2s_port, shown_port, hidden_port = free_port(), free_port(), free_port()
    listeners = c2s(c2s_port) + service(shown_port) + service(hidden_port, "  hidden_components = true")
    modules = "\n[modules.mod_disco]\n  users_can_see_hidden_services = false\n"
    server = start(tmp_path, modules + listeners)
    shown = Component("shown.localhost", shown_port).wait_connected()
    hidden = Component("hidden.localhost", hidden_port).wait_connected()
    alice = Client("alice@localhost/a", "secret", c2s_port, plugins=["xep_0030"]).wait_session()
    try:
        def items():
            result = alice.run(lambda x: x.plugin["xep_0030"].get_items(jid="localhost", timeout=5))
            return {item[0] for item in result["disco_items"]["items"]}
        found = wait_for(lambda: (lambda i: i if "shown.localhost" in i else None)(items()), message="component listed")
        assert "hidden.localhost" not in found
        # Hidden is not unreachable: it still serves users.
        echo_check(alice, "hidden.localhost", "still reachable")
    finally:
        for c in (alice, shown, hidden):
            c.close()
        server.stop()


def test_component_that_stops_reading_is_closed_at_max_fsm_queue(tmp_path):
    from raw_session import RawSession, flood
    c2s_port, svc_port = free_port(), free_port()
    server = start(tmp_path, c2s(c2s_port) + service(svc_port, "  max_fsm_queue = 50"))
    try:
        sleeper = socket.socket()
        sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sleeper.settimeout(10)
        sleeper.connect(("127.0.0.1", svc_port))
        sleeper.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                        b"xmlns:stream='http://etherx.jabber.org/streams' to='sleepy.localhost'>")
        data = b""
        while b"id='" not in data:
            data += sleeper.recv(4096)
        stream_id = re.search(rb"id='([^']+)'", data).group(1).decode()
        sleeper.sendall(f"<handshake>{hashlib.sha1((stream_id + SECRET).encode()).hexdigest()}</handshake>".encode())
        while b"<handshake/>" not in data:
            data += sleeper.recv(4096)
        sender = RawSession(c2s_port)
        sender.login("alice")
        sent = flood(sender, server, "sleepy.localhost", until="component is not reading")
        assert "component is not reading" in server.log(), f"sent {sent} stanzas to a component that never reads"
        wait_for(lambda: server.listener(svc_port)["counters"]["connectionsCurrent"] == 0, message="component closed")
        sender.close()
    finally:
        server.stop()
