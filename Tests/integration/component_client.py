"""An external component (XEP-0114) for tests: slixmpp's ComponentXMPP on a thread
of its own, echoing what it gets."""
import asyncio
import queue
import threading

import slixmpp

from xmpp_client import shutdown

SECRET = "component-secret"


class Component:
    """A slixmpp ComponentXMPP on a thread of its own. It echoes every message it
    gets back to the sender ("echo: <body>", from the address it was sent to)."""

    def __init__(self, jid, port, secret=SECRET, is_subdomain=False, echo=True):
        self.jid = jid
        self.port = port
        self.secret = secret
        self.is_subdomain = is_subdomain
        self.messages = queue.Queue()
        self.stream_errors = []
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.echo = echo
        self._call(self._create())

    def _call(self, coroutine, timeout=15):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _create(self):
        xmpp = slixmpp.ComponentXMPP(self.jid, self.secret, "127.0.0.1", self.port)
        if self.is_subdomain:
            xmpp.stream_header = xmpp.stream_header[:-1] + ' is_subdomain="true">'

        def on_message(msg):
            self.messages.put(msg)
            if self.echo and msg["type"] != "error":
                xmpp.send_message(mto=msg["from"], mfrom=msg["to"], mbody=f"echo: {msg['body']}", mtype=msg["type"])

        xmpp.add_event_handler("session_start", lambda _: self.connected.set())
        xmpp.add_event_handler("message", on_message)
        xmpp.add_event_handler("stream_error", lambda e: self.stream_errors.append(e["condition"]))
        xmpp.add_event_handler("disconnected", lambda _: self.disconnected.set())
        self.xmpp = xmpp
        xmpp.connect()

    def wait_connected(self, timeout=10):
        if not self.connected.wait(timeout):
            raise AssertionError(f"component {self.jid}: no handshake within {timeout}s ({self.stream_errors})")
        return self

    def send_message(self, to, body, mfrom):
        self.loop.call_soon_threadsafe(lambda: self.xmpp.send_message(mto=to, mbody=body, mfrom=mfrom))

    def wait_message(self, timeout=10):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"component {self.jid}: no message within {timeout}s") from None

    def close(self):
        shutdown(self)
