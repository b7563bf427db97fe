// Hostile input: seeded mutations of real .eh_frame/.eh_frame_hdr bytes and of whole ELF
// files go through everything a reader does (parse each entry, evaluate every row, look up
// through the header, take an unwind step against a hostile stack). Nothing may trap, hang
// or read out of bounds (Swift traps on that), and every failure must be a LocatedError
// whose offset lies inside the input, and is 0 only when the mutation changed one of the
// first bytes (an error deeper in must say where: this found a header entry pointing at a
// CIE reported at the CIE's offset 0 instead of at the entry).

import Bytes
import DwarfCFI
import ELF
import Foundation
import TestSupport
import Unwind
import XCTest

struct Mutator {
    var rng: SeededGenerator
    /// The lowest position the last mutation changed (bytes before it are the input's).
    var lowestEdit = 0
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &rng) }

    static let interesting: [UInt32] = [0, 1, 4, 8, 0x7f, 0x80, 0xff, 0x7fff_ffff, 0x8000_0000, 0xffff_fff0, 0xffff_ffff]

    /// One to four edits: bit flips, interesting bytes and words (lengths, pointers),
    /// truncation, deletion, insertion, duplication.
    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var b = input
        lowestEdit = Int.max
        for _ in 0..<int(1...4) {
            guard !b.isEmpty else { b = [UInt8(int(0...255))]; lowestEdit = 0; continue }
            let at = int(0...(b.count - 1))
            lowestEdit = min(lowestEdit, at)
            switch int(0...7) {
            case 0: b[at] ^= UInt8(1 << int(0...7))
            case 1: b[at] = [0x00, 0xff, 0x7f, 0x80, 0x40, 0xc0, 0x0f, 0x16][int(0...7)]
            case 2:
                let v = Self.interesting[int(0...(Self.interesting.count - 1))]
                for i in 0..<4 where at + i < b.count { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
            case 3:
                let cut = int(0...(b.count - 1))
                lowestEdit = min(lowestEdit, cut)
                b.removeSubrange(cut...)
            case 4: b.removeSubrange(at..<min(b.count, at + int(1...16)))
            case 5: b.insert(contentsOf: (0..<int(1...16)).map { _ in UInt8(int(0...255)) }, at: at)
            case 6:
                let end = min(b.count, at + int(1...32))
                let to = int(0...(b.count - 1))
                lowestEdit = min(lowestEdit, to)
                b.insert(contentsOf: b[at..<end], at: to)
            default: b[at] = UInt8(int(0...255))
            }
        }
        return b
    }
}

final class HostileInputTests: XCTestCase {
    /// Fails unless `error` is a LocatedError inside `0..<limit`, and at offset 0 only when
    /// the mutation changed one of the first `header` bytes (the first entry's or the ELF
    /// header's fields): an error about a byte deep in the input must say where it is.
    func check(_ error: Error, limit: UInt64, lowestEdit: Int, header: Int = 64, _ what: String) {
        guard let located = error as? LocatedError else {
            XCTFail("\(what): untyped error \(type(of: error)): \(error)")
            return
        }
        XCTAssertLessThanOrEqual(located.offset, limit, "\(what): \(located)")
        XCTAssertTrue(located.offset > 0 || lowestEdit < header,
                      "\(what): offset 0 for a mutation at \(lowestEdit) and later: \(located)")
        XCTAssertFalse(located.message.isEmpty || located.message.contains("\n"), "\(what): one line")
    }

    /// A stack of hostile words for unwind steps.
    static let stack: SnapshotMemoryReader = {
        var g = SeededGenerator(seed: 99)
        return SnapshotMemoryReader(address: 0x7ff0_0000, bytes: (0..<4096).map { _ in UInt8.random(in: 0...255, using: &g) })
    }()

    static let registers: FrameRegisters = {
        var r = FrameRegisters()
        for i in UInt16(0)...16 { r[i] = 0x7ff0_0400 + UInt64(i) * 8 }
        return r
    }()

    /// Everything a consumer does with a section. Returns normally or throws its first error.
    func exercise(_ section: CallFrameSection, header: EhFrameHeader?) throws {
        var offset = 0
        var entries = 0
        while offset < section.bytes.count && entries < 10_000 {
            let (entry, next) = try section.entry(at: offset)
            entries += 1
            switch entry {
            case let .cie(c):
                _ = try UnwindTableBuilder.initialRow(cie: c, section: section)
                _ = try FrameProgram.initialInstructions(cie: c, section: section)
            case let .fde(f):
                let (_, c) = try section.fde(at: f.offset)
                _ = try FrameProgram.intent(fde: f, cie: c, section: section)
                var steps = 0
                try UnwindTableBuilder.forEachRow(fde: f, cie: c, section: section) { row in
                    steps += 1
                    _ = try? UnwindStep.step(row: row, returnAddressRegister: c.returnAddressRegister,
                                             registers: Self.registers, memory: Self.stack)
                    return steps < 8
                }
            case .terminator: break
            }
            offset = next
        }
        if let header {
            let info = try CallFrameInfo(ehFrame: section, header: header)
            for i in 0..<min(header.count, 32) {
                let (loc, _) = try header.entry(i)
                _ = try info.row(at: loc)
            }
        }
    }

    func testOneHundredThousandMutationsOfRealCFISectionsEndInTypedErrorsWithOffsetsOrSucceed() throws {
        // Real inputs: the vDSO's CFI, windows of libgcc_s's and libc's, and one of ours.
        var inputs: [(bytes: [UInt8], header: [UInt8]?, address: UInt64, headerAddress: UInt64)] = []
        let (vdsoAddress, vdso) = try VDSOImage.current()
        _ = vdsoAddress
        let vdsoELF = try ELFFile(bytes: vdso)
        let vs = try ELFCallFrameSections(elf: vdsoELF)
        inputs.append((vs.ehFrame!.bytes, vs.header?.bytes, vs.ehFrame!.address, vs.header!.address))
        for lib in ["libgcc_s.so.1", "libc.so.6"] {
            let elf = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: try SystemLibraries.path(lib)))))
            let s = try ELFCallFrameSections(elf: elf)
            // The first KiB: a dozen entries, including the CIEs the FDEs point back to.
            inputs.append((Array(s.ehFrame!.bytes.prefix(1024)), nil, s.ehFrame!.address, 0))
        }
        var gen = RandomFrameTable(seed: 7)
        let table = gen.table(cies: 3, fdes: 12)
        let ours = try EhFrameWriter.ehFrame(table, address: 0x50_0000)
        let ourHeader = try EhFrameWriter.ehFrameHeader(for: table, sections: ours, address: 0x4f_0000)
        inputs.append((ours.ehFrame, ourHeader, 0x50_0000, 0x4f_0000))

        var mutator = Mutator(rng: SeededGenerator(seed: 2026))
        var failures = 0, successes = 0
        let count = 100_000
        for i in 0..<count {
            let input = inputs[i % inputs.count]
            let mutateHeader = input.header != nil && i % 3 == 0
            let bytes = mutateHeader ? input.bytes : mutator.mutate(input.bytes)
            let headerBytes = input.header.map { mutateHeader ? mutator.mutate($0) : $0 }
            let section = CallFrameSection(kind: .ehFrame, bytes: bytes, address: input.address)
            do {
                let header = try headerBytes.map { try EhFrameHeader(bytes: $0, address: input.headerAddress) }
                try exercise(section, header: header)
                successes += 1
            } catch {
                failures += 1
                check(error, limit: UInt64(max(bytes.count, headerBytes?.count ?? 0)), lowestEdit: mutator.lowestEdit,
                      "mutation \(i) (input \(i % inputs.count), header mutated \(mutateHeader))")
            }
        }
        XCTAssertEqual(failures + successes, count)
        // Both outcomes must be common, or the mutations are too weak or too strong.
        XCTAssertGreaterThan(failures, count / 10)
        XCTAssertGreaterThan(successes, count / 10)
    }

    func testTwentyThousandMutationsOfWholeELFFilesEndInTypedErrorsWithOffsetsOrSucceed() throws {
        var inputs: [[UInt8]] = [try VDSOImage.current().bytes]
        for f in ["debug-frame-v4-dwarf64.so", "eh-frame-personality.so", "debug-frame-v3.so"] {
            inputs.append(Array(try Data(contentsOf: URL(fileURLWithPath: Tools.fixture(f)))))
        }
        var mutator = Mutator(rng: SeededGenerator(seed: 1971))
        var failures = 0
        for i in 0..<20_000 {
            let bytes = mutator.mutate(inputs[i % inputs.count])
            do {
                let elf = try ELFFile(bytes: bytes)
                _ = try elf.symbols()
                _ = try elf.notes()
                let s = try ELFCallFrameSections(elf: elf)
                for section in [s.ehFrame, s.debugFrame].compactMap({ $0 }) {
                    try exercise(section, header: section.kind == .ehFrame ? s.header : nil)
                }
            } catch {
                failures += 1
                // A mutated section header can move a section to file offset 0, where an
                // error about its first byte is rightly at 0: no offset-0 rule here.
                check(error, limit: UInt64(bytes.count), lowestEdit: 0, "ELF mutation \(i)")
            }
        }
        XCTAssertGreaterThan(failures, 1000)
    }
}
