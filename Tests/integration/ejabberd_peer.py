"""An ejabberd server (Debian's package) as a federation peer for the s2s tests. Its
SRV lookups go to a DNS server of the test's own: Erlang's resolver reads it from
an inetrc file, named by `-kernel inetrc` in the vm.args that ejabberdctl passes."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from prosody_peer import start_dns
from xmppd_harness import free_port, wait_for

EJABBERDCTL = shutil.which("ejabberdctl") or (os.path.exists("/usr/sbin/ejabberdctl") and "/usr/sbin/ejabberdctl")


class EjabberdPeer:
    def __init__(self, domain: str, dns_servers: dict):
        """dns_servers: the domains ejabberd resolves through the test's DNS (domain ->
        s2s port); their SRV records point at localhost."""
        self.domain = domain
        # ejabberdctl runs ejabberd as its own user: a directory that user may use.
        self.dir = Path(tempfile.mkdtemp(prefix="xmppd-ejabberd-", dir="/tmp"))
        for sub in ("config", "spool", "logs"):
            (self.dir / sub).mkdir()
        self.c2s_port, self.s2s_port = free_port(), free_port()
        self.node = f"xmppd_test_{self.c2s_port}@localhost"
        self.dns = start_dns(dns_servers, srv_target="localhost")
        inetrc = self.dir / "config" / "dns.inetrc"
        # resolv_conf "": Erlang would otherwise reload /etc/resolv.conf's nameservers
        # over this one at the next lookup.
        inetrc.write_text(f'{{resolv_conf, ""}}.\n{{nameserver, {{127,0,0,1}}, {self.dns.port}}}.\n{{lookup, [file, dns]}}.\n')
        (self.dir / "config" / "vm.args").write_text(f"-kernel inetrc '\"{inetrc}\"'\n")
        (self.dir / "config" / "ejabberd.yml").write_text(f"""
hosts: ["{domain}"]
loglevel: info
log_rotate_count: 0
listen:
  - port: {self.c2s_port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
  - port: {self.s2s_port}
    ip: "127.0.0.1"
    module: ejabberd_s2s_in
s2s_use_starttls: false
s2s_dns_timeout: 5
auth_method: internal
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
shaper_rules:
  c2s_shaper: none
  s2s_shaper: none
modules:
  mod_roster: {{}}
  mod_disco: {{}}
  mod_ping: {{}}
  mod_s2s_dialback: {{}}
""")
        user = pwd.getpwnam("ejabberd")
        for path in [self.dir, *self.dir.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        self.process = subprocess.Popen(self.ctl_args("foreground"), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for(self._listening, timeout=60, interval=0.2, message="ejabberd listening")

    def ctl_args(self, *args):
        return [EJABBERDCTL, "--config-dir", str(self.dir / "config"), "--config", str(self.dir / "config" / "ejabberd.yml"),
                "--spool", str(self.dir / "spool"), "--logs", str(self.dir / "logs"), "--node", self.node, *args]

    def _listening(self):
        assert self.process.poll() is None, f"ejabberd exited: {self.log_text()}"
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.c2s_port)) == 0

    def register(self, user, password):
        subprocess.run(self.ctl_args("register", user, self.domain, password), check=True, capture_output=True, timeout=60)

    def log_text(self):
        path = self.dir / "logs" / "ejabberd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self):
        subprocess.run(self.ctl_args("stop"), capture_output=True, timeout=60)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.dns.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
