import XMPPCore

/// The stanzas of a XEP-0313 exchange.
enum MAMStanzas {
    static let forward = "urn:xmpp:forward:0"
    static let delay = "urn:xmpp:delay"

    /// `<message to='requester'><result queryid id><forwarded><delay/><message/>`.
    static func result(_ row: ArchiveRow, message: XMLElement, owner: JID, to requester: JID, queryID: String?) -> XMLElement {
        var forwarded = XMLElement(name: "forwarded", namespace: forward)
        forwarded.append(XMLElement(name: "delay", namespace: delay, attributes: ["stamp": Timestamps.format(row.timestamp)]))
        forwarded.append(message)
        var result = XMLElement(name: "result", namespace: ModMAM.namespace, attributes: ["id": row.stanzaID])
        if let queryID { result[attribute: "queryid"] = queryID }
        result.append(forwarded)
        var wrapper = XMLElement(name: "message", namespace: XMPPNamespace.client,
                                 attributes: ["from": owner.description, "to": requester.description])
        wrapper.append(result)
        return wrapper
    }

    /// `<fin complete><set><first index/><last/><count/></set></fin>`.
    static func fin(_ page: ArchivePage) -> XMLElement {
        let rsm = ArchiveQuery.rsm
        var set = XMLElement(name: "set", namespace: rsm)
        if let first = page.rows.first {
            set.append(XMLElement(name: "first", namespace: rsm, attributes: ["index": String(page.firstIndex ?? 0)],
                                  text: first.stanzaID))
        }
        if let last = page.rows.last {
            set.append(XMLElement(name: "last", namespace: rsm, text: last.stanzaID))
        }
        set.append(XMLElement(name: "count", namespace: rsm, text: String(page.count)))
        var fin = XMLElement(name: "fin", namespace: ModMAM.namespace)
        if page.complete { fin[attribute: "complete"] = "true" }
        fin.append(set)
        return fin
    }

    /// The answer to an iq get: the form a query may fill in (XEP-0313 §4.1.1).
    static func form(fullTextSearch: Bool) -> XMLElement {
        let x = ArchiveQuery.dataForms
        var form = XMLElement(name: "x", namespace: x, attributes: ["type": "form"])
        var formType = XMLElement(name: "field", namespace: x, attributes: ["type": "hidden", "var": "FORM_TYPE"])
        formType.append(XMLElement(name: "value", namespace: x, text: ModMAM.namespace))
        form.append(formType)
        let types = ["with": "jid-single", "start": "text-single", "end": "text-single",
                     "before-id": "text-single", "after-id": "text-single", ArchiveQuery.fullTextSearch: "text-single"]
        for name in ArchiveQuery.fields + (fullTextSearch ? [ArchiveQuery.fullTextSearch] : []) {
            form.append(XMLElement(name: "field", namespace: x, attributes: ["type": types[name]!, "var": name]))
        }
        var query = XMLElement(name: "query", namespace: ModMAM.namespace)
        query.append(form)
        return query
    }

    /// `<stanza-id xmlns='urn:xmpp:sid:0' by='owner' id='…'/>` (XEP-0359).
    static func stanzaID(_ id: String, by owner: JID) -> XMLElement {
        XMLElement(name: "stanza-id", namespace: ModMAM.stanzaIDs, attributes: ["by": owner.description, "id": id])
    }
}
