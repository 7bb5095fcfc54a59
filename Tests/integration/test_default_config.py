"""The shipped etc/xmppd.toml runs as-is: a generated certificate, STARTTLS on the
first listener, direct TLS on the second, WebSocket and BOSH on the third, the admin REST
API on loopback and the client REST API over TLS, the default modules."""
import http.client
import json
import re
import ssl
import subprocess
from pathlib import Path

from bosh_client import BOSHClient
from rest_client import basic, request
from ws_client import CLIENT, WSClient
from xmpp_client import Client
from xmppd_harness import XMPPCTL, XMPPD, free_port, pid_alive

REPO = Path(__file__).resolve().parents[2]


def test_shipped_config_serves_tls_clients(tmp_path):
    (tmp_path / "etc").mkdir()
    starttls, direct, websocket, admin, client, s2s = (free_port() for _ in range(6))
    text = (REPO / "etc" / "xmppd.toml").read_text()
    # Same file, other ports: the test must not depend on 5222/5223/5269/5280/8088/8089 being free.
    text = text.replace("port = 5222", f"port = {starttls}").replace("port = 5223", f"port = {direct}")
    text = text.replace("port = 5280", f"port = {websocket}").replace("port = 5269", f"port = {s2s}")
    text = text.replace("port = 8088", f"port = {admin}").replace("port = 8089", f"port = {client}")
    config = tmp_path / "etc" / "xmppd.toml"
    config.write_text(text)
    started = subprocess.run([XMPPD, "start", "-c", str(config)], capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    supervisor = int(re.search(r"pid (\d+)", started.stdout).group(1))
    try:
        certificate = tmp_path / "var" / "server.pem"
        assert certificate.exists()
        subprocess.run([XMPPCTL, "register", "alice", "localhost", "secret", "-c", str(config)], check=True)
        subprocess.run([XMPPCTL, "register", "bob", "localhost", "secret", "-c", str(config)], check=True)
        # The self-signed certificate names localhost: it verifies as its own CA.
        alice = Client("alice@localhost/a", "secret", starttls, tls="starttls", ca_certs=certificate).wait_session()
        bob = Client("bob@localhost/b", "secret", direct, tls="direct", ca_certs=certificate).wait_session()
        # To bob's bare JID at once: his presence may not have reached alice's worker
        # yet, so the message can go to offline storage; mod_offline then delivers it
        # as soon as it is stored (it failed here under load before it did).
        alice.send_message("bob@localhost", "hello over the shipped config")
        assert bob.wait_message()["body"] == "hello over the shipped config"
        # A web client on the WebSocket listener reaches both.
        subprocess.run([XMPPCTL, "register", "carol", "localhost", "secret", "-c", str(config)], check=True)
        carol = WSClient(f"ws://127.0.0.1:{websocket}/ws-xmpp")
        carol.login("carol")
        carol.send("<message xmlns='jabber:client' to='bob@localhost/b' type='chat'><body>from the web</body></message>")
        assert bob.wait_message()["body"] == "from the web"
        bob.send_message("carol@localhost/ws", "back to the web")
        assert carol.recv_until(f"{CLIENT}message")[1].find(f"{CLIENT}body").text == "back to the web"
        carol.close()
        # And one on BOSH, same port.
        dave = BOSHClient(websocket)
        subprocess.run([XMPPCTL, "register", "dave", "localhost", "secret", "-c", str(config)], check=True)
        dave.login("dave")
        dave.request("<message xmlns='jabber:client' to='bob@localhost/b' type='chat'><body>from bosh</body></message>")
        assert bob.wait_message()["body"] == "from bosh"
        # The admin API on loopback, the client API over TLS with its docs.
        status, users, _ = request(admin, "GET", "/api/users/localhost")
        assert (status, users) == (200, ["alice@localhost", "bob@localhost", "carol@localhost", "dave@localhost"])
        context = ssl.create_default_context(cafile=str(certificate))
        connection = http.client.HTTPSConnection("localhost", client, context=context, timeout=10)
        connection.request("GET", "/api/contacts", headers={"Authorization": basic("alice@localhost", "secret")})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, [])
        connection.request("GET", "/api-docs/swagger.json")
        response = connection.getresponse()
        assert response.status == 200 and "/api/contacts" in json.loads(response.read())["paths"]
        connection.close()
        alice.close()
        bob.close()
    finally:
        subprocess.run([XMPPCTL, "stop", "-c", str(config)], capture_output=True, timeout=30)
        assert not pid_alive(supervisor) or subprocess.run(["kill", "-9", str(supervisor)]).returncode == 0
