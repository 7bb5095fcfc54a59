import NIOCore

/// Follows TLS record boundaries in a byte stream that arrives in arbitrary pieces.
///
/// While OpenSSL runs the handshake the handler gives it one record at a time, so it knows
/// which record finished the handshake: every later record is the first, second, … under
/// the client's application key, and is left for `TLS13Session`.
struct RecordBoundary {
    private var headerSeen = 0
    private var declaredLength = 0
    private var bodyRemaining = 0

    /// How many of `input`'s readable bytes belong to the current record, and whether they end it.
    mutating func advance(over input: ByteBuffer) -> (length: Int, endsRecord: Bool) {
        let available = input.readableBytes
        var used = 0
        if headerSeen < TLS13RecordCipher.headerLength {
            while headerSeen < TLS13RecordCipher.headerLength, used < available {
                let byte = Int(input.getInteger(at: input.readerIndex + used, as: UInt8.self)!)
                if headerSeen == 3 { declaredLength = byte << 8 }
                if headerSeen == 4 { declaredLength |= byte; bodyRemaining = declaredLength }
                headerSeen += 1
                used += 1
            }
            if headerSeen < TLS13RecordCipher.headerLength { return (used, false) }
        }
        let body = min(bodyRemaining, available - used)
        bodyRemaining -= body
        used += body
        guard bodyRemaining == 0 else { return (used, false) }
        headerSeen = 0
        return (used, true)
    }

    /// True between records.
    var atBoundary: Bool { headerSeen == 0 }
}

extension RecordBoundary {
    /// The number of whole records in `output` (OpenSSL's output is always whole records).
    static func count(in output: ByteBuffer) -> Int {
        var offset = output.readerIndex, records = 0
        while let length = output.getInteger(at: offset + 3, as: UInt16.self) {
            offset += TLS13RecordCipher.headerLength + Int(length)
            records += 1
        }
        return records
    }
}
