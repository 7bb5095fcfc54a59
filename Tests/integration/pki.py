"""A throw-away PKI for TLS tests, made with the openssl CLI: a CA, a server
certificate for localhost, client certificates, and a CRL."""
import subprocess
from pathlib import Path


def run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


class PKI:
    def __init__(self, directory: Path):
        self.dir = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "index.txt").write_text("")
        (directory / "crlnumber").write_text("01\n")
        (directory / "ca.cnf").write_text(f"""
[ca]
default_ca = local
[local]
dir = {directory}
database = $dir/index.txt
crlnumber = $dir/crlnumber
default_md = sha256
default_crl_days = 30
""")
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=xmppd test CA", cwd=directory)
        self.ca = directory / "ca.pem"
        self.server = self.issue("server", "/CN=localhost", "subjectAltName=DNS:localhost")

    def c2s_listener(self, port, mode, extra=""):
        """A [[listen.c2s]] table on loopback with TLS on this PKI's server certificate."""
        return f"""
[[listen.c2s]]
  port = {port}
  ip_address = "127.0.0.1"
  tls.mode = "{mode}"
  tls.certfile = "{self.server}"
{extra}
"""

    def issue(self, name, subject, extension):
        """A key and certificate signed by the CA; returns the combined PEM (cert + key)."""
        d = self.dir
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", subject, cwd=d)
        (d / f"{name}.ext").write_text(extension + "\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
        combined = d / f"{name}.pem"
        combined.write_text((d / f"{name}.crt").read_text() + (d / f"{name}.key").read_text())
        return combined

    def client(self, name, jid):
        """A client certificate naming `jid` as its xmppAddr (XEP-0178)."""
        return self.issue(name, f"/CN={jid}",
                          f"subjectAltName=otherName:1.3.6.1.5.5.7.8.5;UTF8:{jid}\nextendedKeyUsage=clientAuth")

    def revoke(self, name):
        """Revokes a certificate; returns the path of a fresh CRL."""
        d = self.dir
        run("ca", "-config", "ca.cnf", "-revoke", f"{name}.crt", "-keyfile", "ca.key", "-cert", "ca.pem", cwd=d)
        run("ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "ca.key", "-cert", "ca.pem", "-out", "crl.pem", cwd=d)
        return d / "crl.pem"

    def key(self, name):
        return self.dir / f"{name}.key"

    def cert(self, name):
        return self.dir / f"{name}.crt"
