import CExpat
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Idle expat parsers, each standing just inside one of the common stream headers
/// (`XMLStreamParser.commonOpeningTags`), shared by the hibernating streams of the
/// process.
///
/// With `hibernate_after = 0` (the default) a stream frees its expat parser after
/// every read and builds a new one at the next: creating and freeing a parser
/// (allocations, expat's environment lookups) and re-parsing the stream header cost
/// about as much as parsing a chat message. A hibernating stream whose header is a
/// common one hands its parser here instead, and a waking one takes any parser left
/// at the same point: an idle session still holds no parser (the pool is a few per
/// process, not one per session), and a busy one no longer pays for a new one per read.
///
/// A parser is only pooled between two depth-1 elements with nothing pending and no
/// error, so the next owner sees exactly the state a fresh parser would have after
/// the header; it travels with its own byte count, since expat's offsets are per
/// parser.
final class ExpatParserPool: @unchecked Sendable {
    static let shared = ExpatParserPool()
    /// Per header. A stream takes a parser only for the length of one read, so in
    /// steady state each event loop has at most one out: two per core covers every
    /// loop of the worker with room to spare, and more would only hold memory (each
    /// idle parser keeps its buffers, some tens of KB). Beyond it, parsers are freed
    /// as before.
    static let capacity = max(4, 2 * sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    struct Idle {
        let parser: XML_Parser
        /// Bytes this parser has consumed: the owner's `consumed` and `mark`.
        let consumed: Int
    }

    private var mutex = pthread_mutex_t()
    private var idle: [[Idle]]

    private init() {
        pthread_mutex_init(&mutex, nil)
        idle = Array(repeating: [], count: XMLStreamParser.commonOpeningTags.count)
        for i in idle.indices { idle[i].reserveCapacity(Self.capacity) }
    }

    /// A parser inside common header `header`, if one is idle.
    func take(header: Int) -> Idle? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return idle[header].popLast()
    }

    /// Keeps `parser` for the next stream with the same header; false if the pool is
    /// full (the caller frees it).
    func put(_ parser: Idle, header: Int) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard idle[header].count < Self.capacity else { return false }
        idle[header].append(parser)
        return true
    }
}
