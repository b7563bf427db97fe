// CoreMemory: the address space a core holds, as a MemoryReader over its PT_LOAD segments
// and the core file, without loading either.
//
// Hostile layouts are resolved once, at construction, into sorted disjoint pieces:
// - unsorted segments are sorted;
// - where segments overlap, the one that comes first in the program header table wins
//   (what a reader that looks segments up in table order sees), found by a sweep over the
//   segment ends, O(n log n) whatever the input;
// - [p_filesz, p_memsz) reads as zeros (pages the kernel did not dump);
// - a segment whose range wraps the address space is left out and named in `problems`;
// - file data past the end of a truncated core is unreadable, not zeros.

import Bytes

public struct CoreMemory: MemoryReader, Sendable {
    public struct Piece: Sendable, Equatable {
        public var start: UInt64
        public var end: UInt64
        /// Index of the segment in the program header table.
        public var segment: Int
    }

    public let source: any ByteSource
    public let segments: [ProgramHeader]
    /// Disjoint, sorted by start.
    public let pieces: [Piece]
    /// Segments that were left out, and why.
    public let problems: [String]

    public init(source: any ByteSource, programHeaders: [ProgramHeader]) {
        self.source = source
        segments = programHeaders
        var problems: [String] = []
        var loads: [(index: Int, start: UInt64, end: UInt64)] = []
        for (i, p) in programHeaders.enumerated() where p.type == ELF.ptLoad && p.memorySize > 0 {
            let (end, wraps) = p.virtualAddress.addingReportingOverflow(p.memorySize)
            if wraps {
                problems.append("segment \(i) at 0x\(String(p.virtualAddress, radix: 16)) with size 0x\(String(p.memorySize, radix: 16)) wraps the address space; ignored")
                continue
            }
            loads.append((i, p.virtualAddress, end))
        }
        self.problems = problems
        pieces = Self.flatten(loads)
    }

    /// The sweep: between consecutive segment boundaries, the owner is the lowest-index
    /// segment that covers the interval.
    static func flatten(_ loads: [(index: Int, start: UInt64, end: UInt64)]) -> [Piece] {
        guard !loads.isEmpty else { return [] }
        // Events: (address, isStart, segment index). Ends sort before starts at one address.
        var events: [(UInt64, Bool, Int)] = []
        events.reserveCapacity(loads.count * 2)
        for l in loads {
            events.append((l.start, true, l.index))
            events.append((l.end, false, l.index))
        }
        events.sort { a, b in a.0 != b.0 ? a.0 < b.0 : (!a.1 && b.1) }
        var active = MinHeap()
        var ended = Set<Int>()
        var pieces: [Piece] = []
        var cursor = events[0].0
        var i = 0
        while i < events.count {
            let at = events[i].0
            // The interval [cursor, at) belongs to the lowest active index.
            if at > cursor, let owner = active.top(skipping: ended) {
                if let last = pieces.last, last.segment == owner, last.end == cursor {
                    pieces[pieces.count - 1].end = at
                } else {
                    pieces.append(Piece(start: cursor, end: at, segment: owner))
                }
            }
            while i < events.count && events[i].0 == at {
                let (_, isStart, index) = events[i]
                if isStart {
                    active.push(index)
                    ended.remove(index)
                } else {
                    ended.insert(index)
                }
                i += 1
            }
            cursor = at
        }
        return pieces
    }

    /// The piece holding `address`.
    public func piece(containing address: UInt64) -> Piece? {
        let i = pieces.partitionPoint { $0.start <= address } - 1
        guard i >= 0, address < pieces[i].end else { return nil }
        return pieces[i]
    }

    /// The segment that supplies the byte at `address`.
    public func segment(containing address: UInt64) -> ProgramHeader? {
        piece(containing: address).map { segments[$0.segment] }
    }

    /// How many bytes from `address` on the core really holds (file-backed, contiguous),
    /// at most `limit`: the extent of an image a reader may parse from the core.
    public func dumpedLength(at address: UInt64, limit: UInt64) -> UInt64 {
        var a = address
        var total: UInt64 = 0
        while total < limit, let piece = piece(containing: a) {
            let segment = segments[piece.segment]
            let fileEnd = segment.virtualAddress &+ min(segment.fileSize, segment.memorySize)
            let end = min(piece.end, fileEnd)
            guard end > a, source.contains(offset: segment.offset &+ (a - segment.virtualAddress), count: end - a) else { break }
            total += end - a
            if end < piece.end { break }
            a = end
        }
        return min(total, limit)
    }

    public func fetch(from address: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        var done = 0
        while done < buffer.count {
            let (a, wrapped) = address.addingReportingOverflow(UInt64(done))
            guard !wrapped, let piece = piece(containing: a) else {
                throw MemoryReadError(address: address, count: buffer.count, detail: "not in the core")
            }
            let n = Int(min(UInt64(buffer.count - done), piece.end - a))
            let segment = segments[piece.segment]
            let into = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + n)])
            let inSegment = a - segment.virtualAddress
            let fileBacked = min(segment.fileSize, segment.memorySize)
            if inSegment >= fileBacked {
                into.initializeMemory(as: UInt8.self, repeating: 0)
            } else {
                let fromFile = Int(min(UInt64(n), fileBacked - inSegment))
                let (offset, over) = segment.offset.addingReportingOverflow(inSegment)
                guard !over, source.contains(offset: offset, count: UInt64(fromFile)) else {
                    throw MemoryReadError(address: a, count: n,
                                          detail: "the core is truncated: segment \(piece.segment)'s data is past its end")
                }
                try source.fetch(from: offset, into: UnsafeMutableRawBufferPointer(rebasing: into[0..<fromFile]))
                if fromFile < n {
                    UnsafeMutableRawBufferPointer(rebasing: into[fromFile...]).initializeMemory(as: UInt8.self, repeating: 0)
                }
            }
            done += n
        }
    }
}

/// A binary min-heap of segment indices with lazy deletion.
struct MinHeap {
    private var items: [Int] = []

    mutating func push(_ v: Int) {
        items.append(v)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard items[parent] > items[i] else { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() {
        guard !items.isEmpty else { return }
        items.swapAt(0, items.count - 1)
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l] < items[m] { m = l }
            if r < items.count && items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
    }

    /// The smallest index not in `ended`, dropping ended ones from the top.
    mutating func top(skipping ended: Set<Int>) -> Int? {
        while let t = items.first, ended.contains(t) { pop() }
        return items.first
    }
}
