// CFIReport: what `vunwind cfi` found, walked once and rendered either as text (readelf's
// frames-interp layout, built as bytes) or as the JSON model. The JSON shape is the stable
// interface: sections -> entries (CIE, FDE, terminator) -> rows -> CFA and register cells.

import Bytes
import DwarfCFI
import ELF
import Unwind

/// One entry of a section as the walk sees it, with its rows when asked for.
struct WalkedEntry {
    enum Kind { case cie(CommonInformationEntry), fde(FrameDescriptionEntry, CommonInformationEntry), terminator(Int) }
    var kind: Kind
    var rows: [UnwindRow]?
    /// Registers the entry's (and its CIE's) instructions name: readelf's columns.
    var columns = RegisterMask()
    /// readelf prints no table for an entry whose instructions are all DW_CFA_nop.
    var allNops = false
}

enum CFIWalk {
    static func forEach(_ section: CallFrameSection, rows withRows: Bool, grouping: RowGrouping,
                        _ body: (WalkedEntry) throws -> Void) throws {
        var cies: [Int: CommonInformationEntry] = [:]
        var cieColumns: [Int: RegisterMask] = [:]
        func allNops(_ r: Range<Int>) -> Bool { section.bytes[r].allSatisfy { $0 == CallFrameOpcode.nop } }
        try section.forEachEntry { entry in
            switch entry {
            case let .terminator(offset):
                try body(WalkedEntry(kind: .terminator(offset)))
            case let .cie(cie):
                cies[cie.offset] = cie
                var e = WalkedEntry(kind: .cie(cie))
                if withRows {
                    let columns = try FrameProgram.referencedRegisters(range: cie.instructions, cie: cie, section: section)
                    cieColumns[cie.offset] = columns
                    e.rows = [try UnwindTableBuilder.initialRow(cie: cie, section: section)]
                    e.columns = columns
                    e.allNops = allNops(cie.instructions)
                }
                try body(e)
            case let .fde(fde):
                let cie = try cies[fde.cieOffset] ?? section.cie(at: fde.cieOffset)
                var e = WalkedEntry(kind: .fde(fde, cie))
                if withRows {
                    e.rows = try UnwindTableBuilder.rows(fde: fde, cie: cie, section: section, grouping: grouping)
                    let inherited = try cieColumns[cie.offset]
                        ?? FrameProgram.referencedRegisters(range: cie.instructions, cie: cie, section: section)
                    e.columns = inherited.union(try FrameProgram.referencedRegisters(range: fde.instructions, cie: cie,
                                                                                     section: section))
                    e.allNops = allNops(fde.instructions)
                }
                try body(e)
            }
        }
    }

    /// The CIE pointer field as stored: relative to itself in .eh_frame, a section offset
    /// in .debug_frame.
    static func pointerField(_ fde: FrameDescriptionEntry, _ cie: CommonInformationEntry, _ kind: CallFrameSection.Kind) -> UInt64 {
        kind == .ehFrame ? UInt64(fde.offset + (cie.offsetSize == 8 ? 12 : 4) - fde.cieOffset) : UInt64(fde.cieOffset)
    }

    static func cieIDField(_ cie: CommonInformationEntry, _ kind: CallFrameSection.Kind) -> UInt64 {
        kind == .ehFrame ? 0 : (cie.offsetSize == 8 ? .max : 0xffff_ffff)
    }
}

enum CFIText {
    /// Streams the listing: the header of each table is known before its rows (its columns
    /// are the registers the instructions name), so rows go from the evaluator straight to
    /// text, with no row arrays.
    /// Listings up to this size are held until the end, so that bad input leaves stdout
    /// empty; longer ones go to `spill` in pieces of this size as they are made (a 100,000
    /// FDE object lists 28 MB), so memory stays near readelf's.
    static let heldBytes = 1 << 20

    static func render(_ found: ELFCallFrameSections, rows withRows: Bool, grouping: RowGrouping,
                       spill: ([UInt8]) -> Void = { _ in }) throws -> [UInt8] {
        // Listings run to about 12 bytes of text per byte of CFI: reserve once.
        let cfiBytes = found.listed.reduce(0) { $0 + ($1.section?.bytes.count ?? 0) }
        var b = ListingBuffer(capacity: min(withRows ? cfiBytes * 12 : cfiBytes, heldBytes + (1 << 16)))
        func spillIfFull() {
            if b.bytes.count >= heldBytes {
                spill(b.bytes)
                b.removeAll()
            }
        }
        for listed in found.listed {
            guard let section = listed.section else {
                b.append(listed.isNobits ? "section '\(listed.name)' has the NOBITS type - its contents are unreliable.\n"
                                         : "\nSection '\(listed.name)' has no debugging data.\n")
                continue
            }
            // readelf's layout: a blank line before each entry, two after a terminator (and
            // the zero bytes that follow a terminator skipped, as readelf skips them), one
            // at the end of the section.
            b.append("Contents of the \(listed.name) section:\n\n")
            var cies: [Int: (cie: CommonInformationEntry, columns: RegisterMask)] = [:]
            func allNops(_ r: Range<Int>) -> Bool { section.bytes[r].allSatisfy { $0 == CallFrameOpcode.nop } }
            var offset = 0
            while offset < section.bytes.count {
                let (entry, next) = try section.entry(at: offset)
                offset = next
                b.newline()
                switch entry {
                case let .terminator(at):
                    b.hex(UInt64(at), width: 8)
                    b.append(" ZERO terminator\n\n" as StaticString)
                    // The 4 bytes of the length were zero; readelf moves on to the first
                    // non-zero byte after them.
                    while offset < section.bytes.count && section.bytes[offset] == 0 { offset += 1 }
                case let .cie(cie):
                    let columns = try FrameProgram.referencedRegisters(range: cie.instructions, cie: cie, section: section)
                    cies[cie.offset] = (cie, columns)
                    FrameTableListing.cieLine(cie, idField: CFIWalk.cieIDField(cie, section.kind), into: &b)
                    b.newline()
                    if withRows && !allNops(cie.instructions) {
                        let row = try UnwindTableBuilder.initialRow(cie: cie, section: section)
                        FrameTableListing.table(rows: [row], returnAddressRegister: cie.returnAddressRegister,
                                                columns: columns, into: &b)
                    }
                case let .fde(fde):
                    let known = try cies[fde.cieOffset] ?? {
                        let c = try section.cie(at: fde.cieOffset)
                        return (c, try FrameProgram.referencedRegisters(range: c.instructions, cie: c, section: section))
                    }()
                    let cie = known.cie
                    FrameTableListing.fdeLine(fde, offsetSize: cie.offsetSize,
                                              pointerField: CFIWalk.pointerField(fde, cie, section.kind), into: &b)
                    b.newline()
                    if withRows && !allNops(fde.instructions) {
                        let columns = known.columns.union(
                            try FrameProgram.referencedRegisters(range: fde.instructions, cie: cie, section: section)).registers
                        FrameTableListing.header(columns: columns, returnAddressRegister: cie.returnAddressRegister, into: &b)
                        try UnwindTableBuilder.forEachRow(fde: fde, cie: cie, section: section, grouping: grouping) { row in
                            FrameTableListing.row(row, columns: columns, into: &b)
                            return true
                        }
                    }
                }
                spillIfFull()
            }
            b.newline()
        }
        return b.bytes
    }
}

struct CFIReport: Encodable {
    struct Row: Encodable {
        var start: UInt64
        var end: UInt64
        var cfa: String
        /// Register name -> rule, for registers with an explicit rule ("u" = undefined).
        var registers: [String: String]
        var argumentsSize: UInt64?
    }

    struct Entry: Encodable {
        var kind: String
        var offset: Int
        var length: Int
        var version: UInt8?
        var augmentation: String?
        var codeAlignmentFactor: UInt64?
        var dataAlignmentFactor: Int64?
        var returnAddressRegister: UInt64?
        var isSignalFrame: Bool?
        var cie: Int?
        var pcBegin: UInt64?
        var pcEnd: UInt64?
        var lsda: UInt64?
        var rows: [Row]?
    }

    struct Section: Encodable {
        var name: String
        var address: UInt64
        var entries: [Entry]
    }

    var file: String
    var sections: [Section]

    init(path: String, found: ELFCallFrameSections, rows: Bool, grouping: RowGrouping) throws {
        file = path
        sections = []
        for listed in found.listed {
            guard let section = listed.section else {
                sections.append(Section(name: listed.name, address: 0, entries: []))
                continue
            }
            var entries: [Entry] = []
            try CFIWalk.forEach(section, rows: rows, grouping: grouping) { e in
                switch e.kind {
                case let .terminator(offset):
                    entries.append(Entry(kind: "terminator", offset: offset, length: 4))
                case let .cie(cie):
                    var x = Entry(kind: "CIE", offset: cie.offset, length: cie.end - cie.offset)
                    x.version = cie.version
                    x.augmentation = cie.augmentation
                    x.codeAlignmentFactor = cie.codeAlignmentFactor
                    x.dataAlignmentFactor = cie.dataAlignmentFactor
                    x.returnAddressRegister = cie.returnAddressRegister
                    x.isSignalFrame = cie.isSignalFrame
                    x.rows = e.rows?.map { Self.row($0, ra: cie.returnAddressRegister) }
                    entries.append(x)
                case let .fde(fde, cie):
                    var x = Entry(kind: "FDE", offset: fde.offset, length: fde.end - fde.offset)
                    x.cie = fde.cieOffset
                    x.pcBegin = fde.initialLocation
                    x.pcEnd = fde.pcRange.upperBound
                    x.lsda = fde.lsda?.value
                    x.rows = e.rows?.map { Self.row($0, ra: cie.returnAddressRegister) }
                    entries.append(x)
                }
            }
            sections.append(Section(name: listed.name, address: section.address, entries: entries))
        }
    }

    static func row(_ row: UnwindRow, ra: UInt64) -> Row {
        var regs: [String: String] = [:]
        for e in row.registers {
            regs[UInt64(e.register) == ra ? "ra" : DwarfRegister.name(UInt64(e.register))] = FrameTableListing.cell(e.rule)
        }
        return Row(start: row.start, end: row.end, cfa: FrameTableListing.cfa(row.cfa), registers: regs,
                   argumentsSize: row.argumentsSize == 0 ? nil : row.argumentsSize)
    }
}
