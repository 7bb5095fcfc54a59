"""XEP-0313 answers as slixmpp's xep_0313 plugin returns them, read into plain values."""
import xml.etree.ElementTree as ET

FORWARD = "urn:xmpp:forward:0"
MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"
SID = "urn:xmpp:sid:0"
DELAY = "urn:xmpp:delay"
CLIENT = "jabber:client"


def results_of(iq):
    out = []
    for message in iq["mam"]["results"]:
        result = message.xml.find(f"{{{MAM}}}result")
        inner = result.find(f"{{{FORWARD}}}forwarded/{{{CLIENT}}}message")
        stamp = result.find(f"{{{FORWARD}}}forwarded/{{{DELAY}}}delay").get("stamp")
        out.append({"id": result.get("id"), "queryid": result.get("queryid"), "stamp": stamp,
                    "body": inner.findtext(f"{{{CLIENT}}}body"), "from": inner.get("from"), "to": inner.get("to")})
    return out


def fin_of(iq):
    fin = iq.xml.find(f"{{{MAM}}}fin")
    assert fin is not None, ET.tostring(iq.xml)
    rsm = fin.find(f"{{{RSM}}}set")
    first = rsm.find(f"{{{RSM}}}first")
    return {"complete": fin.get("complete") in ("true", "1"),
            "first": first.text if first is not None else None,
            "index": int(first.get("index")) if first is not None else None,
            "last": rsm.findtext(f"{{{RSM}}}last"), "count": int(rsm.findtext(f"{{{RSM}}}count"))}
