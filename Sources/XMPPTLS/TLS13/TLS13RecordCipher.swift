import COpenSSL
import NIOCore

/// AEAD protection of TLS 1.3 records (RFC 8446 §5.2) with libcrypto's EVP interface.
///
/// An EVP_CIPHER_CTX with its key schedule is about a kilobyte; an idle session should not
/// hold one per direction, so a context lives for one batch of records (one network read,
/// one write) and is keyed once per batch; each record only sets its nonce.
final class TLS13RecordCipher {
    private let ctx: OpaquePointer
    private let encrypting: Bool

    static let headerLength = 5
    /// §5.1: TLSPlaintext.length MUST NOT exceed 2^14 bytes.
    static let maxPlaintext = 1 << 14
    /// §5.2: TLSCiphertext.length MUST NOT exceed 2^14 + 256 bytes.
    static let maxCiphertext = (1 << 14) + 256

    init(keys: TLS13TrafficKeys, encrypting: Bool) {
        ctx = EVP_CIPHER_CTX_new()!
        self.encrypting = encrypting
        let cipher = keys.suite.aead
        _ = keys.key.withUnsafeBufferPointer { key in
            encrypting ? EVP_EncryptInit_ex(ctx, cipher, nil, key.baseAddress, nil)
                       : EVP_DecryptInit_ex(ctx, cipher, nil, key.baseAddress, nil)
        }
    }

    deinit { EVP_CIPHER_CTX_free(ctx) }

    /// Appends one record: header, encrypted `plaintext` + `contentType`, tag; advances `keys`.
    func seal(_ plaintext: UnsafeRawBufferPointer, contentType: UInt8, keys: inout TLS13TrafficKeys, into out: inout ByteBuffer) {
        let length = plaintext.count + 1 + TLS13CipherSuite.tagLength
        let header: [UInt8] = [0x17, 0x03, 0x03, UInt8(length >> 8), UInt8(length & 0xff)]
        let nonce = keys.nonce()
        keys.advance()
        out.writeBytes(header)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { raw in
            let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var produced: Int32 = 0
            _ = EVP_EncryptInit_ex(ctx, nil, nil, nil, nonce)
            _ = EVP_EncryptUpdate(ctx, nil, &produced, header, Int32(header.count))
            if plaintext.count > 0 {
                _ = EVP_EncryptUpdate(ctx, base, &produced, plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                      Int32(plaintext.count))
            }
            var type = contentType
            _ = EVP_EncryptUpdate(ctx, base + plaintext.count, &produced, &type, 1)
            _ = EVP_EncryptFinal_ex(ctx, base + plaintext.count + 1, &produced)
            _ = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, Int32(TLS13CipherSuite.tagLength), base + plaintext.count + 1)
            return length
        }
    }

    /// Decrypts one record (`record` = header + body) into `out`, strips the padding and
    /// returns the inner content type; advances `keys`. Throws bad_record_mac when the tag
    /// does not verify, unexpected_message when the record has no content type.
    func open(_ record: UnsafeRawBufferPointer, keys: inout TLS13TrafficKeys, into out: inout ByteBuffer) throws -> UInt8 {
        let bodyLength = record.count - Self.headerLength
        let cipherLength = bodyLength - TLS13CipherSuite.tagLength
        guard cipherLength >= 1 else { throw TLS13Alert.decodeError("record too short for its tag") }
        let bytes = record.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let nonce = keys.nonce()
        keys.advance()
        let start = out.writerIndex
        var verified: Int32 = 0
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: cipherLength) { raw in
            let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
            var produced: Int32 = 0
            _ = EVP_DecryptInit_ex(ctx, nil, nil, nil, nonce)
            _ = EVP_DecryptUpdate(ctx, nil, &produced, bytes, Int32(Self.headerLength))
            _ = EVP_DecryptUpdate(ctx, base, &produced, bytes + Self.headerLength, Int32(cipherLength))
            _ = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, Int32(TLS13CipherSuite.tagLength),
                                    UnsafeMutableRawPointer(mutating: bytes + Self.headerLength + cipherLength))
            verified = EVP_DecryptFinal_ex(ctx, base + cipherLength, &produced)
            return cipherLength
        }
        guard verified > 0 else {
            out.moveWriterIndex(to: start)
            throw TLS13Alert.badRecordMAC
        }
        // §5.4: the content type is the last non-zero byte; zeros after it are padding.
        var end = out.writerIndex
        while end > start, out.getInteger(at: end - 1, as: UInt8.self) == 0 { end -= 1 }
        guard end > start, let type = out.getInteger(at: end - 1, as: UInt8.self) else {
            out.moveWriterIndex(to: start)
            throw TLS13Alert.unexpectedMessage("a record with no content type")
        }
        out.moveWriterIndex(to: end - 1)
        guard end - 1 - start <= Self.maxPlaintext else { throw TLS13Alert.recordOverflow }
        return type
    }
}
