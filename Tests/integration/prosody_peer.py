"""A Prosody server (Debian's package) as a federation peer for the s2s tests, with a
DNS server of the test's own (dnslib) so that Prosody finds xmppd's domain through
the SRV record it looks up, on a port the test chose."""
import shutil
import subprocess
import time
from pathlib import Path

from dnslib import QTYPE, RR, A, SRV
from dnslib.server import BaseResolver, DNSServer

from xmppd_harness import free_port, wait_for

PROSODY = shutil.which("prosody")
PROSODYCTL = shutil.which("prosodyctl")


class StaticZone(BaseResolver):
    """Answers SRV _xmpp-server._tcp.<domain> and A <domain> for the domains it is
    given (all on 127.0.0.1). srv_target names the SRV records' target instead of the
    domain itself; a domain whose port is None gets the record "." (no service)."""

    def __init__(self, servers, srv_target=None):
        self.servers = servers   # domain -> s2s port
        self.srv_target = srv_target

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        for domain, port in self.servers.items():
            if qtype == "SRV" and name == f"_xmpp-server._tcp.{domain}":
                target = "." if port is None else f"{self.srv_target or domain}."
                reply.add_answer(RR(request.q.qname, QTYPE.SRV, ttl=60, rdata=SRV(0, 0, port or 0, target)))
            elif qtype == "A" and name in (domain, self.srv_target) and not reply.rr:
                reply.add_answer(RR(request.q.qname, QTYPE.A, ttl=60, rdata=A("127.0.0.1")))
        # Every other name gets an empty answer, never NXDOMAIN: a resolver that
        # minimises query names asks for "example." and "_tcp.<domain>" on the way, and
        # would take NXDOMAIN there for everything below.
        return reply


def start_dns(servers, srv_target=None):
    """A DNS server of the test's own on a free loopback UDP port; .port is its port."""
    dns = DNSServer(StaticZone(servers, srv_target), port=free_port(), address="127.0.0.1")
    dns.start_thread()
    dns.port = dns.server.server_address[1]
    return dns


class ProsodyPeer:
    def __init__(self, directory: Path, domain: str, dns_servers: dict, s2s_options: str = ""):
        """dns_servers: the domains Prosody resolves through the test's DNS (domain -> s2s port)."""
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        self.domain = domain
        self.c2s_port, self.s2s_port = free_port(), free_port()
        self.dns = start_dns(dns_servers)
        self.config = directory / "prosody.cfg.lua"
        self.log = directory / "prosody.log"
        self.config.write_text(f"""
pidfile = "{directory}/prosody.pid"
data_path = "{directory}/data"
run_as_root = true
log = {{ debug = "{self.log}" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.c2s_port} }}
s2s_ports = {{ {self.s2s_port} }}
c2s_direct_tls_ports = {{}}
s2s_direct_tls_ports = {{}}
http_ports = {{}}
https_ports = {{}}
modules_enabled = {{ "roster", "saslauth", "tls", "dialback", "disco", "ping", "presence" }}
modules_disabled = {{ "s2s_bidi", "http", "http_files" }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
{"" if "s2s_secure_auth" in s2s_options else "s2s_secure_auth = false"}
{s2s_options}
unbound = {{ forward = "127.0.0.1@{self.dns.port}"; resolvconf = false; hoststxt = false;
            options = {{ ["do-not-query-localhost:"] = "no" }} }}
VirtualHost "{domain}"
""")
        self.process = subprocess.Popen([PROSODY, "-F", "--config", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(self._listening, timeout=15, message="prosody listening")

    def _listening(self):
        import socket
        assert self.process.poll() is None, f"prosody exited: {self.log_text()}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.c2s_port)) == 0

    def register(self, user, password):
        subprocess.run([PROSODYCTL, "--config", str(self.config), "register", user, self.domain, password],
                       check=True, capture_output=True, timeout=30)

    def log_text(self):
        return self.log.read_text() if self.log.exists() else ""

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.dns.stop()
