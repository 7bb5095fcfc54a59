"""TLS on c2s listeners (system OpenSSL): STARTTLS, direct TLS, starttls_required,
the protocol and cipher matrix, bad material, certificate renewal on reload."""
import subprocess

import pytest

from raw_stream import RawStream
from xmpp_client import Client
from xmppd_harness import Server, free_port


def tls_listener(port, pki, mode, extra=""):
    return pki.c2s_listener(port, mode, extra)


@pytest.fixture
def starttls_server(tmp_path, pki):
    port = free_port()
    instance = Server(tmp_path, tls_listener(port, pki, "starttls"))
    instance.port = port
    instance.start()
    instance.register("alice", "secret")
    instance.register("bob", "secret")
    yield instance
    instance.stop()


def s_client(port, *args, starttls=True, data=b""):
    command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief"]
    if starttls:
        command += ["-starttls", "xmpp", "-xmpphost", "localhost"]
    result = subprocess.run(command + list(args), input=data, capture_output=True, timeout=20)
    return result.returncode, (result.stdout + result.stderr).decode(errors="replace")


def test_starttls_login_and_chat(starttls_server, pki):
    port = starttls_server.port
    alice = Client("alice@localhost/a", "secret", port, tls="starttls", ca_certs=pki.ca).wait_session()
    bob = Client("bob@localhost/b", "secret", port, tls="starttls", ca_certs=pki.ca).wait_session()
    try:
        alice.send_message("bob@localhost", "over TLS")
        assert bob.wait_message()["body"] == "over TLS"
    finally:
        alice.close()
        bob.close()


def test_protocol_matrix(starttls_server):
    port = starttls_server.port
    ok12, out12 = s_client(port, "-tls1_2")
    assert ok12 == 0 and "TLSv1.2" in out12, out12
    ok13, out13 = s_client(port, "-tls1_3")
    assert ok13 == 0 and "TLSv1.3" in out13, out13
    # SECLEVEL=0 makes the client offer the old protocols: the server must refuse them.
    for flag in ("-tls1_1", "-tls1"):
        code, out = s_client(port, flag, "-cipher", "DEFAULT@SECLEVEL=0")
        assert code != 0, f"{flag} was accepted: {out}"


def test_cipher_outside_configured_list_is_refused(tmp_path, pki):
    port = free_port()
    instance = Server(tmp_path, tls_listener(port, pki, "starttls", '  tls.ciphers = "ECDHE-RSA-AES256-GCM-SHA384"'))
    instance.start()
    try:
        code, out = s_client(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
        assert code != 0, out
        code, out = s_client(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384")
        assert code == 0 and "ECDHE-RSA-AES256-GCM-SHA384" in out, out
    finally:
        instance.stop()


def test_direct_tls_listener(tmp_path, pki):
    port = free_port()
    instance = Server(tmp_path, tls_listener(port, pki, "tls"))
    instance.start()
    instance.register("alice", "secret")
    try:
        alice = Client("alice@localhost/a", "secret", port, tls="direct", ca_certs=pki.ca).wait_session()
        alice.close()
        code, out = s_client(port, starttls=False)
        assert code == 0 and "Protocol version" in out, out
    finally:
        instance.stop()


def test_starttls_required_refuses_auth_before_tls(tmp_path, pki):
    port = free_port()
    instance = Server(tmp_path, tls_listener(port, pki, "starttls_required"))
    instance.start()
    try:
        raw = RawStream(port)
        features = raw.open()
        assert "<required/>" in features and "<mechanisms" not in features
        raw.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>")
        assert raw.stream_error() == "policy-violation"
        raw = RawStream(port)
        raw.open()
        raw.send("<message to='a@localhost'><body>x</body></message>")
        assert raw.stream_error() == "policy-violation"
    finally:
        instance.stop()


@pytest.mark.parametrize("certfile,expected", [
    ("/nonexistent/cert.pem", "/nonexistent/cert.pem"),
])
def test_bad_tls_material_is_refused_at_start(tmp_path, pki, certfile, expected):
    port = free_port()
    instance = Server(tmp_path, f"""
[[listen.c2s]]
  port = {port}
  tls.mode = "starttls"
  tls.certfile = "{certfile}"
""")
    output = instance.start_refused()
    assert "listen.c2s[1].tls" in output and expected in output


def test_key_not_matching_certificate_is_refused(tmp_path, pki):
    other = pki.issue("other", "/CN=other", "subjectAltName=DNS:other")
    mismatched = tmp_path / "mismatch.pem"
    mismatched.write_text(pki.cert("server").read_text() + pki.key("other").read_text())
    instance = Server(tmp_path, tls_listener(free_port(), pki, "starttls").replace(str(pki.server), str(mismatched)))
    assert str(mismatched) in instance.start_refused()
    assert other.exists()


def test_renewed_certificate_is_used_after_reload(tmp_path, pki):
    port = free_port()
    cert = tmp_path / "live.pem"
    cert.write_text(pki.server.read_text())
    instance = Server(tmp_path, tls_listener(port, pki, "starttls").replace(str(pki.server), str(cert)))
    instance.start()
    instance.register("alice", "secret")
    try:
        alice = Client("alice@localhost/a", "secret", port, tls="starttls", ca_certs=pki.ca).wait_session()
        _, before = s_client(port, "-showcerts")
        renewed = pki.issue("renewed", "/CN=localhost/O=renewed", "subjectAltName=DNS:localhost")
        cert.write_text(renewed.read_text())
        assert "1 changed" in instance.ctl("reload").stdout
        _, after = s_client(port, "-showcerts")
        assert "renewed" in after and "renewed" not in before
        # The session made before the renewal is still there.
        alice.send_message("alice@localhost/a", "still here")
        assert alice.wait_message()["body"] == "still here"
        assert "0 changed" in instance.ctl("reload").stdout
        alice.close()
    finally:
        instance.stop()


def test_self_signed_certificate_generated_on_first_start(tmp_path):
    port = free_port()
    instance = Server(tmp_path, f"""
[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
  tls.mode = "starttls"
  tls.certfile = "var/generated.pem"
""", extra="")
    text = instance.config.read_text().replace("worker_restart_backoff = 200", "worker_restart_backoff = 200\n  generate_certificates = true")
    instance.config.write_text(text)
    instance.start()
    try:
        assert (tmp_path / "var" / "generated.pem").exists()
        assert "generated a self-signed certificate" in instance.log()
        code, out = s_client(port)
        assert code == 0, out
    finally:
        instance.stop()
