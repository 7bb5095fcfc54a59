"""TLS 1.3 sessions that continue on xmppd's own record layer after OpenSSL's handshake
([xmppd] compact_tls_sessions, on by default), driven by clients nobody here wrote:
slixmpp (Python's ssl) and openssl s_client, including KeyUpdate in both forms and
TLS session resumption with the tickets sent just before the switch."""
import base64
import queue
import subprocess
import threading
import time

from xmpp_client import Client
from xmppd_harness import Server, free_port, wait_for


def listeners(pki, starttls_port, direct_port):
    return pki.c2s_listener(starttls_port, "starttls") + pki.c2s_listener(direct_port, "tls")


def start(tmp_path, pki, extra=""):
    starttls_port, direct_port = free_port(), free_port()
    server = Server(tmp_path, listeners(pki, starttls_port, direct_port), extra=extra, loglevel="debug")
    server.start()
    server.register("alice", "secret")
    server.register("bob", "secret")
    return server, starttls_port, direct_port


class SClient:
    """openssl s_client kept open: lines written to it are sent (a line of just K or k
    is s_client's command for a KeyUpdate), and what the server sends is read back."""

    def __init__(self, port, *args, starttls=True):
        command = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3"]
        if starttls:
            command += ["-starttls", "xmpp", "-xmpphost", "localhost"]
        self.process = subprocess.Popen(command + list(args), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT)
        self.output = queue.Queue()
        self.seen = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for chunk in iter(lambda: self.process.stdout.read1(65536), b""):
            self.output.put(chunk.decode(errors="replace"))

    def send(self, text):
        self.process.stdin.write(text.encode() + b"\n")
        self.process.stdin.flush()

    def key_update(self, command):
        """s_client treats a whole stdin read starting with K as the command, so nothing
        may follow in the same read: wait until it has acted on it."""
        self.send(command)
        self.wait_for("KEYUPDATE")

    def wait_for(self, needle, timeout=10):
        deadline = time.time() + timeout
        while needle not in self.seen:
            try:
                self.seen += self.output.get(timeout=max(deadline - time.time(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no {needle!r} from the server; s_client printed:\n{self.seen}")
        found = self.seen
        self.seen = self.seen[self.seen.index(needle) + len(needle):]
        return found

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


STREAM = ("<stream:stream to='localhost' xmlns='jabber:client' "
          "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")


def test_slixmpp_sessions_are_compact_on_both_tls_modes(tmp_path, pki):
    server, starttls_port, direct_port = start(tmp_path, pki)
    try:
        alice = Client("alice@localhost/a", "secret", starttls_port, tls="starttls", ca_certs=pki.ca).wait_session()
        bob = Client("bob@localhost/b", "secret", direct_port, tls="direct", ca_certs=pki.ca).wait_session()
        try:
            # Up to 19 KB per stanza: larger ones span several TLS records.
            bodies = [f"to bob {i} " + "x" * (i * 1000) for i in range(20)]
            for i, body in enumerate(bodies):
                alice.send_message("bob@localhost/b", body)
                bob.send_message("alice@localhost/a", f"to alice {i}")
            assert [bob.wait_message()["body"] for _ in range(20)] == bodies
            assert sorted(alice.wait_message()["body"] for _ in range(20)) == sorted(f"to alice {i}" for i in range(20))
        finally:
            alice.close()
            bob.close()
        wait_for(lambda: server.log().count("TLSv1.3") >= 2)
        tls_lines = [line for line in server.log().splitlines() if "TLS TLSv1." in line]
        assert len(tls_lines) == 2 and all("records by xmppd" in line for line in tls_lines), tls_lines
    finally:
        server.stop()


def test_key_updates_from_openssl_client_then_sasl_and_bind(tmp_path, pki):
    server, starttls_port, _ = start(tmp_path, pki)
    try:
        client = SClient(starttls_port)
        try:
            client.send(STREAM)
            client.wait_for("</stream:features>")
            # KeyUpdate asking the server to update too: the server answers with its own
            # KeyUpdate, so what follows only decrypts if both sides moved to the new keys.
            client.key_update("K")
            plain = base64.b64encode(b"\0alice\0secret").decode()
            client.send(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{plain}</auth>")
            client.wait_for("<success")
            client.key_update("k")   # KeyUpdate without request: only the client's key changes
            client.send(STREAM)
            client.wait_for("urn:ietf:params:xml:ns:xmpp-bind")
            client.key_update("K")
            client.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                        "<resource>sclient</resource></bind></iq>")
            client.wait_for("alice@localhost/sclient")
            client.send("</stream:stream>")
            client.wait_for("</stream:stream>")
        finally:
            client.close()
        assert "records by xmppd" in server.log()
    finally:
        server.stop()


def test_resumed_tls_session_is_compact_too(tmp_path, pki):
    server, _, direct_port = start(tmp_path, pki)
    session_file = tmp_path / "tls-session.pem"
    try:
        first = SClient(direct_port, "-sess_out", str(session_file), starttls=False)
        first.send(STREAM)
        first.wait_for("</stream:features>")   # the session tickets arrived before these
        first.close()
        second = SClient(direct_port, "-sess_in", str(session_file), starttls=False)
        second.wait_for("Reused, TLSv1.3")
        second.send(STREAM)
        second.wait_for("</stream:features>")
        second.close()
        wait_for(lambda: server.log().count("records by xmppd") >= 2)
    finally:
        server.stop()


def test_tls12_and_the_switch_turned_off_stay_on_openssl(tmp_path, pki):
    server, starttls_port, _ = start(tmp_path, pki, extra="  compact_tls_sessions = false")
    try:
        alice = Client("alice@localhost/a", "secret", starttls_port, tls="starttls", ca_certs=pki.ca).wait_session()
        alice.close()
        wait_for(lambda: "TLS TLSv1.3" in server.log())
        assert "records by OpenSSL" in server.log() and "records by xmppd" not in server.log()
    finally:
        server.stop()
    other = tmp_path / "second"
    server, starttls_port, _ = start(other, pki)
    try:
        result = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{starttls_port}", "-tls1_2",
                                 "-starttls", "xmpp", "-xmpphost", "localhost", "-brief"],
                                input=b"", capture_output=True, timeout=20)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: "TLS TLSv1.2" in server.log())
        assert "TLS TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384, records by OpenSSL" in server.log()
    finally:
        server.stop()
