// A z_stream with a stable address, its lifetime, and a byte count of what zlib
// allocated for it.
//
// Why the custom allocator: per-connection memory is the cost that matters for an
// XMPP server with many idle connections, so every stream reports what it holds
// (`allocatedBytes`). zlib allocates only a handful of blocks per stream (at init,
// and the inflate window on first output), so the bookkeeping costs nothing on the
// data path.

import CZlib

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Each block carries its size in a 16-byte prefix (zfree does not pass the size);
/// 16 keeps malloc's alignment.
private let blockHeader = 16

private func countingAlloc(_ opaque: voidpf?, _ items: uInt, _ size: uInt) -> voidpf? {
    let (bytes, overflow) = Int(items).multipliedReportingOverflow(by: Int(size))
    guard !overflow, let raw = malloc(bytes + blockHeader) else { return nil }
    raw.storeBytes(of: bytes, as: Int.self)
    opaque?.assumingMemoryBound(to: Int.self).pointee += bytes
    return raw + blockHeader
}

private func countingFree(_ opaque: voidpf?, _ address: voidpf?) {
    guard let address else { return }
    let raw = address - blockHeader
    opaque?.assumingMemoryBound(to: Int.self).pointee -= raw.load(as: Int.self)
    free(raw)
}

final class ZStream {
    enum Kind { case deflate, inflate }

    let kind: Kind
    let stream: UnsafeMutablePointer<z_stream>
    private let counter: UnsafeMutablePointer<Int>
    private var live = false

    /// Bytes zlib currently holds for this stream (its state, window, hash tables).
    var allocatedBytes: Int { counter.pointee }

    private init(kind: Kind) {
        self.kind = kind
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        counter = .allocate(capacity: 1)
        counter.initialize(to: 0)
        stream.pointee.zalloc = countingAlloc
        stream.pointee.zfree = countingFree
        stream.pointee.opaque = UnsafeMutableRawPointer(counter)
    }

    /// An inflater for a zlib (RFC 1950) stream; windowBits 15 accepts any window the
    /// peer may have used.
    static func inflater(windowBits: Int32 = 15) throws -> ZStream {
        let z = ZStream(kind: .inflate)
        let rc = czlib_inflate_init2(z.stream, windowBits)
        guard rc == Z_OK else { throw ZlibError.zlibFailure("inflateInit2 failed (\(rc))") }
        z.live = true
        return z
    }

    /// A deflater producing a zlib (RFC 1950) stream.
    ///
    /// memLevel is not reachable through the shim (fixed at 8 there), so this calls
    /// `deflateInit2_` directly, which is exactly what the `deflateInit2` macro expands to.
    static func deflater(level: Int32, windowBits: Int32, memLevel: Int32) throws -> ZStream {
        let z = ZStream(kind: .deflate)
        let rc = deflateInit2_(z.stream, level, Z_DEFLATED, windowBits, memLevel, Z_DEFAULT_STRATEGY,
                               ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard rc == Z_OK else { throw ZlibError.zlibFailure("deflateInit2 failed (\(rc))") }
        z.live = true
        return z
    }

    /// Frees zlib's state; idempotent.
    func end() {
        guard live else { return }
        live = false
        switch kind {
        case .deflate: _ = deflateEnd(stream)
        case .inflate: _ = inflateEnd(stream)
        }
    }

    var message: String? {
        stream.pointee.msg.map { String(cString: $0) }
    }

    deinit {
        end()
        stream.deinitialize(count: 1)
        stream.deallocate()
        counter.deallocate()
    }
}
