/// An XMPP address (RFC 7622): `[localpart@]domainpart[/resourcepart]`.
///
/// Normalisation is a simplification of PRECIS (RFC 7613/8265): localpart and
/// domainpart are case-folded with Swift's `lowercased()` (no NFC, no width mapping,
/// no IDNA), a trailing dot on the domain is removed, and the resource is kept as is.
/// Two JIDs compare equal exactly when their normalised parts do.
public struct JID: Hashable, Sendable, CustomStringConvertible {
    public let local: String?
    public let domain: String
    public let resource: String?

    /// Each part is limited to 1023 bytes of UTF-8 (RFC 7622 §3.2–3.4).
    public static let maxPartLength = 1023

    /// Parses and validates; nil if the string is not a valid JID.
    public init?(_ string: String) {
        // Nearly every JID is ASCII: checked byte by byte, without Unicode properties.
        switch JID.parseASCII(string) {
        case .valid(let jid): self = jid; return
        case .invalid: return nil
        case .notASCII: break
        }
        // RFC 7622 §3.1: the resource starts at the first '/', the localpart ends at
        // the first '@' before it (so '@' and '/' are allowed inside the resource).
        var rest = Substring(string)
        var resource: Substring?
        if let slash = rest.firstIndex(of: "/") {
            resource = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var local: Substring?
        if let at = rest.firstIndex(of: "@") {
            local = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        self.init(validatingLocal: local.map(String.init), domain: String(rest), resource: resource.map(String.init))
    }

    /// Validating initialiser from parts; nil if any part is invalid.
    public init?(validatingLocal local: String?, domain: String, resource: String? = nil) {
        guard let d = JID.normalizeDomain(domain) else { return nil }
        var l: String?
        if let local {
            guard let n = JID.normalizeLocal(local) else { return nil }
            l = n
        }
        if let resource {
            guard JID.isValidResource(resource) else { return nil }
        }
        self.local = l
        self.domain = d
        self.resource = resource
    }

    /// Builds a JID from parts the caller already trusts (config, our own bind):
    /// normalises case and the trailing dot but does not validate. Empty strings for
    /// local or resource are treated as absent.
    public init(local: String? = nil, domain: String, resource: String? = nil) {
        self.local = (local?.isEmpty ?? true) ? nil : JID.fold(local!)
        var d = JID.fold(domain)
        if d.hasSuffix("."), d.count > 1 { d.removeLast() }
        self.domain = d
        self.resource = (resource?.isEmpty ?? true) ? nil : resource
    }

    /// The JID without its resource.
    public var bare: JID { resource == nil ? self : JID(normalizedLocal: local, domain: domain, resource: nil) }
    public var isBare: Bool { resource == nil }
    /// Just the domain (e.g. the server a JID belongs to).
    public var domainJID: JID { JID(normalizedLocal: nil, domain: domain, resource: nil) }

    /// The same bare JID with a (validated) resource; nil if the resource is invalid.
    public func withResource(_ resource: String?) -> JID? {
        if let resource, !JID.isValidResource(resource) { return nil }
        return JID(normalizedLocal: local, domain: domain, resource: resource)
    }

    public var description: String {
        var s = ""
        if let local { s += local; s += "@" }
        s += domain
        if let resource { s += "/"; s += resource }
        return s
    }

    private init(normalizedLocal: String?, domain: String, resource: String?) {
        self.local = normalizedLocal
        self.domain = domain
        self.resource = resource
    }

    // MARK: - validation and normalisation

    enum ASCIIParse { case valid(JID), invalid, notASCII }

    /// `init?(_:)` for an all-ASCII string, with the same rules as the general path
    /// (for ASCII, White_Space is 0x09–0x0D and 0x20, and those are all below 0x21).
    static func parseASCII(_ string: String) -> ASCIIParse {
        var string = string
        return string.withUTF8 { all -> ASCIIParse in
            let n = all.count
            var slash = n
            for i in 0..<n {
                let b = all[i]
                if b >= 0x80 { return .notASCII }
                if b == UInt8(ascii: "/") && slash == n { slash = i }
            }
            var at = -1
            for i in 0..<slash where all[i] == UInt8(ascii: "@") { at = i; break }

            var local: String?
            if at >= 0 {
                let part = UnsafeBufferPointer(rebasing: all[0..<at])
                guard !part.isEmpty, part.count <= maxPartLength else { return .invalid }
                var upper = false
                for b in part {
                    switch b {
                    case UInt8(ascii: "\""), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "/"), UInt8(ascii: ":"),
                         UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"):
                        return .invalid
                    default:
                        if b <= 0x20 || b == 0x7F { return .invalid }
                        if b >= 0x41 && b <= 0x5A { upper = true }
                    }
                }
                local = upper ? String(decoding: part.map(asciiLower), as: UTF8.self) : String(decoding: part, as: UTF8.self)
            }

            var domain = UnsafeBufferPointer(rebasing: all[(at + 1)..<slash])
            if domain.last == UInt8(ascii: ".") { domain = UnsafeBufferPointer(rebasing: domain.dropLast()) }
            guard !domain.isEmpty, domain.count <= maxPartLength else { return .invalid }
            let ipLiteral = domain.first == UInt8(ascii: "[")
            if ipLiteral {
                guard domain.last == UInt8(ascii: "]"), domain.count > 2 else { return .invalid }
            }
            var upper = false
            var previous: UInt8 = UInt8(ascii: ".")   // a leading '.' is an empty label
            for b in domain {
                switch b {
                case UInt8(ascii: "@"), UInt8(ascii: "/"), UInt8(ascii: "\""), UInt8(ascii: "&"), UInt8(ascii: "'"),
                     UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "\\"):
                    return .invalid
                case UInt8(ascii: ":") where !ipLiteral:
                    return .invalid
                case UInt8(ascii: ".") where !ipLiteral && previous == UInt8(ascii: "."):
                    return .invalid
                default:
                    if b <= 0x20 || b == 0x7F { return .invalid }
                    if b >= 0x41 && b <= 0x5A { upper = true }
                }
                previous = b
            }
            if !ipLiteral && previous == UInt8(ascii: ".") { return .invalid }   // a trailing empty label
            let d = upper ? String(decoding: domain.map(asciiLower), as: UTF8.self) : String(decoding: domain, as: UTF8.self)

            var resource: String?
            if slash < n {
                let part = UnsafeBufferPointer(rebasing: all[(slash + 1)..<n])
                guard !part.isEmpty, part.count <= maxPartLength else { return .invalid }
                for b in part where b < 0x20 || b == 0x7F { return .invalid }
                resource = String(decoding: part, as: UTF8.self)
            }
            return .valid(JID(normalizedLocal: local, domain: d, resource: resource))
        }
    }

    @inline(__always)
    static func asciiLower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b + 0x20 : b }

    /// Case fold; skips the allocation when an ASCII string is already lower case.
    static func fold(_ s: String) -> String {
        for b in s.utf8 where b >= 0x80 || (b >= 0x41 && b <= 0x5A) { return s.lowercased() }
        return s
    }

    static func normalizeLocal(_ s: String) -> String? {
        guard !s.isEmpty else { return nil }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"", "&", "'", "/", ":", "<", ">", "@": return nil
            default:
                if scalar.properties.isWhitespace || isControl(scalar) { return nil }
            }
        }
        let folded = fold(s)
        guard folded.utf8.count <= maxPartLength else { return nil }
        return folded
    }

    static func normalizeDomain(_ s: String) -> String? {
        var d = fold(s)
        if d.hasSuffix(".") { d.removeLast() }   // RFC 7622 §3.2: a trailing dot is stripped
        guard !d.isEmpty, d.utf8.count <= maxPartLength else { return nil }
        let ipLiteral = d.hasPrefix("[")
        if ipLiteral {
            guard d.hasSuffix("]"), d.utf8.count > 2 else { return nil }
        }
        for scalar in d.unicodeScalars {
            switch scalar {
            case "@", "/", "\"", "&", "'", "<", ">", "\\": return nil
            case ":" where !ipLiteral: return nil
            default:
                if scalar.properties.isWhitespace || isControl(scalar) { return nil }
            }
        }
        if !ipLiteral {
            // No empty labels ("a..b", ".a"). Label length is not checked: without IDNA
            // the UTF-8 length of an internationalised label says nothing about its A-label.
            for label in d.split(separator: ".", omittingEmptySubsequences: false) where label.isEmpty {
                return nil
            }
        }
        return d
    }

    static func isValidResource(_ s: String) -> Bool {
        guard !s.isEmpty, s.utf8.count <= maxPartLength else { return false }
        for scalar in s.unicodeScalars where isControl(scalar) { return false }
        return true
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (s.value >= 0x7F && s.value <= 0x9F)
    }
}

extension JID: Codable {
    /// Encoded as its string form.
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let jid = JID(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid JID: \(s)")
        }
        self = jid
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

extension JID: LosslessStringConvertible {}
