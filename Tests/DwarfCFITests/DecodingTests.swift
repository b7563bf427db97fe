// The read side from hand-written bytes: every DW_CFA opcode as CallFrameInstructionDecoder
// returns it, every DW_EH_PE format and application, the augmentations, .debug_frame CIE
// versions 1/3/4 and 64-bit DWARF, .eh_frame_hdr lookups and errors, and CallFrameInfo's
// lookup paths (header, index, row cache on and off) agreeing with each other.

import Bytes
import DwarfCFI
import TestSupport
import XCTest

/// Hand-assembled CFI entries, so the reader is tested against bytes no writer of ours made.
enum HandCFI {
    static func u32(_ v: UInt32) -> [UInt8] { var w = ByteWriter(); w.u32(v); return w.bytes }
    static func u64(_ v: UInt64) -> [UInt8] { var w = ByteWriter(); w.u64(v); return w.bytes }

    /// An entry: its initial length (32- or 64-bit DWARF) and `body`.
    static func entry(_ body: [UInt8], dwarf64: Bool = false) -> [UInt8] {
        dwarf64 ? u32(0xffff_ffff) + u64(UInt64(body.count)) + body : u32(UInt32(body.count)) + body
    }

    /// A .eh_frame CIE (id 0). For a "z" augmentation the data gets its ULEB length.
    /// Version 1 stores the return-address register in a byte, later versions in a ULEB.
    static func ehCIE(version: UInt8 = 1, augmentation: String = "zR", caf: UInt64 = 1, daf: Int64 = -8,
                      ra: UInt64 = 16, augmentationData: [UInt8] = [0x1b], instructions: [UInt8] = [],
                      dwarf64: Bool = false) -> [UInt8] {
        var w = ByteWriter()
        if dwarf64 { w.u64(0) } else { w.u32(0) }
        w.u8(version)
        w.cString(augmentation)
        w.uleb128(caf)
        w.sleb128(daf)
        if version == 1 { w.u8(UInt8(ra)) } else { w.uleb128(ra) }
        if augmentation.hasPrefix("z") {
            w.uleb128(UInt64(augmentationData.count))
            w.append(contentsOf: augmentationData)
        }
        w.append(contentsOf: instructions)
        return entry(w.bytes, dwarf64: dwarf64)
    }

    /// A .eh_frame FDE at `offset` whose CIE is at `cieOffset`. `augmentationData` nil: the
    /// CIE has no "z", so no length is written.
    static func ehFDE(at offset: Int, cieOffset: Int, pointers: [UInt8], augmentationData: [UInt8]? = [],
                      instructions: [UInt8] = [], dwarf64: Bool = false) -> [UInt8] {
        var w = ByteWriter()
        // The CIE pointer is the distance back from the pointer field itself.
        let field = offset + (dwarf64 ? 12 : 4)
        if dwarf64 { w.u64(UInt64(field - cieOffset)) } else { w.u32(UInt32(field - cieOffset)) }
        w.append(contentsOf: pointers)
        if let a = augmentationData {
            w.uleb128(UInt64(a.count))
            w.append(contentsOf: a)
        }
        w.append(contentsOf: instructions)
        return entry(w.bytes, dwarf64: dwarf64)
    }

    /// A .debug_frame CIE (id all ones). Version 4 carries address and segment-selector sizes.
    static func debugCIE(version: UInt8, augmentation: String = "", addressSize: UInt8 = 8, segmentSize: UInt8 = 0,
                         caf: UInt64 = 1, daf: Int64 = -8, ra: UInt64 = 16, instructions: [UInt8] = [],
                         dwarf64: Bool = false) -> [UInt8] {
        var w = ByteWriter()
        if dwarf64 { w.u64(UInt64.max) } else { w.u32(0xffff_ffff) }
        w.u8(version)
        w.cString(augmentation)
        if version == 4 { w.u8(addressSize); w.u8(segmentSize) }
        w.uleb128(caf)
        w.sleb128(daf)
        if version == 1 { w.u8(UInt8(ra)) } else { w.uleb128(ra) }
        w.append(contentsOf: instructions)
        return entry(w.bytes, dwarf64: dwarf64)
    }

    /// A .debug_frame FDE: the CIE pointer is an offset from the section start.
    static func debugFDE(cieOffset: UInt64, pointers: [UInt8], instructions: [UInt8] = [], dwarf64: Bool = false) -> [UInt8] {
        entry((dwarf64 ? u64(cieOffset) : u32(UInt32(cieOffset))) + pointers + instructions, dwarf64: dwarf64)
    }

    /// .eh_frame with the x86-64 "zR" CIE (FDE encoding `fdeEncoding`, initial instructions
    /// `cieProgram`) at 0 and one FDE for [start, start+length) with `program`.
    static func section(fdeEncoding: UInt8 = 0x03, cieProgram: [UInt8] = [0x0c, 0x07, 0x08, 0x90, 0x01],
                        start: UInt32 = 0x1000, length: UInt32 = 0x100, program: [UInt8], caf: UInt64 = 1,
                        daf: Int64 = -8, address: UInt64 = 0x10_0000, fileOffset: UInt64 = 0)
        -> (section: CallFrameSection, fdeOffset: Int, programStart: Int) {
        precondition(fdeEncoding & 0x7f == 0x03, "udata4 pointers")
        let cie = ehCIE(caf: caf, daf: daf, augmentationData: [fdeEncoding], instructions: cieProgram)
        let fde = ehFDE(at: cie.count, cieOffset: 0, pointers: u32(start) + u32(length), instructions: program)
        // length, CIE pointer, start, length, augmentation length
        return (CallFrameSection(kind: .ehFrame, bytes: cie + fde + u32(0), address: address, fileOffset: fileOffset),
                cie.count, cie.count + 17)
    }
}

final class DecodingTests: XCTestCase {
    // MARK: DW_CFA opcodes

    /// The CIE's initial instructions are `program`; instructions start at index 17.
    func decode(_ program: [UInt8], fdeEncoding: UInt8 = 0x1b, address: UInt64 = 0x1000, fileOffset: UInt64 = 0,
                file: StaticString = #filePath, line: UInt = #line) throws -> [(CallFrameInstruction, UInt8)] {
        let bytes = HandCFI.ehCIE(augmentationData: [fdeEncoding], instructions: program)
        let section = CallFrameSection(kind: .ehFrame, bytes: bytes, address: address, fileOffset: fileOffset)
        let cie = try section.cie(at: 0)
        XCTAssertEqual(cie.instructions, 17..<bytes.count, file: file, line: line)
        var d = CallFrameInstructionDecoder(section: section, range: cie.instructions, cie: cie)
        var out: [(CallFrameInstruction, UInt8)] = []
        while let i = try d.next() { out.append((i, d.opcode)) }
        return out
    }

    /// Decodes `program`, which must be exactly one instruction.
    func one(_ program: [UInt8], fdeEncoding: UInt8 = 0x1b, file: StaticString = #filePath, line: UInt = #line) throws
        -> (instruction: CallFrameInstruction, opcode: UInt8) {
        let all = try decode(program, fdeEncoding: fdeEncoding, file: file, line: line)
        XCTAssertEqual(all.count, 1, "instructions decoded", file: file, line: line)
        return try XCTUnwrap(all.first, file: file, line: line)
    }

    func testAdvanceLoc0x41IsAdvanceBy1WithOpcode0x40() throws {
        let (i, op) = try one([0x41])
        XCTAssertEqual(i, .advanceLoc(1))
        XCTAssertEqual(op, 0x40)
    }

    func testAdvanceLoc0x7fIsAdvanceBy63() throws {
        XCTAssertEqual(try one([0x7f]).instruction, .advanceLoc(63))
    }

    func testAdvanceLoc1ReadsOneByte() throws {
        let (i, op) = try one([0x02, 0xff])
        XCTAssertEqual(i, .advanceLoc(255))
        XCTAssertEqual(op, 0x02)
    }

    func testAdvanceLoc2ReadsLittleEndianUInt16() throws {
        let (i, op) = try one([0x03, 0x34, 0x12])
        XCTAssertEqual(i, .advanceLoc(0x1234))
        XCTAssertEqual(op, 0x03)
    }

    func testAdvanceLoc4ReadsLittleEndianUInt32() throws {
        let (i, op) = try one([0x04, 0x78, 0x56, 0x34, 0x12])
        XCTAssertEqual(i, .advanceLoc(0x1234_5678))
        XCTAssertEqual(op, 0x04)
    }

    func testOffset0x86IsRegister6WithULEBFactoredOffsetAndOpcode0x80() throws {
        let (i, op) = try one([0x86, 0x02])
        XCTAssertEqual(i, .offset(register: 6, factoredOffset: 2))
        XCTAssertEqual(op, 0x80)
        XCTAssertEqual(try one([0x83, 0x80, 0x01]).instruction, .offset(register: 3, factoredOffset: 128))
    }

    func testOffsetExtendedHasULEBRegisterAndOffset() throws {
        let (i, op) = try one([0x05, 0x40, 0x02])
        XCTAssertEqual(i, .offset(register: 64, factoredOffset: 2))
        XCTAssertEqual(op, 0x05)
    }

    func testRestore0xc6IsRegister6WithOpcode0xc0() throws {
        let (i, op) = try one([0xc6])
        XCTAssertEqual(i, .restore(6))
        XCTAssertEqual(op, 0xc0)
    }

    func testRestoreExtendedHasULEBRegister() throws {
        let (i, op) = try one([0x06, 0x40])
        XCTAssertEqual(i, .restore(64))
        XCTAssertEqual(op, 0x06)
    }

    func testUndefined() throws {
        let (i, op) = try one([0x07, 0x10])
        XCTAssertEqual(i, .undefined(16))
        XCTAssertEqual(op, 0x07)
    }

    func testSameValue() throws {
        let (i, op) = try one([0x08, 0x03])
        XCTAssertEqual(i, .sameValue(3))
        XCTAssertEqual(op, 0x08)
    }

    func testRegisterHasTwoULEBRegisters() throws {
        let (i, op) = try one([0x09, 0x03, 0x86, 0x01])
        XCTAssertEqual(i, .register(3, 134))
        XCTAssertEqual(op, 0x09)
    }

    func testRememberState() throws {
        let (i, op) = try one([0x0a])
        XCTAssertEqual(i, .rememberState)
        XCTAssertEqual(op, 0x0a)
    }

    func testRestoreState() throws {
        let (i, op) = try one([0x0b])
        XCTAssertEqual(i, .restoreState)
        XCTAssertEqual(op, 0x0b)
    }

    func testDefCfaHasULEBRegisterAndUnfactoredULEBOffset() throws {
        let (i, op) = try one([0x0c, 0x07, 0x88, 0x01])
        XCTAssertEqual(i, .defCfa(register: 7, offset: 136))
        XCTAssertEqual(op, 0x0c)
    }

    func testDefCfaRegister() throws {
        let (i, op) = try one([0x0d, 0x06])
        XCTAssertEqual(i, .defCfaRegister(6))
        XCTAssertEqual(op, 0x0d)
    }

    func testDefCfaOffset() throws {
        let (i, op) = try one([0x0e, 0x10])
        XCTAssertEqual(i, .defCfaOffset(16))
        XCTAssertEqual(op, 0x0e)
    }

    func testDefCfaExpressionIsTheBlockAtItsSectionIndices() throws {
        let (i, op) = try one([0x0f, 0x02, 0x77, 0x08])
        XCTAssertEqual(op, 0x0f)
        guard case let .defCfaExpression(block) = i else { return XCTFail("\(i)") }
        XCTAssertEqual(Array(block), [0x77, 0x08])
        XCTAssertEqual(block.indices, 19..<21, "opcode at 17, length at 18")
    }

    func testExpressionIsRegisterThenBlock() throws {
        let (i, op) = try one([0x10, 0x06, 0x02, 0x76, 0x00])
        XCTAssertEqual(op, 0x10)
        guard case let .expression(reg, block) = i else { return XCTFail("\(i)") }
        XCTAssertEqual(reg, 6)
        XCTAssertEqual(Array(block), [0x76, 0x00])
        XCTAssertEqual(block.indices, 20..<22)
    }

    func testOffsetExtendedSfHasSLEBFactoredOffset() throws {
        let (i, op) = try one([0x11, 0x03, 0x7f])
        XCTAssertEqual(i, .offsetExtendedSf(register: 3, factoredOffset: -1))
        XCTAssertEqual(op, 0x11)
    }

    func testDefCfaSfHasSLEBFactoredOffset() throws {
        let (i, op) = try one([0x12, 0x07, 0x7e])
        XCTAssertEqual(i, .defCfaSf(register: 7, factoredOffset: -2))
        XCTAssertEqual(op, 0x12)
    }

    func testDefCfaOffsetSfHasSLEBFactoredOffset() throws {
        let (i, op) = try one([0x13, 0x7e])
        XCTAssertEqual(i, .defCfaOffsetSf(-2))
        XCTAssertEqual(op, 0x13)
    }

    func testValOffsetHasULEBFactoredOffset() throws {
        let (i, op) = try one([0x14, 0x03, 0x02])
        XCTAssertEqual(i, .valOffset(register: 3, factoredOffset: 2))
        XCTAssertEqual(op, 0x14)
    }

    func testValOffsetSfHasSLEBFactoredOffset() throws {
        let (i, op) = try one([0x15, 0x03, 0x7e])
        XCTAssertEqual(i, .valOffsetSf(register: 3, factoredOffset: -2))
        XCTAssertEqual(op, 0x15)
    }

    func testValExpressionIsRegisterThenBlock() throws {
        let (i, op) = try one([0x16, 0x06, 0x01, 0x30])
        XCTAssertEqual(op, 0x16)
        guard case let .valExpression(reg, block) = i else { return XCTFail("\(i)") }
        XCTAssertEqual(reg, 6)
        XCTAssertEqual(Array(block), [0x30])
    }

    func testGNUWindowSave0x2d() throws {
        let (i, op) = try one([0x2d])
        XCTAssertEqual(i, .windowSave)
        XCTAssertEqual(op, 0x2d)
    }

    func testGNUArgsSize0x2eHasULEBSize() throws {
        let (i, op) = try one([0x2e, 0x90, 0x01])
        XCTAssertEqual(i, .argsSize(144))
        XCTAssertEqual(op, 0x2e)
    }

    func testGNUNegativeOffsetExtended0x2fHasULEBRegisterAndOffset() throws {
        let (i, op) = try one([0x2f, 0x03, 0x02])
        XCTAssertEqual(i, .negativeOffsetExtended(register: 3, factoredOffset: 2))
        XCTAssertEqual(op, 0x2f)
    }

    func testNop() throws {
        let (i, op) = try one([0x00])
        XCTAssertEqual(i, .nop)
        XCTAssertEqual(op, 0x00)
    }

    func testSetLocPcrelSdata4IsRelativeToTheOperandsOwnAddress() throws {
        // Section at 0x1000; set_loc at index 17, its operand at 18: 0x1000 + 18 + 0x100.
        let (i, op) = try one([0x01, 0x00, 0x01, 0x00, 0x00], fdeEncoding: 0x1b)
        XCTAssertEqual(i, .setLoc(0x1112))
        XCTAssertEqual(op, 0x01)
    }

    func testSetLocUdata8IsAnAbsoluteEightByteAddress() throws {
        let (i, op) = try one([0x01, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11], fdeEncoding: 0x04)
        XCTAssertEqual(i, .setLoc(0x1122_3344_5566_7788))
        XCTAssertEqual(op, 0x01)
    }

    func testInstructionsDecodeInOrderAndTheDecoderEndsWithNil() throws {
        let all = try decode([0x41, 0x0e, 0x10, 0x86, 0x02, 0x00])
        XCTAssertEqual(all.map(\.0), [.advanceLoc(1), .defCfaOffset(16), .offset(register: 6, factoredOffset: 2), .nop])
        XCTAssertEqual(all.map(\.1), [0x40, 0x0e, 0x80, 0x00])
    }

    func testUnknownOpcode0x3fIsAnErrorAtItsFileOffset() {
        // Section at file offset 0x200; the nop is at 17, the unknown opcode at 18.
        assertThrowsExactly(CFIError(offset: 0x212, reason: .unknownOpcode(0x3f)), "at 0x212: unknown CFA opcode 0x3f") {
            _ = try self.decode([0x00, 0x3f], fileOffset: 0x200)
        }
    }

    func testMissingOperandIsAnUnterminatedLEB128AtTheOperand() {
        assertThrowsExactly(ByteReadError(offset: 0x213, reason: .lebUnterminated),
                            "at 0x213: LEB128 value runs past the end of its range") {
            _ = try self.decode([0x0c, 0x07], fileOffset: 0x200)
        }
    }

    func testExpressionBlockLongerThanTheEntryIsTruncated() {
        assertThrowsExactly(ByteReadError(offset: 0x213, reason: .truncated(needed: 5, available: 1)),
                            "at 0x213: truncated: need 5 bytes, 1 left") {
            _ = try self.decode([0x0f, 0x05, 0x77], fileOffset: 0x200)
        }
    }

    // MARK: Pointer encodings (FDE initial location and range)

    /// A "zR" CIE padded to 20 bytes with FDE encoding `encoding`, and an FDE at 20 whose
    /// pointers are `pointers`: its CIE pointer field is at 24, its initial location at 28.
    func fde(encoding: UInt8, pointers: [UInt8], address: UInt64 = 0x1000, text: UInt64? = nil, data: UInt64? = nil)
        throws -> FrameDescriptionEntry {
        let cie = HandCFI.ehCIE(augmentationData: [encoding], instructions: [0, 0, 0])
        XCTAssertEqual(cie.count, 20)
        let bytes = cie + HandCFI.ehFDE(at: 20, cieOffset: 0, pointers: pointers)
        let section = CallFrameSection(kind: .ehFrame, bytes: bytes, address: address, textAddress: text, dataAddress: data)
        let (f, c) = try section.fde(at: 20)
        XCTAssertEqual(c.fdeEncoding, PointerEncoding(encoding))
        XCTAssertEqual(f.cieOffset, 0)
        return f
    }

    func testAbsptrIsEightBytesOnX86_64() throws {
        let f = try fde(encoding: 0x00, pointers: HandCFI.u64(0x1122_3344_5566_7788) + HandCFI.u64(0x10))
        XCTAssertEqual(f.initialLocation, 0x1122_3344_5566_7788)
        XCTAssertEqual(f.addressRange, 0x10)
    }

    func testUdata2() throws {
        let f = try fde(encoding: 0x02, pointers: [0x34, 0x12, 0x10, 0x00])
        XCTAssertEqual(f.initialLocation, 0x1234)
        XCTAssertEqual(f.addressRange, 0x10)
    }

    func testUdata4() throws {
        let f = try fde(encoding: 0x03, pointers: [0x78, 0x56, 0x34, 0x12, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.initialLocation, 0x1234_5678)
        XCTAssertEqual(f.addressRange, 0x10)
    }

    func testUdata8() throws {
        let f = try fde(encoding: 0x04, pointers: HandCFI.u64(0xffff_ffff_ffff_fff0) + HandCFI.u64(0x8))
        XCTAssertEqual(f.initialLocation, 0xffff_ffff_ffff_fff0)
        XCTAssertEqual(f.pcRange, 0xffff_ffff_ffff_fff0..<0xffff_ffff_ffff_fff8)
    }

    func testSdata2SignExtends() throws {
        let f = try fde(encoding: 0x0a, pointers: [0xfe, 0xff, 0x10, 0x00])
        XCTAssertEqual(f.initialLocation, 0xffff_ffff_ffff_fffe)
    }

    func testSdata4SignExtends() throws {
        let f = try fde(encoding: 0x0b, pointers: [0x00, 0x00, 0x00, 0x80, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.initialLocation, 0xffff_ffff_8000_0000)
        XCTAssertEqual(f.addressRange, 0x10)
    }

    func testSdata8() throws {
        let f = try fde(encoding: 0x0c, pointers: HandCFI.u64(UInt64(bitPattern: -16)) + HandCFI.u64(0x10))
        XCTAssertEqual(f.initialLocation, UInt64(bitPattern: -16))
    }

    func testUleb128() throws {
        let f = try fde(encoding: 0x01, pointers: [0xe5, 0x8e, 0x26, 0x90, 0x01])
        XCTAssertEqual(f.initialLocation, 624_485)
        XCTAssertEqual(f.addressRange, 144)
    }

    func testSleb128() throws {
        let f = try fde(encoding: 0x09, pointers: [0xc0, 0xbb, 0x78, 0x10])
        XCTAssertEqual(f.initialLocation, UInt64(bitPattern: -123_456))
        XCTAssertEqual(f.addressRange, 0x10)
    }

    func testPcrelAddsTheFieldsAddress() throws {
        // Field at index 28 of a section at 0x1000.
        let f = try fde(encoding: 0x1b, pointers: [0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.initialLocation, 0x111c)
        XCTAssertEqual(f.addressRange, 0x10, "the range is not pc-relative")
    }

    func testPcrelNegativeDisplacementPointsBackwards() throws {
        let f = try fde(encoding: 0x1b, pointers: [0xf0, 0xff, 0xff, 0xff, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.initialLocation, 0x100c)
    }

    func testTextrelAddsTheTextBase() throws {
        let f = try fde(encoding: 0x2b, pointers: [0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00], text: 0x40_0000)
        XCTAssertEqual(f.initialLocation, 0x40_0100)
    }

    func testTextrelWithoutATextBaseResolvesAgainstZeroAsLibgccDoes() throws {
        let f = try fde(encoding: 0x2b, pointers: [0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.initialLocation, 0x100)
    }

    func testDatarelAddsTheDataBase() throws {
        let f = try fde(encoding: 0x3b, pointers: [0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00], data: 0x60_0000)
        XCTAssertEqual(f.initialLocation, 0x60_0100)
    }

    func testFuncrelInitialLocationHasNoFunctionBaseYet() throws {
        let f = try fde(encoding: 0x4b, pointers: [0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.initialLocation, 0x100)
    }

    func testAlignedSkipsToTheNextAddressSizeBoundary() throws {
        // Field at 0x101c: four padding bytes, then an 8-byte value at 0x1020.
        let f = try fde(encoding: 0x50, pointers: [0xaa, 0xaa, 0xaa, 0xaa] + HandCFI.u64(0x7000) + HandCFI.u64(0x20))
        XCTAssertEqual(f.initialLocation, 0x7000)
        XCTAssertEqual(f.addressRange, 0x20)
        XCTAssertEqual(f.instructions.lowerBound, 20 + 4 + 4 + 4 + 8 + 8 + 1)
    }

    func testAlignedFieldAlreadyOnABoundaryHasNoPadding() throws {
        // Section at 0x1004: the field at index 28 is at 0x1020.
        let f = try fde(encoding: 0x50, pointers: HandCFI.u64(0x7000) + HandCFI.u64(0x20), address: 0x1004)
        XCTAssertEqual(f.initialLocation, 0x7000)
    }

    func testIndirectFDEEncodingYieldsThePointersOwnAddressUndereferenced() throws {
        let f = try fde(encoding: 0x9b, pointers: [0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.initialLocation, 0x111c)
    }

    func testUnknownPointerFormatIsRejectedAtTheEncodingByte() {
        // Augmentation data (the R byte) at index 16.
        assertThrowsExactly(CFIError(offset: 16, reason: .badPointerEncoding(0x05)), "at 0x10: invalid pointer encoding 0x5") {
            _ = try self.fde(encoding: 0x05, pointers: [0, 0, 0, 0, 0, 0, 0, 0])
        }
    }

    func testUnknownPointerApplicationIsRejectedAtTheEncodingByte() {
        assertThrowsExactly(CFIError(offset: 16, reason: .badPointerEncoding(0x6b)), "at 0x10: invalid pointer encoding 0x6b") {
            _ = try self.fde(encoding: 0x6b, pointers: [0, 0, 0, 0, 0, 0, 0, 0])
        }
    }

    func testOmittedFDEEncodingIsRejectedAtTheFDEsPointerField() {
        assertThrowsExactly(CFIError(offset: 28, reason: .badPointerEncoding(0xff)), "at 0x1c: invalid pointer encoding 0xff") {
            _ = try self.fde(encoding: 0xff, pointers: [0, 0, 0, 0, 0, 0, 0, 0])
        }
    }

    func testEveryFormatWithEveryApplicationDirectAndIndirectDecodesToRawPlusBase() throws {
        // Through the personality pointer of a "zPR" CIE, which keeps the indirect flag. The
        // field is at index 18 of a section at 0x1000; the R byte after it proves the pointer
        // consumed exactly its own bytes.
        let minus16 = UInt64(bitPattern: -16)
        let formats: [(UInt8, [UInt8], UInt64)] = [
            (0x00, HandCFI.u64(0x1234), 0x1234), (0x01, [0xb4, 0x24], 0x1234), (0x02, [0x34, 0x12], 0x1234),
            (0x03, [0x34, 0x12, 0, 0], 0x1234), (0x04, HandCFI.u64(0x1234), 0x1234), (0x09, [0x70], minus16),
            (0x0a, [0xf0, 0xff], minus16), (0x0b, [0xf0, 0xff, 0xff, 0xff], minus16),
            (0x0c, HandCFI.u64(minus16), minus16),
        ]
        let applications: [(UInt8, UInt64)] = [(0x00, 0), (0x10, 0x1000 + 18), (0x20, 0x40_0000), (0x30, 0x60_0000), (0x40, 0)]
        var checked = 0
        for (format, bytes, raw) in formats {
            for (application, base) in applications {
                for indirect in [false, true] {
                    let encoding = format | application | (indirect ? 0x80 : 0)
                    let cie = HandCFI.ehCIE(augmentation: "zPR", augmentationData: [encoding] + bytes + [0x1b])
                    let section = CallFrameSection(kind: .ehFrame, bytes: cie, address: 0x1000, textAddress: 0x40_0000,
                                                   dataAddress: 0x60_0000)
                    let c = try section.cie(at: 0)
                    let what = "encoding 0x\(String(encoding, radix: 16))"
                    XCTAssertEqual(c.personalityEncoding, PointerEncoding(encoding), what)
                    XCTAssertEqual(c.personality, EncodedPointer(value: raw &+ base, isIndirect: indirect), what)
                    XCTAssertEqual(c.fdeEncoding, .pcrel | .sdata4, what)
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 90)
    }

    // MARK: Augmentations

    func testZRCIEFields() throws {
        let bytes = HandCFI.ehCIE(caf: 4, daf: -4, ra: 30, instructions: [0x0c, 0x07, 0x08])
        let c = try CallFrameSection(kind: .ehFrame, bytes: bytes, address: 0).cie(at: 0)
        XCTAssertEqual(c.offset, 0)
        XCTAssertEqual(c.end, bytes.count)
        XCTAssertEqual(c.offsetSize, 4)
        XCTAssertEqual(c.version, 1)
        XCTAssertEqual(c.augmentation, "zR")
        XCTAssertEqual(c.addressSize, 8)
        XCTAssertEqual(c.codeAlignmentFactor, 4)
        XCTAssertEqual(c.dataAlignmentFactor, -4)
        XCTAssertEqual(c.returnAddressRegister, 30)
        XCTAssertEqual(c.fdeEncoding, .pcrel | .sdata4)
        XCTAssertNil(c.lsdaEncoding)
        XCTAssertNil(c.personality)
        XCTAssertFalse(c.isSignalFrame)
        XCTAssertTrue(c.hasAugmentationData)
        XCTAssertEqual(c.instructions, 17..<20)
    }

    /// "zPLR" CIE at 0 (personality `personalityEncoding`, LSDA `lsdaEncoding`, FDE pcrel|sdata4)
    /// and an FDE at its end with LSDA bytes `lsda`. The personality field is at index 19.
    func personalitySection(personalityEncoding: UInt8 = 0x9b, lsdaEncoding: UInt8 = 0x1b, lsda: [UInt8])
        throws -> (CommonInformationEntry, FrameDescriptionEntry) {
        let cie = HandCFI.ehCIE(augmentation: "zPLR",
                                augmentationData: [personalityEncoding, 0x00, 0x10, 0x00, 0x00, lsdaEncoding, 0x1b],
                                instructions: [0, 0, 0])
        // FDE: start field at cie.count + 8 -> displacement 0x100.
        let fde = HandCFI.ehFDE(at: cie.count, cieOffset: 0, pointers: [0x00, 0x01, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00],
                                augmentationData: lsda)
        let section = CallFrameSection(kind: .ehFrame, bytes: cie + fde, address: 0x1000)
        let (f, c) = try section.fde(at: cie.count)
        return (c, f)
    }

    func testPersonalityIsDecodedWithItsEncodingAndIndirectFlag() throws {
        let (c, _) = try personalitySection(lsda: [0, 0, 0, 0])
        XCTAssertEqual(c.augmentation, "zPLR")
        XCTAssertEqual(c.personalityEncoding, PointerEncoding(0x9b))
        // pcrel from the field at 0x1013.
        XCTAssertEqual(c.personality, EncodedPointer(value: 0x2013, isIndirect: true))
        XCTAssertEqual(c.lsdaEncoding, .pcrel | .sdata4)
        XCTAssertEqual(c.fdeEncoding, .pcrel | .sdata4)
    }

    func testDirectPersonalityIsNotIndirect() throws {
        let (c, _) = try personalitySection(personalityEncoding: 0x03, lsda: [0, 0, 0, 0])
        XCTAssertEqual(c.personality, EncodedPointer(value: 0x1000, isIndirect: false))
    }

    func testLSDAIsReadFromTheFDEsAugmentationData() throws {
        let (c, f) = try personalitySection(lsda: [0x00, 0x02, 0x00, 0x00])
        // CIE is 28 bytes; FDE at 28: start field at 36, LSDA field at 45 (after the length byte).
        XCTAssertEqual(c.end, 28)
        XCTAssertEqual(f.initialLocation, 0x1000 + 36 + 0x100)
        XCTAssertEqual(f.lsda, EncodedPointer(value: 0x1000 + 45 + 0x200, isIndirect: false))
    }

    func testFuncrelLSDAIsRelativeToTheFDEsInitialLocation() throws {
        let (_, f) = try personalitySection(lsdaEncoding: 0x4b, lsda: [0x40, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.lsda, EncodedPointer(value: f.initialLocation + 0x40))
    }

    func testIndirectLSDAKeepsTheIndirectFlag() throws {
        let (_, f) = try personalitySection(lsdaEncoding: 0x9b, lsda: [0x00, 0x00, 0x00, 0x00])
        XCTAssertEqual(f.lsda, EncodedPointer(value: 0x1000 + 45, isIndirect: true))
    }

    func testEmptyFDEAugmentationDataMeansNoLSDA() throws {
        let (_, f) = try personalitySection(lsda: [])
        XCTAssertNil(f.lsda)
    }

    func testOmittedLSDAEncodingMeansNoLSDA() throws {
        let (c, f) = try personalitySection(lsdaEncoding: 0xff, lsda: [0x00, 0x02, 0x00, 0x00])
        XCTAssertEqual(c.lsdaEncoding, .omit)
        XCTAssertNil(f.lsda)
    }

    func testSAugmentationMarksASignalFrame() throws {
        let c = try CallFrameSection(kind: .ehFrame, bytes: HandCFI.ehCIE(augmentation: "zRS"), address: 0).cie(at: 0)
        XCTAssertTrue(c.isSignalFrame)
        XCTAssertEqual(c.fdeEncoding, .pcrel | .sdata4)
    }

    func testUnknownLetterAfterZRIsSkippedUsingTheZLength() throws {
        let bytes = HandCFI.ehCIE(augmentation: "zRX", augmentationData: [0x1b, 0xaa, 0xbb], instructions: [0x0c, 0x07, 0x08])
        let c = try CallFrameSection(kind: .ehFrame, bytes: bytes, address: 0).cie(at: 0)
        XCTAssertEqual(c.fdeEncoding, .pcrel | .sdata4)
        // length 4, id 4, version 1, "zRX\0" 4, caf, daf, ra, length byte, 3 bytes of data.
        XCTAssertEqual(c.instructions, 20..<23)
    }

    func testLettersAfterAnUnknownLetterAreNotInterpreted() throws {
        // "zXR": X ends the parse of the data, so R's byte is skipped, not read.
        let bytes = HandCFI.ehCIE(augmentation: "zXR", augmentationData: [0xaa, 0x1b], instructions: [0x00])
        let c = try CallFrameSection(kind: .ehFrame, bytes: bytes, address: 0).cie(at: 0)
        XCTAssertEqual(c.fdeEncoding, .absptr)
        XCTAssertEqual(c.instructions, 19..<20)
    }

    func testOldGCCehAugmentationSkipsTheEightByteEHDataPointer() throws {
        var w = ByteWriter()
        w.u32(0); w.u8(1); w.cString("eh"); w.u64(0xdead_beef); w.uleb128(1); w.sleb128(-8); w.u8(16)
        w.append(contentsOf: [0x0c, 0x07, 0x08])
        let cie = HandCFI.entry(w.bytes)
        let fde = HandCFI.ehFDE(at: cie.count, cieOffset: 0, pointers: HandCFI.u64(0x4000) + HandCFI.u64(0x10),
                                augmentationData: nil, instructions: [0x41])
        let section = CallFrameSection(kind: .ehFrame, bytes: cie + fde, address: 0)
        let (f, c) = try section.fde(at: cie.count)
        XCTAssertEqual(c.augmentation, "eh")
        XCTAssertFalse(c.hasAugmentationData)
        XCTAssertEqual(c.codeAlignmentFactor, 1)
        XCTAssertEqual(c.dataAlignmentFactor, -8)
        XCTAssertEqual(c.returnAddressRegister, 16)
        XCTAssertEqual(c.fdeEncoding, .absptr)
        XCTAssertEqual(c.instructions, 23..<26)
        XCTAssertEqual(f.initialLocation, 0x4000)
        XCTAssertEqual(f.addressRange, 0x10)
        XCTAssertEqual(f.instructions, (cie.count + 24)..<(cie.count + 25), "no augmentation length in the FDE")
    }

    func testEmptyAugmentationHasNoDataAndAbsptrFDEs() throws {
        let bytes = HandCFI.ehCIE(augmentation: "", instructions: [0x0c, 0x07, 0x08])
        let c = try CallFrameSection(kind: .ehFrame, bytes: bytes, address: 0).cie(at: 0)
        XCTAssertFalse(c.hasAugmentationData)
        XCTAssertEqual(c.fdeEncoding, .absptr)
        XCTAssertEqual(c.instructions, 13..<16)
    }

    func testUnknownAugmentationWithoutZIsRejectedAtTheString() {
        let bytes = HandCFI.ehCIE(augmentation: "xy", instructions: [0x00])
        let section = CallFrameSection(kind: .ehFrame, bytes: bytes, address: 0, fileOffset: 0x100)
        assertThrowsExactly(CFIError(offset: 0x109, reason: .unknownAugmentation("xy")),
                            "at 0x109: unknown augmentation \"xy\"") { _ = try section.cie(at: 0) }
    }

    func testZAugmentationLengthBeyondTheEntryIsRejected() {
        var w = ByteWriter()
        w.u32(0); w.u8(1); w.cString("zR"); w.uleb128(1); w.sleb128(-8); w.u8(16); w.uleb128(9); w.u8(0x1b)
        let section = CallFrameSection(kind: .ehFrame, bytes: HandCFI.entry(w.bytes), address: 0)
        assertThrowsExactly(CFIError(offset: 16, reason: .entryLengthOutOfRange(9)),
                            "at 0x10: entry length 0x9 runs past the end of the section") { _ = try section.cie(at: 0) }
    }

    func testZeroCodeAlignmentFactorIsRejected() {
        let section = CallFrameSection(kind: .ehFrame, bytes: HandCFI.ehCIE(caf: 0), address: 0)
        assertThrowsExactly(CFIError(offset: 12, reason: .zeroCodeAlignment), "at 0xc: code alignment factor is 0") {
            _ = try section.cie(at: 0)
        }
    }

    func testEhFrameCIEVersion3ReadsAULEBReturnAddressRegister() throws {
        let c = try CallFrameSection(kind: .ehFrame, bytes: HandCFI.ehCIE(version: 3, ra: 130), address: 0).cie(at: 0)
        XCTAssertEqual(c.version, 3)
        XCTAssertEqual(c.returnAddressRegister, 130)
        XCTAssertEqual(c.fdeEncoding, .pcrel | .sdata4)
    }

    func testReturnAddressRegister256IsOutOfRange() {
        let section = CallFrameSection(kind: .ehFrame, bytes: HandCFI.ehCIE(version: 3, ra: 256), address: 0)
        // ra ULEB 80 02 at 14..15; the error points at its last byte.
        assertThrowsExactly(CFIError(offset: 15, reason: .registerOutOfRange(256)),
                            "at 0xf: register 256 is beyond the supported 255") { _ = try section.cie(at: 0) }
    }

    func testEhFrameCIEVersion4IsUnsupported() {
        let section = CallFrameSection(kind: .ehFrame, bytes: HandCFI.ehCIE(version: 4), address: 0)
        assertThrowsExactly(CFIError(offset: 8, reason: .unsupportedCIEVersion(4)), "at 0x8: unsupported CIE version 4") {
            _ = try section.cie(at: 0)
        }
    }

    // MARK: Entries

    func testEntryLengthBeyondTheSectionIsRejected() {
        let section = CallFrameSection(kind: .ehFrame, bytes: HandCFI.u32(0x100) + [0, 0, 0, 0], address: 0, fileOffset: 0x40)
        assertThrowsExactly(CFIError(offset: 0x40, reason: .entryLengthOutOfRange(0x100)),
                            "at 0x40: entry length 0x100 runs past the end of the section") { _ = try section.entry(at: 0) }
    }

    func testFDEWhoseCIEPointerLeadsToAnotherFDEIsRejectedAtThePointer() {
        let cie = HandCFI.ehCIE(instructions: [0, 0, 0])
        let fde1 = HandCFI.ehFDE(at: 20, cieOffset: 0, pointers: [UInt8](repeating: 0, count: 8))
        // The second FDE's pointer leads to the first FDE.
        let fde2 = HandCFI.ehFDE(at: 20 + fde1.count, cieOffset: 20, pointers: [UInt8](repeating: 0, count: 8))
        let section = CallFrameSection(kind: .ehFrame, bytes: cie + fde1 + fde2, address: 0)
        let pointerField = UInt64(20 + fde1.count + 4)
        assertThrowsExactly(CFIError(offset: pointerField, reason: .cieNotFound(target: 20)),
                            "at 0x\(String(pointerField, radix: 16)): FDE's CIE pointer leads to 0x14, which is not a CIE") {
            _ = try section.fde(at: 20 + fde1.count)
        }
    }

    func testForEachEntryYieldsCIEThenFDEThenTerminatorAndReadsOnPastIt() throws {
        let cie = HandCFI.ehCIE(instructions: [0, 0, 0])
        let fde = HandCFI.ehFDE(at: 20, cieOffset: 0, pointers: [UInt8](repeating: 0, count: 8))
        let section = CallFrameSection(kind: .ehFrame, bytes: cie + fde + HandCFI.u32(0) + cie, address: 0)
        var kinds: [String] = []
        try section.forEachEntry { e in
            switch e {
            case let .cie(c): kinds.append("cie@\(c.offset)")
            case let .fde(f): kinds.append("fde@\(f.offset)")
            case let .terminator(o): kinds.append("end@\(o)")
            }
        }
        XCTAssertEqual(kinds, ["cie@0", "fde@20", "end@37", "cie@41"])
    }

    // MARK: .debug_frame

    func testDebugFrameVersion1CIEAndFDEWithAbsoluteAddresses() throws {
        let cie = HandCFI.debugCIE(version: 1, instructions: [0x0c, 0x07, 0x08])
        let fde = HandCFI.debugFDE(cieOffset: 0, pointers: HandCFI.u64(0x40_1000) + HandCFI.u64(0x30), instructions: [0x41])
        let section = CallFrameSection(kind: .debugFrame, bytes: cie + fde, address: 0)
        let (f, c) = try section.fde(at: cie.count)
        XCTAssertEqual(c.version, 1)
        XCTAssertEqual(c.augmentation, "")
        XCTAssertEqual(c.returnAddressRegister, 16)
        XCTAssertEqual(c.addressSize, 8)
        XCTAssertEqual(c.instructions, 13..<16)
        XCTAssertEqual(f.cieOffset, 0)
        XCTAssertEqual(f.initialLocation, 0x40_1000)
        XCTAssertEqual(f.addressRange, 0x30)
        XCTAssertEqual(f.instructions, (cie.count + 24)..<(cie.count + 25))
    }

    func testDebugFrameVersion3ReadsAULEBReturnAddressRegister() throws {
        let section = CallFrameSection(kind: .debugFrame, bytes: HandCFI.debugCIE(version: 3, ra: 130), address: 0)
        let c = try section.cie(at: 0)
        XCTAssertEqual(c.version, 3)
        XCTAssertEqual(c.returnAddressRegister, 130)
        XCTAssertEqual(c.instructions.lowerBound, 14)
    }

    func testDebugFrameVersion4CarriesAddressSizeThatFDEsUse() throws {
        let cie = HandCFI.debugCIE(version: 4, addressSize: 4, instructions: [0x0c, 0x07, 0x08])
        let fde = HandCFI.debugFDE(cieOffset: 0, pointers: HandCFI.u32(0x8000_1000) + HandCFI.u32(0x20))
        let section = CallFrameSection(kind: .debugFrame, bytes: cie + fde, address: 0)
        let (f, c) = try section.fde(at: cie.count)
        XCTAssertEqual(c.version, 4)
        XCTAssertEqual(c.addressSize, 4)
        XCTAssertEqual(c.segmentSelectorSize, 0)
        XCTAssertEqual(f.initialLocation, 0x8000_1000)
        XCTAssertEqual(f.addressRange, 0x20)
    }

    func testDebugFrameVersion4NonzeroSegmentSelectorIsRejectedAtItsByte() {
        let section = CallFrameSection(kind: .debugFrame, bytes: HandCFI.debugCIE(version: 4, segmentSize: 1), address: 0,
                                       fileOffset: 0x500)
        assertThrowsExactly(CFIError(offset: 0x50b, reason: .segmentSelectorUnsupported(1)),
                            "at 0x50b: segment selector size 1 is not supported") { _ = try section.cie(at: 0) }
    }

    func testDebugFrameVersion4AddressSize3IsRejectedAtItsByte() {
        let section = CallFrameSection(kind: .debugFrame, bytes: HandCFI.debugCIE(version: 4, addressSize: 3), address: 0)
        assertThrowsExactly(CFIError(offset: 10, reason: .badAddressSize(3)), "at 0xa: unsupported address size 3") {
            _ = try section.cie(at: 0)
        }
    }

    func testDebugFrameVersion2IsUnsupported() {
        let section = CallFrameSection(kind: .debugFrame, bytes: HandCFI.debugCIE(version: 2), address: 0)
        assertThrowsExactly(CFIError(offset: 8, reason: .unsupportedCIEVersion(2)), "at 0x8: unsupported CIE version 2") {
            _ = try section.cie(at: 0)
        }
    }

    func testDebugFrame64BitDWARFLengthsAndCIEPointer() throws {
        let cie = HandCFI.debugCIE(version: 4, instructions: [0x0c, 0x07, 0x08], dwarf64: true)
        let fde = HandCFI.debugFDE(cieOffset: 0, pointers: HandCFI.u64(0x9000) + HandCFI.u64(0x40),
                                   instructions: [0x41], dwarf64: true)
        let section = CallFrameSection(kind: .debugFrame, bytes: cie + fde, address: 0)
        let (f, c) = try section.fde(at: cie.count)
        XCTAssertEqual(c.offsetSize, 8)
        XCTAssertEqual(c.end, cie.count)
        // 4 + 8 length, 8 id, version, "", sizes 2, caf, daf, ra.
        XCTAssertEqual(c.instructions, 27..<30)
        XCTAssertEqual(f.initialLocation, 0x9000)
        XCTAssertEqual(f.addressRange, 0x40)
        XCTAssertEqual(f.instructions, (cie.count + 36)..<(cie.count + 37))
    }

    func testEhFrame64BitDWARFCIEPointerIsRelativeToItsField() throws {
        let cie = HandCFI.ehCIE(augmentationData: [0x03], instructions: [0x0c, 0x07, 0x08], dwarf64: true)
        let fde = HandCFI.ehFDE(at: cie.count, cieOffset: 0, pointers: HandCFI.u32(0x5000) + HandCFI.u32(0x10),
                                dwarf64: true)
        let section = CallFrameSection(kind: .ehFrame, bytes: cie + fde, address: 0)
        let (f, c) = try section.fde(at: cie.count)
        XCTAssertEqual(c.offsetSize, 8)
        XCTAssertEqual(f.cieOffset, 0)
        XCTAssertEqual(f.initialLocation, 0x5000)
    }

    // MARK: .eh_frame_hdr

    /// Three FDEs at 0x1000, 0x2000, 0x3000 (0x10 bytes each), added out of order;
    /// .eh_frame at 0x900, .eh_frame_hdr at 0x800.
    func threeFunctions() throws -> (FrameTable, EhFrameSections, EhFrameHeader) {
        var t = FrameTable()
        let id = t.add(.x86_64())
        for start: UInt64 in [0x3000, 0x1000, 0x2000] {
            t.add(FrameTable.FDE(cie: id, start: start, length: 0x10, instructions: [(1, .cfaOffset(16))]))
        }
        let s = try EhFrameWriter.ehFrame(t, address: 0x900)
        let h = try EhFrameHeader(bytes: try EhFrameWriter.ehFrameHeader(for: t, sections: s, address: 0x800), address: 0x800)
        return (t, s, h)
    }

    func testHeaderLookupBeforeTheFirstFunctionIsNil() throws {
        let (_, _, h) = try threeFunctions()
        XCTAssertNil(try h.lookup(0xfff))
        XCTAssertNil(try h.lookup(0))
    }

    func testHeaderLookupInsideEachFunctionNamesItsFDE() throws {
        let (_, s, h) = try threeFunctions()
        // fdeOffsets are in table order: 0x3000, 0x1000, 0x2000.
        XCTAssertEqual(try h.lookup(0x1000), 0x900 + UInt64(s.fdeOffsets[1]))
        XCTAssertEqual(try h.lookup(0x100f), 0x900 + UInt64(s.fdeOffsets[1]))
        XCTAssertEqual(try h.lookup(0x2008), 0x900 + UInt64(s.fdeOffsets[2]))
        XCTAssertEqual(try h.lookup(0x3000), 0x900 + UInt64(s.fdeOffsets[0]))
    }

    func testHeaderLookupBetweenFunctionsNamesTheFDEBeforeForTheCallerToReject() throws {
        let (_, s, h) = try threeFunctions()
        XCTAssertEqual(try h.lookup(0x1010), 0x900 + UInt64(s.fdeOffsets[1]))
        XCTAssertEqual(try h.lookup(0x1fff), 0x900 + UInt64(s.fdeOffsets[1]))
    }

    func testHeaderLookupAfterTheLastFunctionNamesTheLastFDE() throws {
        let (_, s, h) = try threeFunctions()
        XCTAssertEqual(try h.lookup(UInt64.max), 0x900 + UInt64(s.fdeOffsets[0]))
    }

    func testHeaderWithUdata8AbsoluteTableIsReadAtFixedStrides() throws {
        // version, eh_frame_ptr udata8, count udata4, table udata8.
        let bytes: [UInt8] = [0x01, 0x04, 0x03, 0x04] + HandCFI.u64(0x900) + HandCFI.u32(2)
            + HandCFI.u64(0x1000) + HandCFI.u64(0x918) + HandCFI.u64(0x2000) + HandCFI.u64(0x930)
        let h = try EhFrameHeader(bytes: bytes, address: 0x800)
        XCTAssertEqual(h.ehFrameAddress, 0x900)
        XCTAssertEqual(h.count, 2)
        XCTAssertNil(try h.lookup(0xfff))
        XCTAssertEqual(try h.lookup(0x1fff), 0x918)
        XCTAssertEqual(try h.lookup(0x2000), 0x930)
    }

    func testHeaderWithULEB128TableIsReadEntryByEntry() throws {
        let bytes: [UInt8] = [0x01, 0x04, 0x03, 0x01] + HandCFI.u64(0x900) + HandCFI.u32(3)
            + LEB128.unsigned(0x10) + LEB128.unsigned(0x918) + LEB128.unsigned(0x1000) + LEB128.unsigned(0x930)
            + LEB128.unsigned(0x20000) + LEB128.unsigned(0x948)
        let h = try EhFrameHeader(bytes: bytes, address: 0x800)
        XCTAssertEqual(h.count, 3)
        XCTAssertEqual(try h.entry(2).location, 0x20000)
        XCTAssertEqual(try h.lookup(0x1fff), 0x930)
        XCTAssertEqual(try h.lookup(0x20000), 0x948)
    }

    func testHeaderWithOmittedTableHasNoEntries() throws {
        let h = try EhFrameHeader(bytes: [0x01, 0x1b, 0xff, 0xff, 0xfc, 0x00, 0x00, 0x00], address: 0x1000)
        XCTAssertEqual(h.ehFrameAddress, 0x1100)
        XCTAssertEqual(h.count, 0)
        XCTAssertNil(try h.lookup(0x1234))
    }

    func testHeaderCountBeyondTheSectionIsRejectedAtTheCountField() {
        let bytes: [UInt8] = [0x01, 0x1b, 0x03, 0x3b, 0xfc, 0x00, 0x00, 0x00] + HandCFI.u32(100) + [UInt8](repeating: 0, count: 8)
        assertThrowsExactly(CFIError(offset: 0x3008, reason: .headerTableTooLarge(100)),
                            "at 0x3008: .eh_frame_hdr claims 100 entries, more than fit in the section") {
            _ = try EhFrameHeader(bytes: bytes, address: 0x1000, fileOffset: 0x3000)
        }
    }

    func testHeaderTableShorterThanCountEntriesOfItsFixedSizeIsRejectedAtTheTable() {
        // 3 entries of 8 bytes need 24; 16 are there (and 16 >= 2 * 3, so the first check passes).
        let bytes: [UInt8] = [0x01, 0x1b, 0x03, 0x3b, 0xfc, 0x00, 0x00, 0x00] + HandCFI.u32(3) + [UInt8](repeating: 0, count: 16)
        assertThrowsExactly(CFIError(offset: 0x300c, reason: .headerTableTooLarge(3)),
                            "at 0x300c: .eh_frame_hdr claims 3 entries, more than fit in the section") {
            _ = try EhFrameHeader(bytes: bytes, address: 0x1000, fileOffset: 0x3000)
        }
    }

    func testHeaderVersion2IsRejected() {
        assertThrowsExactly(CFIError(offset: 0x3000, reason: .badHeaderVersion(2)),
                            "at 0x3000: unsupported .eh_frame_hdr version 2") {
            _ = try EhFrameHeader(bytes: [0x02, 0x1b, 0x03, 0x3b, 0, 0, 0, 0, 0, 0, 0, 0], address: 0x1000, fileOffset: 0x3000)
        }
    }

    func testHeaderWithInvalidTableEncodingIsRejectedAtThatByte() {
        let bytes: [UInt8] = [0x01, 0x1b, 0x03, 0x05, 0, 0, 0, 0, 0, 0, 0, 0]
        assertThrowsExactly(CFIError(offset: 0x3003, reason: .badPointerEncoding(0x05)),
                            "at 0x3003: invalid pointer encoding 0x5") {
            _ = try EhFrameHeader(bytes: bytes, address: 0x1000, fileOffset: 0x3000)
        }
    }

    // MARK: CallFrameInfo

    func testFindWithAndWithoutHeaderReturnsTheCoveringFDEOrNil() throws {
        let (_, s, h) = try threeFunctions()
        let section = CallFrameSection(kind: .ehFrame, bytes: s.ehFrame, address: 0x900)
        let withHeader = try CallFrameInfo(ehFrame: section, header: h)
        let indexed = try CallFrameInfo(ehFrame: section)
        for info in [withHeader, indexed] {
            XCTAssertNil(try info.find(0xfff))
            XCTAssertEqual(try info.find(0x1000)?.fde.offset, s.fdeOffsets[1])
            XCTAssertEqual(try info.find(0x100f)?.fde.initialLocation, 0x1000)
            XCTAssertNil(try info.find(0x1010), "between functions")
            XCTAssertEqual(try info.find(0x2000)?.fde.offset, s.fdeOffsets[2])
            XCTAssertEqual(try info.find(0x300f)?.fde.offset, s.fdeOffsets[0])
            XCTAssertNil(try info.find(0x3010), "after the last function")
            XCTAssertEqual(try info.find(0x3000)?.cie.offset, 0)
        }
    }

    func testFindInDebugFrameUsesTheIndex() throws {
        let cie = HandCFI.debugCIE(version: 3, instructions: [0x0c, 0x07, 0x08, 0x90, 0x01])
        let fde = HandCFI.debugFDE(cieOffset: 0, pointers: HandCFI.u64(0x7000) + HandCFI.u64(0x20), instructions: [0x44, 0x0e, 0x10])
        let section = CallFrameSection(kind: .debugFrame, bytes: cie + fde, address: 0)
        let info = try CallFrameInfo(ehFrame: nil, debugFrame: section)
        XCTAssertEqual(try info.find(0x701f)?.fde.offset, cie.count)
        XCTAssertEqual(try info.find(0x701f)?.section.kind, .debugFrame)
        XCTAssertNil(try info.find(0x7020))
        XCTAssertEqual(try info.row(at: 0x7004)?.row.cfa, .registerOffset(register: 7, offset: 16))
    }

    /// Every way of asking for the row at `pc`: header or index, row cache on or off.
    func rowsEveryWay(_ section: CallFrameSection, header: EhFrameHeader, pc: UInt64) throws -> [UnwindRow?] {
        var out: [UnwindRow?] = []
        for h in [header, nil] as [EhFrameHeader?] {
            for capacity in [0, 1, 256] {
                let info = try CallFrameInfo(ehFrame: section, header: h, rowCacheCapacity: capacity)
                // Twice: the second lookup of a cached table is a cache hit.
                out.append(try info.row(at: pc)?.row)
                out.append(try info.row(at: pc)?.row)
            }
        }
        return out
    }

    func testRowAtEveryAddressIsTheSameWithOrWithoutHeaderAndRowCache() throws {
        var t = FrameTable()
        let id = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: id, start: 0x1000, length: 0x10,
                             instructions: [(1, .cfaOffset(16)), (4, .offset(DwarfRegister.rbp, -16)),
                                            (5, .cfaRegister(DwarfRegister.rbp)), (14, .cfa(DwarfRegister.rsp, 8))]))
        t.add(FrameTable.FDE(cie: id, start: 0x1020, length: 0x8, instructions: [(2, .cfaOffset(32))]))
        let s = try EhFrameWriter.ehFrame(t, address: 0x900)
        let h = try EhFrameHeader(bytes: try EhFrameWriter.ehFrameHeader(for: t, sections: s, address: 0x800), address: 0x800)
        let section = CallFrameSection(kind: .ehFrame, bytes: s.ehFrame, address: 0x900)
        let ra = RegisterRule.offset(-8)
        func row(_ start: UInt64, _ end: UInt64, _ reg: UInt16, _ off: Int64, rbp: Bool = false) -> UnwindRow {
            var rules = RegisterRuleSet()
            rules[DwarfRegister.returnAddress] = ra
            if rbp { rules[DwarfRegister.rbp] = .offset(-16) }
            return UnwindRow(start: start, end: end, cfa: .registerOffset(register: reg, offset: off), registers: rules)
        }
        var expected: [UInt64: UnwindRow?] = [:]
        for pc in UInt64(0xff0)..<0x1040 { expected[pc] = .some(nil) }
        for pc in UInt64(0x1000)..<0x1001 { expected[pc] = row(0x1000, 0x1001, 7, 8) }
        for pc in UInt64(0x1001)..<0x1004 { expected[pc] = row(0x1001, 0x1004, 7, 16) }
        for pc in UInt64(0x1004)..<0x1005 { expected[pc] = row(0x1004, 0x1005, 7, 16, rbp: true) }
        for pc in UInt64(0x1005)..<0x100e { expected[pc] = row(0x1005, 0x100e, 6, 16, rbp: true) }
        for pc in UInt64(0x100e)..<0x1010 { expected[pc] = row(0x100e, 0x1010, 7, 8, rbp: true) }
        for pc in UInt64(0x1020)..<0x1022 { expected[pc] = row(0x1020, 0x1022, 7, 8) }
        for pc in UInt64(0x1022)..<0x1028 { expected[pc] = row(0x1022, 0x1028, 7, 32) }
        for pc in UInt64(0xff0)..<0x1040 {
            let want = expected[pc]!
            for got in try rowsEveryWay(section, header: h, pc: pc) {
                XCTAssertEqual(got, want, "pc 0x\(String(pc, radix: 16))")
            }
        }
    }

    func testRowWithARedundantInstructionHasTheSameRulesWithOrWithoutRowCache() throws {
        // def_cfa_offset 16 twice: the merged table has one row from 1; the uncached point
        // lookup may answer with a narrower range, but never with other rules.
        var t = FrameTable()
        let id = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: id, start: 0x1000, length: 0x10, instructions: [(1, .cfaOffset(16)), (8, .cfaOffset(16))]))
        let s = try EhFrameWriter.ehFrame(t, address: 0x900)
        let section = CallFrameSection(kind: .ehFrame, bytes: s.ehFrame, address: 0x900)
        let cached = try CallFrameInfo(ehFrame: section, rowCacheCapacity: 256)
        let uncached = try CallFrameInfo(ehFrame: section, rowCacheCapacity: 0)
        for pc in UInt64(0x1000)..<0x1010 {
            let a = try XCTUnwrap(try cached.row(at: pc)?.row)
            let b = try XCTUnwrap(try uncached.row(at: pc)?.row)
            XCTAssertTrue(a.hasSameRules(as: b), "pc 0x\(String(pc, radix: 16))")
            XCTAssertTrue((a.start..<a.end).contains(pc))
            XCTAssertTrue((b.start..<b.end).contains(pc))
        }
        XCTAssertEqual(try cached.row(at: 0x1009)?.row.start, 0x1001, "the cached table is merged")
    }
}
