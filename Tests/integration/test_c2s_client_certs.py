"""Client certificates (verify_peer): SASL EXTERNAL (XEP-0178), untrusted and revoked
certificates, and SCRAM-SHA-256-PLUS channel binding driven by a hand-written client."""
import base64
import hashlib
import hmac
import os
import re
import socket
import ssl

import pytest

from xmpp_client import Client
from xmppd_harness import Server, free_port

HEADER = ("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams'>")


MECHANISMS = '  sasl_mechanisms = ["external", "scram_sha512_plus", "scram_sha384_plus", "scram_sha256_plus", ' \
             '"scram_sha256", "plain"]'


def listener(port, pki, module="fast_tls", extra=""):
    return pki.c2s_listener(port, "starttls", f"""  tls.module = "{module}"
  tls.cacertfile = "{pki.ca}"
  tls.verify_peer = true
{extra}""")


@pytest.fixture
def cert_server(tmp_path, pki):
    port = free_port()
    instance = Server(tmp_path, listener(port, pki), auth=MECHANISMS)
    instance.port = port
    instance.start()
    instance.register("alice", "secret")
    yield instance
    instance.stop()


def test_sasl_external_with_a_client_certificate(cert_server, pki):
    cert = pki.client("alice-cert", "alice@localhost")
    alice = Client("alice@localhost/cert", "not-the-password", cert_server.port, tls="starttls", ca_certs=pki.ca,
                   certfile=str(pki.cert("alice-cert")), keyfile=str(pki.key("alice-cert")),
                   mechanism="EXTERNAL").wait_session()
    try:
        assert alice.bound_jid == "alice@localhost/cert"
    finally:
        alice.close()
    assert cert.exists()


class TLSStream:
    """STARTTLS by hand, so the test can read the channel it is bound to."""

    def __init__(self, port, pki, cert=None):
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        raw.sendall(HEADER.encode())
        self.buffer = b""
        self.sock = raw
        self.read_until(b"</stream:features>")
        raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        self.read_until(b"<proceed")
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.maximum_version = ssl.TLSVersion.TLSv1_2  # Python offers tls-unique only; we use end-point
        if cert:
            context.load_cert_chain(str(pki.cert(cert)), str(pki.key(cert)))
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buffer = b""
        self.sock.sendall(HEADER.encode())
        self.features = self.read_until(b"</stream:features>")

    def read_until(self, marker):
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(self.buffer)
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(marker)
        return (head + marker).decode()

    def end_point_binding(self):
        # RFC 5929: the hash of the server certificate (SHA-256 for SHA-256 signatures).
        return hashlib.sha256(self.sock.getpeercert(binary_form=True)).digest()


def scram_plus(stream, user, password, binding, gs2="p=tls-server-end-point,,", hash_name="sha256"):
    """SCRAM-SHA-<n>-PLUS by hand with Python's hashlib (RFC 5802 with RFC 7677's hash)."""
    digest = getattr(hashlib, hash_name)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    mechanism = f"SCRAM-SHA-{hash_name[3:]}-PLUS"
    stream.sock.sendall((f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='{mechanism}'>"
                         + base64.b64encode((gs2 + first_bare).encode()).decode() + "</auth>").encode())
    reply = stream.read_until(b"</challenge>") if b"<failure" not in stream.buffer else stream.buffer.decode()
    if "<challenge" not in reply:
        return reply
    server_first = base64.b64decode(re.search(r">([^<]+)</challenge>", reply).group(1)).decode()
    fields = dict(item.split("=", 1) for item in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(hash_name, password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", hash_name).digest()
    stored_key = digest(client_key).digest()
    without_proof = f"c={base64.b64encode(gs2.encode() + binding).decode()},r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored_key, auth_message, hash_name).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    stream.sock.sendall(("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                         + base64.b64encode(final.encode()).decode() + "</response>").encode())
    while b"</success>" not in stream.buffer and b"</failure>" not in stream.buffer:
        stream.buffer += stream.sock.recv(65536)
    return stream.buffer.decode()


def test_scram_plus_binds_to_the_tls_channel(cert_server, pki):
    # verify_peer demands a certificate; SCRAM still decides who logs in.
    pki.client("plus-cert", "someone@localhost")
    stream = TLSStream(cert_server.port, pki, cert="plus-cert")
    assert "<mechanism>SCRAM-SHA-256-PLUS</mechanism>" in stream.features
    assert "<channel-binding type='tls-server-end-point'/>" in stream.features
    assert "<success" in scram_plus(stream, "alice", "secret", stream.end_point_binding())
    # Data of another channel (a man in the middle's) is refused.
    other = TLSStream(cert_server.port, pki, cert="plus-cert")
    assert "<failure" in scram_plus(other, "alice", "secret", b"\0" * 32)


def test_scram_sha512_and_sha384_plus_bind_to_the_tls_channel(cert_server, pki):
    pki.client("plus-cert-512", "someone@localhost")
    for hash_name in ("sha512", "sha384"):
        stream = TLSStream(cert_server.port, pki, cert="plus-cert-512")
        assert f"<mechanism>SCRAM-SHA-{hash_name[3:]}-PLUS</mechanism>" in stream.features
        assert "<success" in scram_plus(stream, "alice", "secret", stream.end_point_binding(), hash_name=hash_name)
        wrong = TLSStream(cert_server.port, pki, cert="plus-cert-512")
        assert "<failure" in scram_plus(wrong, "alice", "secret", b"\0" * 32, hash_name=hash_name)


def test_untrusted_certificate_is_refused(cert_server, pki, tmp_path):
    # A certificate from another CA: the handshake fails (fast_tls verify_peer enforces).
    rogue = tmp_path / "rogue"
    rogue.mkdir()
    os.system(f"cd {rogue} && openssl req -x509 -newkey rsa:2048 -nodes -keyout k.pem -out c.pem -days 1 "
              f"-subj /CN=rogue -addext subjectAltName=otherName:1.3.6.1.5.5.7.8.5\\;UTF8:alice@localhost 2>/dev/null")
    raw = socket.create_connection(("127.0.0.1", cert_server.port), timeout=10)
    raw.sendall(HEADER.encode())
    data = b""
    while b"</stream:features>" not in data:
        data += raw.recv(65536)
    raw.sendall(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    while b"<proceed" not in data:
        data += raw.recv(65536)
    context = ssl.create_default_context(cafile=str(pki.ca))
    context.load_cert_chain(str(rogue / "c.pem"), str(rogue / "k.pem"))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        tls = context.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(HEADER.encode())
        if not tls.recv(65536):
            raise ConnectionError("closed")


def test_revoked_certificate_is_refused_with_crl(tmp_path, pki):
    good = pki.client("carol-cert", "carol@localhost")
    pki.client("mallory-cert", "mallory@localhost")
    crl = pki.revoke("mallory-cert")
    port = free_port()
    instance = Server(tmp_path, listener(port, pki, module="just_tls", extra=f'  tls.crl_files = ["{crl}"]'), auth=MECHANISMS)
    instance.start()
    instance.register("carol", "secret")
    instance.register("mallory", "secret")
    try:
        carol = TLSStream(port, pki, cert="carol-cert")
        assert "<mechanism>EXTERNAL</mechanism>" in carol.features
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            mallory = TLSStream(port, pki, cert="mallory-cert")
            mallory.sock.sendall(b"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>")
            mallory.read_until(b"</success>")
        assert good.exists()
    finally:
        instance.stop()
