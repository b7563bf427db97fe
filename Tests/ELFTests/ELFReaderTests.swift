// The ELF grid: an image built with ELFImageBuilder read back field for field (header,
// sections, segments, symbols, notes in 4- and 8-byte alignment, extended section
// numbering), each rejection with its exact offset and text, and the real libc read the
// way readelf reads it.

import Bytes
import ELF
import Foundation
import TestSupport
import XCTest

private func le32(_ v: UInt32) -> [UInt8] { var w = ByteWriter(); w.u32(v); return w.bytes }

/// A note: header, name padded and descriptor padded as `alignment` requires (the
/// descriptor starts at an aligned offset from the note's start, as gABI and binutils lay out).
private func note(_ name: String, type: UInt32, _ desc: [UInt8], alignment: Int = 4) -> [UInt8] {
    func up(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
    let nameBytes = Array(name.utf8) + [0]
    var out = le32(UInt32(nameBytes.count)) + le32(UInt32(desc.count)) + le32(type) + nameBytes
    out += [UInt8](repeating: 0, count: up(out.count) - out.count)
    out += desc
    out += [UInt8](repeating: 0, count: up(out.count) - out.count)
    return out
}

private func symbol(name: UInt32, info: UInt8, shndx: UInt16, value: UInt64, size: UInt64) -> [UInt8] {
    var w = ByteWriter()
    w.u32(name); w.u8(info); w.u8(0); w.u16(shndx); w.u64(value); w.u64(size)
    return w.bytes
}

/// ELFNote's fields (ELFNote has no public initializer).
private struct ELFNoteFields: Equatable {
    var name: String
    var type: UInt32
    var descriptor: [UInt8]
    var descriptorOffset: UInt64
}

private func assertNote(_ n: ELFNote, _ want: ELFNoteFields, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(ELFNoteFields(name: n.name, type: n.type, descriptor: n.descriptor, descriptorOffset: n.descriptorOffset),
                   want, file: file, line: line)
}

final class ELFReaderTests: XCTestCase {
    static let base: UInt64 = 0x10_0000
    static let buildID: [UInt8] = Array(0x01...0x14)
    /// Two 4-byte-aligned notes at 0x200: a GNU build ID, then a "Linux" note whose name
    /// (6 bytes) and descriptor (3 bytes) both need padding.
    static let notes4 = note("GNU", type: ELF.ntGnuBuildID, buildID) + note("Linux", type: 0x123, [0xa, 0xb, 0xc])
    /// An 8-byte-aligned GNU property note at 0x280 (as GCC emits): 4-byte name, so the
    /// descriptor starts at 16; then a second note at 32.
    static let notes8 = note("GNU", type: 5, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], alignment: 8)
        + note("GNU", type: 0x77, [0xee, 0xee, 0xee, 0xee, 0xee], alignment: 8)

    static let strtab: [UInt8] = [0] + Array("local_thing\0main\0".utf8)
    static let symtab: [UInt8] = [UInt8](repeating: 0, count: 24)
        + symbol(name: 1, info: ELF.stbLocal << 4 | ELF.sttObject, shndx: 5, value: 0x10_2000, size: 8)
        + symbol(name: 13, info: ELF.stbGlobal << 4 | ELF.sttFunc, shndx: 3, value: 0x10_1000, size: 4)
        + symbol(name: 999, info: ELF.stbWeak << 4 | ELF.sttFunc, shndx: 3, value: 0x10_1002, size: 0)
    static let dynstr: [UInt8] = [0] + Array("puts\0".utf8)
    static let dynsym: [UInt8] = [UInt8](repeating: 0, count: 24)
        + symbol(name: 1, info: ELF.stbGlobal << 4 | ELF.sttFunc, shndx: 0, value: 0, size: 0)

    /// Section indices: 1 .note.gnu.build-id, 2 .note.gnu.property, 3 .text, 4 .dynsym,
    /// 5 .bss, 6 .dynstr, 7 .symtab, 8 .strtab, 9 .shstrtab.
    static func builder(noteSegments: Bool = true) -> ELFImageBuilder {
        var b = ELFImageBuilder(type: ELF.etDyn, entry: 0x10_1000, baseAddress: base)
        b.segments = [.init(type: ELF.ptLoad, flags: ELF.pfR | ELF.pfX, address: base, fileSize: 0x1004,
                            memorySize: 0x2100, alignment: 0x1000)]
        if noteSegments {
            b.segments += [
                .init(type: ELF.ptNote, flags: ELF.pfR, address: base + 0x200, fileSize: UInt64(notes4.count), alignment: 4),
                .init(type: ELF.ptNote, flags: ELF.pfR, address: base + 0x280, fileSize: UInt64(notes8.count), alignment: 8),
            ]
        }
        b.sections = [
            .init(name: ".note.gnu.build-id", type: ELF.shtNote, flags: ELF.shfAlloc, address: base + 0x200, alignment: 4,
                  contents: notes4),
            .init(name: ".note.gnu.property", type: ELF.shtNote, flags: ELF.shfAlloc, address: base + 0x280, alignment: 8,
                  contents: notes8),
            .init(name: ".text", type: ELF.shtProgbits, flags: ELF.shfAlloc | ELF.shfExecinstr, address: base + 0x1000,
                  alignment: 16, contents: [0x90, 0x90, 0x90, 0xc3]),
            .init(name: ".dynsym", type: ELF.shtDynsym, flags: ELF.shfAlloc, address: base + 0x300, alignment: 8,
                  entrySize: 24, link: ".dynstr", info: 1, contents: dynsym),
            .init(name: ".bss", type: ELF.shtNobits, flags: ELF.shfAlloc | ELF.shfWrite, address: base + 0x2000,
                  alignment: 32, nobitsSize: 0x100),
            .init(name: ".dynstr", type: ELF.shtStrtab, flags: ELF.shfAlloc, address: base + 0x340, contents: dynstr),
            .init(name: ".symtab", type: ELF.shtSymtab, alignment: 8, entrySize: 24, link: ".strtab", info: 2,
                  contents: symtab),
            .init(name: ".strtab", type: ELF.shtStrtab, contents: strtab),
        ]
        return b
    }

    static func image(noteSegments: Bool = true) throws -> ELFImageBuilder.Layout {
        try builder(noteSegments: noteSegments).build()
    }

    func patch(_ bytes: inout [UInt8], at offset: Int, _ value: [UInt8]) {
        bytes.replaceSubrange(offset..<(offset + value.count), with: value)
    }

    // MARK: Headers

    func testHeaderFieldsOfABuiltImage() throws {
        let layout = try Self.image()
        let h = try ELFFile(bytes: layout.bytes).header
        XCTAssertEqual(h.type, ELF.etDyn)
        XCTAssertEqual(h.machine, ELF.emX86_64)
        XCTAssertEqual(h.version, 1)
        XCTAssertEqual(h.entry, 0x10_1000)
        XCTAssertEqual(h.programHeaderOffset, 64)
        XCTAssertEqual(h.sectionHeaderOffset, UInt64(layout.sectionHeaderOffset))
        XCTAssertEqual(h.flags, 0)
        XCTAssertEqual(h.headerSize, 64)
        XCTAssertEqual(h.programHeaderEntrySize, 56)
        XCTAssertEqual(h.programHeaderCount, 3)
        XCTAssertEqual(h.sectionHeaderEntrySize, 64)
        XCTAssertEqual(h.sectionHeaderCount, 10)
        XCTAssertEqual(h.sectionNameTableIndex, 9)
    }

    func testSegmentsAreReadFieldForField() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        XCTAssertEqual(elf.programHeaders, [
            ProgramHeader(type: ELF.ptLoad, flags: ELF.pfR | ELF.pfX, offset: 0, virtualAddress: Self.base,
                          fileSize: 0x1004, memorySize: 0x2100, alignment: 0x1000),
            ProgramHeader(type: ELF.ptNote, flags: ELF.pfR, offset: 0x200, virtualAddress: Self.base + 0x200,
                          fileSize: UInt64(Self.notes4.count), memorySize: UInt64(Self.notes4.count), alignment: 4),
            ProgramHeader(type: ELF.ptNote, flags: ELF.pfR, offset: 0x280, virtualAddress: Self.base + 0x280,
                          fileSize: UInt64(Self.notes8.count), memorySize: UInt64(Self.notes8.count), alignment: 8),
        ])
        XCTAssertEqual(elf.firstLoadAddress, Self.base)
        XCTAssertEqual(elf.programHeaders[0].addressRange, Self.base..<(Self.base + 0x2100))
    }

    func testSectionNamesTypesAddressesAndOffsets() throws {
        let layout = try Self.image()
        let elf = try ELFFile(bytes: layout.bytes)
        XCTAssertEqual(elf.sections.map(\.name), ["", ".note.gnu.build-id", ".note.gnu.property", ".text", ".dynsym", ".bss",
                                                  ".dynstr", ".symtab", ".strtab", ".shstrtab"])
        XCTAssertEqual(elf.sections.map(\.index), Array(0..<10))
        XCTAssertEqual(elf.sections.map(\.headerOffset), (0..<10).map { UInt64(layout.sectionHeaderOffset + 64 * $0) })
        XCTAssertEqual(elf.sections.map(\.type), [ELF.shtNull, ELF.shtNote, ELF.shtNote, ELF.shtProgbits, ELF.shtDynsym,
                                                  ELF.shtNobits, ELF.shtStrtab, ELF.shtSymtab, ELF.shtStrtab, ELF.shtStrtab])
        XCTAssertEqual(elf.sections.map(\.address), [0, Self.base + 0x200, Self.base + 0x280, Self.base + 0x1000,
                                                     Self.base + 0x300, Self.base + 0x2000, Self.base + 0x340, 0, 0, 0])
        for s in elf.sections.dropFirst() where s.name != ".shstrtab" {
            XCTAssertEqual(s.offset, UInt64(try XCTUnwrap(layout.sectionOffsets[s.name])), s.name)
        }
        XCTAssertEqual(elf.sections[3].offset, 0x1000, "allocated: offset = address - base")
        let text = try XCTUnwrap(elf.section(named: ".text"))
        XCTAssertEqual(text.flags, ELF.shfAlloc | ELF.shfExecinstr)
        XCTAssertEqual(text.size, 4)
        XCTAssertEqual(text.addressAlignment, 16)
        XCTAssertEqual(try elf.contents(of: text), [0x90, 0x90, 0x90, 0xc3])
    }

    func testSectionLinkInfoAndEntrySize() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        let symtab = try XCTUnwrap(elf.section(named: ".symtab"))
        XCTAssertEqual(symtab.link, 8)
        XCTAssertEqual(symtab.info, 2)
        XCTAssertEqual(symtab.entrySize, 24)
        XCTAssertEqual(elf.sectionIndex(named: ".dynstr"), 6)
        XCTAssertEqual(elf.section(named: ".dynsym")?.link, 6)
    }

    func testNobitsSectionHasItsMemorySizeAndNoContents() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        let bss = try XCTUnwrap(elf.section(named: ".bss"))
        XCTAssertEqual(bss.size, 0x100)
        XCTAssertEqual(try elf.contents(of: bss), [])
    }

    func testMissingSectionIsNil() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        XCTAssertNil(elf.section(named: ".eh_frame"))
        XCTAssertNil(elf.sectionIndex(named: ".eh_frame"))
        XCTAssertNil(try elf.contents(ofSectionNamed: ".eh_frame"))
        XCTAssertEqual(try elf.contents(ofSectionNamed: ".dynstr"), Self.dynstr)
    }

    func testDisplayNameOfANamelessSectionIsItsIndex() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        XCTAssertEqual(elf.sections[0].displayName, "[0]")
        XCTAssertEqual(elf.sections[3].displayName, ".text")
    }

    func testFileOffsetOfAddressGoesThroughPTLoad() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        XCTAssertEqual(elf.fileOffset(ofAddress: Self.base + 0x1003), 0x1003)
        XCTAssertNil(elf.fileOffset(ofAddress: Self.base + 0x1004), "past p_filesz (in .bss)")
        XCTAssertNil(elf.fileOffset(ofAddress: Self.base - 1))
    }

    // MARK: Symbols

    func testSymbolsOfSymtabAndDynsymInSectionOrderWithNames() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        let all = try elf.symbols()
        XCTAssertEqual(all.map(\.name), ["", "puts", "", "local_thing", "main", ""])
        let main = all[4]
        XCTAssertEqual(main.value, 0x10_1000)
        XCTAssertEqual(main.size, 4)
        XCTAssertEqual(main.binding, ELF.stbGlobal)
        XCTAssertEqual(main.type, ELF.sttFunc)
        XCTAssertEqual(main.sectionIndex, 3)
        XCTAssertTrue(main.isDefined)
        XCTAssertEqual(main.range, 0x10_1000..<0x10_1004)
        XCTAssertEqual(all[3].binding, ELF.stbLocal)
        XCTAssertEqual(all[3].type, ELF.sttObject)
        XCTAssertFalse(all[1].isDefined, "puts is an import")
    }

    func testSymbolWhoseNameIndexIsOutsideItsStringTableHasAnEmptyName() throws {
        let elf = try ELFFile(bytes: try Self.image().bytes)
        let weak = try elf.symbols(in: try XCTUnwrap(elf.section(named: ".symtab")))[3]
        XCTAssertEqual(weak.name, "")
        XCTAssertEqual(weak.binding, ELF.stbWeak)
        XCTAssertEqual(weak.range, 0x10_1002..<0x10_1003, "a zero-sized symbol covers one byte")
    }

    func testSymbolTableWithABadLinkIsRejectedAtItsShLinkField() throws {
        let layout = try Self.image()
        var bytes = layout.bytes
        let header = layout.sectionHeaderOffset + 7 * 64
        patch(&bytes, at: header + 40, le32(77))
        let elf = try ELFFile(bytes: bytes)
        let at = UInt64(header + 40)
        assertThrowsExactly(ELFError(offset: at, reason: .badSectionIndex(77)),
                     "at 0x\(String(at, radix: 16)): section index 77 does not exist") { _ = try elf.symbols() }
    }

    // MARK: Notes

    func testNotesFromA4ByteAlignedSegmentWithPaddedNameAndDescriptor() throws {
        let notes = try ELFFile(bytes: try Self.image().bytes).notes()
        XCTAssertEqual(notes.count, 4)
        assertNote(notes[0], ELFNoteFields(name: "GNU", type: ELF.ntGnuBuildID, descriptor: Self.buildID, descriptorOffset: 0x210))
        // The first note is 12 + 4 + 20 = 36 bytes; the second's name pads 6 -> 8.
        assertNote(notes[1], ELFNoteFields(name: "Linux", type: 0x123, descriptor: [0xa, 0xb, 0xc], descriptorOffset: 0x238))
    }

    func testNotesFromAn8ByteAlignedSegmentStartTheDescriptorAtAnAlignedOffset() throws {
        let notes = try ELFFile(bytes: try Self.image().bytes).notes()
        XCTAssertEqual(notes.count, 4)
        // 12-byte header + "GNU\0" = 16: already 8-aligned, so the descriptor is at 0x290.
        assertNote(notes[2], ELFNoteFields(name: "GNU", type: 5, descriptor: Array(1...16), descriptorOffset: 0x290))
        assertNote(notes[3], ELFNoteFields(name: "GNU", type: 0x77, descriptor: [0xee, 0xee, 0xee, 0xee, 0xee],
                                         descriptorOffset: 0x2b0))
    }

    func testNotesComeFromSHTNoteSectionsWhenThereIsNoPTNote() throws {
        let notes = try ELFFile(bytes: try Self.image(noteSegments: false).bytes).notes()
        XCTAssertEqual(notes.map(\.type), [ELF.ntGnuBuildID, 0x123, 5, 0x77])
        XCTAssertEqual(notes.map(\.descriptorOffset), [0x210, 0x238, 0x290, 0x2b0])
    }

    func testBuildIDIsTheGNUType3Descriptor() throws {
        XCTAssertEqual(try ELFFile(bytes: try Self.image().bytes).buildID(), Self.buildID)
    }

    func testNoteNameSizeBeyondTheAreaIsRejectedAtTheNote() throws {
        var bytes = try Self.image().bytes
        patch(&bytes, at: 0x200, le32(100))
        let elf = try ELFFile(bytes: bytes)
        assertThrowsExactly(ELFError(offset: 0x200, reason: .badNote("name size 100 exceeds the note area")),
                     "at 0x200: malformed note: name size 100 exceeds the note area") { _ = try elf.notes() }
    }

    func testNoteDescriptorSizeBeyondTheAreaIsRejectedAtTheNote() throws {
        var bytes = try Self.image().bytes
        // The second note (at 0x224) claims a 100-byte descriptor.
        patch(&bytes, at: 0x228, le32(100))
        let elf = try ELFFile(bytes: bytes)
        assertThrowsExactly(ELFError(offset: 0x224, reason: .badNote("descriptor size 100 exceeds the note area")),
                     "at 0x224: malformed note: descriptor size 100 exceeds the note area") { _ = try elf.notes() }
    }

    func testNoteAreaPastTheEndOfTheFileIsRejected() {
        assertThrowsExactly(ELFError(offset: 4, reason: .badNote("note area runs past the end of the file")),
                     "at 0x4: malformed note: note area runs past the end of the file") {
            _ = try ELFFile.parseNotes([0, 0, 0, 0], offset: 4, size: 12, alignment: 4)
        }
    }

    func testTrailingBytesShorterThanANoteHeaderAreIgnored() throws {
        let area = note("GNU", type: 3, [1, 2, 3, 4]) + [0, 0, 0, 0]
        XCTAssertEqual(try ELFFile.parseNotes(area, offset: 0, size: UInt64(area.count), alignment: 4).count, 1)
    }

    // MARK: Extended section numbering

    func testExtendedNumberingTakesTheCountAndNameTableIndexFromSection0() throws {
        let layout = try Self.image()
        var bytes = layout.bytes
        let shoff = layout.sectionHeaderOffset
        patch(&bytes, at: 60, [0x00, 0x00])  // e_shnum = 0
        patch(&bytes, at: 62, [0xff, 0xff])  // e_shstrndx = SHN_XINDEX
        patch(&bytes, at: shoff + 32, HandBytes.u64(10))  // section 0 sh_size = count
        patch(&bytes, at: shoff + 40, le32(9))  // section 0 sh_link = name table index
        let elf = try ELFFile(bytes: bytes)
        XCTAssertEqual(elf.header.sectionHeaderCount, 10)
        XCTAssertEqual(elf.header.sectionNameTableIndex, 9)
        XCTAssertEqual(elf.sections.count, 10)
        XCTAssertEqual(elf.sections[3].name, ".text")
        XCTAssertEqual(elf.sections[9].name, ".shstrtab")
    }

    // MARK: Rejections

    func testEmptyFile() {
        assertThrowsExactly(ELFError(offset: 0, reason: .empty), "at 0x0: empty file") { _ = try ELFFile(bytes: []) }
    }

    func testBadMagic() throws {
        var bytes = try Self.image().bytes
        bytes[3] = 0x47
        assertThrowsExactly(ELFError(offset: 0, reason: .notELF), "at 0x0: not an ELF file (bad magic)") { _ = try ELFFile(bytes: bytes) }
    }

    func testThreeBytesOfMagicAreNotELF() {
        assertThrowsExactly(ELFError(offset: 0, reason: .notELF), "at 0x0: not an ELF file (bad magic)") {
            _ = try ELFFile(bytes: [0x7f, 0x45, 0x4c])
        }
    }

    func testELF32IsRejectedAtTheClassByte() throws {
        var bytes = try Self.image().bytes
        bytes[4] = 1
        assertThrowsExactly(ELFError(offset: 4, reason: .unsupportedClass(1)), "at 0x4: ELF class 1 is not supported (ELF64 only)") {
            _ = try ELFFile(bytes: bytes)
        }
    }

    func testBigEndianIsRejectedAtTheDataByte() throws {
        var bytes = try Self.image().bytes
        bytes[5] = 2
        assertThrowsExactly(ELFError(offset: 5, reason: .unsupportedByteOrder(2)),
                     "at 0x5: ELF data encoding 2 is not supported (little-endian only)") { _ = try ELFFile(bytes: bytes) }
    }

    func testHeaderTruncatedInsideTheIdentIsATruncatedRead() throws {
        let bytes = Array(try Self.image().bytes.prefix(10))
        assertThrowsExactly(ByteReadError(offset: 6, reason: .truncated(needed: 10, available: 4)),
                     "at 0x6: truncated: need 10 bytes, 4 left") { _ = try ELFFile(bytes: bytes) }
    }

    func testHeaderTruncatedAtE_shoffIsATruncatedReadAtThatField() throws {
        let bytes = Array(try Self.image().bytes.prefix(40))
        assertThrowsExactly(ByteReadError(offset: 40, reason: .truncated(needed: 8, available: 0)),
                     "at 0x28: truncated: need 8 bytes, 0 left") { _ = try ELFFile(bytes: bytes) }
    }

    func testProgramHeaderTableOutOfRangeIsRejectedAtE_phoff() throws {
        var bytes = try Self.image().bytes
        patch(&bytes, at: 32, HandBytes.u64(UInt64(bytes.count - 100)))
        assertThrowsExactly(ELFError(offset: 32, reason: .tableOutOfRange("program header")),
                     "at 0x20: program header table runs past the end of the file") { _ = try ELFFile(bytes: bytes) }
    }

    func testProgramHeaderEntrySizeOtherThan56IsRejectedAtE_phentsize() throws {
        var bytes = try Self.image().bytes
        patch(&bytes, at: 54, [32, 0])
        assertThrowsExactly(ELFError(offset: 54, reason: .badHeaderSize("program header", 32)),
                     "at 0x36: program header entry size 32 is not the ELF64 size") { _ = try ELFFile(bytes: bytes) }
    }

    func testSectionHeaderTableOutOfRangeIsRejectedAtE_shoff() throws {
        var bytes = try Self.image().bytes
        patch(&bytes, at: 40, HandBytes.u64(UInt64(bytes.count - 64)))
        assertThrowsExactly(ELFError(offset: 40, reason: .tableOutOfRange("section header")),
                     "at 0x28: section header table runs past the end of the file") { _ = try ELFFile(bytes: bytes) }
    }

    func testSectionOutOfRangeIsRejectedAtItsShOffsetField() throws {
        let layout = try Self.image()
        var bytes = layout.bytes
        let header = layout.sectionHeaderOffset + 3 * 64
        patch(&bytes, at: header + 24, HandBytes.u64(0xffff_0000))
        let elf = try ELFFile(bytes: bytes)
        let text = elf.sections[3]
        XCTAssertEqual(text.offsetFieldOffset, UInt64(header + 24))
        assertThrowsExactly(ELFError(offset: UInt64(header + 24), reason: .sectionOutOfRange(".text")),
                     "at 0x\(String(header + 24, radix: 16)): section .text runs past the end of the file") {
            _ = try elf.contents(of: text)
        }
    }

    func testSectionSizeRunningPastTheFileIsRejectedAtItsShOffsetField() throws {
        let layout = try Self.image()
        var bytes = layout.bytes
        let header = layout.sectionHeaderOffset + 3 * 64
        patch(&bytes, at: header + 32, HandBytes.u64(UInt64.max))
        let elf = try ELFFile(bytes: bytes)
        assertThrowsExactly(ELFError(offset: UInt64(header + 24), reason: .sectionOutOfRange(".text")),
                     "at 0x\(String(header + 24, radix: 16)): section .text runs past the end of the file") {
            _ = try elf.contents(ofSectionNamed: ".text")
        }
    }

    func testSegmentOutOfRangeIsRejectedAtItsPOffsetField() throws {
        var bytes = try Self.image().bytes
        // Second program header (PT_NOTE) at 64 + 56: p_filesz at +32.
        patch(&bytes, at: 64 + 56 + 32, HandBytes.u64(0x10_0000))
        let elf = try ELFFile(bytes: bytes)
        assertThrowsExactly(ELFError(offset: 64 + 56 + 8, reason: .segmentOutOfRange(1)),
                     "at 0x80: segment 1 runs past the end of the file") { _ = try elf.contents(of: elf.programHeaders[1]) }
        assertThrowsExactly(ELFError(offset: 64 + 56 + 8, reason: .segmentOutOfRange(1)),
                     "at 0x80: segment 1 runs past the end of the file") { _ = try elf.notes() }
    }

    // MARK: A real library, judged by readelf

    struct ReadelfSection: Equatable {
        var index: Int, name: String, address: UInt64, offset: UInt64, size: UInt64
        var entrySize: UInt64, link: UInt32, info: UInt32, alignment: UInt64
    }

    /// `readelf -SW` rows.
    static func readelfSections(_ text: String) -> [ReadelfSection] {
        var out: [ReadelfSection] = []
        for line in text.split(separator: "\n") {
            guard let open = line.firstIndex(of: "["), let close = line.firstIndex(of: "]"),
                  let index = Int(line[line.index(after: open)..<close].trimmingCharacters(in: .whitespaces)) else { continue }
            var t = line[line.index(after: close)...].split(separator: " ").map(String.init)
            if index == 0 { t.insert("", at: 0) }
            // Name Type Address Off Size ES [Flg] Lk Inf Al
            let n = t.count
            out.append(ReadelfSection(index: index, name: t[0], address: UInt64(t[2], radix: 16)!,
                                      offset: UInt64(t[3], radix: 16)!, size: UInt64(t[4], radix: 16)!,
                                      entrySize: UInt64(t[5], radix: 16)!, link: UInt32(t[n - 3])!,
                                      info: UInt32(t[n - 2])!, alignment: UInt64(t[n - 1])!))
        }
        return out
    }

    static func field(_ text: String, _ label: String) -> String? {
        for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix(label) {
            return line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    func testLibcSectionsAgreeWithReadelf() throws {
        let path = try SystemLibraries.path("libc.so.6")
        let readelf = try Tools.path("readelf")
        let elf = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let h = try Subprocess.run(readelf, ["-hW", path])
        XCTAssertEqual(h.status, 0)
        XCTAssertEqual(Self.field(h.stdout, "Number of section headers").flatMap { Int($0) }, elf.sections.count)
        XCTAssertEqual(Self.field(h.stdout, "Section header string table index").flatMap { Int($0) },
                       elf.header.sectionNameTableIndex)
        XCTAssertEqual(Self.field(h.stdout, "Number of program headers").flatMap { Int($0) }, elf.programHeaders.count)
        XCTAssertEqual(Self.field(h.stdout, "Start of section headers"), "\(elf.header.sectionHeaderOffset) (bytes into file)")
        XCTAssertEqual(Self.field(h.stdout, "Entry point address"), "0x" + String(elf.header.entry, radix: 16))

        let s = try Subprocess.run(readelf, ["-SW", path])
        XCTAssertEqual(s.status, 0)
        let theirs = Self.readelfSections(s.stdout)
        let ours = elf.sections.map {
            ReadelfSection(index: $0.index, name: $0.name, address: $0.address, offset: $0.offset, size: $0.size,
                           entrySize: $0.entrySize, link: $0.link, info: $0.info, alignment: $0.addressAlignment)
        }
        XCTAssertGreaterThan(theirs.count, 20)
        XCTAssertEqual(theirs, ours)
    }

    func testLibcNotesAndBuildIDAgreeWithReadelf() throws {
        let path = try SystemLibraries.path("libc.so.6")
        let readelf = try Tools.path("readelf")
        let elf = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let n = try Subprocess.run(readelf, ["-nW", path])
        XCTAssertEqual(n.status, 0)
        let theirID = try XCTUnwrap(n.stdout.components(separatedBy: "Build ID: ").dropFirst().first?
            .prefix { $0.isHexDigit })
        let ourID = try XCTUnwrap(try elf.buildID()).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        XCTAssertEqual(ourID, String(theirID))
        // readelf's "Data size" column, note by note.
        let theirSizes = n.stdout.split(separator: "\n").compactMap { line -> Int? in
            let t = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard t.count >= 2, t[1].hasPrefix("0x") else { return nil }
            return Int(t[1].dropFirst(2), radix: 16)
        }
        XCTAssertEqual(try elf.notes().map(\.descriptor.count), theirSizes)
    }

    func testLibcDynamicSymbolCountAgreesWithReadelf() throws {
        let path = try SystemLibraries.path("libc.so.6")
        let readelf = try Tools.path("readelf")
        let elf = try ELFFile(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        let r = try Subprocess.run(readelf, ["--dyn-syms", "-W", path])
        let line = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("Symbol table '.dynsym' contains") })
        let count = Int(line.components(separatedBy: "contains ")[1].split(separator: " ")[0])
        let dynsym = try elf.symbols(in: try XCTUnwrap(elf.section(named: ".dynsym")))
        XCTAssertEqual(dynsym.count, count)
        let malloc = try XCTUnwrap(dynsym.first { $0.name == "malloc" })
        XCTAssertEqual(malloc.type, ELF.sttFunc)
        XCTAssertTrue(malloc.isDefined)
    }
}

private enum HandBytes {
    static func u64(_ v: UInt64) -> [UInt8] { var w = ByteWriter(); w.u64(v); return w.bytes }
}
