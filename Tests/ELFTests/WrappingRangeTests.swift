// Address ranges from untrusted bytes (issue 12, Build 2): a symbol, a segment or a vunwind
// note entry whose start + size passes 2^64. Before, building their Range trapped (the
// process died on a hostile file or another process's memory); now the properties end at
// 2^64 - 1 and the note parser refuses the entry with a typed error at its offset.

import ELF
import XCTest

final class WrappingRangeTests: XCTestCase {
    func testASymbolWhoseEndWrapsEndsAtTheTopOfTheAddressSpaceInsteadOfTrapping() {
        let s = ELFSymbol(name: "hostile", value: UInt64.max - 4, size: 64, info: 0x12, other: 0, sectionIndex: 1)
        XCTAssertEqual(s.range, (UInt64.max - 4)..<UInt64.max)
        let ok = ELFSymbol(name: "fine", value: 0x1000, size: 0, info: 0x12, other: 0, sectionIndex: 1)
        XCTAssertEqual(ok.range, 0x1000..<0x1001, "a sized-0 symbol still covers its address")
    }

    func testASegmentWhoseEndWrapsEndsAtTheTopOfTheAddressSpaceInsteadOfTrapping() {
        let p = ProgramHeader(type: ELF.ptLoad, flags: ELF.pfR, offset: 0, virtualAddress: 0xffff_ffff_ffff_f000,
                              fileSize: 0, memorySize: 0x2000, alignment: 0x1000)
        XCTAssertEqual(p.addressRange, 0xffff_ffff_ffff_f000..<UInt64.max)
    }

    func testANoteEntryWhoseEndWrapsIsATypedErrorAtItsAddressFieldsOffset() throws {
        let entry = VunwindNote.Entry(name: "vgettimeofday", address: UInt64.max - 8, size: 0x100, syscallNumber: 96,
                                      returnsSeconds: false, pointerArguments: [])
        let note = VunwindNote(imageBase: 0x6000_0000_0000, textAddress: 0x6000_0000_1000, vvarAddress: 0x6000_0000_2000,
                               vvarSize: 0x1000, entries: [entry], fixups: [])
        // Version, counts, pad, four addresses (48 bytes), then the entry: 16 name bytes, then its address.
        XCTAssertThrowsError(try VunwindNote(descriptor: note.descriptor, origin: 0x400)) { error in
            XCTAssertEqual(error as? ELFError, ELFError(offset: 0x400 + 48 + 16,
                                                        reason: .badNote("entry vgettimeofday: address 0xfffffffffffffff7 + size 256 wraps")))
        }
        XCTAssertEqual(entry.range, (UInt64.max - 8)..<UInt64.max, "built by hand, the property saturates")
    }
}
