"""c2s as real clients use it: slixmpp logs in with each SASL mechanism and chats;
raw sockets check the RFC 6120 stream errors."""
import base64

import pytest

from raw_stream import RawStream
from xmpp_client import Client
from xmppd_harness import Server, wait_for


def login(server, user, password="secret", **kw):
    return Client(f"{user}@localhost/{kw.pop('resource', 'test')}", password, server.c2s_port, **kw).wait_session()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
def test_login_with_each_mechanism_and_chat(server, mechanism):
    server.register("alice", "secret")
    server.register("bob", "secret")
    alice = login(server, "alice", mechanism=mechanism)
    bob = login(server, "bob", mechanism=mechanism)
    try:
        alice.send_message("bob@localhost", "hello bob")
        message = bob.wait_message()
        assert message["body"] == "hello bob"
        assert str(message["from"]) == "alice@localhost/test"
        bob.send_message("alice@localhost/test", "hi alice")
        assert alice.wait_message()["body"] == "hi alice"
    finally:
        alice.close()
        bob.close()
    record = wait_for(lambda: (r := server.listener(server.c2s_port))["counters"]["stanzasIn"] >= 4 and r,
                      message="stats flushed")
    assert record["counters"]["authSuccesses"] >= 2


def test_wrong_password_is_refused_and_counted(server):
    server.register("carol", "right")
    client = Client("carol@localhost/x", "wrong", server.c2s_port)
    try:
        assert client.auth_failed.wait(10), "slixmpp did not report an auth failure"
        assert not client.session_started.is_set()
    finally:
        client.close()
    wait_for(lambda: server.listener(server.c2s_port)["counters"]["authFailures"] >= 1, message="auth failure counted")


def test_unknown_user_is_refused(server):
    client = Client("nobody@localhost/x", "whatever", server.c2s_port)
    try:
        assert client.auth_failed.wait(10)
    finally:
        client.close()


def test_second_bind_of_same_full_jid_replaces_old_session(server):
    server.register("dave", "secret")
    first = login(server, "dave", resource="phone")
    second = login(server, "dave", resource="phone")
    try:
        assert first.disconnected.wait(10), "the old session was not closed"
        assert "conflict" in first.stream_errors
        assert not second.disconnected.is_set()
    finally:
        first.close()
        second.close()


def test_server_generated_resource(server):
    server.register("erin", "secret")
    raw = RawStream(server.c2s_port)
    raw.open()
    token = base64.b64encode(b"\0erin\0secret").decode()
    raw.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>")
    raw.read_until(b"<success")
    raw.received = b""
    raw.open()
    raw.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
    reply = raw.read_until(b"</iq>")
    assert "<jid>erin@localhost/" in reply
    raw.close()


def test_message_to_offline_user_gets_error(server):
    server.register("frank", "secret")
    server.register("grace", "secret")
    frank = login(server, "frank")
    try:
        frank.send_message("grace@localhost", "are you there?")
        reply = frank.wait_message()
        assert reply["type"] == "error"
        assert reply["error"]["condition"] == "service-unavailable"
        frank.send_message("someone@elsewhere.example", "hi")
        assert frank.wait_message()["error"]["condition"] == "remote-server-not-found"
    finally:
        frank.close()


def test_iq_in_unknown_namespace_is_service_unavailable(server):
    server.register("heidi", "secret")
    raw = RawStream(server.c2s_port)
    raw.open()
    raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
             + base64.b64encode(b"\0heidi\0secret").decode() + "</auth>")
    raw.read_until(b"<success")
    raw.received = b""
    raw.open()
    raw.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>")
    raw.read_until(b"</iq>")
    raw.received = b""
    raw.send("<iq type='get' id='q1'><query xmlns='urn:example:nothing'/></iq>")
    reply = raw.read_until(b"</iq>")
    assert "type='error'" in reply and "service-unavailable" in reply and "id='q1'" in reply
    raw.close()


@pytest.mark.parametrize("payload,condition", [
    ("<message><body>unclosed</message>", "not-well-formed"),
    ("<!-- a comment -->", "restricted-xml"),
    ("<?php echo 1 ?>", "restricted-xml"),
])
def test_bad_xml_after_stream_open(server, payload, condition):
    raw = RawStream(server.c2s_port)
    raw.open()
    raw.send(payload)
    assert raw.stream_error() == condition


def test_doctype_is_restricted(server):
    raw = RawStream(server.c2s_port)
    raw.send("<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY x 'y'>]><stream:stream to='localhost' version='1.0' "
             "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
    assert raw.stream_error() == "restricted-xml"


def test_stream_header_errors(server):
    raw = RawStream(server.c2s_port)
    raw.send("<stream:stream to='unknown.example' version='1.0' xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams'>")
    assert raw.stream_error() == "host-unknown"

    raw = RawStream(server.c2s_port)
    raw.send("<stream:stream to='localhost' version='1.0' xmlns='jabber:server' "
             "xmlns:stream='http://etherx.jabber.org/streams'>")
    assert raw.stream_error() == "invalid-namespace"

    raw = RawStream(server.c2s_port)
    raw.send("<stream:stream to='localhost' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
    assert raw.stream_error() == "unsupported-version"

    raw = RawStream(server.c2s_port)
    raw.send("<stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='urn:wrong'>")
    assert raw.stream_error() == "invalid-namespace"


def test_oversized_stanza_is_policy_violation(server):
    raw = RawStream(server.c2s_port)
    raw.open()
    raw.send("<message to='x@localhost'><body>" + "a" * 70_000 + "</body></message>")
    assert raw.stream_error() == "policy-violation"


def test_no_stream_header_times_out(server):
    raw = RawStream(server.c2s_port)
    # c2s_state_timeout is 2 s in the test config.
    assert raw.stream_error(timeout=10) == "connection-timeout"


def test_stanza_before_auth_is_not_authorized(server):
    raw = RawStream(server.c2s_port)
    raw.open()
    raw.send("<message to='a@localhost'><body>x</body></message>")
    assert raw.stream_error() == "not-authorized"


def test_access_rule_refuses_session(tmp_path):
    from xmppd_harness import Server, free_port
    port = free_port()
    instance = Server(tmp_path, f"""
[acl]
  blocked = [{{user = "mallory"}}]
[access]
  c2s = [{{acl = "blocked", value = "deny"}}, {{acl = "all", value = "allow"}}]

[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
  access = "c2s"
""")
    instance.start()
    try:
        instance.register("mallory", "secret")
        instance.register("alice", "secret")
        raw = RawStream(port)
        raw.open()
        raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"
                 + base64.b64encode(b"\0mallory\0secret").decode() + "</auth>")
        raw.read_until(b"<success")
        raw.received = b""
        raw.open()
        raw.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
        reply = raw.read_until(b"</iq>")
        # As MongooseIM: the bind is refused with <not-allowed/>.
        assert "type='error'" in reply and "<not-allowed" in reply
        raw.close()
        alice = Client("alice@localhost/a", "secret", port).wait_session()
        alice.close()
    finally:
        instance.stop()


ALL_SCRAM = '  sasl_mechanisms = ["scram_sha512", "scram_sha384", "scram_sha256", "scram_sha224", "scram_sha1", "plain"]'


def test_slixmpp_logs_in_with_every_scram_hash(tmp_path, c2s_port):
    """SCRAM-SHA-224/384/512 as MongooseIM offers them, against slixmpp's own SCRAM."""
    server = Server(tmp_path, f'[[listen.c2s]]\n  port = {c2s_port}\n  ip_address = "127.0.0.1"\n', auth=ALL_SCRAM)
    server.c2s_port = c2s_port
    server.start()
    try:
        server.register("alice", "secret")
        for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-384", "SCRAM-SHA-224", "SCRAM-SHA-256", "SCRAM-SHA-1"):
            login(server, "alice", mechanism=mechanism).close()
        wrong = Client("alice@localhost/x", "wrong", c2s_port, mechanism="SCRAM-SHA-512")
        assert wrong.auth_failed.wait(10)
        wrong.close()
    finally:
        server.stop()


def test_password_hash_option_limits_the_stored_credentials(tmp_path, c2s_port):
    """auth.password.hash = ["sha512"]: only SCRAM-SHA-512 credentials are stored, so a
    SCRAM-SHA-256 login fails while SCRAM-SHA-512 and PLAIN (checked against them) work."""
    server = Server(tmp_path, f'[[listen.c2s]]\n  port = {c2s_port}\n  ip_address = "127.0.0.1"\n', auth=ALL_SCRAM,
                    password='  hash = ["sha512"]')
    server.c2s_port = c2s_port
    server.start()
    try:
        server.register("alice", "secret")
        login(server, "alice", mechanism="SCRAM-SHA-512").close()
        login(server, "alice", mechanism="PLAIN").close()
        refused = Client("alice@localhost/x", "secret", c2s_port, mechanism="SCRAM-SHA-256")
        assert refused.auth_failed.wait(10)
        refused.close()
    finally:
        server.stop()
