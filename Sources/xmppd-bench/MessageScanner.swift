/// Finds the bench's chat messages in the server's byte stream without an XML parser.
///
/// Once every session is logged in, the stream carries little but the bench's own
/// messages, and parsing each into an element tree cost the load generator about a
/// quarter of its CPU, CPU it shares with the server on a small machine. This scanner
/// only cuts the stream at `</message>` and reads the `<body>` digits; anything it does
/// not recognise is a message without a body, which the bench then counts as lost, so a
/// scanning mistake cannot make figures look better.
struct MessageScanner {
    struct Message {
        var isError: Bool
        /// The body's bytes (ASCII digits and spaces for the bench's own messages).
        var body: ArraySlice<UInt8>?
    }

    private var carry: [UInt8] = []
    /// Set once the server ended the stream or sent a stream error.
    private(set) var streamEnded = false

    private static let messageEnd = Array("</message>".utf8)
    private static let messageStart = Array("<message".utf8)
    private static let bodyStart = Array("<body>".utf8)
    private static let bodyEnd = Array("</body>".utf8)
    private static let errorType = Array("type='error'".utf8)
    private static let streamError = Array("<stream:error".utf8)
    private static let streamClose = Array("</stream:stream>".utf8)

    /// Feeds one read; calls `found` for every complete message in order.
    mutating func feed(_ bytes: UnsafeRawBufferPointer, _ found: (Message) -> Void) {
        carry.append(contentsOf: bytes)
        var start = 0
        while let end = Self.find(Self.messageEnd, in: carry, from: start) {
            let segment = carry[start..<end]
            if let open = Self.find(Self.messageStart, in: carry, from: start, before: end) {
                let tagEnd = carry[open..<end].firstIndex(of: UInt8(ascii: ">")) ?? end
                let isError = Self.find(Self.errorType, in: carry, from: open, before: tagEnd) != nil
                var body: ArraySlice<UInt8>? = nil
                if let b = Self.find(Self.bodyStart, in: carry, from: tagEnd, before: end),
                   let e = Self.find(Self.bodyEnd, in: carry, from: b, before: end) {
                    body = carry[(b + Self.bodyStart.count)..<e]
                }
                found(Message(isError: isError, body: body))
            }
            if Self.find(Self.streamError, in: carry, from: segment.startIndex, before: end) != nil { streamEnded = true }
            start = end + Self.messageEnd.count
        }
        if Self.find(Self.streamError, in: carry, from: start) != nil || Self.find(Self.streamClose, in: carry, from: start) != nil {
            streamEnded = true
        }
        carry.removeFirst(start)
        // Not the bench's traffic: do not hold on to it without bound.
        if carry.count > Self.maxCarry { carry.removeAll() }
    }

    private static let maxCarry = 1 << 20

    /// First index of `needle` in `haystack[from..<before]`.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, before: Int? = nil) -> Int? {
        let limit = (before ?? haystack.count) - needle.count
        guard from <= limit, let first = needle.first else { return nil }
        var i = from
        while i <= limit {
            if haystack[i] == first {
                var j = 1
                while j < needle.count && haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
