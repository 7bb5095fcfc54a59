import Glibc
import NIOCore

/// Splits what a mesh connection reads into the runs of the XML stream (fed to its
/// parser, in order) and the binary frames between them (MeshRouteFrame). A binary
/// frame cut by a read boundary is kept until it is whole; complete frames are
/// handed on as slices of the read buffer, without copying.
struct MeshInputSplitter {
    enum SplitError: Error { case frameTooLong(Int) }

    /// The start of a binary frame not yet whole, and whatever was read after it.
    private var pending: ByteBuffer?

    mutating func split(_ input: ByteBuffer,
                        xml: (UnsafeRawBufferPointer) throws -> Void,
                        frame: (ByteBuffer) throws -> Void) throws {
        var input = input
        if var held = pending {
            pending = nil
            held.writeBuffer(&input)
            input = held
        }
        while input.readableBytes > 0 {
            let start = input.readerIndex
            if input.getInteger(at: start, as: UInt8.self) == MeshRouteFrame.marker {
                guard let length = input.getInteger(at: start + 1, as: UInt32.self) else {
                    pending = input
                    return
                }
                guard length <= MeshRouteFrame.maxLength else { throw SplitError.frameTooLong(Int(length)) }
                guard input.readableBytes >= MeshRouteFrame.envelopeSize + Int(length) else {
                    pending = input
                    return
                }
                input.moveReaderIndex(forwardBy: MeshRouteFrame.envelopeSize)
                try frame(input.readSlice(length: Int(length))!)
            } else {
                // XML up to the next frame marker (0x01 never occurs in XML text).
                let run: Int = input.withUnsafeReadableBytes { bytes in
                    guard let found = memchr(bytes.baseAddress!, Int32(MeshRouteFrame.marker), bytes.count) else {
                        return bytes.count
                    }
                    return UnsafeRawPointer(found) - bytes.baseAddress!
                }
                try input.withUnsafeReadableBytes { try xml(UnsafeRawBufferPointer(rebasing: $0[0..<run])) }
                input.moveReaderIndex(forwardBy: run)
            }
        }
    }
}
