extension XMLElement {
    /// The top-level elements of serialized XML as modules keep it in SQLite (a
    /// stanza, or a run of elements), parsed back with `jabber:client` as the
    /// default namespace, as they were written. Empty when the text is not XML.
    public static func parseStored(_ xml: String) -> [XMLElement] {
        let parser = XMLStreamParser(maxStanzaSize: nil)
        var elements: [XMLElement] = []
        let wrapped = "<stream:stream xmlns='\(XMPPNamespace.client)' xmlns:stream='\(XMPPNamespace.stream)'>" + xml
        try? parser.feed(Array(wrapped.utf8)) { event in
            if case .element(let element) = event { elements.append(element) }
        }
        return elements
    }
}
