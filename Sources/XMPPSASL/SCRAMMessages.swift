/// Parsing of the two SCRAM client messages (RFC 5802 §7). Pure functions over strings:
/// the state machine in SCRAMServer decides what to do with the results.

struct SCRAMClientFirst: Equatable {
    /// The gs2 header exactly as sent, e.g. "n,,", echoed back inside c= of client-final.
    var gs2Header: String
    /// RFC 5802 §5.1 gs2-cbind-flag.
    enum BindingFlag: Equatable { case none, supportedByClient, required(type: String) }
    var bindingFlag: BindingFlag
    /// Decoded authzid, nil if absent.
    var authzid: String?
    /// Decoded authcid (saslname unescaped).
    var username: String
    var clientNonce: String
    /// client-first-message-bare, part of the AuthMessage.
    var bare: String
}

struct SCRAMClientFinal: Equatable {
    var channelBinding: [UInt8]
    var nonce: String
    var proof: [UInt8]
    /// client-final-message-without-proof, part of the AuthMessage.
    var withoutProof: String
}

struct SCRAMParseError: Error, Equatable {
    var failure: SASLFailure
    var text: String
    init(_ failure: SASLFailure, _ text: String) { self.failure = failure; self.text = text }
}

enum SCRAMMessages {
    /// SCRAM messages are UTF-8 without NUL; anything else cannot be a valid message.
    static func text(_ bytes: [UInt8]) throws -> String {
        guard !bytes.contains(0), let s = String(validating: bytes, as: UTF8.self) else {
            throw SCRAMParseError(.incorrectEncoding, "message is not valid UTF-8")
        }
        return s
    }

    static func parseClientFirst(_ bytes: [UInt8]) throws -> SCRAMClientFirst {
        let message = try text(bytes)
        let parts = message.split(separator: ",", omittingEmptySubsequences: false)
        let bindingFlag: SCRAMClientFirst.BindingFlag
        switch parts[0] {
        case "n": bindingFlag = .none
        // The client could bind but thinks we cannot: SCRAMServer checks that belief.
        case "y": bindingFlag = .supportedByClient
        case let flag where flag.hasPrefix("p=") && flag.count > 2:
            bindingFlag = .required(type: String(flag.dropFirst(2)))
        default:
            throw SCRAMParseError(.malformedRequest, "invalid gs2 channel binding flag")
        }
        guard parts.count >= 4 else { throw SCRAMParseError(.malformedRequest, "client-first-message is incomplete") }

        var authzid: String?
        if !parts[1].isEmpty {
            guard parts[1].hasPrefix("a=") else { throw SCRAMParseError(.malformedRequest, "invalid gs2 authzid") }
            let value = try decodeSaslname(parts[1].dropFirst(2))
            authzid = value.isEmpty ? nil : value
        }

        var rest = parts[2...]
        if let first = rest.first, first.hasPrefix("m=") {
            throw SCRAMParseError(.malformedRequest, "mandatory extensions are not supported")
        }
        guard let user = rest.popFirst(), user.hasPrefix("n=") else {
            throw SCRAMParseError(.malformedRequest, "missing username attribute")
        }
        let username = try decodeSaslname(user.dropFirst(2))
        guard !username.isEmpty else { throw SCRAMParseError(.malformedRequest, "empty username") }
        guard let nonce = rest.popFirst(), nonce.hasPrefix("r=") else {
            throw SCRAMParseError(.malformedRequest, "missing nonce attribute")
        }
        let clientNonce = String(nonce.dropFirst(2))
        guard isValidNonce(clientNonce) else { throw SCRAMParseError(.malformedRequest, "invalid client nonce") }
        // Any further attributes are optional extensions, which we ignore (RFC 5802 §7).
        try checkExtensions(rest)

        let headerLength = parts[0].utf8.count + parts[1].utf8.count + 2
        let utf8 = Array(message.utf8)
        return SCRAMClientFirst(
            gs2Header: String(decoding: utf8[..<headerLength], as: UTF8.self),
            bindingFlag: bindingFlag,
            authzid: authzid,
            username: username,
            clientNonce: clientNonce,
            bare: String(decoding: utf8[headerLength...], as: UTF8.self))
    }

    static func parseClientFinal(_ bytes: [UInt8]) throws -> SCRAMClientFinal {
        let message = try text(bytes)
        let parts = message.split(separator: ",", omittingEmptySubsequences: false)
        guard parts.count >= 3 else { throw SCRAMParseError(.malformedRequest, "client-final-message is incomplete") }
        guard parts[0].hasPrefix("c=") else { throw SCRAMParseError(.malformedRequest, "missing channel binding attribute") }
        guard let cbind = Base64.decode(String(parts[0].dropFirst(2))) else {
            throw SCRAMParseError(.incorrectEncoding, "channel binding is not valid base64")
        }
        guard parts[1].hasPrefix("r=") else { throw SCRAMParseError(.malformedRequest, "missing nonce attribute") }
        // The proof must be the last attribute (it signs everything before it).
        guard let last = parts.last, last.hasPrefix("p=") else {
            throw SCRAMParseError(.malformedRequest, "missing proof attribute")
        }
        guard let proof = Base64.decode(String(last.dropFirst(2))), !proof.isEmpty else {
            throw SCRAMParseError(.incorrectEncoding, "proof is not valid base64")
        }
        try checkExtensions(parts[2..<(parts.count - 1)])
        let withoutProof = parts.dropLast().joined(separator: ",")
        return SCRAMClientFinal(channelBinding: cbind, nonce: String(parts[1].dropFirst(2)),
                                proof: proof, withoutProof: withoutProof)
    }

    /// saslname (RFC 5802 §5.1): "," and "=" are sent as "=2C" and "=3D"; any other "=" is invalid.
    static func decodeSaslname<S: StringProtocol>(_ name: S) throws -> String {
        guard name.contains("=") else { return String(name) }
        var out = ""
        var i = name.startIndex
        while i < name.endIndex {
            if name[i] == "=" {
                let code = name[i...].prefix(3)
                switch code {
                case "=2C": out.append(",")
                case "=3D": out.append("=")
                default: throw SCRAMParseError(.malformedRequest, "invalid escape in saslname")
                }
                i = name.index(i, offsetBy: 3)
            } else {
                out.append(name[i])
                i = name.index(after: i)
            }
        }
        return out
    }

    static func encodeSaslname(_ name: String) -> String {
        var out = ""
        for c in name {
            switch c {
            case ",": out += "=2C"
            case "=": out += "=3D"
            default: out.append(c)
            }
        }
        return out
    }

    /// printable = %x21-2B / %x2D-7E (printable ASCII except ",").
    static func isValidNonce(_ nonce: String) -> Bool {
        !nonce.isEmpty && nonce.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: ",") }
    }

    /// Extensions are "x=value" with a letter name; anything else is malformed.
    private static func checkExtensions<C: Collection>(_ attributes: C) throws where C.Element == Substring {
        for attribute in attributes {
            let utf8 = Array(attribute.utf8)
            guard utf8.count >= 2, utf8[1] == UInt8(ascii: "="),
                  (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(utf8[0]) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(utf8[0])
            else { throw SCRAMParseError(.malformedRequest, "malformed attribute") }
        }
    }
}
