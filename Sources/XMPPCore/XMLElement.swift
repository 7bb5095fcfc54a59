/// A node of a stanza tree: an element or a run of character data.
public enum XMLNode: Equatable, Sendable {
    case element(XMLElement)
    case text(String)
}

/// One XML element as a plain value. Stanzas are built once by the parser and then
/// read or lightly rewritten (e.g. stamping `from`), so a value type with arrays is
/// cheaper than a class graph and is Sendable for free.
public struct XMLElement: Sendable {
    /// Local name (no prefix).
    public var name: String
    /// Resolved namespace. `nil` means "no namespace of its own": the serialiser
    /// then inherits whatever default namespace is in scope (handy for builders).
    public var namespace: String?
    /// Attributes in document order. Names are qualified as written for prefixed
    /// attributes (`xml:lang`); `xmlns` declarations for the default namespace are
    /// never stored here (the namespace lives in `namespace`).
    public var attributes: [(name: String, value: String)]
    public var children: [XMLNode]

    /// Dictionary attributes are sorted by name so output is deterministic.
    public init(name: String, namespace: String? = nil, attributes: [String: String] = [:], children: [XMLNode] = []) {
        self.name = name
        self.namespace = namespace
        if attributes.isEmpty {
            self.attributes = []
        } else {
            self.attributes = attributes.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
        }
        self.children = children
    }

    /// Ordered-attribute initialiser (the parser uses this; no dictionary hashing).
    public init(name: String, namespace: String?, orderedAttributes: [(name: String, value: String)], children: [XMLNode] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = orderedAttributes
        self.children = children
    }

    /// Reads or writes an attribute by qualified name; assigning nil removes it.
    public subscript(attribute name: String) -> String? {
        get {
            for a in attributes where a.name == name { return a.value }
            return nil
        }
        set {
            if let i = attributes.firstIndex(where: { $0.name == name }) {
                if let v = newValue { attributes[i].value = v } else { attributes.remove(at: i) }
            } else if let v = newValue {
                attributes.append((name: name, value: v))
            }
        }
    }

    /// Element children, in order.
    public var elements: [XMLElement] {
        var out: [XMLElement] = []
        for case .element(let e) in children { out.append(e) }
        return out
    }

    /// Concatenation of the direct text children (not descendants).
    public var text: String {
        var first: String?
        var joined: String?
        for case .text(let t) in children {
            if first == nil { first = t } else { joined = (joined ?? first!) + t }
        }
        return joined ?? first ?? ""
    }

    /// First child element with this local name, in `namespace` (nil = any namespace).
    public func child(_ name: String, namespace: String? = nil) -> XMLElement? {
        for case .element(let e) in children where e.name == name {
            if namespace == nil || e.namespace == namespace { return e }
        }
        return nil
    }

    /// All child elements with this local name, in `namespace` (nil = any namespace).
    public func children(_ name: String, namespace: String? = nil) -> [XMLElement] {
        var out: [XMLElement] = []
        for case .element(let e) in children where e.name == name && (namespace == nil || e.namespace == namespace) {
            out.append(e)
        }
        return out
    }

    public mutating func append(_ element: XMLElement) {
        children.append(.element(element))
    }

    /// Appends text, merging with a trailing text node so `text` stays one run.
    public mutating func append(text: String) {
        guard !text.isEmpty else { return }
        if case .text(let last)? = children.last {
            children[children.count - 1] = .text(last + text)
        } else {
            children.append(.text(text))
        }
    }
}

extension XMLElement: Equatable {
    /// Attribute order is not significant in XML, so equality ignores it.
    public static func == (lhs: XMLElement, rhs: XMLElement) -> Bool {
        guard lhs.name == rhs.name, lhs.namespace == rhs.namespace,
              lhs.attributes.count == rhs.attributes.count else { return false }
        for a in lhs.attributes where rhs[attribute: a.name] != a.value { return false }
        return lhs.children == rhs.children
    }
}
