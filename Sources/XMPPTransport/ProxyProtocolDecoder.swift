// PROXY protocol decoder (HAProxy v1 text and v2 binary), first in the pipeline of
// a listener with `proxy_protocol = true`.
//
// Why a hand-written handler and not a ByteToMessageDecoder: it lives for one header
// only, must buffer nothing but that header (bounded), must never let an application
// byte through before the header is validated, and removes itself afterwards so the
// hot path pays nothing for it. A bad, missing or late header closes the connection
// (DESIGN.md "Behaviour on bad input": close before any XMPP byte).

import NIOCore

public final class ProxyProtocolDecoder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// A v1 header is at most 107 bytes including CRLF (spec section 2.1).
    public static let maxV1Length = 107
    /// Default bound on the v2 address+TLV length. The format allows 65535, but no real
    /// proxy sends more than a few hundred bytes of TLVs; anything bigger is treated as
    /// an attack on memory rather than buffered.
    public static let defaultMaxV2Length = 4096

    private enum State {
        case waiting
        case done
        case failed
    }

    private let timeout: TimeAmount?
    private let maxV2Length: Int
    private var state: State = .waiting
    private var buffered: ByteBuffer?
    private var timeoutTask: Scheduled<Void>?

    /// - Parameters:
    ///   - timeout: close if no complete header arrives within this time (nil: never).
    ///   - maxV2Length: largest accepted v2 length field (addresses + TLVs), at most 65535.
    public init(timeout: TimeAmount? = .seconds(5), maxV2Length: Int = ProxyProtocolDecoder.defaultMaxV2Length) {
        self.timeout = timeout
        self.maxV2Length = min(max(maxV2Length, 36), 0xFFFF)
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startTimer(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        startTimer(context: context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        buffered = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        buffered = nil
        context.fireChannelInactive()
    }

    private func startTimer(context: ChannelHandlerContext) {
        guard let timeout, timeoutTask == nil, state == .waiting else { return }
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeoutTask = context.eventLoop.scheduleTask(in: timeout) { [self] in
            let context = loopBound.value
            self.timeoutTask = nil
            guard self.state == .waiting else { return }
            let got = self.buffered?.readableBytes ?? 0
            self.fail(context: context, ProxyProtocolError(
                .timeout, "no complete PROXY header within \(Self.describe(timeout)) (got \(got) bytes)"))
        }
    }

    private func cancelTimer() {
        timeoutTask?.cancel()
        timeoutTask = nil
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state == .waiting else {
            // .failed: the connection is closing; nothing may reach the application.
            // .done: only until the removal takes effect.
            if state == .done { context.fireChannelRead(data) }
            return
        }
        let incoming = unwrapInboundIn(data)
        if buffered == nil {
            buffered = incoming
        } else {
            var incoming = incoming
            buffered!.writeBuffer(&incoming)
        }
        let result: ProxyProtocolParser.Result
        do {
            result = try ProxyProtocolParser.parse(buffered!, maxV2Length: maxV2Length)
        } catch let error as ProxyProtocolError {
            fail(context: context, error)
            return
        } catch {
            fail(context: context, ProxyProtocolError(.missingHeader, "\(error)"))
            return
        }
        guard case .header(let header, let length) = result else { return }  // need more bytes

        state = .done
        cancelTimer()
        var rest = buffered!
        buffered = nil
        rest.moveReaderIndex(forwardBy: length)
        context.fireUserInboundEventTriggered(header)
        if rest.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(rest))
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        if state == .waiting {
            // Still waiting for the rest of the header: nothing reaches the next handler,
            // so ask for more ourselves (matters only when autoRead is off).
            context.read()
        } else {
            context.fireChannelReadComplete()
        }
    }

    private func fail(context: ChannelHandlerContext, _ error: ProxyProtocolError) {
        guard state == .waiting else { return }
        state = .failed
        cancelTimer()
        buffered = nil
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    private static func describe(_ t: TimeAmount) -> String {
        let ns = t.nanoseconds
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000) s" }
        return "\(ns / 1_000_000) ms"
    }
}

/// The pure parsing part, separate from the handler so it can be tested and reused
/// (e.g. by a test client reading what a proxy wrote).
public enum ProxyProtocolParser {
    public enum Result: Equatable {
        /// More bytes are needed; nothing invalid seen so far.
        case needMoreData
        /// A complete, valid header of `length` bytes at the start of the buffer.
        case header(ProxyProtocolHeader, length: Int)
    }

    private static let v1Prefix: [UInt8] = Array("PROXY ".utf8)

    /// Parses the header at the start of `buffer` (reader index). Throws
    /// `ProxyProtocolError` as soon as the bytes seen cannot be a valid header.
    public static func parse(_ buffer: ByteBuffer, maxV2Length: Int = ProxyProtocolDecoder.defaultMaxV2Length) throws -> Result {
        let view = buffer.readableBytesView
        guard let first = view.first else { return .needMoreData }
        // Decide on the version from the first bytes, failing early on anything else so
        // a client that speaks XMPP straight away gets a clear message at once.
        let prefix: [UInt8] = first == 0x0D ? ProxyProtocolHeader.v2Signature : v1Prefix
        let n = min(prefix.count, view.count)
        guard view.prefix(n).elementsEqual(prefix.prefix(n)) else {
            throw ProxyProtocolError(.missingHeader, "missing PROXY header: got \(quote(view.prefix(41)))")
        }
        guard n == prefix.count else { return .needMoreData }
        return first == 0x0D ? try parseV2(buffer, maxLength: maxV2Length) : try parseV1(buffer)
    }

    // MARK: v1

    private static func parseV1(_ buffer: ByteBuffer) throws -> Result {
        let view = buffer.readableBytesView
        let limit = min(view.count, ProxyProtocolDecoder.maxV1Length)
        var lineEnd: Int? = nil
        var i = view.startIndex
        let end = view.startIndex + limit
        while i < end {
            let b = view[i]
            if b == 0x0A {  // LF must be preceded by CR
                guard i > view.startIndex, view[i - 1] == 0x0D else {
                    throw ProxyProtocolError(.invalidV1, "PROXY v1: line ends with a bare LF")
                }
                lineEnd = i - 1
                break
            }
            if b == 0x0D, i + 1 < end, view[i + 1] != 0x0A {
                throw ProxyProtocolError(.invalidV1, "PROXY v1: CR not followed by LF")
            }
            if b != 0x0D && (b < 0x20 || b > 0x7E) {
                throw ProxyProtocolError(.invalidV1, "PROXY v1: non-printable byte 0x\(String(b, radix: 16)) in header")
            }
            i += 1
        }
        guard let lineEnd else {
            if view.count >= ProxyProtocolDecoder.maxV1Length {
                throw ProxyProtocolError(.invalidV1, "PROXY v1: no CRLF within \(ProxyProtocolDecoder.maxV1Length) bytes")
            }
            return .needMoreData
        }
        let line = String(decoding: view[view.startIndex..<lineEnd], as: UTF8.self)
        let headerLength = lineEnd - view.startIndex + 2
        let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        // fields[0] == "PROXY" (checked by the prefix).
        guard fields.count >= 2 else {
            throw ProxyProtocolError(.invalidV1, "PROXY v1: missing protocol in \(quote(line))")
        }
        switch fields[1] {
        case "UNKNOWN":
            // "the receiver must ignore anything presented before the CRLF is found"
            return .header(.local(version: .v1), length: headerLength)
        case "TCP4", "TCP6":
            break
        default:
            throw ProxyProtocolError(.invalidV1, "PROXY v1: unknown protocol \(quote(fields[1]))")
        }
        guard fields.count == 6 else {
            throw ProxyProtocolError(.invalidV1, "PROXY v1: expected \"PROXY \(fields[1]) src dst sport dport\", got \(quote(line))")
        }
        let v6 = fields[1] == "TCP6"
        let sport = try port(fields[4], "source")
        let dport = try port(fields[5], "destination")
        let source = try address(fields[2], v6: v6, port: sport, "source")
        let destination = try address(fields[3], v6: v6, port: dport, "destination")
        return .header(.proxy(version: .v1, source: source, destination: destination), length: headerLength)
    }

    private static func port(_ s: String, _ what: String) throws -> Int {
        let bytes = Array(s.utf8)
        guard !bytes.isEmpty, bytes.count <= 5, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              bytes.count == 1 || bytes[0] != 0x30,  // no leading zero
              let value = Int(s), value <= 65535
        else { throw ProxyProtocolError(.invalidV1, "PROXY v1: bad \(what) port \(quote(s))") }
        return value
    }

    private static func address(_ s: String, v6: Bool, port: Int, _ what: String) throws -> SocketAddress {
        let bad = ProxyProtocolError(.invalidV1, "PROXY v1: bad \(what) address \(quote(s))")
        if v6 {
            guard s.utf8.contains(UInt8(ascii: ":")), s.utf8.count <= 45,
                  s.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { throw bad }
        } else {
            guard isCanonicalIPv4(s) else { throw bad }
        }
        guard let address = try? SocketAddress(ipAddress: s, port: port) else { throw bad }
        switch address {
        case .v4 where !v6, .v6 where v6: return address
        default: throw bad
        }
    }

    private static func isHexDigit(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66)
    }

    /// Four decimal octets 0...255 without leading zeros (which some parsers read as octal).
    private static func isCanonicalIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        for part in parts {
            let bytes = Array(part.utf8)
            guard !bytes.isEmpty, bytes.count <= 3, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  bytes.count == 1 || bytes[0] != 0x30,
                  let v = Int(part), v <= 255
            else { return false }
        }
        return true
    }

    // MARK: v2

    private static func parseV2(_ buffer: ByteBuffer, maxLength: Int) throws -> Result {
        guard buffer.readableBytes >= 16 else { return .needMoreData }
        let base = buffer.readerIndex
        let verCmd = buffer.getInteger(at: base + 12, as: UInt8.self)!
        let famProto = buffer.getInteger(at: base + 13, as: UInt8.self)!
        let length = Int(buffer.getInteger(at: base + 14, as: UInt16.self)!)
        guard verCmd >> 4 == 2 else {
            throw ProxyProtocolError(.invalidV2, "PROXY v2: bad version \(verCmd >> 4)")
        }
        let command = verCmd & 0x0F
        guard command <= 1 else {
            throw ProxyProtocolError(.invalidV2, "PROXY v2: bad command \(command)")
        }
        guard length <= maxLength else {
            throw ProxyProtocolError(.invalidV2, "PROXY v2: length \(length) over the limit of \(maxLength)")
        }
        // Check the family before waiting for the body, so junk fails at once.
        let addressLength: Int
        switch famProto {
        case 0x00: addressLength = 0                 // UNSPEC
        case 0x11: addressLength = 12                // TCP over IPv4
        case 0x21: addressLength = 36                // TCP over IPv6
        default:
            guard command == 0 else {  // LOCAL: "the receiver must ignore the protocol block"
                throw ProxyProtocolError(.invalidV2, "PROXY v2: unsupported address family/protocol 0x\(String(famProto, radix: 16))")
            }
            addressLength = 0
        }
        if command == 1 && length < addressLength {
            throw ProxyProtocolError(.invalidV2, "PROXY v2: length \(length) too short for the addresses (\(addressLength))")
        }
        guard buffer.readableBytes >= 16 + length else { return .needMoreData }

        let header: ProxyProtocolHeader
        if command == 0 || addressLength == 0 {
            header = ProxyProtocolHeader(version: .v2, command: command == 0 ? .local : .proxy, source: nil, destination: nil)
        } else {
            let ipLength = famProto == 0x11 ? 4 : 16
            let body = base + 16
            let sport = Int(buffer.getInteger(at: body + 2 * ipLength, as: UInt16.self)!)
            let dport = Int(buffer.getInteger(at: body + 2 * ipLength + 2, as: UInt16.self)!)
            do {
                let source = try SocketAddress(packedIPAddress: buffer.getSlice(at: body, length: ipLength)!, port: sport)
                let destination = try SocketAddress(packedIPAddress: buffer.getSlice(at: body + ipLength, length: ipLength)!, port: dport)
                header = .proxy(version: .v2, source: source, destination: destination)
            } catch {
                throw ProxyProtocolError(.invalidV2, "PROXY v2: bad address: \(error)")
            }
        }
        // TLVs: skipped, but their framing must add up exactly to the declared length.
        var offset = base + 16 + (command == 1 ? addressLength : 0)
        let end = base + 16 + length
        if command == 1 {
            while offset < end {
                guard end - offset >= 3, let tlvLength = buffer.getInteger(at: offset + 1, as: UInt16.self),
                      end - offset - 3 >= Int(tlvLength)
                else {
                    throw ProxyProtocolError(.invalidV2, "PROXY v2: truncated TLV at offset \(offset - base)")
                }
                offset += 3 + Int(tlvLength)
            }
        }
        return .header(header, length: 16 + length)
    }

    // MARK: helpers

    static func quote<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = "\""
        var count = 0
        for b in bytes {
            count += 1
            if count > 40 { out += "..."; break }
            switch b {
            case 0x0D: out += "\\r"
            case 0x0A: out += "\\n"
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(b))
            default: out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }
        }
        return out + "\""
    }

    static func quote(_ s: String) -> String { quote(s.utf8) }
}
