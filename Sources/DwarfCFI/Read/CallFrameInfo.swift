// CallFrameInfo: the CFI of one module (.eh_frame with its .eh_frame_hdr, and/or
// .debug_frame), answering "which FDE covers this pc" and "which row holds there".
//
// With a header table the lookup is a binary search; without one, the FDEs are indexed
// once (sorted) at construction, as libgcc does for registered objects. Parsed CIEs and
// their initial rows are cached (as libdw caches them): most lookups share a handful of
// CIEs. The evaluated row tables of FDEs are cached too, direct-mapped (bounded; 0
// disables it): a stack walker or a profiler looks up the same hot functions again and
// again, and a hit is a binary search instead of replaying the FDE. The table used last
// answers first, for the pcs no other FDE could take from it, so the answer never depends
// on what was looked up before. Caches are behind locks, so one CallFrameInfo may serve
// several threads.
//
// What made lookups as fast as libdw's (`vunwind bench cfi`; 0.44x before): a hit copies
// no CIE (a reference is handed out), probes rows without copying them, and the header
// table is searched in place; a miss builds the table in one array with no row held back.

import Bytes
import Locking

public final class CallFrameInfo: Sendable {
    public let ehFrame: CallFrameSection?
    public let header: EhFrameHeader?
    public let debugFrame: CallFrameSection?

    struct IndexEntry: Sendable {
        var start: UInt64
        var end: UInt64
        var offset: Int
        var inDebugFrame: Bool
    }

    /// Sorted by start; used when there is no header table (and always for .debug_frame).
    let index: [IndexEntry]

    /// A parsed CIE and its initial row: a reference, so a lookup hands it out without
    /// copying a couple of hundred bytes (and the augmentation string) per call. Reads
    /// through to the CIE's fields (`cie.returnAddressRegister`, `cie.isSignalFrame`).
    @dynamicMemberLookup
    public final class CachedCIE: Sendable {
        public let cie: CommonInformationEntry
        let initial: UnwindRow

        init(cie: CommonInformationEntry, initial: UnwindRow) {
            self.cie = cie
            self.initial = initial
        }

        public subscript<T>(dynamicMember field: KeyPath<CommonInformationEntry, T>) -> T { cie[keyPath: field] }
    }

    struct CIECache {
        /// Keyed by CIE offset, negated minus one for .debug_frame.
        var entries: [Int: CachedCIE] = [:]
        /// The last CIE used: most FDEs of a module share one, so this answers most lookups
        /// without hashing.
        var lastKey = Int.min
        var last: CachedCIE?
    }

    private let cieCache = Locked(CIECache())

    /// A reference, so a cache hit touches no copy of the FDE, CIE or rows.
    final class CachedTable: Sendable {
        let pcRange: Range<UInt64>
        /// The pcs for which a lookup would pick this FDE again (its range up to the next
        /// table entry's start); empty when it was found past overlapping FDEs.
        let exclusiveRange: Range<UInt64>
        let cie: CachedCIE
        let rows: [UnwindRow]
        /// The cache key: the FDE's offset, negated minus one for .debug_frame.
        let key: Int

        init(pcRange: Range<UInt64>, exclusiveRange: Range<UInt64>, cie: CachedCIE, rows: [UnwindRow], key: Int) {
            self.pcRange = pcRange
            self.exclusiveRange = exclusiveRange
            self.cie = cie
            self.rows = rows
            self.key = key
        }
    }

    /// Direct-mapped: a table goes to the slot its key hashes to, replacing what was there.
    /// No hashing of a dictionary, no recency bookkeeping and no eviction pass on the
    /// lookup path; a sweep over every function (the worst case for any cache) costs one
    /// slot store per function.
    struct TableCache {
        var slots: [CachedTable?]
        /// The table used last: consecutive lookups (a profiler's samples, the frames of
        /// one function at several depths) often fall in one function.
        var last: CachedTable?
        let shift: UInt64

        init(capacity: Int) {
            var bits: UInt64 = 0
            while (1 << bits) < capacity { bits += 1 }
            slots = capacity > 0 ? Array(repeating: nil, count: 1 << bits) : []
            shift = 64 - bits
        }

        func slot(_ key: Int) -> Int {
            // Fibonacci hashing: FDE offsets are multiples of 4 or 8 and close together.
            shift >= 64 ? 0 : Int(truncatingIfNeeded: (UInt64(bitPattern: Int64(key)) &* 0x9e37_79b9_7f4a_7c15) >> shift)
        }
    }

    /// How many FDE row tables the cache keeps; 0 turns it off.
    public let rowCacheCapacity: Int
    private let tableCache: Locked<TableCache>

    public struct Match: Sendable {
        public var fde: FrameDescriptionEntry
        public var cie: CommonInformationEntry
        public var section: CallFrameSection
    }

    public init(ehFrame: CallFrameSection?, header: EhFrameHeader? = nil, debugFrame: CallFrameSection? = nil,
                rowCacheCapacity: Int = 256) throws {
        self.rowCacheCapacity = rowCacheCapacity
        self.tableCache = Locked(TableCache(capacity: rowCacheCapacity))
        self.ehFrame = ehFrame
        self.header = header.flatMap { $0.count > 0 ? $0 : nil }
        self.debugFrame = debugFrame
        var index: [IndexEntry] = []
        func collect(_ section: CallFrameSection, debug: Bool) throws {
            try section.forEachEntry { entry in
                if case let .fde(f) = entry, f.addressRange > 0 {
                    index.append(IndexEntry(start: f.initialLocation, end: f.pcRange.upperBound,
                                            offset: f.offset, inDebugFrame: debug))
                }
            }
        }
        if let e = ehFrame, self.header == nil { try collect(e, debug: false) }
        if let d = debugFrame { try collect(d, debug: true) }
        index.sort { $0.start < $1.start }
        self.index = index
    }

    private func cached(_ offset: Int, in section: CallFrameSection, limits: UnwindLimits) throws -> CachedCIE {
        let key = section.kind == .debugFrame ? -1 - offset : offset
        if let c = cieCache.withLock({ cache -> CachedCIE? in
            if cache.lastKey == key { return cache.last }
            guard let c = cache.entries[key] else { return nil }
            cache.lastKey = key
            cache.last = c
            return c
        }) { return c }
        let cie = try section.cie(at: offset)
        let c = CachedCIE(cie: cie, initial: try UnwindTableBuilder.initialRow(cie: cie, section: section, limits: limits))
        cieCache.withLock {
            $0.entries[key] = c
            $0.lastKey = key
            $0.last = c
        }
        return c
    }

    /// The FDE at `offset` and its cached CIE.
    private func fde(at offset: Int, in section: CallFrameSection, limits: UnwindLimits)
        throws -> (FrameDescriptionEntry, CachedCIE) {
        var resolved: CachedCIE?
        let (fde, _) = try section.fde(at: offset) { cieOffset in
            let c = try self.cached(cieOffset, in: section, limits: limits)
            resolved = c
            return c.cie
        }
        return (fde, resolved!)
    }

    /// Where the FDE that may cover `pc` is: from the header table, or else the index.
    private struct Candidate {
        enum Source {
            /// Header table entry `index` names the FDE at `offset` in .eh_frame.
            case header(index: Int, offset: Int)
            /// Index entries at and before `position` (sorted by start) may cover pc.
            case indexed(position: Int)
        }
        var source: Source
        /// The table entry's start: lookups below it go to an earlier entry.
        var base: UInt64
        /// Where the next table entry starts: below it, every pc the candidate's FDE covers
        /// leads to the same candidate (so a cached table may answer without a search).
        var limit: UInt64

        /// The table cache's key of the first FDE to try.
        func key(_ index: [IndexEntry]) -> Int {
            switch source {
            case let .header(_, offset): return offset
            case let .indexed(i): return index[i].inDebugFrame ? -1 - index[i].offset : index[i].offset
            }
        }
    }

    private func candidate(_ pc: UInt64) throws -> Candidate? {
        if let h = header, let e = ehFrame, let (i, fdeAddress) = try h.lookupEntry(pc) {
            let offset = fdeAddress &- e.address
            // A header entry that points outside .eh_frame names nothing; fall back to the index.
            if offset < UInt64(e.bytes.count) {
                let base = try h.entry(i).location
                let limit = i + 1 < h.count ? try h.entry(i + 1).location : UInt64.max
                return Candidate(source: .header(index: i, offset: Int(offset)), base: base, limit: limit)
            }
        }
        let lo = index.partitionPoint { $0.start <= pc }
        guard lo > 0 else { return nil }
        return Candidate(source: .indexed(position: lo - 1), base: index[lo - 1].start,
                         limit: lo < index.count ? index[lo].start : UInt64.max)
    }

    /// The FDE covering `pc` with its cached CIE and section.
    private func locate(_ pc: UInt64, limits: UnwindLimits) throws
        -> (fde: FrameDescriptionEntry, cie: CachedCIE, section: CallFrameSection)? {
        try candidate(pc).flatMap { try locate(pc, from: $0, limits: limits)?.0 }
    }

    /// The same from a candidate; `direct` is true when the FDE is the candidate's own (not
    /// one found by looking back over overlapping FDEs).
    private func locate(_ pc: UInt64, from candidate: Candidate, limits: UnwindLimits) throws
        -> ((fde: FrameDescriptionEntry, cie: CachedCIE, section: CallFrameSection), direct: Bool)? {
        var i: Int
        switch candidate.source {
        case let .header(headerIndex, offset):
            let e = ehFrame!
            let found: (FrameDescriptionEntry, CachedCIE)
            do {
                found = try fde(at: offset, in: e, limits: limits)
            } catch let error as CFIError where error.reason == .cieNotFound(target: Int64(offset))
                && error.offset == e.fileOffset &+ UInt64(offset) {
                // No FDE where the header points (a CIE, or nothing): the header's entry
                // is what is wrong, not the bytes it points at.
                throw CFIError(offset: header!.fdeFieldOffset(headerIndex),
                               reason: .headerEntryNotAnFDE(e.address &+ UInt64(offset)))
            }
            if found.0.contains(pc) { return ((found.0, found.1, e), true) }
            // The header's FDE does not cover pc; .debug_frame (indexed) may.
            i = index.partitionPoint { $0.start <= pc } - 1
        case let .indexed(position):
            i = position
        }
        // Overlapping FDEs are rare but legal: look back over the few that could cover pc.
        var looked = 0
        let first = i
        while i >= 0 && looked < 8 {
            let entry = index[i]
            if entry.start <= pc && pc < entry.end {
                let section = entry.inDebugFrame ? debugFrame! : ehFrame!
                let (fde, cie) = try fde(at: entry.offset, in: section, limits: limits)
                let direct: Bool
                if case .indexed = candidate.source { direct = i == first } else { direct = false }
                return ((fde, cie, section), direct)
            }
            i -= 1
            looked += 1
        }
        return nil
    }

    /// The FDE that covers `pc`, or nil.
    public func find(_ pc: UInt64) throws -> Match? {
        guard let (fde, cie, section) = try locate(pc, limits: .default) else { return nil }
        return Match(fde: fde, cie: cie.cie, section: section)
    }

    /// The row that holds at `pc` and the CIE it comes from, or nil if no FDE covers it.
    public func row(at pc: UInt64, limits: UnwindLimits = .default) throws -> (row: UnwindRow, cie: CachedCIE)? {
        if rowCacheCapacity > 0 { return try cachedRow(at: pc, limits: limits) }
        guard let (fde, cie, section) = try locate(pc, limits: limits) else { return nil }
        guard let row = try UnwindTableBuilder.row(at: pc, fde: fde, cie: cie.cie, section: section, limits: limits,
                                                   initial: cie.initial)
        else { return nil }
        return (row, cie)
    }

    @inline(__always)
    private func cachedRow(at pc: UInt64, limits: UnwindLimits) throws -> (row: UnwindRow, cie: CachedCIE)? {
        // Fastest path: the table used last covers pc.
        if let t = tableCache.withLock({ cache -> CachedTable? in
            guard let t = cache.last, t.exclusiveRange.contains(pc) else { return nil }
            return t
        }), let row = Self.search(t.rows, pc) {
            return (row, t.cie)
        }
        guard let candidate = try candidate(pc) else { return nil }
        // Fast path: the header names an FDE whose table is cached and covers pc.
        let key = candidate.key(index)
        if let t = tableCache.withLock({ cache -> CachedTable? in
            guard let t = cache.slots[cache.slot(key)], t.key == key, t.pcRange.contains(pc) else { return nil }
            cache.last = t
            return t
        }), let row = Self.search(t.rows, pc) {
            return (row, t.cie)
        }
        guard let ((fde, cie, section), direct) = try locate(pc, from: candidate, limits: limits) else { return nil }
        let rows = try UnwindTableBuilder.rows(fde: fde, cie: cie.cie, section: section, limits: limits,
                                               initial: cie.initial)
        let range = fde.pcRange
        let low = max(range.lowerBound, candidate.base)
        let exclusive = direct ? low..<max(low, min(range.upperBound, candidate.limit)) : low..<low
        let table = CachedTable(pcRange: range, exclusiveRange: exclusive, cie: cie, rows: rows,
                                key: section.kind == .debugFrame ? -1 - fde.offset : fde.offset)
        tableCache.withLock { cache in
            cache.slots[cache.slot(table.key)] = table
            cache.last = table
        }
        return Self.search(rows, pc).map { ($0, cie) }
    }

    /// The row whose range holds `pc`, by binary search over sorted, disjoint rows. Reads
    /// `start` in place: passing each probed row to a predicate would copy it (two
    /// reference counts per probe).
    static func search(_ rows: [UnwindRow], _ pc: UInt64) -> UnwindRow? {
        var lo = 0, hi = rows.count
        while lo < hi {
            let mid = lo &+ (hi &- lo) >> 1
            if rows[mid].start <= pc { lo = mid &+ 1 } else { hi = mid }
        }
        guard lo > 0, pc < rows[lo - 1].end else { return nil }
        return rows[lo - 1]
    }
}
