import NIOCore

/// A TLS 1.3 connection after the handshake, without OpenSSL's per-connection state
/// (RFC 8446 §5 records, §6 alerts, §4.6.3 KeyUpdate). OpenSSL does the handshake; the
/// handler then hands the traffic secrets and sequence numbers over to this, and frees
/// the SSL object — about 10 KB per connection that an idle XMPP session would otherwise keep.
///
/// What a server can receive after the handshake is small: application data, alerts and
/// KeyUpdate (we never ask for post-handshake authentication, and only servers send tickets).
struct TLS13Session {
    private var read: TLS13TrafficKeys
    private var write: TLS13TrafficKeys
    /// Bytes of a record that has not fully arrived; nil (no allocation) between records.
    private var partial: ByteBuffer?

    /// §5.5: AES-GCM keys must change well before 2^24.5 records; we update at 2^24.
    static let recordsPerKey: UInt64 = 1 << 24

    init(suite: TLS13CipherSuite, readSecret: [UInt8], writeSecret: [UInt8], writeSequence: UInt64) {
        read = TLS13TrafficKeys(suite: suite, secret: readSecret)
        write = TLS13TrafficKeys(suite: suite, secret: writeSecret, sequence: writeSequence)
    }

    /// What one network read gave.
    struct Received {
        var plaintext: ByteBuffer?
        /// Our KeyUpdate answer. It was sealed under the old key, so it must reach the
        /// socket before anything sealed after this call (a response to `plaintext`).
        var reply: ByteBuffer?
        /// The peer sent close_notify: answer with ours and close.
        var closed = false
    }

    /// Decrypts every complete record in `input` and keeps a trailing partial one.
    mutating func receive(_ input: inout ByteBuffer, allocator: ByteBufferAllocator) throws -> Received {
        var result = Received()
        if var held = partial {
            held.writeBuffer(&input)
            input = held
            partial = nil
        }
        var plaintext = allocator.buffer(capacity: input.readableBytes)
        var cipher: TLS13RecordCipher? = nil
        while let length = Self.completeRecordLength(input), !result.closed {
            if cipher == nil { cipher = TLS13RecordCipher(keys: read, encrypting: false) }
            let outerType = input.getInteger(at: input.readerIndex, as: UInt8.self)!
            guard outerType == 23 else { throw TLS13Alert.unexpectedMessage("record type \(outerType) after the handshake") }
            let start = plaintext.writerIndex
            let innerType = try input.readWithUnsafeReadableBytes { raw in
                (length, try cipher!.open(UnsafeRawBufferPointer(rebasing: raw.prefix(length)), keys: &read, into: &plaintext))
            }
            switch innerType {
            case 23:
                continue
            case 21:
                let alert = plaintext.getBytes(at: start, length: plaintext.writerIndex - start) ?? []
                plaintext.moveWriterIndex(to: start)
                try receivedAlert(alert, &result, allocator: allocator)
            case 22:
                let message = plaintext.getBytes(at: start, length: plaintext.writerIndex - start) ?? []
                plaintext.moveWriterIndex(to: start)
                try receivedHandshake(message, &result, allocator: allocator)
                cipher = nil   // the read key may have changed
            default:
                throw TLS13Alert.unexpectedMessage("content type \(innerType) after the handshake")
            }
        }
        if let header = Self.declaredLength(input), header > TLS13RecordCipher.maxCiphertext { throw TLS13Alert.recordOverflow }
        if input.readableBytes > 0, !result.closed {
            var held = allocator.buffer(capacity: input.readableBytes)
            held.writeBuffer(&input)
            partial = held
        }
        if plaintext.readableBytes > 0 { result.plaintext = plaintext }
        return result
    }

    /// The whole record's length (header included) when it has fully arrived.
    private static func completeRecordLength(_ input: ByteBuffer) -> Int? {
        guard let body = declaredLength(input), body <= TLS13RecordCipher.maxCiphertext,
              input.readableBytes >= TLS13RecordCipher.headerLength + body else { return nil }
        return TLS13RecordCipher.headerLength + body
    }

    private static func declaredLength(_ input: ByteBuffer) -> Int? {
        guard input.readableBytes >= TLS13RecordCipher.headerLength,
              let length = input.getInteger(at: input.readerIndex + 3, as: UInt16.self) else { return nil }
        return Int(length)
    }

    /// §6: close_notify ends the connection; user_canceled is a
    /// warning that a close_notify follows; anything else is the peer's fatal error.
    private mutating func receivedAlert(_ alert: [UInt8], _ result: inout Received, allocator: ByteBufferAllocator) throws {
        guard alert.count == 2 else { throw TLS13Alert.decodeError("an alert of \(alert.count) bytes") }
        switch alert[1] {
        case 0:
            result.closed = true
        case 90:
            break
        default:
            throw TLS13Alert.peerAlert(alert[1])
        }
    }

    /// §4.6.3: the only handshake message a client may send now is KeyUpdate, and it must be
    /// the last thing in its record (§5.1: no handshake message spans a key change).
    private mutating func receivedHandshake(_ message: [UInt8], _ result: inout Received, allocator: ByteBufferAllocator) throws {
        guard message.count == 5, message[0] == 24, message[1] == 0, message[2] == 0, message[3] == 1 else {
            let type = message.first.map(String.init) ?? "none"
            throw TLS13Alert.unexpectedMessage("handshake message type \(type) (\(message.count) bytes) after the handshake")
        }
        guard message[4] <= 1 else { throw TLS13Alert.decodeError("KeyUpdate request_update \(message[4])") }
        read.update()
        if message[4] == 1 {
            // update_requested: answer with our own KeyUpdate(update_not_requested) under the
            // current key, then switch our sending key.
            var reply = result.reply ?? allocator.buffer(capacity: 32)
            sendKeyUpdate(into: &reply)
            result.reply = reply
        }
    }

    private mutating func sendKeyUpdate(into out: inout ByteBuffer) {
        let message: [UInt8] = [24, 0, 0, 1, 0]
        let cipher = TLS13RecordCipher(keys: write, encrypting: true)
        message.withUnsafeBytes { cipher.seal($0, contentType: 22, keys: &write, into: &out) }
        write.update()
    }

    /// Encrypts `plaintext` into records of at most 2^14 bytes each, appended to `out`.
    mutating func seal(_ plaintext: ByteBuffer, into out: inout ByteBuffer) {
        var cipher = TLS13RecordCipher(keys: write, encrypting: true)
        plaintext.withUnsafeReadableBytes { all in
            var offset = 0
            repeat {
                if write.sequence >= Self.recordsPerKey {
                    sendKeyUpdate(into: &out)
                    cipher = TLS13RecordCipher(keys: write, encrypting: true)
                }
                let chunk = min(TLS13RecordCipher.maxPlaintext, all.count - offset)
                cipher.seal(UnsafeRawBufferPointer(rebasing: all[offset..<offset + chunk]), contentType: 23, keys: &write, into: &out)
                offset += chunk
            } while offset < all.count
        }
    }

    /// Bytes `seal` will add around `count` bytes of plaintext, for sizing the output buffer.
    static func overhead(for count: Int) -> Int {
        (count / TLS13RecordCipher.maxPlaintext + 2) * (TLS13RecordCipher.headerLength + 1 + TLS13CipherSuite.tagLength)
    }

    /// An encrypted alert record (level 1 warning for close_notify, 2 fatal otherwise).
    mutating func appendAlert(_ description: UInt8, into out: inout ByteBuffer) {
        let alert: [UInt8] = [description == 0 ? 1 : 2, description]
        let cipher = TLS13RecordCipher(keys: write, encrypting: true)
        alert.withUnsafeBytes { cipher.seal($0, contentType: 21, keys: &write, into: &out) }
    }
}
