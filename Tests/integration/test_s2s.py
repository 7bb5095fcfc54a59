"""[[listen.s2s]] and [s2s]: federation between two xmppd servers (each its own
supervisor, workers and state), authenticated by Server Dialback (XEP-0220), with
slixmpp clients on both sides; raw peers for what a real server never sends."""
import hashlib
import hmac
import re
import time

import pytest
import slixmpp

from raw_stream import RawStream
from xmpp_client import Client
from xmppd_harness import Server, free_port, wait_for

S2S_HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
              "xmlns:db='jabber:server:dialback' from='{frm}' to='{to}' version='1.0'>")


def federated_server(tmp_path, name, s2s_port, peers, extra_s2s=""):
    """A server for `name` with a c2s and an s2s listener; `peers` maps the other
    servers' domains to their s2s ports (s2s.address, as DNS is not used here)."""
    c2s_port = free_port()
    addresses = ", ".join(f'{{host = "{host}", ip_address = "127.0.0.1", port = {port}}}' for host, port in peers.items())
    server = Server(tmp_path / name, f"""
[[listen.c2s]]
  port = {c2s_port}
  ip_address = "127.0.0.1"

[[listen.s2s]]
  port = {s2s_port}
  ip_address = "127.0.0.1"
""", hosts=(name,), extra=f"""
[s2s]
  address = [{addresses}]
  max_retry_delay = 2
{extra_s2s}

[modules.mod_disco]
""")
    server.c2s_port, server.s2s_port = c2s_port, s2s_port
    return server


@pytest.fixture
def federation(tmp_path):
    a_s2s, b_s2s = free_port(), free_port()
    a = federated_server(tmp_path, "a.test", a_s2s, {"b.test": b_s2s})
    b = federated_server(tmp_path, "b.test", b_s2s, {"a.test": a_s2s})
    a.start()
    b.start()
    a.register("alice", "secret", "a.test")
    b.register("bob", "secret", "b.test")
    yield a, b
    a.stop()
    b.stop()


def test_users_of_two_servers_chat(federation):
    a, b = federation
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
    try:
        alice.send_message("bob@b.test/r", "hello from a")
        message = bob.wait_message()
        assert message["body"] == "hello from a"
        assert str(message["from"]) == "alice@a.test/r"
        bob.send_message("alice@a.test/r", "hello from b")
        reply = alice.wait_message()
        assert reply["body"] == "hello from b"
        assert str(reply["from"]) == "bob@b.test/r"
        # Many in a row keep their order (one stream per pair of domains).
        for n in range(50):
            alice.send_message("bob@b.test", f"m{n}")
        assert [bob.wait_message()["body"] for _ in range(50)] == [f"m{n}" for n in range(50)]
        # Each server's listener counts the dialback it accepted and the stanzas
        # (workers report their counters every second).
        counters = lambda: b.listener(b.s2s_port)["counters"]
        wait_for(lambda: counters()["authSuccesses"] >= 1 and counters()["stanzasIn"] >= 51, message="s2s counters")
    finally:
        alice.close()
        bob.close()


def test_remote_server_answers_disco_and_errors_come_back(federation):
    a, b = federation
    alice = Client("alice@a.test/r", "secret", a.c2s_port, plugins=("xep_0030",)).wait_session()
    try:
        info = alice.run(lambda x: x.plugin["xep_0030"].get_info(jid="b.test", timeout=10))
        assert info["disco_info"]["identities"], info
        # A user the remote server does not have: its error comes back over s2s.
        with pytest.raises(slixmpp.exceptions.IqError) as error:
            alice.run(lambda x: x.plugin["xep_0030"].get_info(jid="nobody@b.test/x", timeout=10))
        assert error.value.iq["error"]["condition"] == "service-unavailable"
    finally:
        alice.close()


def test_unreachable_and_denied_domains_bounce(tmp_path):
    closed_port = free_port()
    a = federated_server(tmp_path, "a.test", free_port(), {"down.test": closed_port},
                         extra_s2s='  host_policy = [{host = "denied.test", policy = "deny"}]')
    a.start()
    a.register("alice", "secret", "a.test")
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    try:
        for domain in ("down.test", "denied.test"):
            alice.send_message(f"someone@{domain}", "anyone there?")
            error = alice.wait_message()
            assert error["type"] == "error" and str(error["from"]) == f"someone@{domain}"
            assert error["error"]["condition"] == "remote-server-not-found"
        # Within the retry delay the next one bounces at once, without a connection attempt.
        started = time.time()
        alice.send_message("someone@down.test", "again")
        assert alice.wait_message()["error"]["condition"] == "remote-server-not-found"
        assert time.time() - started < 1
    finally:
        alice.close()
        a.stop()


def test_a_forged_dialback_key_is_refused(federation):
    """A peer claiming to be a.test with a key a.test never made: b.test asks a.test
    (the authoritative server), which says invalid; stanzas from it are refused."""
    a, b = federation
    peer = RawStream(b.s2s_port)
    peer.send(S2S_HEADER.format(frm="a.test", to="b.test"))
    features = peer.read_until(b"</stream:features>")
    assert "urn:xmpp:features:dialback" in features
    stream_id = re.search(r"id='([^']+)'", features).group(1)
    assert stream_id
    peer.send("<db:result from='a.test' to='b.test'>0123456789abcdef</db:result>")
    answer = peer.read_until(b"'/>", timeout=10)
    assert re.search(r"<db:result from='b.test' to='a.test' type='invalid'/>", answer), answer
    peer.send("<message from='mallory@a.test' to='bob@b.test'><body>forged</body></message>")
    assert "invalid-from" in peer.read_to_close()
    wait_for(lambda: b.listener(b.s2s_port)["counters"]["authFailures"] >= 1, message="failed dialback counted")


def test_stream_checks_of_the_s2s_listener(federation):
    _, b = federation
    # A domain this server does not serve.
    peer = RawStream(b.s2s_port)
    peer.send(S2S_HEADER.format(frm="a.test", to="elsewhere.test"))
    assert "host-unknown" in peer.read_to_close()
    # The c2s namespace on an s2s listener.
    peer = RawStream(b.s2s_port)
    peer.send(S2S_HEADER.format(frm="a.test", to="b.test").replace("jabber:server'", "jabber:client'", 1))
    assert "invalid-namespace" in peer.read_to_close()
    # A stanza before any dialback.
    peer = RawStream(b.s2s_port)
    peer.send(S2S_HEADER.format(frm="a.test", to="b.test"))
    peer.read_until(b"</stream:features>")
    peer.send("<message from='x@a.test' to='bob@b.test'><body>hi</body></message>")
    assert "invalid-from" in peer.read_to_close()
    # Malformed XML ends the stream with an error, and the listener keeps serving.
    peer = RawStream(b.s2s_port)
    peer.send(S2S_HEADER.format(frm="a.test", to="b.test"))
    peer.read_until(b"</stream:features>")
    peer.send("<message><unclosed></message>")
    assert "not-well-formed" in peer.read_to_close()
    peer = RawStream(b.s2s_port)
    peer.send(S2S_HEADER.format(frm="a.test", to="b.test"))
    assert "dialback" in peer.read_until(b"</stream:features>")


def test_authoritative_server_answers_verify_for_its_own_keys(tmp_path):
    """As the authoritative server, a.test says valid only for a key made with its
    secret for that pair of domains and stream id (XEP-0185), whichever worker asks."""
    secret = "federation-secret"
    a = federated_server(tmp_path, "a.test", free_port(), {}, extra_s2s=f'  shared = "{secret}"')
    a.start()
    try:
        def verify(key, stream_id="some-stream", frm="b.test", to="a.test"):
            peer = RawStream(a.s2s_port)
            peer.send(S2S_HEADER.format(frm=frm, to=to))
            peer.read_until(b"</stream:features>")
            peer.send(f"<db:verify from='{frm}' to='{to}' id='{stream_id}'>{key}</db:verify>")
            answer = re.search(r"<db:verify [^>]*type='(\w+)'/>", peer.read_until(b"'/>")).group(1)
            peer.sock.close()
            return answer
        hmac_key = hashlib.sha256(secret.encode()).hexdigest().encode()
        key = hmac.new(hmac_key, b"b.test a.test some-stream", hashlib.sha256).hexdigest()
        assert verify(key) == "valid"
        assert verify(key.upper()) == "valid"
        assert verify(key, stream_id="another-stream") == "invalid"
        assert verify(key, frm="c.test") == "invalid"
        assert verify("not-a-key") == "invalid"
    finally:
        a.stop()
