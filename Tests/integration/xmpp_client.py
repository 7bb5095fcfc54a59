"""A slixmpp client driven synchronously from tests: it runs on an asyncio loop in
a thread of its own, so a test can hold several clients and a connect loop at once."""
import asyncio
import queue
import threading
import time
from pathlib import Path

import slixmpp


class Client:
    def __init__(self, jid, password, port, host="127.0.0.1", mechanism=None, presence=True, plugins=(),
                 tls=None, ca_certs=None, certfile=None, keyfile=None):
        """tls: None (plaintext), "starttls" or "direct"; ca_certs verifies the server."""
        self.plugins = plugins
        self.tls = tls
        self.ca_certs, self.certfile, self.keyfile = ca_certs, certfile, keyfile
        self.jid = jid
        self.messages = queue.Queue()
        self.presences = queue.Queue()
        self.stream_errors = []
        self.disconnected = threading.Event()
        self.session_started = threading.Event()
        self.presence_echoed = threading.Event()
        self.wants_presence = presence
        self.auth_failed = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._call(self._create(jid, password, host, port, mechanism, presence))

    def _call(self, coroutine, timeout=15):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _create(self, jid, password, host, port, mechanism, presence):
        xmpp = slixmpp.ClientXMPP(jid, password)
        for plugin in self.plugins:
            xmpp.register_plugin(plugin)
        xmpp.enable_plaintext = self.tls is None
        xmpp.enable_starttls = self.tls == "starttls"
        xmpp.enable_direct_tls = self.tls == "direct"
        if self.ca_certs:
            xmpp.ca_certs = Path(self.ca_certs)
        if self.certfile:
            xmpp.certfile, xmpp.keyfile = self.certfile, self.keyfile
        xmpp.plugin["feature_mechanisms"].unencrypted_scram = True
        xmpp.plugin["feature_mechanisms"].unencrypted_plain = True
        if mechanism:
            xmpp.plugin["feature_mechanisms"].use_mech = mechanism

        def on_session(_):
            if presence:
                xmpp.send_presence()
            self.session_started.set()

        xmpp.add_event_handler("session_start", on_session)
        xmpp.add_event_handler("message", lambda m: self.messages.put(m))
        def on_presence(p):
            if p["from"] == xmpp.boundjid and p["type"] in ("available", ""):
                # The server's echo of our own initial presence: it is now in effect.
                self.presence_echoed.set()
            self.presences.put(p)

        xmpp.add_event_handler("presence", on_presence)
        xmpp.add_event_handler("failed_all_auth", lambda _: self.auth_failed.set())
        xmpp.add_event_handler("stream_error", lambda e: self.stream_errors.append(e["condition"]))
        xmpp.add_event_handler("disconnected", lambda _: self.disconnected.set())
        self.xmpp = xmpp
        xmpp.connect(host, port)

    def wait_session(self, timeout=15):
        if not self.session_started.wait(timeout):
            raise AssertionError(f"{self.jid}: no session within {timeout}s "
                                 f"(auth failed: {self.auth_failed.is_set()}, errors: {self.stream_errors})")
        if self.wants_presence and not self.presence_echoed.wait(timeout):
            raise AssertionError(f"{self.jid}: the server did not echo initial presence")
        return self

    @property
    def bound_jid(self):
        return str(self.xmpp.boundjid)

    def send_message(self, to, body, mtype="chat"):
        self.loop.call_soon_threadsafe(lambda: self.xmpp.send_message(mto=to, mbody=body, mtype=mtype))

    def send_raw(self, data):
        self.loop.call_soon_threadsafe(lambda: self.xmpp.send_raw(data))

    def run(self, make_coroutine, timeout=15):
        """Runs `make_coroutine(xmpp)` on the client's loop and returns its result."""
        async def call():
            return await make_coroutine(self.xmpp)
        return self._call(call(), timeout)

    def wait_message(self, timeout=10):
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.jid}: no message within {timeout}s") from None

    def wait_presence(self, predicate, what="matching presence", timeout=10):
        """The next received presence for which `predicate` is true (others are skipped)."""
        found = next_matching(self.presences, predicate, timeout)
        if found is None:
            raise AssertionError(f"{self.jid}: no {what} within {timeout}s")
        return found

    def close(self):
        shutdown(self)


def shutdown(peer):
    """Disconnects a slixmpp stream that runs on a loop thread of its own (a Client,
    or a test's component) and stops that loop; a second call does nothing."""
    if getattr(peer, "_closed", False) or not peer.thread.is_alive():
        return
    peer._closed = True

    async def stop():
        peer.xmpp.disconnect()
        await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, peer.disconnected.wait, 5)
        # Leave no slixmpp task pending on a loop that is about to stop.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)
    try:
        asyncio.run_coroutine_threadsafe(stop(), peer.loop).result(10)
    except Exception:
        pass
    peer.loop.call_soon_threadsafe(peer.loop.stop)
    peer.thread.join(5)
    # slixmpp objects touch their loop when collected: keep both alive.
    _FINISHED.append(peer)


_FINISHED = []


def next_matching(items, predicate, timeout):
    """The next item of the queue `items` for which `predicate` is true, skipping the
    others; None if none comes within `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            item = items.get(timeout=max(0.01, deadline - time.time()))
        except queue.Empty:
            return None
        if predicate(item):
            return item
    return None
