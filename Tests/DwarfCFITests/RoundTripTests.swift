// Round trips: FrameTables encoded by EhFrameWriter parse back to the same intent, and the
// ELF files that wrap them are read the same way by readelf, llvm-dwarfdump and eu-readelf.

import Bytes
import DwarfCFI
import ELF
import Foundation
import TestSupport
import XCTest

final class RoundTripTests: XCTestCase {
    /// Parses `sections` back and checks every CIE and FDE against `table`.
    func assertParsesBack(_ table: FrameTable, _ s: EhFrameSections, seed: UInt64,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let section = CallFrameSection(kind: .ehFrame, bytes: s.ehFrame, address: s.ehFrameAddress)
        var cies: [Int: CommonInformationEntry] = [:]
        var fdeIndex = 0
        var sawTerminator = false
        try section.forEachEntry { entry in
            switch entry {
            case let .cie(c):
                let i = try XCTUnwrap(s.cieOffsets.firstIndex(of: c.offset), "seed \(seed)")
                let want = table.cies[i]
                cies[c.offset] = c
                XCTAssertEqual(c.version, 1, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.augmentation, want.augmentation, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.codeAlignmentFactor, want.codeAlignmentFactor, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.dataAlignmentFactor, want.dataAlignmentFactor, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.returnAddressRegister, UInt64(want.returnAddressRegister), file: file, line: line)
                XCTAssertEqual(c.fdeEncoding, want.fdeEncoding, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.isSignalFrame, want.isSignalFrame, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.lsdaEncoding, want.lsdaEncoding, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.personality?.value, want.personality?.address, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(c.personality?.isIndirect, want.personality?.encoding.isIndirect, file: file, line: line)
                XCTAssertEqual(try FrameProgram.initialInstructions(cie: c, section: section), want.initialInstructions,
                               "seed \(seed)", file: file, line: line)
                XCTAssertEqual((c.end - c.offset) % 8, 0, "entries are padded to 8 bytes", file: file, line: line)
            case let .fde(f):
                XCTAssertEqual(f.offset, s.fdeOffsets[fdeIndex], file: file, line: line)
                let want = table.fdes[fdeIndex]
                fdeIndex += 1
                let cie = try XCTUnwrap(cies[f.cieOffset])
                XCTAssertEqual(f.cieOffset, s.cieOffsets[want.cie.index], file: file, line: line)
                XCTAssertEqual(f.initialLocation, want.start, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(f.addressRange, want.length, "seed \(seed)", file: file, line: line)
                XCTAssertEqual(f.lsda?.value, want.lsda, "seed \(seed)", file: file, line: line)
                let got = try FrameProgram.intent(fde: f, cie: cie, section: section)
                XCTAssertEqual(got.map(\.offset), want.instructions.map(\.offset), "seed \(seed)", file: file, line: line)
                XCTAssertEqual(got.map(\.instruction), want.instructions.map(\.instruction), "seed \(seed)",
                               file: file, line: line)
                XCTAssertEqual((f.end - f.offset) % 8, 0, "entries are padded to 8 bytes", file: file, line: line)
            case let .terminator(offset):
                XCTAssertEqual(offset, s.ehFrame.count - 4, "the terminator is last", file: file, line: line)
                sawTerminator = true
            }
        }
        XCTAssertTrue(sawTerminator, "seed \(seed): no zero terminator", file: file, line: line)
        XCTAssertEqual(fdeIndex, table.fdes.count, file: file, line: line)
    }

    func testTwoThousandSeededRandomTablesEncodeAndParseBackToTheSameIntent() throws {
        for seed in UInt64(1)...2000 {
            var gen = RandomFrameTable(seed: seed)
            let table = gen.table(cies: gen.int(1...3), fdes: gen.int(1...6))
            let s = try EhFrameWriter.ehFrame(table, address: 0x7000_0000 + seed * 0x1_0000)
            try assertParsesBack(table, s, seed: seed)
        }
    }

    func testEveryEncodingWidthIsExercisedByTheRandomTables() throws {
        // The round trip above is only as strong as its coverage: prove that the generator
        // reaches every opcode the writer can choose.
        var seen = Set<UInt8>()
        for seed in UInt64(1)...2000 {
            var gen = RandomFrameTable(seed: seed)
            let table = gen.table(cies: gen.int(1...3), fdes: gen.int(1...6))
            let s = try EhFrameWriter.ehFrame(table, address: 0x7000_0000)
            let section = CallFrameSection(kind: .ehFrame, bytes: s.ehFrame, address: 0x7000_0000)
            try section.forEachEntry { entry in
                guard case let .fde(f) = entry else { return }
                let (_, cie) = try section.fde(at: f.offset)
                var d = CallFrameInstructionDecoder(section: section, range: f.instructions, cie: cie)
                while try d.next() != nil { seen.insert(d.opcode) }
            }
        }
        let expected: [UInt8] = [
            CallFrameOpcode.advanceLoc, CallFrameOpcode.advanceLoc1, CallFrameOpcode.advanceLoc2,
            CallFrameOpcode.advanceLoc4, CallFrameOpcode.offset, CallFrameOpcode.offsetExtended,
            CallFrameOpcode.offsetExtendedSf, CallFrameOpcode.restore, CallFrameOpcode.restoreExtended,
            CallFrameOpcode.defCfa, CallFrameOpcode.defCfaSf, CallFrameOpcode.defCfaOffset,
            CallFrameOpcode.defCfaOffsetSf, CallFrameOpcode.defCfaRegister, CallFrameOpcode.defCfaExpression,
            CallFrameOpcode.valOffset, CallFrameOpcode.valOffsetSf, CallFrameOpcode.register,
            CallFrameOpcode.undefined, CallFrameOpcode.sameValue, CallFrameOpcode.rememberState,
            CallFrameOpcode.restoreState, CallFrameOpcode.expression, CallFrameOpcode.valExpression,
            CallFrameOpcode.gnuArgsSize, CallFrameOpcode.nop,
        ]
        for op in expected {
            XCTAssertTrue(seen.contains(op), "opcode 0x\(String(op, radix: 16)) never generated")
        }
    }
}
