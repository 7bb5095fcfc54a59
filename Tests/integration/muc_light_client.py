"""Talking to MUC Light (mod_muc_light) with slixmpp clients: the iqs of the
protocol and the room's announcements."""
import xml.etree.ElementTree as ET

import slixmpp

from xmpp_client import next_matching

ML = "urn:xmpp:muclight:0"


def iq(client, itype, to, payload):
    """Sends an iq with `payload` (XML text); returns the result's payload as an
    Element (None when empty), or the error condition as a string."""
    async def send(xmpp):
        request = xmpp.make_iq(ito=to, itype=itype)
        request.xml.append(ET.fromstring(payload))
        try:
            result = await request.send(timeout=10)
        except slixmpp.exceptions.IqError as error:
            return error.iq["error"]["condition"]
        children = list(result.xml)
        return children[0] if children else None
    return client.run(send)


def announcement(client, namespace):
    """The next groupchat message from a room carrying <x xmlns=namespace>."""
    found = next_matching(client.messages, lambda m: m.xml.find(f"{{{namespace}}}x") is not None, timeout=10)
    assert found is not None, f"{client.jid}: no {namespace} announcement"
    return found, found.xml.find(f"{{{namespace}}}x")
