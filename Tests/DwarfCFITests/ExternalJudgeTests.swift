// What we write, judged by tools no one here wrote: random FrameTables wrapped in a minimal
// ELF file are read by readelf, llvm-dwarfdump and eu-readelf with no warning, and each
// reports what our own reader and evaluator report.

import Bytes
import DwarfCFI
import ELF
import Foundation
import TestSupport
import XCTest

final class ExternalJudgeTests: XCTestCase {
    struct Sample {
        var table: FrameTable
        var path: String
        var sections: EhFrameSections
        var header: [UInt8]
        var section: CallFrameSection { CallFrameSection(kind: .ehFrame, bytes: sections.ehFrame, address: sections.ehFrameAddress) }
    }

    static let seeds = UInt64(1)...24

    func samples(forEuReadelf: Bool = false) throws -> [Sample] {
        let dir = try Tools.temporaryDirectory("vunwind-judges")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        var out: [Sample] = []
        for seed in Self.seeds {
            var gen = RandomFrameTable(seed: seed)
            gen.allowsPersonalityWithSignalFrame = !forEuReadelf
            let table = gen.table(cies: gen.int(1...3), fdes: gen.int(2...8))
            let (elf, sections, header) = try CFIImage.build(table)
            let path = dir.appendingPathComponent("cfi-\(seed).so").path
            try Data(elf).write(to: URL(fileURLWithPath: path))
            out.append(Sample(table: table, path: path, sections: sections, header: header))
        }
        return out
    }

    /// Our rows for every entry, in the readelf layout, parsed back by the same parser as
    /// readelf's output so both go through one normalization.
    func ourListing(_ s: Sample) throws -> FrameListing {
        let section = s.section
        var text = "Contents of the .eh_frame section:\n\n"
        try section.forEachEntry { entry in
            switch entry {
            case let .cie(c):
                text += FrameTableListing.cieLine(c, idField: 0) + "\n"
                let row = try UnwindTableBuilder.initialRow(cie: c, section: section)
                text += FrameTableListing.table(rows: [row], returnAddressRegister: c.returnAddressRegister)
                    .joined(separator: "\n") + "\n\n"
            case let .fde(f):
                let (_, c) = try section.fde(at: f.offset)
                text += FrameTableListing.fdeLine(f, offsetSize: 4, pointerField: UInt64(f.offset + 4 - f.cieOffset)) + "\n"
                let rows = try UnwindTableBuilder.rows(fde: f, cie: c, section: section)
                text += FrameTableListing.table(rows: rows, returnAddressRegister: c.returnAddressRegister)
                    .joined(separator: "\n") + "\n\n"
            case .terminator: break
            }
        }
        return FrameListing(text: text)
    }

    func testReadelfReadsRandomTablesWithoutWarningsAndWithTheSameRows() throws {
        let readelf = try Tools.path("readelf")
        var compared = 0
        for s in try samples() {
            let r = try Subprocess.run(readelf, ["--debug-dump=no-follow-links", "--debug-dump=frames-interp", s.path])
            XCTAssertEqual(r.status, 0)
            XCTAssertEqual(r.stderr, "", "\(s.path)")
            XCTAssertFalse(r.stdout.lowercased().contains("warning"), "\(s.path): \(r.stdout)")
            let all = try Subprocess.run(readelf, ["-a", "--debug-dump=frames", s.path])
            XCTAssertEqual(all.stderr, "", "readelf -a \(s.path)")
            let theirs = FrameListing(text: r.stdout)
            let ours = try ourListing(s)
            XCTAssertEqual(theirs.entryCount, ours.entryCount, s.path)
            for (offset, _) in ours.entries[".eh_frame"] ?? [:] {
                XCTAssertEqual(theirs.normalizedRows(section: ".eh_frame", offset: offset),
                               ours.normalizedRows(section: ".eh_frame", offset: offset),
                               "\(s.path) entry 0x\(String(offset, radix: 16))")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 100)
    }

    // MARK: llvm-dwarfdump

    static let llvmNames: [UInt16: String] = {
        var n: [UInt16: String] = [:]
        for (i, s) in ["RAX", "RDX", "RCX", "RBX", "RSI", "RDI", "RBP", "RSP", "R8", "R9", "R10", "R11", "R12",
                       "R13", "R14", "R15", "RIP"].enumerated() { n[UInt16(i)] = s }
        for i in 0..<16 { n[UInt16(17 + i)] = "XMM\(i)" }
        for i in 0..<8 { n[UInt16(33 + i)] = "ST\(i)" }
        for i in 0..<8 { n[UInt16(41 + i)] = "MM\(i)" }
        for i in 0..<16 { n[UInt16(67 + i)] = "XMM\(16 + i)" }
        return n
    }()

    static func llvmName(_ r: UInt16) -> String { llvmNames[r] ?? "reg\(r)" }

    /// A rule as LLVM 14 prints it, with DWARF expressions reduced to exp / vexp (their
    /// bytes are proved equal by the round-trip test).
    static func llvmRule(_ rule: RegisterRule) -> String {
        switch rule {
        case .undefined: return "undefined"
        case .sameValue: return "same"
        case let .offset(o): return o == 0 ? "[CFA]" : "[CFA\(o < 0 ? "" : "+")\(o)]"
        case let .valOffset(o): return o == 0 ? "CFA" : "CFA\(o < 0 ? "" : "+")\(o)"
        case let .register(r): return llvmName(r)
        case .expression: return "exp"
        case .valExpression: return "vexp"
        }
    }

    /// Parses the rows LLVM prints under each FDE: "0xADDR: CFA=...: REG=RULE, ...".
    static func llvmRows(_ text: String) -> [String: [String]] {
        var out: [String: [String]] = [:]
        var current: String?
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.count >= 4, fields[3] == "FDE" { current = String(fields[0]); continue }
            if fields.count >= 4, fields[3] == "CIE" { current = nil; continue }
            guard let c = current, line.hasPrefix("  0x") else { continue }
            // Expressions contain ", " and ": " only inside DW_OP lists; reduce them first.
            var s = String(line.dropFirst(2))
            s = reduceExpressions(s)
            out[c, default: []].append(s)
        }
        return out
    }

    static func reduceExpressions(_ line: String) -> String {
        // Split into "addr", "CFA=...", "regs..." at ": " boundaries that are not inside an
        // expression: an expression runs from "DW_OP" to the next ", X=" or ": " or "]".
        var result = ""
        var i = line.startIndex
        while i < line.endIndex {
            if line[i...].hasPrefix("[DW_OP") {
                let close = line[i...].firstIndex(of: "]")!
                result += "exp"
                i = line.index(after: close)
            } else if line[i...].hasPrefix("DW_OP") {
                // Unbracketed: a value expression, or the CFA expression. It ends before
                // ": " (end of CFA) or ", NAME=" (next register) or at the end.
                var j = i
                while j < line.endIndex {
                    if line[j...].hasPrefix(": ") { break }
                    if line[j...].hasPrefix(", "), let eq = line[line.index(j, offsetBy: 2)...].firstIndex(of: "="),
                       !line[line.index(j, offsetBy: 2)..<eq].contains(" ") { break }
                    j = line.index(after: j)
                }
                result += "vexp"
                i = j
            } else {
                result.append(line[i])
                i = line.index(after: i)
            }
        }
        return result.replacingOccurrences(of: "CFA=vexp", with: "CFA=exp")
    }

    func testLLVMDwarfdumpReadsRandomTablesWithoutWarningsAndWithTheSameRows() throws {
        let dwarfdump = try Tools.path("llvm-dwarfdump")
        var compared = 0
        for s in try samples() {
            let r = try Subprocess.run(dwarfdump, ["--eh-frame", s.path])
            XCTAssertEqual(r.status, 0)
            XCTAssertEqual(r.stderr, "", s.path)
            XCTAssertFalse(r.stdout.uppercased().contains("WARNING"), "\(s.path)")
            XCTAssertFalse(r.stdout.lowercased().contains("error"), "\(s.path)")
            let theirs = Self.llvmRows(r.stdout)
            let section = s.section
            for offset in s.sections.fdeOffsets {
                let (f, c) = try section.fde(at: offset)
                // LLVM 14 does not restore the CFA rule at DW_CFA_restore_state (see
                // UnwindTableBuilder); evaluate with its convention to compare.
                let rows = try UnwindTableBuilder.rows(fde: f, cie: c, section: section, rememberedStateIncludesCFA: false)
                let ours = rows.map { row -> String in
                    var cfa: String
                    switch row.cfa {
                    case let .registerOffset(reg, off): cfa = "\(Self.llvmName(reg))\(off < 0 ? "" : "+")\(off)"
                    case .expression: cfa = "exp"
                    }
                    let regs = row.registers.map { e in "\(Self.llvmName(e.register))=\(Self.llvmRule(e.rule))" }
                    return "0x\(String(row.start, radix: 16)): CFA=\(cfa)" + (regs.isEmpty ? "" : ": " + regs.joined(separator: ", "))
                }
                let key = FrameTableListing.hex(UInt64(offset), width: 8)
                XCTAssertEqual(Self.merged(theirs[key] ?? [], end: f.pcRange.upperBound),
                               Self.merged(ours, end: f.pcRange.upperBound), "\(s.path) FDE \(key)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 80)
    }

    /// LLVM prints a row wherever the location moves (and does not print args_size), so
    /// both sides drop rows past the end and merge neighbours that print the same.
    static func merged(_ lines: [String], end: UInt64) -> [String] {
        var out: [String] = []
        var lastRules: String?
        for line in lines {
            let colon = line.firstIndex(of: ":")!
            let addr = UInt64(line[line.index(line.startIndex, offsetBy: 2)..<colon], radix: 16)!
            if addr >= end { continue }
            let rules = String(line[colon...])
            if rules == lastRules { continue }
            lastRules = rules
            out.append(line)
        }
        return out
    }

    // MARK: eu-readelf

    static let euNames: [UInt8: String] = [
        CallFrameOpcode.advanceLoc: "advance_loc", CallFrameOpcode.advanceLoc1: "advance_loc1",
        CallFrameOpcode.advanceLoc2: "advance_loc2", CallFrameOpcode.advanceLoc4: "advance_loc4",
        CallFrameOpcode.offset: "offset", CallFrameOpcode.offsetExtended: "offset_extended",
        CallFrameOpcode.offsetExtendedSf: "offset_extended_sf", CallFrameOpcode.restore: "restore",
        CallFrameOpcode.restoreExtended: "restore_extended", CallFrameOpcode.undefined: "undefined",
        CallFrameOpcode.sameValue: "same_value", CallFrameOpcode.register: "register",
        CallFrameOpcode.rememberState: "remember_state", CallFrameOpcode.restoreState: "restore_state",
        CallFrameOpcode.defCfa: "def_cfa", CallFrameOpcode.defCfaSf: "def_cfa_sf",
        CallFrameOpcode.defCfaRegister: "def_cfa_register", CallFrameOpcode.defCfaOffset: "def_cfa_offset",
        CallFrameOpcode.defCfaOffsetSf: "def_cfa_offset_sf", CallFrameOpcode.defCfaExpression: "def_cfa_expression",
        CallFrameOpcode.expression: "expression", CallFrameOpcode.valExpression: "val_expression",
        CallFrameOpcode.valOffset: "val_offset", CallFrameOpcode.valOffsetSf: "val_offset_sf",
        CallFrameOpcode.gnuArgsSize: "args_size", CallFrameOpcode.nop: "nop",
    ]

    func testEuReadelfReadsRandomTablesWithoutWarningsWithTheSameProgramsAndLookupTable() throws {
        let euReadelf = try Tools.path("eu-readelf")
        var programs = 0
        for s in try samples(forEuReadelf: true) {
            let all = try Subprocess.run(euReadelf, ["-a", s.path])
            XCTAssertEqual(all.stderr, "", "eu-readelf -a \(s.path)")
            let r = try Subprocess.run(euReadelf, ["--debug-dump=frames", s.path])
            XCTAssertEqual(r.status, 0)
            XCTAssertEqual(r.stderr, "", s.path)
            XCTAssertFalse(r.stdout.lowercased().contains("invalid"), s.path)
            XCTAssertFalse(r.stdout.lowercased().contains("warning"), s.path)
            let lines = r.stdout.split(separator: "\n").map(String.init)

            // .eh_frame_hdr: "0x... (offset: 0xLOC) -> 0x... fde=[   OFF]", sorted by location;
            // eu-readelf shows locations relative to the image's first PT_LOAD.
            var table: [(UInt64, Int)] = []
            for l in lines where l.contains(" fde=[") {
                let loc = l.components(separatedBy: "(offset: 0x")[1].components(separatedBy: ")")[0]
                let fde = l.components(separatedBy: "fde=[")[1].components(separatedBy: "]")[0]
                    .trimmingCharacters(in: .whitespaces)
                table.append((UInt64(loc, radix: 16)!, Int(fde, radix: 16)!))
            }
            let expected = s.table.fdes.indices.map { (s.table.fdes[$0].start - CFIImage.base, s.sections.fdeOffsets[$0]) }
                .sorted { $0.0 < $1.0 }
            XCTAssertEqual(table.map(\.0), expected.map(\.0), s.path)
            XCTAssertEqual(table.map(\.1), expected.map(\.1), s.path)

            // Programs: the opcode names under each entry, in order.
            var theirs: [Int: [String]] = [:]
            var current: Int?
            var inFrames = false
            for l in lines {
                if l.hasPrefix("Call frame information section") { inFrames = true; continue }
                guard inFrames else { continue }
                if l.hasPrefix(" ["), let close = l.firstIndex(of: "]"),
                   l.contains("CIE length") || l.contains("FDE length") {
                    current = Int(l[l.index(l.startIndex, offsetBy: 2)..<close].trimmingCharacters(in: .whitespaces), radix: 16)
                    theirs[current!] = []
                    continue
                }
                if let c = current, l.hasPrefix("     "), !l.hasPrefix("      "),
                   let word = l.split(separator: " ").first {
                    theirs[c]?.append(String(word))
                }
            }
            let section = s.section
            try section.forEachEntry { entry in
                let (offset, range, cie): (Int, Range<Int>, CommonInformationEntry)
                switch entry {
                case let .cie(c): (offset, range, cie) = (c.offset, c.instructions, c)
                case let .fde(f): (offset, range, cie) = (f.offset, f.instructions, try section.fde(at: f.offset).cie)
                case .terminator: return
                }
                var d = CallFrameInstructionDecoder(section: section, range: range, cie: cie)
                var names: [String] = []
                while try d.next() != nil { names.append(Self.euNames[d.opcode] ?? "?") }
                XCTAssertEqual(theirs[offset], names, "\(s.path) entry 0x\(String(offset, radix: 16))")
                programs += 1
            }
        }
        XCTAssertGreaterThan(programs, 100)
    }
}
