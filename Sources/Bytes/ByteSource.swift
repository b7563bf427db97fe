// ByteSource: bytes at offsets 0..<size — a file read with pread, a buffer, a window of an
// address space. The ELF reader parses through one, so a gigabyte core or a 100 MB library
// is never loaded whole: only the tables and sections a caller asks for are fetched.
//
// Offsets are file offsets; errors from the fetches carry them.

public protocol ByteSource: MemoryReader, Sendable {
    /// The number of bytes; offsets at or past it do not exist.
    var size: UInt64 { get }
}

extension ByteSource {
    /// True if [offset, offset + count) lies inside the source.
    public func contains(offset: UInt64, count: UInt64) -> Bool {
        offset <= size && count <= size - offset
    }

    /// The bytes [offset, offset + count), checked against the size first: a range that
    /// runs past the end is `truncated`, reported at `offset`, and nothing is allocated.
    public func bytes(at offset: UInt64, count: UInt64) throws -> [UInt8] {
        guard contains(offset: offset, count: count) else {
            throw ByteReadError(offset: offset, reason: .truncated(
                needed: Int(clamping: count), available: Int(clamping: offset <= size ? size - offset : 0)))
        }
        return try fetchBytes(from: offset, count: Int(count))
    }

    /// A ByteReader over [offset, offset + count), reporting absolute offsets.
    public func reader(at offset: UInt64, count: UInt64) throws -> ByteReader {
        ByteReader(try bytes(at: offset, count: count), origin: offset)
    }
}

/// A buffer as a ByteSource.
public struct ArrayByteSource: ByteSource {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var size: UInt64 { UInt64(bytes.count) }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard contains(offset: address, count: UInt64(buffer.count)) else {
            throw MemoryReadError(address: address, count: buffer.count, detail: "past the end of the buffer")
        }
        bytes.withUnsafeBytes { src in
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[Int(address)..<(Int(address) + buffer.count)]))
        }
    }
}

/// [base, base + size) of an address space, seen as offsets 0..<size: an ELF image that
/// lives in memory (the vDSO, a vsyscall page, a library's first page in a core).
public struct MemoryWindow<Memory: MemoryReader & Sendable>: ByteSource {
    public let memory: Memory
    public let base: UInt64
    public let size: UInt64

    public init(_ memory: Memory, base: UInt64, size: UInt64) {
        self.memory = memory
        self.base = base
        // An image that would wrap the address space ends at its top.
        self.size = min(size, UInt64.max - base)
    }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard contains(offset: address, count: UInt64(buffer.count)) else {
            throw MemoryReadError(address: base &+ address, count: buffer.count, detail: "past the end of the image")
        }
        try memory.fetch(from: base + address, into: buffer)
    }
}
