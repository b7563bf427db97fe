// CompressedSection: the contents of a compressed section, decompressed by the real zlib
// and libzstd: SHF_COMPRESSED (gABI: an Elf64_Chdr, then a zlib or zstd stream; `gcc
// -gz=zlib|zstd`) and GNU's older `.zdebug_*` sections ("ZLIB", the size as 8 big-endian
// bytes, a zlib stream; `-gz=zlib-gnu`).
//
// The size a header declares is untrusted: above `sizeLimit` it is refused, the buffer
// grows with what the stream makes (not with what the header claims), and the stream must
// make exactly the declared number of bytes.

import Bytes
import CDecompress

public enum CompressedSection {
    /// The largest decompressed section accepted (CFI and debug sections of real files are
    /// at most tens of MB).
    public static let sizeLimit: UInt64 = 1 << 30

    /// True if `section`'s bytes are compressed in one of the two forms.
    public static func isCompressed(_ section: SectionHeader, raw: [UInt8]) -> Bool {
        section.flags & ELF.shfCompressed != 0 || isGNUCompressed(section, raw: raw)
    }

    static func isGNUCompressed(_ section: SectionHeader, raw: [UInt8]) -> Bool {
        section.name.hasPrefix(".zdebug") && raw.count >= 12 && raw[0..<4] == [0x5a, 0x4c, 0x49, 0x42][...]
    }

    /// The decompressed bytes of `section`, whose stored bytes are `raw`.
    public static func decompress(_ raw: [UInt8], section: SectionHeader) throws -> [UInt8] {
        let at = section.offset
        let type: UInt32, size: UInt64, dataStart: Int
        if section.flags & ELF.shfCompressed != 0 {
            guard raw.count >= ELF.compressionHeaderSize else {
                throw ELFError(offset: at, reason: .badCompressionHeader(
                    "\(raw.count) bytes, an Elf64_Chdr needs \(ELF.compressionHeaderSize)"))
            }
            var r = ByteReader(raw, origin: at)
            type = try r.u32()
            _ = try r.u32()
            size = try r.u64()
            dataStart = ELF.compressionHeaderSize
        } else {
            // "ZLIB" and a big-endian size.
            type = ELF.compressZlib
            size = raw[4..<12].reduce(0) { $0 << 8 | UInt64($1) }
            dataStart = 12
        }
        guard type == ELF.compressZlib || type == ELF.compressZstd else {
            throw ELFError(offset: at, reason: .unsupportedCompression(type))
        }
        guard size <= sizeLimit else {
            throw ELFError(offset: at &+ 8, reason: .decompressedSizeLimit(size, limit: sizeLimit))
        }
        if size == 0 { return [] }
        // The buffer grows with what the stream really makes (from 64 times the compressed
        // size, by 8x), so a header that claims a gigabyte over a short stream allocates
        // in proportion to the stream, not to the claim.
        var capacity = UInt64(min(size, max(1 << 16, UInt64(raw.count) &* 64)))
        var status: Int32 = 0
        var detail: UnsafePointer<CChar>?
        var made = 0
        var out: [UInt8] = []
        while true {
            out = [UInt8](unsafeUninitializedCapacity: Int(capacity)) { buffer, initialized in
                var produced = 0
                raw.withUnsafeBytes { src in
                    let stream = UnsafeRawBufferPointer(rebasing: src[dataStart...])
                    status = type == ELF.compressZlib
                        ? vu_inflate_zlib(stream.baseAddress, stream.count, buffer.baseAddress, buffer.count, &produced, &detail)
                        : vu_decompress_zstd(stream.baseAddress, stream.count, buffer.baseAddress, buffer.count, &produced,
                                             &detail)
                }
                // Only a complete stream counts as initialized; anything else is thrown away.
                initialized = status == Int32(VU_DECOMPRESS_OK) ? Int(capacity) : 0
                made = produced
            }
            guard status == Int32(VU_DECOMPRESS_LONG), capacity < size else { break }
            capacity = min(size, capacity &* 8)
        }
        // A stream that ended inside a buffer smaller than the declared size is short.
        if status == Int32(VU_DECOMPRESS_OK) && capacity < size { status = Int32(VU_DECOMPRESS_SHORT) }
        let streamAt = at &+ UInt64(dataStart)
        switch status {
        case Int32(VU_DECOMPRESS_OK): return out
        case Int32(VU_DECOMPRESS_SHORT):
            throw ELFError(offset: streamAt, reason: .decompressionFailed(
                "the stream makes \(made) bytes, the header says \(size)"))
        case Int32(VU_DECOMPRESS_LONG):
            throw ELFError(offset: streamAt, reason: .decompressionFailed("the stream makes more than the \(size) bytes the header says"))
        default:
            let why = detail.map { String(cString: $0) } ?? "corrupt stream"
            throw ELFError(offset: streamAt, reason: .decompressionFailed(
                "\(type == ELF.compressZlib ? "zlib" : "zstd"): \(why)"))
        }
    }
}
