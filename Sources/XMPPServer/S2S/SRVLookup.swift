#if canImport(Glibc)
import Glibc
#endif
import Foundation
import NIOCore
import XMPPConfig
import XMPPSASL

/// RFC 2782 SRV records (`_xmpp-server._tcp.<domain>`, RFC 6120 §3.2.1), asked
/// with a DNS query of our own over UDP: glibc's getaddrinfo knows no SRV. Blocking:
/// run it off the event loops.
enum SRVLookup {
    struct Record: Equatable {
        let priority: UInt16
        let weight: UInt16
        let port: Int
        let target: String
    }

    enum Answer: Equatable {
        /// Records in the order to try them (priority, then weight).
        case records([Record])
        /// The single record "." (RFC 2782): the domain offers no such service.
        case serviceRefused
        /// No record, no answer or an error: fall back to the domain's own address.
        case none
    }

    /// Nameservers: the configured ones, or those of /etc/resolv.conf.
    static func nameservers(configured: [S2SConfig.Address]) -> [S2SConfig.Address] {
        if !configured.isEmpty { return configured }
        guard let text = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 2, fields[0] == "nameserver" else { return nil }
            return S2SConfig.Address(ipAddress: String(fields[1]), port: nil)
        }
    }

    /// Asks each nameserver in turn, `attempts` rounds, `timeout` seconds per query.
    static func lookup(_ name: String, nameservers: [S2SConfig.Address], timeout: Int, attempts: Int) -> Answer {
        let query = self.query(name)
        for _ in 0..<max(1, attempts) {
            for server in nameservers {
                guard let address = try? SocketAddress(ipAddress: server.ipAddress, port: server.port ?? 53),
                      let reply = exchange(query.bytes, with: address, timeout: timeout),
                      let answer = parse(reply, id: query.id) else { continue }
                return answer
            }
        }
        return .none
    }

    // MARK: the wire format (RFC 1035 §4)

    static func query(_ name: String) -> (id: UInt16, bytes: [UInt8]) {
        let random = SASLCrypto.randomBytes(2)
        let id = UInt16(random[0]) << 8 | UInt16(random[1])
        var bytes: [UInt8] = [random[0], random[1], 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]   // RD, one question
        for label in name.split(separator: ".") {
            let utf8 = Array(label.utf8.prefix(63))
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes += [0, 0, 33, 0, 1]   // root, QTYPE SRV, QCLASS IN
        return (id, bytes)
    }

    /// The SRV answers of a reply to query `id`; nil for a reply that is not one.
    static func parse(_ reply: [UInt8], id: UInt16) -> Answer? {
        var reader = DNSReader(bytes: reply)
        guard let replyID = reader.u16(), replyID == id, let flags = reader.u16(), flags & 0x8000 != 0,
              let questions = reader.u16(), let answers = reader.u16(), reader.u16() != nil, reader.u16() != nil else { return nil }
        guard flags & 0x000F == 0 else { return Answer.none }   // NXDOMAIN, SERVFAIL...: no records
        for _ in 0..<questions {
            guard reader.name() != nil, reader.skip(4) else { return nil }
        }
        var records: [Record] = []
        for _ in 0..<answers {
            guard reader.name() != nil, let type = reader.u16(), reader.skip(6), let length = reader.u16() else { return nil }
            let end = reader.offset + Int(length)
            if type == 33, let priority = reader.u16(), let weight = reader.u16(), let port = reader.u16(),
               let target = reader.name() {
                records.append(Record(priority: priority, weight: weight, port: Int(port), target: target))
            }
            reader.offset = end
        }
        if records.count == 1, records[0].target.isEmpty { return .serviceRefused }
        return records.isEmpty ? Answer.none : .records(ordered(records))
    }

    /// RFC 2782: lowest priority first; within one, a weighted random order.
    static func ordered(_ records: [Record]) -> [Record] {
        var result: [Record] = []
        for priority in Set(records.map(\.priority)).sorted() {
            var group = records.filter { $0.priority == priority }
            while !group.isEmpty {
                let total = group.reduce(0) { $0 + Int($1.weight) }
                var pick = total == 0 ? 0 : Int.random(in: 0...total)
                let index = group.firstIndex { record in
                    pick -= Int(record.weight)
                    return pick <= 0
                } ?? 0
                result.append(group.remove(at: index))
            }
        }
        return result
    }

    private static func exchange(_ query: [UInt8], with server: SocketAddress, timeout: Int) -> [UInt8]? {
        let family = server.protocol.rawValue
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = server.withSockAddr { address, length in connect(fd, address, socklen_t(length)) }
        guard connected == 0, send(fd, query, query.count, 0) == query.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 4096)
        let received = recv(fd, &reply, reply.count, 0)
        return received > 0 ? Array(reply.prefix(received)) : nil
    }
}

/// Reads a DNS message, names with compression pointers included.
private struct DNSReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func u16() -> UInt16? {
        guard offset + 2 <= bytes.count else { return nil }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func skip(_ count: Int) -> Bool {
        guard offset + count <= bytes.count else { return false }
        offset += count
        return true
    }

    /// A domain name without its final dot ("" for the root).
    mutating func name() -> String? {
        var labels: [String] = []
        var position = offset
        var jumped = false
        for _ in 0..<128 {   // bounded: a pointer loop ends here
            guard position < bytes.count else { return nil }
            let length = Int(bytes[position])
            if length == 0 {
                if !jumped { offset = position + 1 }
                return labels.joined(separator: ".")
            }
            if length & 0xC0 == 0xC0 {
                guard position + 1 < bytes.count else { return nil }
                if !jumped { offset = position + 2 }
                jumped = true
                position = (length & 0x3F) << 8 | Int(bytes[position + 1])
                continue
            }
            guard position + 1 + length <= bytes.count else { return nil }
            labels.append(String(decoding: bytes[(position + 1)...(position + length)], as: UTF8.self))
            position += 1 + length
        }
        return nil
    }
}
