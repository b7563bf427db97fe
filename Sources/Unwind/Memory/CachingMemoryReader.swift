// CachingMemoryReader: a page cache in front of a slow reader (another process, a core),
// so an unwinder that reads the same stack and CFI words again and again pays once per
// page. Unreadable pages are remembered too.

import Bytes

public final class CachingMemoryReader<Base: MemoryReader>: MemoryReader {
    public let base: Base
    private let pageSize: UInt64 = 4096
    private var pages: [UInt64: [UInt8]?] = [:]
    private let capacity: Int

    public init(_ base: Base, capacity: Int = 4096) {
        self.base = base
        self.capacity = capacity
    }

    private func page(_ number: UInt64) -> [UInt8]? {
        if let cached = pages[number] { return cached }
        if pages.count >= capacity { pages.removeAll(keepingCapacity: true) }
        let bytes = try? base.fetchBytes(from: number * pageSize, count: Int(pageSize))
        pages[number] = .some(bytes)
        return bytes
    }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let a = address &+ UInt64(done)
            let number = a / pageSize
            let offset = Int(a % pageSize)
            let n = min(buffer.count - done, Int(pageSize) - offset)
            guard let p = page(number) else {
                // Fall back to the base for partial pages at the edge of a mapping.
                try base.fetch(from: a, into: UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)]))
                done += n
                continue
            }
            p.withUnsafeBytes { src in
                UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<(offset + n)]))
            }
            done += n
        }
    }
}
