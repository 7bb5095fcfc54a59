/// Result builder so trees read like the XML they produce:
///
///     XMLElement(name: "iq", namespace: XMPPNamespace.client, attributes: ["type": "result"]) {
///         XMLElement(name: "bind", namespace: XMPPNamespace.bind) {
///             XMLElement(name: "jid") { "juliet@example.com/balcony" }
///         }
///     }
@resultBuilder
public enum XMLBuilder {
    public static func buildExpression(_ e: XMLElement) -> [XMLNode] { [.element(e)] }
    public static func buildExpression(_ s: String) -> [XMLNode] { s.isEmpty ? [] : [.text(s)] }
    public static func buildExpression(_ n: XMLNode) -> [XMLNode] { [n] }
    public static func buildExpression(_ ns: [XMLNode]) -> [XMLNode] { ns }
    public static func buildExpression(_ es: [XMLElement]) -> [XMLNode] { es.map { .element($0) } }
    public static func buildExpression(_ e: XMLElement?) -> [XMLNode] { e.map { [.element($0)] } ?? [] }
    public static func buildBlock(_ parts: [XMLNode]...) -> [XMLNode] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [XMLNode]?) -> [XMLNode] { part ?? [] }
    public static func buildEither(first: [XMLNode]) -> [XMLNode] { first }
    public static func buildEither(second: [XMLNode]) -> [XMLNode] { second }
    public static func buildArray(_ parts: [[XMLNode]]) -> [XMLNode] { parts.flatMap { $0 } }
}

extension XMLElement {
    public init(name: String, namespace: String? = nil, attributes: [String: String] = [:],
                @XMLBuilder content: () -> [XMLNode]) {
        self.init(name: name, namespace: namespace, attributes: attributes, children: content())
    }

    /// `XMLElement(name: "body", text: "hi")`
    public init(name: String, namespace: String? = nil, attributes: [String: String] = [:], text: String) {
        self.init(name: name, namespace: namespace, attributes: attributes, children: text.isEmpty ? [] : [.text(text)])
    }

    /// Chainable copies, for one-liners such as `stanza.setting("from", to: jid.description)`.
    public func setting(_ attribute: String, to value: String?) -> XMLElement {
        var copy = self
        copy[attribute: attribute] = value
        return copy
    }

    public func appending(_ element: XMLElement) -> XMLElement {
        var copy = self
        copy.append(element)
        return copy
    }

    public func appending(text: String) -> XMLElement {
        var copy = self
        copy.append(text: text)
        return copy
    }

    /// Removes every child element with this name (nil namespace = any).
    public mutating func removeChildren(_ name: String, namespace: String? = nil) {
        children.removeAll {
            if case .element(let e) = $0 { return e.name == name && (namespace == nil || e.namespace == namespace) }
            return false
        }
    }
}
