// CallFrameInfo: the CFI of one module (.eh_frame with its .eh_frame_hdr, and/or
// .debug_frame), answering "which FDE covers this pc" and "which row holds there".
//
// With a header table the lookup is a binary search; without one, the FDEs are indexed
// once (sorted) at construction, as libgcc does for registered objects.

public struct CallFrameInfo: Sendable {
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

    public struct Match: Sendable {
        public var fde: FrameDescriptionEntry
        public var cie: CommonInformationEntry
        public var section: CallFrameSection
    }

    public init(ehFrame: CallFrameSection?, header: EhFrameHeader? = nil, debugFrame: CallFrameSection? = nil) throws {
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

    /// The FDE that covers `pc`, or nil.
    public func find(_ pc: UInt64) throws -> Match? {
        if let h = header, let e = ehFrame, let fdeAddress = try h.lookup(pc) {
            let offset = fdeAddress &- e.address
            if offset < UInt64(e.bytes.count) {
                let (fde, cie) = try e.fde(at: Int(offset))
                if fde.contains(pc) { return Match(fde: fde, cie: cie, section: e) }
            }
        }
        // Binary search for the last entry starting at or before pc.
        var lo = 0, hi = index.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if index[mid].start <= pc { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        // Overlapping FDEs are rare but legal: look back over the few that could cover pc.
        var looked = 0
        while i >= 0 && looked < 8 {
            let entry = index[i]
            if entry.start <= pc && pc < entry.end {
                let section = entry.inDebugFrame ? debugFrame! : ehFrame!
                let (fde, cie) = try section.fde(at: entry.offset)
                return Match(fde: fde, cie: cie, section: section)
            }
            i -= 1
            looked += 1
        }
        return nil
    }

    /// The row that holds at `pc` and the CIE it comes from, or nil if no FDE covers it.
    public func row(at pc: UInt64, limits: UnwindLimits = .default) throws -> (row: UnwindRow, cie: CommonInformationEntry)? {
        guard let m = try find(pc) else { return nil }
        guard let row = try UnwindTableBuilder.row(at: pc, fde: m.fde, cie: m.cie, section: m.section, limits: limits)
        else { return nil }
        return (row, m.cie)
    }
}
