import CZlib

/// gzip (RFC 1952) for whole HTTP response bodies: the http listener's
/// `protocol.compress`.
public enum GzipBody {
    /// `bytes` compressed as one gzip member, or nil if zlib fails.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8]? {
        // windowBits 15 + 16: a gzip header and trailer instead of zlib's.
        guard let z = try? ZStream.deflater(level: level, windowBits: 15 + 16, memLevel: 8) else { return nil }
        defer { z.end() }
        var output = [UInt8](repeating: 0, count: Int(deflateBound(z.stream, uLong(bytes.count))) + 32)
        var input = bytes
        let produced: Int? = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                z.stream.pointee.next_in = inBuffer.baseAddress
                z.stream.pointee.avail_in = uInt(inBuffer.count)
                z.stream.pointee.next_out = outBuffer.baseAddress
                z.stream.pointee.avail_out = uInt(outBuffer.count)
                // deflateBound leaves room for everything: one call finishes the stream.
                guard CZlib.deflate(z.stream, Z_FINISH) == Z_STREAM_END else { return nil }
                return outBuffer.count - Int(z.stream.pointee.avail_out)
            }
        }
        guard let produced else { return nil }
        return Array(output.prefix(produced))
    }
}
