// CFIReport: the result model of `vunwind cfi`, rendered as text or JSON. The JSON shape is
// the stable interface: sections -> entries (CIE or FDE) -> rows -> CFA and register cells.

import Bytes
import DwarfCFI
import ELF
import Unwind

struct CFIReport: Codable {
    struct Row: Codable {
        var start: UInt64
        var end: UInt64
        var cfa: String
        /// Register name -> rule, for registers with an explicit rule ("u" = undefined).
        var registers: [String: String]
        var argumentsSize: UInt64?
    }

    struct Entry: Codable {
        var kind: String
        var offset: Int
        var length: Int
        // CIE
        var version: UInt8?
        var augmentation: String?
        var codeAlignmentFactor: UInt64?
        var dataAlignmentFactor: Int64?
        var returnAddressRegister: UInt64?
        var isSignalFrame: Bool?
        // FDE
        var cie: Int?
        var pcBegin: UInt64?
        var pcEnd: UInt64?
        var lsda: UInt64?
        var rows: [Row]?
        /// Text lines (not in JSON).
        var text: [String]

        enum CodingKeys: String, CodingKey {
            case kind, offset, length, version, augmentation, codeAlignmentFactor, dataAlignmentFactor,
                 returnAddressRegister, isSignalFrame, cie, pcBegin, pcEnd, lsda, rows
        }

        init(kind: String, offset: Int, length: Int, text: [String]) {
            self.kind = kind
            self.offset = offset
            self.length = length
            self.text = text
        }

        init(from decoder: Decoder) throws { fatalError("CFIReport is output only") }
    }

    struct Section: Codable {
        var name: String
        var address: UInt64
        var entries: [Entry]
    }

    var file: String
    var sections: [Section]

    init(path: String, bytes: [UInt8], rows: Bool) throws {
        let elf = try ELFFile(bytes: bytes)
        let found = try ELFCallFrameSections(elf: elf)
        file = path
        sections = []
        for section in [found.ehFrame, found.debugFrame].compactMap({ $0 }) {
            sections.append(try Self.section(section, rows: rows))
        }
    }

    static func section(_ section: CallFrameSection, rows withRows: Bool) throws -> Section {
        var entries: [Entry] = []
        var cies: [Int: CommonInformationEntry] = [:]
        try section.forEachEntry { entry in
            switch entry {
            case let .terminator(offset):
                entries.append(Entry(kind: "terminator", offset: offset, length: 0,
                                     text: ["\(FrameTableListing.hex(UInt64(offset), width: 8)) ZERO terminator"]))
            case let .cie(cie):
                cies[cie.offset] = cie
                let idField: UInt64 = section.kind == .ehFrame ? 0 : (cie.offsetSize == 8 ? .max : 0xffff_ffff)
                var e = Entry(kind: "CIE", offset: cie.offset, length: cie.end - cie.offset,
                              text: [FrameTableListing.cieLine(cie, idField: idField)])
                e.version = cie.version
                e.augmentation = cie.augmentation
                e.codeAlignmentFactor = cie.codeAlignmentFactor
                e.dataAlignmentFactor = cie.dataAlignmentFactor
                e.returnAddressRegister = cie.returnAddressRegister
                e.isSignalFrame = cie.isSignalFrame
                if withRows {
                    let row = try UnwindTableBuilder.initialRow(cie: cie, section: section)
                    if !Self.allNops(cie.instructions, section) {
                        e.rows = [Self.row(row, ra: cie.returnAddressRegister)]
                        let columns = try FrameProgram.referencedRegisters(range: cie.instructions, cie: cie,
                                                                           section: section)
                        e.text += FrameTableListing.table(rows: [row], returnAddressRegister: cie.returnAddressRegister,
                                                          columns: columns)
                    }
                }
                entries.append(e)
            case let .fde(fde):
                let cie: CommonInformationEntry
                if let c = cies[fde.cieOffset] { cie = c } else { cie = try section.cie(at: fde.cieOffset) }
                let offsetSize = cie.offsetSize
                let pointerField: UInt64 = section.kind == .ehFrame
                    ? UInt64(fde.offset + (offsetSize == 8 ? 12 : 4) - fde.cieOffset) : UInt64(fde.cieOffset)
                var e = Entry(kind: "FDE", offset: fde.offset, length: fde.end - fde.offset,
                              text: [FrameTableListing.fdeLine(fde, offsetSize: offsetSize, pointerField: pointerField)])
                e.cie = fde.cieOffset
                e.pcBegin = fde.initialLocation
                e.pcEnd = fde.pcRange.upperBound
                e.lsda = fde.lsda?.value
                if withRows {
                    let rows = try UnwindTableBuilder.rows(fde: fde, cie: cie, section: section)
                    e.rows = rows.map { Self.row($0, ra: cie.returnAddressRegister) }
                    if !Self.allNops(fde.instructions, section) {
                        let columns = try FrameProgram.referencedRegisters(range: cie.instructions, cie: cie,
                                                                           section: section)
                            .union(FrameProgram.referencedRegisters(range: fde.instructions, cie: cie, section: section))
                        e.text += FrameTableListing.table(rows: rows, returnAddressRegister: cie.returnAddressRegister,
                                                          columns: columns)
                    }
                }
                entries.append(e)
            }
        }
        return Section(name: section.kind.rawValue, address: section.address, entries: entries)
    }

    /// readelf prints no table for an entry with no instruction but DW_CFA_nop; the text
    /// listing follows it (JSON keeps the rows).
    static func allNops(_ range: Range<Int>, _ section: CallFrameSection) -> Bool {
        section.bytes[range].allSatisfy { $0 == CallFrameOpcode.nop }
    }

    static func row(_ row: UnwindRow, ra: UInt64) -> Row {
        var regs: [String: String] = [:]
        for e in row.registers {
            regs[UInt64(e.register) == ra ? "ra" : DwarfRegister.name(UInt64(e.register))] = FrameTableListing.cell(e.rule)
        }
        return Row(start: row.start, end: row.end, cfa: FrameTableListing.cfa(row.cfa), registers: regs,
                   argumentsSize: row.argumentsSize == 0 ? nil : row.argumentsSize)
    }

    func render(into out: inout String) {
        for s in sections {
            out += "Contents of the \(s.name) section:\n\n\n"
            for e in s.entries {
                for line in e.text { out += line; out += "\n" }
                out += "\n"
            }
        }
    }
}
