// MemoryReader: the one way vunwind reads an address space, whether it is this process,
// another process (process_vm_readv), a core file or a snapshot in a buffer.
//
// One required method, as in the Swift runtime's backtracer; typed fetches are built on it.
// A read of any unmapped byte throws MemoryReadError: unwinders end the walk there instead
// of faulting.

public protocol MemoryReader {
    /// Fills `buffer` with the bytes at `address`, or throws if any of them is unreadable.
    func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws
}

public struct MemoryReadError: LocatedError, Equatable {
    public let address: UInt64
    public let count: Int
    public let detail: String

    public init(address: UInt64, count: Int, detail: String = "not mapped") {
        self.address = address
        self.count = count
        self.detail = detail
    }

    public var offset: UInt64 { address }
    public var message: String { "cannot read \(count) bytes at 0x\(String(address, radix: 16)): \(detail)" }
}

extension MemoryReader {
    @inline(__always)
    public func fetch<T: FixedWidthInteger>(_: T.Type, from address: UInt64) throws -> T {
        var value: T = 0
        try withUnsafeMutableBytes(of: &value) { try fetch(from: address, into: $0) }
        return T(littleEndian: value)
    }

    public func fetchBytes(from address: UInt64, count: Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: count)
        try out.withUnsafeMutableBytes { try fetch(from: address, into: $0) }
        return out
    }

    /// A NUL-terminated string of at most `limit` bytes.
    public func fetchCString(from address: UInt64, limit: Int = 4096) throws -> String {
        var out: [UInt8] = []
        var a = address
        while out.count < limit {
            let b = try fetch(UInt8.self, from: a)
            if b == 0 { return String(decoding: out, as: UTF8.self) }
            out.append(b)
            a &+= 1
        }
        throw MemoryReadError(address: address, count: limit, detail: "string longer than \(limit) bytes")
    }
}

/// Memory made of byte ranges placed at addresses: a snapshot, a dumped image, a test's
/// hand-built stack. Ranges may not overlap; reads may span adjacent ranges.
public struct SnapshotMemoryReader: MemoryReader, Sendable {
    public struct Region: Sendable {
        public let address: UInt64
        public let bytes: [UInt8]
        public var end: UInt64 { address &+ UInt64(bytes.count) }
    }

    public private(set) var regions: [Region] = []

    public init() {}

    public init(address: UInt64, bytes: [UInt8]) {
        add(address: address, bytes: bytes)
    }

    public mutating func add(address: UInt64, bytes: [UInt8]) {
        let region = Region(address: address, bytes: bytes)
        let i = regions.firstIndex { $0.address > address } ?? regions.endIndex
        regions.insert(region, at: i)
    }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        var cursor = address
        while done < buffer.count {
            guard let region = regions.last(where: { $0.address <= cursor && cursor < $0.end }) else {
                throw MemoryReadError(address: address, count: buffer.count)
            }
            let start = Int(cursor - region.address)
            let n = min(buffer.count - done, region.bytes.count - start)
            region.bytes.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start..<(start + n)]))
            }
            done += n
            cursor &+= UInt64(n)
        }
    }
}
