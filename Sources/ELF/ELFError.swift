// ELFError: why bytes are not a usable ELF64 file, and the offset where that shows.

import Bytes

public struct ELFError: LocatedError, Equatable {
    public enum Reason: Equatable, Sendable {
        case empty
        case notELF
        case unsupportedClass(UInt8)
        case unsupportedByteOrder(UInt8)
        case badHeaderSize(String, Int)
        case tableOutOfRange(String)
        case sectionOutOfRange(String)
        case segmentOutOfRange(UInt32)
        case badStringIndex(UInt32)
        case badSectionIndex(Int)
        case badNote(String)
        case noSuchSection(String)
        case notACore(String)
        case badCompressionHeader(String)
        case unsupportedCompression(UInt32)
        case decompressedSizeLimit(UInt64, limit: UInt64)
        case decompressionFailed(String)
        case badRelocation(String)
    }

    public let offset: UInt64
    public let reason: Reason

    public init(offset: UInt64, reason: Reason) {
        self.offset = offset
        self.reason = reason
    }

    public var message: String {
        switch reason {
        case .empty: return "empty file"
        case .notELF: return "not an ELF file (bad magic)"
        case let .unsupportedClass(c): return "ELF class \(c) is not supported (ELF64 only)"
        case let .unsupportedByteOrder(d): return "ELF data encoding \(d) is not supported (little-endian only)"
        case let .badHeaderSize(what, n): return "\(what) entry size \(n) is not the ELF64 size"
        case let .tableOutOfRange(what): return "\(what) table runs past the end of the file"
        case let .sectionOutOfRange(name): return "section \(printableText(name.utf8)) runs past the end of the file"
        case let .segmentOutOfRange(i): return "segment \(i) runs past the end of the file"
        case let .badStringIndex(i): return "string index \(i) is outside its string table"
        case let .badSectionIndex(i): return "section index \(i) does not exist"
        case let .badNote(why): return "malformed note: \(why)"
        case let .noSuchSection(name): return "no section \(printableText(name.utf8))"
        case let .notACore(why): return "not an x86-64 core: \(why)"
        case let .badCompressionHeader(why): return "bad compressed section header: \(why)"
        case let .unsupportedCompression(t): return "compression type \(t) is not supported (zlib 1 and zstd 2 are)"
        case let .decompressedSizeLimit(n, limit):
            return "decompressed size \(n) is beyond the limit of \(limit) bytes"
        case let .decompressionFailed(why): return "cannot decompress: \(printableText(why.utf8))"
        case let .badRelocation(why): return "bad relocation: \(why)"
        }
    }
}
