import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from xmppd_harness import Server, free_port  # noqa: E402


@pytest.fixture
def c2s_port():
    return free_port()


@pytest.fixture
def server(tmp_path, c2s_port):
    """One running xmppd with a single plaintext c2s listener on loopback."""
    instance = Server(tmp_path, f"""
[[listen.c2s]]
  port = {c2s_port}
  ip_address = "127.0.0.1"
  max_stanza_size = 65536
""")
    instance.c2s_port = c2s_port
    instance.start()
    yield instance
    instance.stop()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    from pki import PKI
    return PKI(tmp_path_factory.mktemp("pki"))
