// Bounded note parsing (issue 12, acceptance 4): an ELF file whose one PT_NOTE holds 10^6
// empty notes (12 bytes each) ends in a typed error at the first note past the limit
// (ELFFile.maxNotes, 65,536), not in a million-element array; the same file with 1,000
// notes reads them all.

import ELF
import XCTest

final class ManyNotesTests: XCTestCase {
    static let base: UInt64 = 0x10_0000

    /// An ET_DYN image with a PT_NOTE (and its SHT_NOTE) of `count` empty notes at 0x1000.
    static func image(notes count: Int) throws -> [UInt8] {
        var note: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]  // namesz 0, descsz 0, type 1
        note = Array([[UInt8]](repeating: note, count: count).joined())
        var b = ELFImageBuilder(type: ELF.etDyn, entry: base, baseAddress: base)
        b.segments = [.init(type: ELF.ptNote, flags: ELF.pfR, address: base + 0x1000, fileSize: UInt64(note.count), alignment: 4)]
        b.sections = [.init(name: ".note.many", type: ELF.shtNote, flags: ELF.shfAlloc, address: base + 0x1000, alignment: 4,
                            contents: note)]
        return try b.build().bytes
    }

    func testAMillionNotesAreATypedErrorAtTheFirstNotePastTheLimit() throws {
        XCTAssertEqual(ELFFile.maxNotes, 1 << 16)
        let elf = try ELFFile(bytes: try Self.image(notes: 1_000_000))
        let offset = elf.programHeaders[0].offset + UInt64(12 * ELFFile.maxNotes)
        XCTAssertThrowsError(try elf.notes()) { error in
            XCTAssertEqual(error as? ELFError, ELFError(offset: offset, reason: .badNote("more than 65536 notes")))
        }
    }

    func testAThousandNotesAreAllRead() throws {
        let notes = try ELFFile(bytes: try Self.image(notes: 1000)).notes()
        XCTAssertEqual(notes.count, 1000)
        XCTAssertTrue(notes.allSatisfy { $0.type == 1 && $0.name.isEmpty && $0.descriptor.isEmpty })
    }
}
