// Address ranges from untrusted bytes (issue 12, Build 2): a symbol, a segment or a vunwind
// note entry whose start + size passes 2^64. Before, building their Range trapped (the
// process died on a hostile file or another process's memory); now the properties end at
// 2^64 - 1 and the note parser refuses the entry with a typed error at its offset.

import ELF
import Foundation
import TestSupport
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

    // Found by the fuzz-image target: a PT_LOAD whose p_offset plus the address's distance
    // into it passes 2^64 trapped in fileOffset(ofAddress:) (reached from a memory image's
    // PT_GNU_EH_FRAME). It is no offset.
    func testAFileOffsetPast2To64OfAHostileSegmentIsNilInsteadOfTrapping() throws {
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: Tools.fixture("cfa-expression.so"))))
        // Program header 0 (the first PT_LOAD, at e_phoff 64): p_offset is 8 bytes in.
        for i in 0..<8 { bytes[64 + 8 + i] = i == 0 ? 0x00 : 0xff }
        let elf = try ELFFile(bytes: bytes)
        let load = try XCTUnwrap(elf.programHeaders.first)
        XCTAssertEqual(load.type, ELF.ptLoad)
        XCTAssertEqual(load.offset, 0xffff_ffff_ffff_ff00)
        XCTAssertNil(elf.fileOffset(ofAddress: load.virtualAddress + 0x100))
        XCTAssertEqual(elf.fileOffset(ofAddress: load.virtualAddress + 0xff), UInt64.max)
        // The file's other segments still map.
        let second = try XCTUnwrap(elf.programHeaders.dropFirst().first { $0.type == ELF.ptLoad })
        XCTAssertEqual(elf.fileOffset(ofAddress: second.virtualAddress + 4), second.offset + 4)
    }

    func testANoteEntryWhoseEndWrapsIsATypedErrorAtItsAddressFieldsOffset() throws {
        let entry = VunwindNote.Entry(name: "vgettimeofday", address: UInt64.max - 8, size: 0x100, syscallNumber: 96,
                                      returnsSeconds: false, pointerArguments: [])
        let note = VunwindNote(imageBase: 0x5500_0000_0000, textAddress: 0x5500_0000_1000, vvarAddress: 0x5500_0000_2000,
                               vvarSize: 0x1000, entries: [entry], fixups: [])
        // Version, counts, pad, four addresses (48 bytes), then the entry: 16 name bytes, then its address.
        XCTAssertThrowsError(try VunwindNote(descriptor: note.descriptor, origin: 0x400)) { error in
            XCTAssertEqual(error as? ELFError, ELFError(offset: 0x400 + 48 + 16,
                                                        reason: .badNote("entry vgettimeofday: address 0xfffffffffffffff7 + size 256 wraps")))
        }
        XCTAssertEqual(entry.range, (UInt64.max - 8)..<UInt64.max, "built by hand, the property saturates")
    }
}
