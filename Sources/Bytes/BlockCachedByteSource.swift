// BlockCachedByteSource: a ByteSource read in 4 KiB blocks, the last 512 kept. An unwinder
// over a core reads eight bytes at a time from a handful of stack and CFI pages; one pread
// per block instead of one per word is most of the analysis time saved. Bounded: at most
// `capacity` blocks are held, whatever the file's size.

import Locking

public final class BlockCachedByteSource: ByteSource {
    public let base: any ByteSource
    public let size: UInt64
    static let blockSize: UInt64 = 4 << 10

    private struct Cache {
        var blocks: [UInt64: [UInt8]] = [:]
        var order: [UInt64] = []
    }
    private let cache = Locked(Cache())
    private let capacity: Int

    public init(_ base: any ByteSource, capacity: Int = 512) {
        self.base = base
        self.size = base.size
        self.capacity = max(1, capacity)
    }

    private func block(_ number: UInt64) throws -> [UInt8] {
        if let b = cache.withLock({ $0.blocks[number] }) { return b }
        let start = number * Self.blockSize
        let bytes = try base.fetchBytes(from: start, count: Int(min(Self.blockSize, size - start)))
        cache.withLock { c in
            if c.blocks.count >= capacity, let oldest = c.order.first {
                c.order.removeFirst()
                c.blocks[oldest] = nil
            }
            c.blocks[number] = bytes
            c.order.append(number)
        }
        return bytes
    }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard contains(offset: address, count: UInt64(buffer.count)) else {
            throw MemoryReadError(address: address, count: buffer.count, detail: "past the end of the file")
        }
        // Large reads go straight through (a rewriter's copy, a big section).
        if buffer.count > Int(Self.blockSize) { return try base.fetch(from: address, into: buffer) }
        var done = 0
        while done < buffer.count {
            let a = address + UInt64(done)
            let b = try block(a / Self.blockSize)
            let offset = Int(a % Self.blockSize)
            let n = min(buffer.count - done, b.count - offset)
            b.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + n)]))
            }
            done += n
        }
    }
}
