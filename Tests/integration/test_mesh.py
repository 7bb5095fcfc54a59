"""Two c2s listeners are two worker processes: users on either reach each other
through the routing mesh, through reloads, restarts and crashes."""
import os
import signal
import socket
import stat
import time

import pytest

from raw_session import RawSession
from xmpp_client import Client
from xmppd_harness import two_c2s_listeners, start_two_listeners


@pytest.fixture
def pair(tmp_path):
    instance = start_two_listeners(tmp_path)
    yield instance
    instance.stop()


def login(port, jid):
    return Client(jid, "secret", port).wait_session()


def test_users_on_different_workers_chat(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        assert pair.listener(pair.port_a)["workerPID"] != pair.listener(pair.port_b)["workerPID"]
        alice.send_message("bob@localhost", "to bare")
        assert bob.wait_message()["body"] == "to bare"
        bob.send_message("alice@localhost/a", "to full")
        message = alice.wait_message()
        assert message["body"] == "to full" and str(message["from"]) == "bob@localhost/b"
    finally:
        alice.close()
        bob.close()


def test_presence_reaches_own_resource_on_other_worker(pair):
    first = login(pair.port_a, "carol@localhost/one")
    second = login(pair.port_b, "carol@localhost/two")
    try:
        presence = first.presences.get(timeout=10)
        while str(presence["from"]) != "carol@localhost/two":
            presence = first.presences.get(timeout=10)
        second.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            p = first.presences.get(timeout=10)
            if str(p["from"]) == "carol@localhost/two" and p["type"] == "unavailable":
                break
        else:
            raise AssertionError("no unavailable presence from the closed resource")
    finally:
        first.close()


def test_a_user_is_reachable_from_the_other_worker_once_presence_is_echoed(pair):
    """The echo of a client's initial presence waits until every worker has applied
    it: a message sent from the other listener the moment the client has its echo
    finds it (here without mod_offline, where a miss would bounce). Raw sockets, so
    that nothing but the server stands between the echo and the message."""
    alice = RawSession(pair.port_a)
    alice.login("alice")
    try:
        for round in range(30):
            bob = RawSession(pair.port_b)
            bob.login("bob", resource=f"r{round}")   # returns once the echo is in
            try:
                alice.send(f"<message to='bob@localhost' type='chat'><body>round {round}</body></message>")
                assert f"round {round}" in bob.read_until("</message>")
            finally:
                bob.close()
    finally:
        alice.close()


def test_bind_on_another_worker_replaces_session(pair):
    old = login(pair.port_a, "alice@localhost/same")
    new = login(pair.port_b, "alice@localhost/same")
    try:
        assert old.disconnected.wait(10), "the old session on the other worker was not replaced"
        assert "conflict" in old.stream_errors
        bob = login(pair.port_a, "bob@localhost/b")
        bob.send_message("alice@localhost/same", "which one?")
        assert new.wait_message()["body"] == "which one?"
        bob.close()
    finally:
        old.close()
        new.close()


def test_crashed_worker_sessions_disappear(pair):
    doomed = login(pair.port_a, "carol@localhost/doomed")
    other = login(pair.port_b, "carol@localhost/other")
    bob = login(pair.port_b, "bob@localhost/b")
    try:
        os.kill(pair.listener(pair.port_a)["workerPID"], signal.SIGKILL)
        deadline = time.time() + 10
        while True:
            p = other.presences.get(timeout=max(0.1, deadline - time.time()))
            if str(p["from"]) == "carol@localhost/doomed" and p["type"] == "unavailable":
                break
        # Nothing is routed into the dead worker: a message to the gone full JID
        # goes to the remaining resource (RFC 6121 §8.5.3.2.1 treats it as bare).
        bob.send_message("carol@localhost/doomed", "still there?")
        assert other.wait_message()["body"] == "still there?"
    finally:
        for c in (doomed, other, bob):
            c.close()


def test_chat_across_workers_through_reloads_and_restart(pair):
    alice = login(pair.port_a, "alice@localhost/a")
    bob = login(pair.port_b, "bob@localhost/b")
    sent = received = 0
    try:
        def exchange(tag):
            nonlocal sent, received
            for i in range(5):
                alice.send_message("bob@localhost/b", f"{tag}-{i}")
                sent += 1
            for i in range(5):
                assert bob.wait_message()["body"] == f"{tag}-{i}"
                received += 1
            bob.send_message("alice@localhost/a", f"{tag}-back")
            sent += 1
            assert alice.wait_message()["body"] == f"{tag}-back"
            received += 1

        for i in range(10):
            pair.write_config(two_c2s_listeners(pair.port_a, pair.port_b, f"  max_stanza_size = {70_000 + i}"))
            assert "1 changed" in pair.ctl("reload").stdout
            exchange(f"reload{i}")
            # A client that logs in on the new worker reaches the ones on old ones.
            carol = login(pair.port_a, "carol@localhost/new")
            carol.send_message("bob@localhost/b", f"from new worker {i}")
            assert bob.wait_message()["body"] == f"from new worker {i}"
            bob.send_message("carol@localhost/new", "back to new worker")
            assert carol.wait_message()["body"] == "back to new worker"
            carol.close()
        pair.ctl("restart")
        exchange("restart")
        assert sent == received == 66
    finally:
        alice.close()
        bob.close()


def test_mesh_sockets_are_for_the_servers_user_only(pair, tmp_path):
    """A mesh peer routes stanzas with any `from`: the mesh directory and its sockets
    are closed to other users, whatever the umask."""
    mesh = tmp_path / "var" / "mesh"
    assert stat.S_IMODE(mesh.stat().st_mode) == 0o700
    sockets = list(mesh.glob("*.sock"))
    assert len(sockets) == 2 and all(stat.S_IMODE(s.stat().st_mode) == 0o600 for s in sockets), sockets


def fake_peer(pair, tmp_path, port, bound):
    """A mesh connection to the worker of `port`, as a worker that does not announce
    route-bytes='1' or sync='1' (an older build during a rolling upgrade) and holds
    the session `bound`."""
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    worker = pair.listener(port)["workerPID"]
    peer.connect(str(tmp_path / "var" / "mesh" / f"{worker}.sock"))
    peer.settimeout(10)
    peer.sendall(b"<?xml version='1.0'?><stream:stream xmlns='urn:xmppd:mesh' "
                 b"xmlns:stream='http://etherx.jabber.org/streams' pid='999999' version='1.0'>"
                 + f"<bound jid='{bound}' available='1' priority='0' at='1'/>".encode())
    return peer


def read_until(peer, marker):
    received = b""
    while marker not in received:
        chunk = peer.recv(65536)
        assert chunk, f"mesh connection closed; got {received!r}"
        received += chunk
    return received


def test_worker_without_route_bytes_gets_and_sends_xml_routes(pair, tmp_path):
    """A peer that does not announce route-bytes='1' in its mesh header (an older
    build during a rolling upgrade) is sent XML <route> frames, never binary ones,
    and the XML routes it sends are delivered."""
    bob = login(pair.port_b, "bob@localhost/b")
    peer = fake_peer(pair, tmp_path, pair.port_b, "old@localhost/r")
    try:
        # The worker handles a connection's frames in order: once bob has this, it
        # knows the peer's session too.
        peer.sendall(b"<route to='bob@localhost/b'><message xmlns='jabber:client' from='old@localhost/r' "
                     b"to='bob@localhost/b' type='chat'><body>from the old worker</body></message></route>")
        message = bob.wait_message()
        assert message["body"] == "from the old worker" and str(message["from"]) == "old@localhost/r"
        bob.send_message("old@localhost/r", "to the old worker")
        received = read_until(peer, b"to the old worker</body></message></route>")
        assert b"<route to='old@localhost/r'>" in received
        assert b"\x01" not in received
    finally:
        peer.close()
        bob.close()


def test_route_to_a_session_that_has_just_ended_is_not_lost(pair, tmp_path):
    """A peer routes to a full JID whose session ended before the peer heard: the
    worker routes the stanza again as to a resource that is not connected (RFC 6121
    §8.5.3.2). A message goes to the user's other resource; an iq is answered
    service-unavailable, back through the mesh to its sender."""
    bob = login(pair.port_b, "bob@localhost/b")
    peer = fake_peer(pair, tmp_path, pair.port_b, "old@localhost/r")
    try:
        peer.sendall(b"<route to='bob@localhost/gone'><message xmlns='jabber:client' from='old@localhost/r' "
                     b"to='bob@localhost/gone' type='chat'><body>after the session ended</body></message></route>")
        message = bob.wait_message()
        assert message["body"] == "after the session ended" and str(message["from"]) == "old@localhost/r"
        peer.sendall(b"<route to='bob@localhost/gone'><iq xmlns='jabber:client' type='get' id='q1' "
                     b"from='old@localhost/r' to='bob@localhost/gone'><ping xmlns='urn:xmpp:ping'/></iq></route>")
        received = read_until(peer, b"</route>")
        assert b"<route to='old@localhost/r'>" in received and b"type='error'" in received, received
        assert b"<service-unavailable" in received, received
    finally:
        peer.close()
        bob.close()
