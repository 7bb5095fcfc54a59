// PROXY protocol (HAProxy, versions 1 and 2): the header value, the error type,
// and encoders for both versions.
//
// The encoders are here, next to the value, so that tests and the project's test
// clients (and a future outgoing proxy) produce exactly what the decoder accepts.
// Spec: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt

import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a PROXY protocol header said about the connection.
///
/// Fired as a user inbound event by `ProxyProtocolDecoder` before any application byte.
public struct ProxyProtocolHeader: Sendable, Hashable, CustomStringConvertible {
    public enum Version: Sendable, Hashable {
        case v1
        case v2
    }

    public enum Command: Sendable, Hashable {
        /// v2 LOCAL, or v1 `PROXY UNKNOWN`: the connection was made by the proxy itself
        /// (health check) or the proxy does not know the client; the socket's own
        /// addresses must be used. `source`/`destination` are nil.
        case local
        /// The connection is relayed for a client: `source`/`destination` are the
        /// client's address and the address the client connected to; both are nil
        /// for a v2 PROXY header with the UNSPEC family (the spec's "unknown" case,
        /// where the socket's own addresses must be used, as for LOCAL).
        case proxy
    }

    public var version: Version
    public var command: Command
    /// The original client's address; nil for LOCAL / UNKNOWN / UNSPEC.
    public var source: SocketAddress?
    /// The address the client connected to (the proxy's listener); nil when unknown.
    public var destination: SocketAddress?

    public init(version: Version, command: Command, source: SocketAddress?, destination: SocketAddress?) {
        self.version = version
        self.command = command
        self.source = source
        self.destination = destination
    }

    /// A relayed TCP connection. Both addresses must be of the same family.
    public static func proxy(version: Version, source: SocketAddress, destination: SocketAddress) -> ProxyProtocolHeader {
        ProxyProtocolHeader(version: version, command: .proxy, source: source, destination: destination)
    }

    /// v1 `PROXY UNKNOWN` / v2 `LOCAL`.
    public static func local(version: Version) -> ProxyProtocolHeader {
        ProxyProtocolHeader(version: version, command: .local, source: nil, destination: nil)
    }

    public var description: String {
        switch command {
        case .local: return "PROXY \(version) LOCAL"
        case .proxy:
            return "PROXY \(version) \(source.map { "\($0)" } ?? "?") -> \(destination.map { "\($0)" } ?? "?")"
        }
    }
}

/// A missing, malformed or late PROXY header. The decoder fires it through
/// `errorCaught` and closes the connection.
public struct ProxyProtocolError: Error, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The first bytes are not a PROXY header at all (e.g. XML straight away).
        case missingHeader
        /// Starts like a v1 header but is not a valid one.
        case invalidV1
        /// Starts like a v2 header but is not a valid one.
        case invalidV2
        /// No complete header within the configured timeout.
        case timeout
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Errors from the encoders (bad arguments, not bad input).
public enum ProxyProtocolEncodingError: Error, Hashable {
    case addressFamilyMismatch
    case unsupportedAddress
    case tlvTooLong
}

// MARK: - Encoders

extension ProxyProtocolHeader {
    /// The v2 signature: `\r\n\r\n\0\r\nQUIT\n`.
    public static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// Writes the header as a v1 text line (`PROXY TCP4 a b p q\r\n` or `PROXY UNKNOWN\r\n`).
    public func writeV1(into buffer: inout ByteBuffer) throws {
        guard command == .proxy, let source, let destination else {
            buffer.writeString("PROXY UNKNOWN\r\n")
            return
        }
        let family: String
        switch (source, destination) {
        case (.v4, .v4): family = "TCP4"
        case (.v6, .v6): family = "TCP6"
        case (.v4, _), (.v6, _): throw ProxyProtocolEncodingError.addressFamilyMismatch
        default: throw ProxyProtocolEncodingError.unsupportedAddress
        }
        guard let sip = source.ipAddress, let dip = destination.ipAddress,
              let sport = source.port, let dport = destination.port
        else { throw ProxyProtocolEncodingError.unsupportedAddress }
        buffer.writeString("PROXY \(family) \(sip) \(dip) \(sport) \(dport)\r\n")
    }

    /// Writes the header in the v2 binary form; `tlvs` (type, value) are appended as-is.
    public func writeV2(into buffer: inout ByteBuffer, tlvs: [(type: UInt8, value: [UInt8])] = []) throws {
        var tlvBytes = 0
        for tlv in tlvs {
            guard tlv.value.count <= 0xFFFF else { throw ProxyProtocolEncodingError.tlvTooLong }
            tlvBytes += 3 + tlv.value.count
        }
        buffer.writeBytes(Self.v2Signature)
        var addressBytes: [UInt8] = []
        let familyByte: UInt8
        if command == .proxy, let source, let destination {
            switch (source, destination) {
            case (.v4(let s), .v4(let d)):
                familyByte = 0x11
                addressBytes += withUnsafeBytes(of: s.address.sin_addr) { Array($0) }
                addressBytes += withUnsafeBytes(of: d.address.sin_addr) { Array($0) }
            case (.v6(let s), .v6(let d)):
                familyByte = 0x21
                addressBytes += withUnsafeBytes(of: s.address.sin6_addr) { Array($0) }
                addressBytes += withUnsafeBytes(of: d.address.sin6_addr) { Array($0) }
            case (.v4, _), (.v6, _): throw ProxyProtocolEncodingError.addressFamilyMismatch
            default: throw ProxyProtocolEncodingError.unsupportedAddress
            }
            guard let sport = source.port, let dport = destination.port else {
                throw ProxyProtocolEncodingError.unsupportedAddress
            }
            addressBytes += [UInt8(sport >> 8), UInt8(sport & 0xFF), UInt8(dport >> 8), UInt8(dport & 0xFF)]
            buffer.writeInteger(UInt8(0x21))  // version 2, PROXY
        } else {
            familyByte = 0x00  // UNSPEC
            // v2 has two ways to say "no addresses": LOCAL, and PROXY with UNSPEC.
            buffer.writeInteger(UInt8(command == .local ? 0x20 : 0x21))
        }
        let length = addressBytes.count + tlvBytes
        guard length <= 0xFFFF else { throw ProxyProtocolEncodingError.tlvTooLong }
        buffer.writeInteger(familyByte)
        buffer.writeInteger(UInt16(length))
        buffer.writeBytes(addressBytes)
        for tlv in tlvs {
            buffer.writeInteger(tlv.type)
            buffer.writeInteger(UInt16(tlv.value.count))
            buffer.writeBytes(tlv.value)
        }
    }

    /// Convenience: the encoded header in a fresh buffer.
    public func encoded(_ version: Version? = nil, tlvs: [(type: UInt8, value: [UInt8])] = []) throws -> ByteBuffer {
        var buffer = ByteBuffer()
        switch version ?? self.version {
        case .v1: try writeV1(into: &buffer)
        case .v2: try writeV2(into: &buffer, tlvs: tlvs)
        }
        return buffer
    }
}
