"""[[listen.s2s]] and [s2s]: federation between two xmppd servers (each its own
supervisor, workers and state), authenticated by Server Dialback (XEP-0220), with
slixmpp clients on both sides; raw peers for what a real server never sends."""
import contextlib
import hashlib
import hmac
import json
import ssl
import re
import socket
import threading
import time

import pytest
import slixmpp

from component_client import SECRET, Component
from ejabberd_peer import EJABBERDCTL, EjabberdPeer
from muc_light_client import ML, announcement, iq
from prosody_peer import PROSODY, ProsodyPeer, start_dns
from raw_session import RawSession, flood
from raw_stream import RawStream
from xmpp_client import Client, next_matching
from xmppd_harness import Server, free_port, wait_for

S2S_HEADER = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
              "xmlns:db='jabber:server:dialback' from='{frm}' to='{to}' version='1.0'>")


def federated_server(tmp_path, name, s2s_port, peers, extra_s2s="", listener_options="", generate_certificates=False,
                     dns_port=None, **server_options):
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
{listener_options}
""", hosts=(name,), **server_options, extra=f"""
  generate_certificates = {"true" if generate_certificates else "false"}
  {f'dns_servers = ["127.0.0.1:{dns_port}"]' if dns_port else ""}
[s2s]
  address = [{addresses}]
  max_retry_delay = 2
{extra_s2s}

[modules.mod_disco]
[modules.mod_roster]
""")
    server.c2s_port, server.s2s_port = c2s_port, s2s_port
    return server


def start_pair(tmp_path, extra_a="", extra_b="", a_services=(), **options):
    """a.test (alice) and b.test (bob), each finding the other; `a_services` are
    domains of a.test's services that b.test finds there too, as it would by DNS."""
    a_s2s, b_s2s = free_port(), free_port()
    a = federated_server(tmp_path, "a.test", a_s2s, {"b.test": b_s2s}, extra_s2s=extra_a, **options)
    b = federated_server(tmp_path, "b.test", b_s2s, {"a.test": a_s2s, **{d: a_s2s for d in a_services}},
                         extra_s2s=extra_b, **options)
    a.start()
    b.start()
    a.register("alice", "secret", "a.test")
    b.register("bob", "secret", "b.test")
    return a, b


def chat_both_ways(a, b):
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
    try:
        alice.send_message("bob@b.test/r", "over TLS?")
        assert bob.wait_message()["body"] == "over TLS?"
        bob.send_message("alice@a.test/r", "over TLS!")
        assert alice.wait_message()["body"] == "over TLS!"
    finally:
        alice.close()
        bob.close()


def roster_of(client):
    """The client's roster as {bare jid: subscription}, fetched from the server."""
    async def fetch(xmpp):
        result = await xmpp.get_roster()
        return {str(jid): item["subscription"] for jid, item in result["roster"]["items"].items()}
    return client.run(fetch)


def available_from(client, jid):
    return client.wait_presence(lambda p: str(p["from"]).startswith(jid) and p["type"] in ("available", ""),
                                what=f"available presence of {jid}", timeout=15)


def subscribe_mutually(alice, bob, bob_jid):
    """alice asks bob; bob's slixmpp approves and asks back (auto_authorize,
    auto_subscribe), which alice's approves: both ways subscribed."""
    alice.loop.call_soon_threadsafe(lambda: alice.xmpp.send_presence_subscription(pto=bob_jid))
    wait_for(lambda: roster_of(alice).get(bob_jid) == "both", timeout=20, interval=0.3,
             message=f"{bob_jid} subscribed both ways")


@contextlib.contextmanager
def running_with_reference_peer(server, peer):
    """Runs the body with xmppd `server` and a reference server `peer` (Prosody,
    ejabberd); prints the ends of both logs if it fails, and stops both."""
    try:
        yield
    except BaseException:
        print(peer.log_text()[-6000:])
        print(server.log()[-3000:])
        raise
    finally:
        server.stop()
        peer.stop()


def chat_and_subscribe_with_peer(server, peer, peer_user):
    """alice@xmppd.example and `peer_user` of the reference server `peer`: messages
    both ways, then subscriptions both ways through both servers' rosters, and each
    sees the other available."""
    server.register("alice", "secret", "xmppd.example")
    peer.register(peer_user, "secret")
    theirs = f"{peer_user}@{peer.domain}"
    alice = Client("alice@xmppd.example/r", "secret", server.c2s_port).wait_session()
    other = Client(f"{theirs}/r", "secret", peer.c2s_port).wait_session()
    try:
        alice.send_message(f"{theirs}/r", "hello from xmppd")
        message = other.wait_message(timeout=20)
        assert message["body"] == "hello from xmppd" and str(message["from"]) == "alice@xmppd.example/r"
        other.send_message("alice@xmppd.example/r", "hello xmppd")
        reply = alice.wait_message(timeout=20)
        assert reply["body"] == "hello xmppd" and str(reply["from"]) == f"{theirs}/r"
        subscribe_mutually(alice, other, theirs)
        assert roster_of(other).get("alice@xmppd.example") == "both"
        available_from(alice, f"{theirs}/r")
        available_from(other, "alice@xmppd.example/r")
    finally:
        alice.close()
        other.close()


@pytest.fixture
def federation(tmp_path):
    a, b = start_pair(tmp_path)
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
        # xmppctl s2s: a.test's c2s worker holds the stream out, its s2s worker the one in.
        streams = json.loads(a.ctl("s2s", "--json").stdout)
        by_direction = {s["direction"]: s for s in streams}
        assert by_direction["out"]["remoteDomain"] == "b.test" and by_direction["out"]["state"] == "established"
        assert by_direction["out"]["workerPID"] == a.listener(a.c2s_port)["workerPID"]
        assert by_direction["in"]["remoteDomain"] == "b.test" and by_direction["in"]["state"] == "verified"
        assert by_direction["in"]["workerPID"] == a.listener(a.s2s_port)["workerPID"]
        assert not by_direction["out"]["tls"]
        assert by_direction["out"]["auth"] == by_direction["in"]["auth"] == "dialback"
        assert "established" in a.ctl("s2s").stdout
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
        assert time.time() - started < 3
        streams = json.loads(a.ctl("s2s", "--json").stdout)
        assert [(s["remoteDomain"], s["state"]) for s in streams] == [("down.test", "failed")]
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


def test_dialback_refused_for_our_own_domain_and_denied_ones(tmp_path):
    b = federated_server(tmp_path, "b.test", free_port(), {}, extra_s2s='  host_policy = [{host = "denied.test", policy = "deny"}]')
    b.start()
    try:
        for claimed, condition in (("b.test", "forbidden"), ("denied.test", "forbidden")):
            peer = RawStream(b.s2s_port)
            peer.send(S2S_HEADER.format(frm=claimed, to="b.test"))
            peer.read_until(b"</stream:features>")
            peer.send(f"<db:result from='{claimed}' to='b.test'>0123</db:result>")
            answer = peer.read_until(b"</db:result>")
            assert f"<db:result from='b.test' to='{claimed}' type='error'>" in answer, answer
            assert f"<{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" in answer
    finally:
        b.stop()


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


def test_starttls_required_both_ways(tmp_path):
    """use_starttls = "required" on both: every stream, inbound and outgoing, runs
    STARTTLS before dialback; certificates generated (generate_certificates)."""
    tls = '  use_starttls = "required"\n  certfile = "var/s2s.pem"'
    a, b = start_pair(tmp_path, tls, tls, generate_certificates=True)
    try:
        chat_both_ways(a, b)
        # Self-signed certificates verify nowhere: dialback, not SASL EXTERNAL.
        assert all(stream["tls"] and stream["auth"] == "dialback" for stream in json.loads(a.ctl("s2s", "--json").stdout))
        assert "s2s: generated a self-signed certificate" in a.log()
        # A peer that skips STARTTLS is told it is required and may not dialback.
        peer = RawStream(b.s2s_port)
        peer.send(S2S_HEADER.format(frm="a.test", to="b.test"))
        features = peer.read_until(b"</stream:features>")
        assert "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>" in features
        assert "urn:xmpp:features:dialback" not in features
        peer.send("<db:result from='a.test' to='b.test'>0123</db:result>")
        assert "policy-violation" in peer.read_to_close()
        # A peer that answers <proceed/> with bytes that are no TLS is disconnected;
        # the listener serves the next one.
        peer = RawStream(b.s2s_port)
        peer.send(S2S_HEADER.format(frm="a.test", to="b.test"))
        peer.read_until(b"</stream:features>")
        peer.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        peer.read_until(b"<proceed")
        peer.send(b"this is not a TLS ClientHello\r\n" * 4)
        peer.read_to_close()
        chat_both_ways(a, b)
    finally:
        a.stop()
        b.stop()


def test_starttls_required_trusted_checks_certificates(tmp_path):
    """required_trusted: both sides verify the other's certificate against the s2s
    listener's tls.cacertfile. Certificates of the test CA work, and then each side
    authenticates with SASL EXTERNAL instead of dialback (XEP-0178); a server with a
    self-signed one cannot reach its peer, and its users' stanzas bounce."""
    from pki import PKI
    pki = PKI(tmp_path / "pki")
    certs = {d: pki.issue(d, f"/CN={d}", f"subjectAltName=DNS:{d}") for d in ("a.test", "b.test")}
    def options(domain):
        return f'  use_starttls = "required_trusted"\n  certfile = "{certs[domain]}"'
    a, b = start_pair(tmp_path, options("a.test"), options("b.test"), listener_options=f'  tls.cacertfile = "{pki.ca}"')
    try:
        chat_both_ways(a, b)
        for server in (a, b):
            streams = json.loads(server.ctl("s2s", "--json").stdout)
            assert sorted(s["direction"] for s in streams) == ["in", "out"], streams
            assert all(s["tls"] and s["auth"] == "external" for s in streams), streams
        assert "authenticated for a.test by its certificate (SASL EXTERNAL)" in a.log()
        # A certificate of the same CA that names another domain than the one the
        # stream claims: no EXTERNAL offered, and an attempt anyway fails.
        other = pki.issue("c.test", "/CN=c.test", "subjectAltName=DNS:c.test")
        header = ("<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
                  "xmlns:db='jabber:server:dialback' from='b.test' to='a.test' version='1.0'>")
        peer = RawStream(a.s2s_port)
        peer.send(header)
        peer.read_until(b"</stream:features>")
        peer.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        peer.read_until(b"<proceed")
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.check_hostname = False
        context.load_cert_chain(str(other))
        peer.sock = context.wrap_socket(peer.sock, server_hostname="a.test")
        peer.received = b""
        peer.send(header)
        features = peer.read_until(b"</stream:features>")
        assert "EXTERNAL" not in features and "dialback" in features
        peer.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
        assert "<invalid-mechanism/>" in peer.read_until(b"</failure>")
        peer.close()
    finally:
        a.stop()
        b.stop()
    # a.test now presents a self-signed certificate: b.test refuses it.
    untrusted = '  use_starttls = "required_trusted"\n  certfile = "var/self-signed.pem"'
    a, b = start_pair(tmp_path / "untrusted", untrusted, options("b.test"), listener_options=f'  tls.cacertfile = "{pki.ca}"',
                      generate_certificates=True)
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    try:
        alice.send_message("bob@b.test/r", "can you hear me?")
        error = alice.wait_message(timeout=15)
        assert error["type"] == "error" and error["error"]["condition"] == "remote-server-not-found"
    finally:
        alice.close()
        a.stop()
        b.stop()


@pytest.mark.skipif(not PROSODY, reason="prosody is installed by scripts/install-deps --for-tests")
@pytest.mark.parametrize("security", ["plaintext", "starttls-required", "trusted-certificates"])
def test_federation_with_prosody(tmp_path, security):
    """Prosody (Debian's package) as the peer: its users and ours chat both ways and
    subscribe to each other's presence, with Prosody's dialback checking our keys and
    ours checking Prosody's; then with TLS required on both sides (Prosody's default,
    s2s_require_encryption); then with certificates of a common CA that each side
    verifies (s2s_secure_auth, use_starttls = "required_trusted"), where both
    authenticate with SASL EXTERNAL instead of dialback (XEP-0178)."""
    ours_s2s = free_port()
    prosody_options = "s2s_require_encryption = false"
    xmppd_options, listener_options = "", ""
    if security != "plaintext":
        from pki import PKI
        pki = PKI(tmp_path / "pki")
        pki.issue("prosody", "/CN=prosody.example", "subjectAltName=DNS:prosody.example")
        prosody_options = (f's2s_require_encryption = true\n'
                           f'ssl = {{ certificate = "{pki.cert("prosody")}"; key = "{pki.key("prosody")}"; '
                           f'cafile = "{pki.ca}" }}')
        xmppd_options = '  use_starttls = "required"\n  certfile = "var/s2s.pem"'
    if security == "trusted-certificates":
        ours = pki.issue("xmppd", "/CN=xmppd.example", "subjectAltName=DNS:xmppd.example")
        prosody_options += "\ns2s_secure_auth = true"
        xmppd_options = f'  use_starttls = "required_trusted"\n  certfile = "{ours}"'
        listener_options = f'  tls.cacertfile = "{pki.ca}"'
    prosody = ProsodyPeer(tmp_path / "prosody", "prosody.example", {"xmppd.example": ours_s2s}, s2s_options=prosody_options)
    server = federated_server(tmp_path, "xmppd.example", ours_s2s, {"prosody.example": prosody.s2s_port},
                              extra_s2s=xmppd_options, listener_options=listener_options,
                              generate_certificates=security == "starttls-required")
    with running_with_reference_peer(server, prosody):
        server.start()
        chat_and_subscribe_with_peer(server, prosody, "romeo")
        if security != "plaintext":
            assert "TLSv1.3" in prosody.log_text()
        if security == "trusted-certificates":
            # (One stream out per worker that sent something: the c2s and the s2s one.)
            streams = json.loads(server.ctl("s2s", "--json").stdout)
            assert {s["direction"] for s in streams} == {"in", "out"}, streams
            assert all(s["auth"] == "external" for s in streams), streams


@pytest.mark.skipif(not PROSODY, reason="prosody is installed by scripts/install-deps --for-tests")
def test_muc_light_room_with_a_prosody_occupant(tmp_path):
    """A user of Prosody in a MUC Light room of ours: Prosody finds the room service
    by DNS like any server and authenticates our muclight domain by dialback both
    ways; its user writes to the room and the room's occupants hear him. (What the
    room sends him, Prosody refuses: MUC Light addresses groupchat messages to bare
    JIDs, which RFC 6121 §8.5.2.1.1 has a server answer with an error.)"""
    ours_s2s = free_port()
    prosody = ProsodyPeer(tmp_path / "prosody", "prosody.example",
                          {"xmppd.example": ours_s2s, "muclight.xmppd.example": ours_s2s},
                          s2s_options="s2s_require_encryption = false")
    server = federated_server(tmp_path, "xmppd.example", ours_s2s, {"prosody.example": prosody.s2s_port},
                              extra_s2s="[modules.mod_muc_light]\n")
    room = "lair@muclight.xmppd.example"
    with running_with_reference_peer(server, prosody):
        server.start()
        server.register("alice", "secret", "xmppd.example")
        prosody.register("romeo", "secret")
        alice = Client("alice@xmppd.example/r", "secret", server.c2s_port).wait_session()
        romeo = Client("romeo@prosody.example/r", "secret", prosody.c2s_port).wait_session()
        try:
            assert iq(alice, "set", room, f"<query xmlns='{ML}#create'><occupants><user affiliation='member'>"
                                          f"romeo@prosody.example</user></occupants></query>") is None
            romeo.send_raw(f"<message to='{room}' type='groupchat'><body>wherefore</body></message>")
            got = next_matching(alice.messages, lambda m: m["body"] == "wherefore", timeout=20)
            assert got is not None and str(got["from"]) == f"{room}/romeo@prosody.example"
            wait_for(lambda: "Incoming s2s connection muclight.xmppd.example->prosody.example complete"
                     in prosody.log_text(), message="Prosody authenticating the room service's stream")
        finally:
            alice.close()
            romeo.close()


def test_subscriptions_and_presence_across_servers(federation):
    """RFC 6121 between users of two servers: the subscription flow runs through both
    servers' roster modules (the remote half as inbound processing), presence follows
    the subscriptions, and a login probes contacts on the other server."""
    a, b = federation
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
    try:
        subscribe_mutually(alice, bob, "bob@b.test")
        assert roster_of(bob).get("alice@a.test") == "both"
        available_from(alice, "bob@b.test/r")
        available_from(bob, "alice@a.test/r")
        # Going offline is broadcast to the subscriber on the other server.
        alice.close()
        bob.wait_presence(lambda p: str(p["from"]) == "alice@a.test/r" and p["type"] == "unavailable",
                          what="alice's unavailable", timeout=15)
        # Coming back: a.test probes bob's server, which answers with his presence,
        # and bob sees alice again.
        alice = Client("alice@a.test/r2", "secret", a.c2s_port).wait_session()
        available_from(alice, "bob@b.test/r")
        available_from(bob, "alice@a.test/r2")
    finally:
        alice.close()
        bob.close()


def test_servers_found_through_srv_records(tmp_path):
    """No s2s.address: each server finds the other through its _xmpp-server._tcp SRV
    record (RFC 6120 §3.2.1), asked of the DNS server in [xmppd] dns_servers; a
    domain whose record is "." has no XMPP service, and its stanzas bounce at once."""
    a_s2s, b_s2s = free_port(), free_port()
    dns = start_dns({"a.test": a_s2s, "b.test": b_s2s, "noxmpp.test": None}, srv_target="localhost")
    a = federated_server(tmp_path, "a.test", a_s2s, {}, dns_port=dns.port)
    b = federated_server(tmp_path, "b.test", b_s2s, {}, dns_port=dns.port)
    try:
        a.start()
        b.start()
        a.register("alice", "secret", "a.test")
        b.register("bob", "secret", "b.test")
        chat_both_ways(a, b)
        alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
        try:
            alice.send_message("someone@noxmpp.test", "hello?")
            assert alice.wait_message()["error"]["condition"] == "remote-server-not-found"
        finally:
            alice.close()
    finally:
        a.stop()
        b.stop()
        dns.stop()


@pytest.mark.skipif(not EJABBERDCTL, reason="ejabberd is installed by scripts/install-deps --for-tests")
def test_federation_with_ejabberd(tmp_path):
    """ejabberd (Debian's package) as the peer: messages both ways and subscriptions
    with presence, dialback checked by each side's authoritative server."""
    ours_s2s = free_port()
    ejabberd = EjabberdPeer("ejabberd.example", {"xmppd.example": ours_s2s})
    server = federated_server(tmp_path, "xmppd.example", ours_s2s, {"ejabberd.example": ejabberd.s2s_port})
    with running_with_reference_peer(server, ejabberd):
        server.start()
        chat_and_subscribe_with_peer(server, ejabberd, "juliet")



def test_federation_through_reloads_and_a_restart(tmp_path):
    """b.test's s2s listener is replaced by reloads (its old worker drains, then ends
    its inbound streams) and by a rolling restart: a.test's outgoing stream follows
    (a stream that ends reconnects at the next stanza), and nothing sent is lost."""
    a, b = start_pair(tmp_path, drain_timeout=1_000)
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
    sent = received = 0
    try:
        def exchange(tag):
            nonlocal sent, received
            for i in range(5):
                alice.send_message("bob@b.test/r", f"{tag}-{i}")
                sent += 1
            for i in range(5):
                assert bob.wait_message(timeout=15)["body"] == f"{tag}-{i}"
                received += 1
            bob.send_message("alice@a.test/r", f"{tag}-back")
            sent += 1
            assert alice.wait_message(timeout=15)["body"] == f"{tag}-back"
            received += 1

        exchange("before")
        listeners = b.config.read_text()
        for i in range(3):
            b.config.write_text(listeners.replace("[[listen.s2s]]", f"[[listen.s2s]]\n  max_stanza_size = {70_000 + i}"))
            assert "1 changed" in b.ctl("reload").stdout
            exchange(f"reload{i}")
            # The old s2s worker is gone after its drain: its streams with it.
            time.sleep(1.5)
            exchange(f"drained{i}")
        b.ctl("restart")
        # bob's old c2s worker ends his session when its 1 s drain is over, which may
        # come before the exchange does: he logs in again, as a client would.
        bob.close()
        bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
        exchange("restart")
        assert sent == received == 48
    finally:
        alice.close()
        bob.close()
        a.stop()
        b.stop()


def test_muc_light_room_with_an_occupant_on_another_server(tmp_path):
    """The MUC Light service of a.test speaks s2s like a served host: bob of b.test is
    made a member, hears the room over a stream from muclight.a.test, and writes to
    it over a stream of his own to it (dialback for both). Creating rooms there is for
    a.test's users only."""
    a, b = start_pair(tmp_path, extra_a="[modules.mod_muc_light]\n", a_services=("muclight.a.test",))
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
    room = "coven@muclight.a.test"
    try:
        assert iq(alice, "set", room, f"<query xmlns='{ML}#create'><occupants>"
                                      f"<user affiliation='member'>bob@b.test</user></occupants></query>") is None
        _, x = announcement(bob, f"{ML}#affiliations")
        assert [(u.text, u.get("affiliation")) for u in x.findall(f"{{{ML}#affiliations}}user")] == [("bob@b.test", "member")]
        alice.send_raw(f"<message to='{room}' type='groupchat' id='a1'><body>welcome</body></message>")
        message = bob.wait_message(timeout=15)
        assert message["body"] == "welcome" and str(message["from"]) == f"{room}/alice@a.test"
        bob.send_raw(f"<message to='{room}' type='groupchat' id='b1'><body>glad to be here</body></message>")
        for client in (alice, bob):
            got = next_matching(client.messages, lambda m: m["body"] == "glad to be here", timeout=15)
            assert got is not None and str(got["from"]) == f"{room}/bob@b.test", client.jid
        # bob reads the room's configuration across federation; he makes no rooms here.
        info = iq(bob, "get", room, f"<query xmlns='{ML}#info'/>")
        assert info is not None and info.find(f"{{{ML}#info}}occupants") is not None
        assert iq(bob, "set", "muclight.a.test", f"<query xmlns='{ML}#create'/>") == "not-allowed"
        streams = {(s["localDomain"], s["remoteDomain"]) for s in json.loads(a.ctl("s2s", "--json").stdout)}
        assert ("muclight.a.test", "b.test") in streams, streams
    finally:
        alice.close()
        bob.close()
        a.stop()
        b.stop()


def test_component_reached_from_another_server(tmp_path):
    """A component connected to a.test is reachable from b.test: its domain federates
    like a served host (a stream to echo.a.test for bob's message, one from it for
    the echo)."""
    a_s2s, b_s2s, service_port = free_port(), free_port(), free_port()
    a = federated_server(tmp_path, "a.test", a_s2s, {"b.test": b_s2s}, listener_options=f"""
[[listen.service]]
  port = {service_port}
  ip_address = "127.0.0.1"
  password = "{SECRET}"
""")
    b = federated_server(tmp_path, "b.test", b_s2s, {"a.test": a_s2s, "echo.a.test": a_s2s})
    a.start()
    b.start()
    b.register("bob", "secret", "b.test")
    component = Component("echo.a.test", service_port).wait_connected()
    bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
    try:
        bob.send_message("echo.a.test", "anyone home?")
        reply = bob.wait_message(timeout=15)
        assert reply["type"] != "error", reply
        assert reply["body"] == "echo: anyone home?" and str(reply["from"]) == "echo.a.test"
        assert str(component.wait_message()["from"]) == "bob@b.test/r"
    finally:
        bob.close()
        component.close()
        a.stop()
        b.stop()


def test_s2s_listener_shaper_and_stanza_size(tmp_path):
    """[[listen.s2s]] shaper (an access rule naming a [shaper]) slows what a peer sends
    without losing any of it; max_stanza_size ends a stream with policy-violation."""
    limits = '  shaper = "s2s_shaper"\n  max_stanza_size = 4000'
    sections = '''
[access]
  s2s_shaper = [{acl = "all", value = "slow"}]
[shaper]
  slow = {max_rate = 10_000}
'''
    a_s2s, b_s2s = free_port(), free_port()
    a = federated_server(tmp_path, "a.test", a_s2s, {"b.test": b_s2s})
    b = federated_server(tmp_path, "b.test", b_s2s, {"a.test": a_s2s}, listener_options=limits, extra_s2s=sections)
    a.start()
    b.start()
    a.register("alice", "secret", "a.test")
    b.register("bob", "secret", "b.test")
    alice = Client("alice@a.test/r", "secret", a.c2s_port).wait_session()
    bob = Client("bob@b.test/r", "secret", b.c2s_port).wait_session()
    try:
        started = time.time()
        count = 40
        for i in range(count):
            alice.send_message("bob@b.test/r", f"{i:04d}" + "x" * 1000)
        assert [bob.wait_message(timeout=20)["body"][:4] for _ in range(count)] == [f"{i:04d}" for i in range(count)]
        # ~42 KB at 10 kB/s, with a one-second burst allowance.
        assert 2.5 < time.time() - started < 20
        peer = RawStream(b.s2s_port)
        peer.send(S2S_HEADER.format(frm="a.test", to="b.test"))
        peer.read_until(b"</stream:features>")
        peer.send("<db:result from='a.test' to='b.test'>" + "0" * 5000 + "</db:result>")
        assert "policy-violation" in peer.read_to_close()
    finally:
        alice.close()
        bob.close()
        a.stop()
        b.stop()


def test_a_remote_server_that_stops_reading_is_closed_at_max_fsm_queue(tmp_path):
    """general.max_fsm_queue bounds what waits for a peer server (MongooseIM applies
    the general value to s2s): a peer that accepts our dialback and then reads nothing
    gets its stream closed, with a log line saying why."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    a = federated_server(tmp_path, "a.test", free_port(), {"slow.test": listener.getsockname()[1]})
    a.config.write_text(a.config.read_text().replace('c2s_state_timeout = 2_000', 'c2s_state_timeout = 2_000\n  max_fsm_queue = 100'))
    a.start()
    a.register("alice", "secret", "a.test")
    try:
        def slow_peer():
            connection, _ = listener.accept()
            connection.settimeout(10)

            def read_until(marker, received=b""):
                while marker not in received:
                    received += connection.recv(65536)
                return received
            read_until(b">", read_until(b"<stream:stream"))
            connection.sendall(S2S_HEADER.replace(" version='1.0'>", " id='slow-stream' version='1.0'>")
                               .format(frm="slow.test", to="a.test").encode()
                               + b"<stream:features><dialback xmlns='urn:xmpp:features:dialback'/></stream:features>")
            read_until(b"</db:result>")
            connection.sendall(b"<db:result from='slow.test' to='a.test' type='valid'/>")
            time.sleep(60)   # and reads nothing more
            connection.close()
        threading.Thread(target=slow_peer, daemon=True).start()
        sender = RawSession(a.c2s_port)
        sender.login("alice", domain="a.test")
        flood(sender, a, "someone@slow.test", until="the remote server is not reading")
        closed = [line for line in a.log().splitlines() if "the remote server is not reading" in line]
        assert len(closed) == 1 and "slow.test" in closed[0], closed
        sender.close()
    finally:
        a.stop()
        listener.close()
