// CallFrameInfo: the CFI of one module (.eh_frame with its .eh_frame_hdr, and/or
// .debug_frame), answering "which FDE covers this pc" and "which row holds there".
//
// With a header table the lookup is a binary search; without one, the FDEs are indexed
// once (sorted) at construction, as libgcc does for registered objects. Parsed CIEs and
// their initial rows are cached (as libdw caches them): most lookups share a handful of
// CIEs. The evaluated row tables of recently used FDEs are cached too (bounded; 0
// disables it): a stack walker or a profiler looks up the same hot functions again and
// again, and a hit is a binary search instead of replaying the FDE. Caches are behind
// locks, so one CallFrameInfo may serve several threads.

import Bytes
import Synchronization

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

    struct CachedCIE {
        var cie: CommonInformationEntry
        var initial: UnwindRow
    }

    struct CIECache {
        /// Keyed by CIE offset, negated minus one for .debug_frame.
        var entries: [Int: CachedCIE] = [:]
        /// The last CIE used: most FDEs of a module share one, so this answers most lookups
        /// without hashing.
        var lastKey = Int.min
        var last: CachedCIE?
    }

    private let cieCache = Mutex(CIECache())

    /// A reference, so a cache hit touches no copy of the FDE, CIE or rows.
    final class CachedTable {
        let fde: FrameDescriptionEntry
        let pcRange: Range<UInt64>
        let cie: CommonInformationEntry
        let rows: [UnwindRow]
        var lastUse: UInt64

        init(fde: FrameDescriptionEntry, cie: CommonInformationEntry, rows: [UnwindRow], lastUse: UInt64) {
            self.fde = fde
            self.pcRange = fde.pcRange
            self.cie = cie
            self.rows = rows
            self.lastUse = lastUse
        }
    }

    struct TableCache {
        /// Keyed by the FDE's offset (negated minus one for .debug_frame).
        var tables: [Int: CachedTable] = [:]
        var clock: UInt64 = 0
    }

    /// How many FDE row tables the cache keeps; 0 turns it off.
    public let rowCacheCapacity: Int
    private let tableCache = Mutex(TableCache())

    public struct Match: Sendable {
        public var fde: FrameDescriptionEntry
        public var cie: CommonInformationEntry
        public var section: CallFrameSection
    }

    public init(ehFrame: CallFrameSection?, header: EhFrameHeader? = nil, debugFrame: CallFrameSection? = nil,
                rowCacheCapacity: Int = 256) throws {
        self.rowCacheCapacity = rowCacheCapacity
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

    /// The FDE covering `pc` with its cached CIE and section.
    private func locate(_ pc: UInt64, limits: UnwindLimits) throws
        -> (fde: FrameDescriptionEntry, cie: CachedCIE, section: CallFrameSection)? {
        if let h = header, let e = ehFrame, let (index, fdeAddress) = try h.lookupEntry(pc) {
            let offset = fdeAddress &- e.address
            if offset < UInt64(e.bytes.count) {
                let found: (FrameDescriptionEntry, CachedCIE)
                do {
                    found = try fde(at: Int(offset), in: e, limits: limits)
                } catch let error as CFIError where error.reason == .cieNotFound(target: Int64(offset))
                    && error.offset == e.fileOffset &+ offset {
                    // No FDE where the header points (a CIE, or nothing): the header's entry
                    // is what is wrong, not the bytes it points at.
                    throw CFIError(offset: h.fdeFieldOffset(index), reason: .headerEntryNotAnFDE(fdeAddress))
                }
                if found.0.contains(pc) { return (found.0, found.1, e) }
            }
        }
        // Binary search for the last entry starting at or before pc.
        var i = index.partitionPoint { $0.start <= pc } - 1
        // Overlapping FDEs are rare but legal: look back over the few that could cover pc.
        var looked = 0
        while i >= 0 && looked < 8 {
            let entry = index[i]
            if entry.start <= pc && pc < entry.end {
                let section = entry.inDebugFrame ? debugFrame! : ehFrame!
                let (fde, cie) = try fde(at: entry.offset, in: section, limits: limits)
                return (fde, cie, section)
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
    public func row(at pc: UInt64, limits: UnwindLimits = .default) throws -> (row: UnwindRow, cie: CommonInformationEntry)? {
        if rowCacheCapacity > 0 { return try cachedRow(at: pc, limits: limits) }
        guard let (fde, cie, section) = try locate(pc, limits: limits) else { return nil }
        guard let row = try UnwindTableBuilder.row(at: pc, fde: fde, cie: cie.cie, section: section, limits: limits,
                                                   initial: cie.initial)
        else { return nil }
        return (row, cie.cie)
    }

    /// The cache key of the FDE the header table (or, without one, the index) points `pc`
    /// to, without parsing the FDE.
    private func candidateKey(_ pc: UInt64) throws -> Int? {
        if let h = header, let e = ehFrame {
            guard let fdeAddress = try h.lookup(pc) else { return nil }
            let offset = fdeAddress &- e.address
            return offset < UInt64(e.bytes.count) ? Int(offset) : nil
        }
        let lo = index.partitionPoint { $0.start <= pc }
        guard lo > 0 else { return nil }
        let entry = index[lo - 1]
        return entry.inDebugFrame ? -1 - entry.offset : entry.offset
    }

    private func cachedRow(at pc: UInt64, limits: UnwindLimits) throws -> (row: UnwindRow, cie: CommonInformationEntry)? {
        // Fast path: the header names an FDE whose table is cached and covers pc.
        if let key = try candidateKey(pc), let t = tableCache.withLock({ cache -> CachedTable? in
            guard let t = cache.tables[key], t.pcRange.contains(pc) else { return nil }
            cache.clock &+= 1
            t.lastUse = cache.clock
            return t
        }), let row = Self.search(t.rows, pc) {
            return (row, t.cie)
        }
        guard let (fde, cie, section) = try locate(pc, limits: limits) else { return nil }
        var rows: [UnwindRow] = []
        try UnwindTableBuilder.forEachRow(fde: fde, cie: cie.cie, section: section, limits: limits,
                                          initial: cie.initial) { rows.append($0); return true }
        let key = section.kind == .debugFrame ? -1 - fde.offset : fde.offset
        tableCache.withLock { cache in
            if cache.tables.count >= rowCacheCapacity {
                // Evict the least recently used quarter at once, so eviction stays rare.
                let keep = cache.tables.sorted { $0.value.lastUse > $1.value.lastUse }.prefix(rowCacheCapacity * 3 / 4)
                cache.tables = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
            cache.clock &+= 1
            cache.tables[key] = CachedTable(fde: fde, cie: cie.cie, rows: rows, lastUse: cache.clock)
        }
        return Self.search(rows, pc).map { ($0, cie.cie) }
    }

    /// The row whose range holds `pc`, by binary search over sorted, disjoint rows.
    static func search(_ rows: [UnwindRow], _ pc: UInt64) -> UnwindRow? {
        let lo = rows.partitionPoint { $0.start <= pc }
        guard lo > 0, pc < rows[lo - 1].end else { return nil }
        return rows[lo - 1]
    }
}
