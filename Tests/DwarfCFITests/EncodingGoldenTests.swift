// Golden bytes for what the writer emits: every FrameInstruction and each encoding choice
// EhFrameWriter.encode makes (smallest form; ties to the DWARF 2 opcode), every advance
// width at its boundaries, every rejection with its exact text, GCC's standard x86-64 CIE,
// a whole .eh_frame + .eh_frame_hdr with hand-computed pointers, and the DwarfExpression
// builder's operand-form choices.

import Bytes
import DwarfCFI
import TestSupport
import XCTest

final class EncodingGoldenTests: XCTestCase {
    /// x86-64 defaults: code alignment 1, data alignment -8.
    func bytes(_ i: FrameInstruction, cie: FrameTable.CIE = .x86_64()) throws -> [UInt8] {
        try EhFrameWriter.encoding(of: i, cie: cie)
    }

    func fdeError(_ reason: WriteError.Reason, entry: Int = 0) -> WriteError {
        WriteError(entry: entry, inCIE: false, reason: reason)
    }

    // MARK: DW_CFA_def_cfa / def_cfa_sf

    func testCfaRsp8IsDefCfaBecauseTheTieWithDefCfaSfGoesToDwarf2() throws {
        // def_cfa 7, ULEB 8 (1 byte) vs def_cfa_sf 7, SLEB -1 (1 byte).
        XCTAssertEqual(try bytes(.cfa(7, 8)), [0x0c, 0x07, 0x08])
    }

    func testCfaOffset1024IsDefCfaOnTwoByteTie() throws {
        // ULEB 1024 = 80 08; SLEB -128 = 80 7f: equal sizes.
        XCTAssertEqual(try bytes(.cfa(7, 1024)), [0x0c, 0x07, 0x80, 0x08])
    }

    func testCfaOffset128IsDefCfaSfBecauseFactoredMinus16IsOneByte() throws {
        XCTAssertEqual(try bytes(.cfa(7, 128)), [0x12, 0x07, 0x70])
    }

    func testCfaNegativeOffsetIsDefCfaSf() throws {
        XCTAssertEqual(try bytes(.cfa(7, -8)), [0x12, 0x07, 0x01])
    }

    func testCfaUnfactorableNonNegativeOffsetIsDefCfa() throws {
        XCTAssertEqual(try bytes(.cfa(7, 4)), [0x0c, 0x07, 0x04])
    }

    func testCfaZeroOffsetIsDefCfa() throws {
        XCTAssertEqual(try bytes(.cfa(6, 0)), [0x0c, 0x06, 0x00])
    }

    func testCfaRegisterAbove127IsAMultiByteULEB() throws {
        XCTAssertEqual(try bytes(.cfa(200, 16)), [0x0c, 0xc8, 0x01, 0x10])
    }

    func testCfaNegativeUnfactorableOffsetIsRejected() {
        assertThrowsExactly(fdeError(.offsetNotFactored(-4, factor: -8)),
                            "FDE #0: offset -4 is not a multiple of the data alignment factor -8") {
            _ = try self.bytes(.cfa(7, -4))
        }
    }

    // MARK: DW_CFA_def_cfa_offset / def_cfa_offset_sf

    func testCfaOffset16IsDefCfaOffset() throws {
        XCTAssertEqual(try bytes(.cfaOffset(16)), [0x0e, 0x10])
    }

    func testCfaOffset1024IsDefCfaOffsetOnTwoByteTie() throws {
        XCTAssertEqual(try bytes(.cfaOffset(1024)), [0x0e, 0x80, 0x08])
    }

    func testCfaOffset512IsDefCfaOffsetSfBecauseFactoredMinus64IsOneByte() throws {
        XCTAssertEqual(try bytes(.cfaOffset(512)), [0x13, 0x40])
    }

    func testNegativeCfaOffsetIsDefCfaOffsetSf() throws {
        XCTAssertEqual(try bytes(.cfaOffset(-16)), [0x13, 0x02])
    }

    func testUnfactorableNonNegativeCfaOffsetIsDefCfaOffset() throws {
        XCTAssertEqual(try bytes(.cfaOffset(3)), [0x0e, 0x03])
    }

    func testNegativeUnfactorableCfaOffsetIsRejected() {
        assertThrowsExactly(fdeError(.offsetNotFactored(-3, factor: -8)),
                            "FDE #0: offset -3 is not a multiple of the data alignment factor -8") {
            _ = try self.bytes(.cfaOffset(-3))
        }
    }

    // MARK: def_cfa_register, def_cfa_expression

    func testCfaRegisterIsDefCfaRegister() throws {
        XCTAssertEqual(try bytes(.cfaRegister(6)), [0x0d, 0x06])
        XCTAssertEqual(try bytes(.cfaRegister(300)), [0x0d, 0xac, 0x02])
    }

    func testCfaExpressionIsLengthPrefixedBlock() throws {
        let e = DwarfExpression().breg(DwarfRegister.rsp, 8).deref()
        XCTAssertEqual(try bytes(.cfaExpression(e)), [0x0f, 0x03, 0x77, 0x08, 0x06])
    }

    func testExpressionOf130BytesHasATwoByteULEBLength() throws {
        let e = DwarfExpression(bytes: [UInt8](repeating: DwarfOperation.nop, count: 130))
        XCTAssertEqual(Array(try bytes(.cfaExpression(e)).prefix(3)), [0x0f, 0x82, 0x01])
        XCTAssertEqual(try bytes(.cfaExpression(e)).count, 133)
    }

    // MARK: DW_CFA_offset / offset_extended / offset_extended_sf

    func testOffsetOfRegisterBelow64IsPrimaryOffsetOpcode() throws {
        XCTAssertEqual(try bytes(.offset(DwarfRegister.rbp, -16)), [0x86, 0x02])
        XCTAssertEqual(try bytes(.offset(63, -8)), [0xbf, 0x01])
        XCTAssertEqual(try bytes(.offset(DwarfRegister.rbx, 0)), [0x83, 0x00])
    }

    func testOffsetOfRegister64IsOffsetExtended() throws {
        XCTAssertEqual(try bytes(.offset(64, -8)), [0x05, 0x40, 0x01])
    }

    func testOffsetExtendedKeepsULEBWhenSLEBWouldBeLonger() throws {
        // Factored 64: ULEB 40 (1 byte), SLEB c0 00 (2 bytes).
        XCTAssertEqual(try bytes(.offset(64, -512)), [0x05, 0x40, 0x40])
    }

    func testOffsetAboveTheCFAIsOffsetExtendedSf() throws {
        // Factored -1 cannot be a ULEB.
        XCTAssertEqual(try bytes(.offset(DwarfRegister.rbx, 8)), [0x11, 0x03, 0x7f])
        XCTAssertEqual(try bytes(.offset(100, 16)), [0x11, 0x64, 0x7e])
    }

    func testOffsetNotAMultipleOfDataAlignmentIsRejected() {
        assertThrowsExactly(fdeError(.offsetNotFactored(-12, factor: -8)),
                            "FDE #0: offset -12 is not a multiple of the data alignment factor -8") {
            _ = try self.bytes(.offset(DwarfRegister.rbx, -12))
        }
    }

    func testOffsetWithDataAlignmentFactor4EncodesQuotient() throws {
        let cie = FrameTable.CIE(dataAlignmentFactor: 4, initialInstructions: [])
        XCTAssertEqual(try bytes(.offset(DwarfRegister.rbx, 12), cie: cie), [0x83, 0x03])
        XCTAssertEqual(try bytes(.offset(DwarfRegister.rbx, -12), cie: cie), [0x11, 0x03, 0x7d])
    }

    // MARK: DW_CFA_val_offset / val_offset_sf

    func testValOffsetWithNonNegativeFactoredOffsetIsValOffset() throws {
        XCTAssertEqual(try bytes(.valOffset(DwarfRegister.rbx, -16)), [0x14, 0x03, 0x02])
    }

    func testValOffsetWithNegativeFactoredOffsetIsValOffsetSf() throws {
        XCTAssertEqual(try bytes(.valOffset(DwarfRegister.rbx, 16)), [0x15, 0x03, 0x7e])
    }

    func testValOffsetNotAMultipleOfDataAlignmentIsRejected() {
        assertThrowsExactly(fdeError(.offsetNotFactored(-12, factor: -8)),
                            "FDE #0: offset -12 is not a multiple of the data alignment factor -8") {
            _ = try self.bytes(.valOffset(DwarfRegister.rbx, -12))
        }
    }

    // MARK: The other register rules

    func testRegisterIsDwCfaRegister() throws {
        XCTAssertEqual(try bytes(.register(DwarfRegister.rbx, DwarfRegister.r12)), [0x09, 0x03, 0x0c])
    }

    func testRestoreBelow64IsPrimaryRestoreOpcode() throws {
        XCTAssertEqual(try bytes(.restore(DwarfRegister.rbx)), [0xc3])
        XCTAssertEqual(try bytes(.restore(63)), [0xff])
    }

    func testRestoreOf64AndAboveIsRestoreExtended() throws {
        XCTAssertEqual(try bytes(.restore(64)), [0x06, 0x40])
        XCTAssertEqual(try bytes(.restore(200)), [0x06, 0xc8, 0x01])
    }

    func testUndefinedAndSameValue() throws {
        XCTAssertEqual(try bytes(.undefined(DwarfRegister.returnAddress)), [0x07, 0x10])
        XCTAssertEqual(try bytes(.sameValue(DwarfRegister.rbx)), [0x08, 0x03])
    }

    func testRememberAndRestoreState() throws {
        XCTAssertEqual(try bytes(.rememberState), [0x0a])
        XCTAssertEqual(try bytes(.restoreState), [0x0b])
    }

    func testExpressionAndValExpressionAreRegisterThenBlock() throws {
        let e = DwarfExpression().constant(16).minus()
        XCTAssertEqual(try bytes(.expression(DwarfRegister.rbp, e)), [0x10, 0x06, 0x02, 0x40, 0x1c])
        XCTAssertEqual(try bytes(.valExpression(DwarfRegister.rbp, e)), [0x16, 0x06, 0x02, 0x40, 0x1c])
    }

    func testArgsSizeIsGNUArgsSizeWithULEB() throws {
        XCTAssertEqual(try bytes(.argsSize(16)), [0x2e, 0x10])
        XCTAssertEqual(try bytes(.argsSize(200)), [0x2e, 0xc8, 0x01])
    }

    // MARK: Advances

    func testAdvanceOf0EmitsNothing() throws {
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 0), [])
    }

    func testAdvanceOf1And63ArePrimaryAdvanceLoc() throws {
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 1), [0x41])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 63), [0x7f])
    }

    func testAdvanceOf64And255AreAdvanceLoc1() throws {
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 64), [0x02, 0x40])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 255), [0x02, 0xff])
    }

    func testAdvanceOf256And65535AreAdvanceLoc2() throws {
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 256), [0x03, 0x00, 0x01])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 65535), [0x03, 0xff, 0xff])
    }

    func testAdvanceOf65536AndUInt32MaxAreAdvanceLoc4() throws {
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 65536), [0x04, 0x00, 0x00, 0x01, 0x00])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: UInt64(UInt32.max)), [0x04, 0xff, 0xff, 0xff, 0xff])
    }

    func testAdvanceOf2To32IsTooLarge() {
        assertThrowsExactly(fdeError(.advanceTooLarge(1 << 32)),
                            "FDE #0: advance of 4294967296 does not fit DW_CFA_advance_loc4") {
            _ = try EhFrameWriter.advanceEncoding(by: 1 << 32)
        }
    }

    func testCodeAlignment4FactorsAdvancesBeforeChoosingTheWidth() throws {
        let cie = FrameTable.CIE(codeAlignmentFactor: 4, initialInstructions: [])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 4, cie: cie), [0x41])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 252, cie: cie), [0x7f])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 256, cie: cie), [0x02, 0x40])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 1020, cie: cie), [0x02, 0xff])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 1024, cie: cie), [0x03, 0x00, 0x01])
        XCTAssertEqual(try EhFrameWriter.advanceEncoding(by: 262_144, cie: cie), [0x04, 0x00, 0x00, 0x01, 0x00])
    }

    func testCodeAlignment4AdvanceOf2To34IsTooLargeWithTheFactoredCount() {
        let cie = FrameTable.CIE(codeAlignmentFactor: 4, initialInstructions: [])
        assertThrowsExactly(fdeError(.advanceTooLarge(1 << 32)),
                            "FDE #0: advance of 4294967296 does not fit DW_CFA_advance_loc4") {
            _ = try EhFrameWriter.advanceEncoding(by: 1 << 34, cie: cie)
        }
    }

    func testCodeOffsetNotAMultipleOfCodeAlignmentIsRejected() {
        let cie = FrameTable.CIE(codeAlignmentFactor: 4, initialInstructions: [])
        assertThrowsExactly(fdeError(.codeOffsetNotFactored(6, factor: 4)),
                            "FDE #0: code offset 6 is not a multiple of the code alignment factor 4") {
            _ = try EhFrameWriter.advanceEncoding(by: 6, cie: cie)
        }
    }

    func testEncodingWithAZeroDataAlignmentFactorIsRejectedNotADivisionTrap() {
        let cie = FrameTable.CIE(dataAlignmentFactor: 0, initialInstructions: [])
        assertThrowsExactly(fdeError(.zeroFactor), "FDE #0: alignment factors must be non-zero") {
            _ = try self.bytes(.offset(DwarfRegister.rbx, -8), cie: cie)
        }
    }

    func testAdvanceWithAZeroCodeAlignmentFactorIsRejectedNotADivisionTrap() {
        let cie = FrameTable.CIE(codeAlignmentFactor: 0, initialInstructions: [])
        assertThrowsExactly(fdeError(.zeroFactor), "FDE #0: alignment factors must be non-zero") {
            _ = try EhFrameWriter.advanceEncoding(by: 4, cie: cie)
        }
    }

    // MARK: Whole-table rejections

    func table(cie: FrameTable.CIE = .x86_64(), fdes: [(UInt64, UInt64, UInt64?, [(offset: UInt64, instruction: FrameInstruction)])])
        -> FrameTable {
        var t = FrameTable()
        let id = t.add(cie)
        for (start, length, lsda, instructions) in fdes {
            t.add(FrameTable.FDE(cie: id, start: start, length: length, lsda: lsda, instructions: instructions))
        }
        return t
    }

    func testDecreasingCodeOffsetsAreRejected() {
        let t = table(fdes: [(0x1000, 0x20, nil, [(4, .cfaOffset(16)), (2, .cfaOffset(8))])])
        assertThrowsExactly(fdeError(.codeOffsetsDecrease(2, after: 4)), "FDE #0: code offset 2 comes after 4") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testCodeOffsetAtTheFunctionsEndIsRejectedWithTheFDEIndex() {
        let t = table(fdes: [(0x1000, 0x10, nil, []), (0x1010, 0x10, nil, [(16, .cfaOffset(16))])])
        assertThrowsExactly(fdeError(.codeOffsetBeyondFunction(16, length: 16), entry: 1),
                            "FDE #1: code offset 16 is outside the function (length 16)") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testInstructionAtOffset0OfAnEmptyFunctionIsAccepted() throws {
        let t = table(fdes: [(0x1000, 0, nil, [(0, .cfaOffset(16))])])
        let s = try EhFrameWriter.ehFrame(t, address: 0x2000)
        // FDE at 24: length, CIE pointer, start, range, augmentation length, then the
        // instruction with no advance before it.
        XCTAssertEqual(Array(s.ehFrame[41..<43]), [0x0e, 0x10])
        XCTAssertEqual(Array(s.ehFrame[36..<40]), [0, 0, 0, 0], "range 0")
    }

    func testLSDAWithoutLSDAEncodingIsRejected() {
        let t = table(fdes: [(0x1000, 0x10, 0x5000, [])])
        assertThrowsExactly(fdeError(.lsdaMismatch),
                            "FDE #0: an LSDA is given if and only if the CIE has an LSDA encoding") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testLSDAEncodingWithoutLSDAIsRejected() {
        var cie = FrameTable.CIE.x86_64()
        cie.lsdaEncoding = .pcrel | .sdata4
        let t = table(cie: cie, fdes: [(0x1000, 0x10, nil, [])])
        assertThrowsExactly(fdeError(.lsdaMismatch),
                            "FDE #0: an LSDA is given if and only if the CIE has an LSDA encoding") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testZeroAlignmentFactorIsRejectedInTheCIE() {
        let t = table(cie: FrameTable.CIE(codeAlignmentFactor: 0, initialInstructions: []), fdes: [])
        assertThrowsExactly(WriteError(entry: 0, inCIE: true, reason: .zeroFactor),
                            "CIE #0: alignment factors must be non-zero") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testReturnAddressRegisterAbove255IsRejectedForVersion1() {
        let t = table(cie: FrameTable.CIE(returnAddressRegister: 300, initialInstructions: []), fdes: [])
        assertThrowsExactly(WriteError(entry: 0, inCIE: true, reason: .registerNumberTooLarge(300)),
                            "CIE #0: return address register 300 does not fit CIE version 1") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testDatarelFDEEncodingIsUnsupportedByTheWriter() {
        let t = table(cie: FrameTable.CIE(fdeEncoding: .datarel | .sdata4, initialInstructions: []), fdes: [])
        assertThrowsExactly(WriteError(entry: 0, inCIE: true, reason: .unsupportedEncoding(.datarel | .sdata4)),
                            "CIE #0: pointer encoding 0x3b is not supported by the writer") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testUnfactorableInitialInstructionIsRejectedInTheCIE() {
        let t = table(cie: FrameTable.CIE(initialInstructions: [.offset(16, -4)]), fdes: [])
        assertThrowsExactly(WriteError(entry: 0, inCIE: true, reason: .offsetNotFactored(-4, factor: -8)),
                            "CIE #0: offset -4 is not a multiple of the data alignment factor -8") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    func testFunctionFartherThan2GiBFromItsPcrelSdata4FieldIsOutOfRange() {
        let t = table(fdes: [(0x1_0000_2000, 0x10, nil, [])])
        assertThrowsExactly(fdeError(.pointerOutOfRange(0x1_0000_2000, encoding: .pcrel | .sdata4)),
                            "FDE #0: 0x100002000 does not fit pointer encoding 0x1b") {
            _ = try EhFrameWriter.ehFrame(t, address: 0x2000)
        }
    }

    // MARK: Golden sections

    func testX86_64DefaultCIEIsExactlyGCCsStandard24ByteCIE() throws {
        var t = FrameTable()
        _ = t.add(.x86_64())
        let s = try EhFrameWriter.ehFrame(t, address: 0x1000)
        XCTAssertEqual(Array(s.ehFrame.prefix(24)), [
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7a, 0x52, 0x00,
            0x01, 0x78, 0x10, 0x01, 0x1b, 0x0c, 0x07, 0x08, 0x90, 0x01, 0x00, 0x00,
        ])
        XCTAssertEqual(Array(s.ehFrame.dropFirst(24)), [0, 0, 0, 0], "then only the zero terminator")
        XCTAssertEqual(s.cieOffsets, [0])
    }

    func testSignalFrameCIEHasAugmentationZRS() throws {
        var t = FrameTable()
        _ = t.add(.x86_64(isSignalFrame: true))
        let s = try EhFrameWriter.ehFrame(t, address: 0x1000)
        XCTAssertEqual(Array(s.ehFrame.prefix(24)), [
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7a, 0x52, 0x53,
            0x00, 0x01, 0x78, 0x10, 0x01, 0x1b, 0x0c, 0x07, 0x08, 0x90, 0x01, 0x00,
        ])
    }

    func testPersonalityAndLSDAGoIntoAugmentationDataInPLROrderWithPcrelValues() throws {
        var cie = FrameTable.CIE.x86_64()
        cie.personality = .init(encoding: .pcrel | .sdata4 | .indirect, address: 0x3000)
        cie.lsdaEncoding = .pcrel | .sdata4
        var t = FrameTable()
        let id = t.add(cie)
        t.add(FrameTable.FDE(cie: id, start: 0x1100, length: 8, lsda: 0x4000))
        let s = try EhFrameWriter.ehFrame(t, address: 0x1000)
        // CIE: "zPLR"; augmentation data at 0x12: 9b, then the personality field at 0x13:
        // 0x3000 - 0x1013 = 0x1fed; then the L and R encodings.
        XCTAssertEqual(Array(s.ehFrame.prefix(32)), [
            0x1c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7a, 0x50, 0x4c,
            0x52, 0x00, 0x01, 0x78, 0x10, 0x07, 0x9b, 0xed, 0x1f, 0x00, 0x00, 0x1b,
            0x1b, 0x0c, 0x07, 0x08, 0x90, 0x01, 0x00, 0x00,
        ])
        // FDE at 0x20: start field at 0x28 -> 0x1100 - 0x1028 = 0xd8; LSDA field at 0x31:
        // 0x4000 - 0x1031 = 0x2fcf.
        XCTAssertEqual(Array(s.ehFrame[32..<56]), [
            0x14, 0x00, 0x00, 0x00, 0x24, 0x00, 0x00, 0x00, 0xd8, 0x00, 0x00, 0x00,
            0x08, 0x00, 0x00, 0x00, 0x04, 0xcf, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00,
        ])
    }

    /// One CIE and two FDEs, the second at a lower address so the header must sort.
    static func goldenTable() -> FrameTable {
        var t = FrameTable()
        let id = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: id, start: 0x5000, length: 0x20,
                             instructions: [(1, .cfaOffset(16)), (4, .offset(DwarfRegister.rbp, -16))]))
        t.add(FrameTable.FDE(cie: id, start: 0x4000, length: 0x10))
        return t
    }

    static let goldenEhFrame: [UInt8] = [
        // CIE at 0x0.
        0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x7a, 0x52, 0x00,
        0x01, 0x78, 0x10, 0x01, 0x1b, 0x0c, 0x07, 0x08, 0x90, 0x01, 0x00, 0x00,
        // FDE at 0x18: CIE pointer 0x1c (field at 0x1c); start field at 0x1120:
        // 0x5000 - 0x1120 = 0x3ee0; range 0x20; no augmentation data;
        // advance_loc 1, def_cfa_offset 16, advance_loc 3, offset rbp cfa-16, nop.
        0x14, 0x00, 0x00, 0x00, 0x1c, 0x00, 0x00, 0x00, 0xe0, 0x3e, 0x00, 0x00,
        0x20, 0x00, 0x00, 0x00, 0x00, 0x41, 0x0e, 0x10, 0x43, 0x86, 0x02, 0x00,
        // FDE at 0x30: CIE pointer 0x34; start field at 0x1138: 0x4000 - 0x1138 = 0x2ec8.
        0x14, 0x00, 0x00, 0x00, 0x34, 0x00, 0x00, 0x00, 0xc8, 0x2e, 0x00, 0x00,
        0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        // Terminator.
        0x00, 0x00, 0x00, 0x00,
    ]

    static let goldenHeader: [UInt8] = [
        0x01, 0x1b, 0x03, 0x3b,
        0xfc, 0x00, 0x00, 0x00,  // eh_frame_ptr: 0x1100 - 0x1004
        0x02, 0x00, 0x00, 0x00,  // fde_count
        0x00, 0x30, 0x00, 0x00, 0x30, 0x01, 0x00, 0x00,  // 0x4000 -> FDE 0x1130, relative to 0x1000
        0x00, 0x40, 0x00, 0x00, 0x18, 0x01, 0x00, 0x00,  // 0x5000 -> FDE 0x1118
    ]

    func testWholeEhFrameOfOneCIEAndTwoFDEsAt0x1100IsGolden() throws {
        let s = try EhFrameWriter.ehFrame(Self.goldenTable(), address: 0x1100)
        XCTAssertEqual(s.ehFrame, Self.goldenEhFrame)
        XCTAssertEqual(s.cieOffsets, [0])
        XCTAssertEqual(s.fdeOffsets, [0x18, 0x30])
        XCTAssertEqual(s.ehFrameAddress, 0x1100)
    }

    func testEhFrameHdrAt0x1000IsGoldenAndSortedByInitialLocation() throws {
        let t = Self.goldenTable()
        let s = try EhFrameWriter.ehFrame(t, address: 0x1100)
        XCTAssertEqual(try EhFrameWriter.ehFrameHeader(for: t, sections: s, address: 0x1000), Self.goldenHeader)
    }

    func testGoldenEhFrameHdrParsesBackToItsFields() throws {
        let h = try EhFrameHeader(bytes: Self.goldenHeader, address: 0x1000)
        XCTAssertEqual(h.version, 1)
        XCTAssertEqual(h.ehFramePointerEncoding, .pcrel | .sdata4)
        XCTAssertEqual(h.countEncoding, .udata4)
        XCTAssertEqual(h.tableEncoding, .datarel | .sdata4)
        XCTAssertEqual(h.ehFrameAddress, 0x1100)
        XCTAssertEqual(h.count, 2)
        XCTAssertEqual(try h.entry(0).location, 0x4000)
        XCTAssertEqual(try h.entry(0).fde, 0x1130)
        XCTAssertEqual(try h.entry(1).location, 0x5000)
        XCTAssertEqual(try h.entry(1).fde, 0x1118)
    }

    func testHeaderTableEntryFartherThan2GiBFromTheHeaderIsOutOfRange() throws {
        var t = FrameTable()
        let id = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: id, start: 0x9000_0000, length: 0x10))
        // Reachable pc-relative from .eh_frame at 0x7000_0000, not datarel from the header.
        let s = try EhFrameWriter.ehFrame(t, address: 0x7000_0000)
        assertThrowsExactly(WriteError(entry: 0, inCIE: false, reason: .pointerOutOfRange(0x8fff_f000, encoding: .datarel | .sdata4)),
                            "FDE #0: 0x8ffff000 does not fit pointer encoding 0x3b") {
            _ = try EhFrameWriter.ehFrameHeader(for: t, sections: s, address: 0x1000)
        }
    }

    // MARK: DwarfExpression builder

    func testConstant0And31AreLiterals() {
        XCTAssertEqual(DwarfExpression().constant(0).bytes, [0x30])
        XCTAssertEqual(DwarfExpression().constant(31).bytes, [0x4f])
    }

    func testConstant32And255AreConst1u() {
        // const1u 32 (2 bytes) ties constu 32 (2 bytes): the fixed form wins.
        XCTAssertEqual(DwarfExpression().constant(32).bytes, [0x08, 0x20])
        XCTAssertEqual(DwarfExpression().constant(255).bytes, [0x08, 0xff])
    }

    func testConstant256And65535AreConst2u() {
        XCTAssertEqual(DwarfExpression().constant(256).bytes, [0x0a, 0x00, 0x01])
        XCTAssertEqual(DwarfExpression().constant(65535).bytes, [0x0a, 0xff, 0xff])
    }

    func testConstant65536IsConstuBecauseItsULEBIsShorterThanConst4u() {
        XCTAssertEqual(DwarfExpression().constant(65536).bytes, [0x10, 0x80, 0x80, 0x04])
    }

    func testConstant2To21IsConst4uOnTie() {
        XCTAssertEqual(DwarfExpression().constant(1 << 21).bytes, [0x0c, 0x00, 0x00, 0x20, 0x00])
        XCTAssertEqual(DwarfExpression().constant(UInt64(UInt32.max)).bytes, [0x0c, 0xff, 0xff, 0xff, 0xff])
    }

    func testConstant2To32IsConstu() {
        XCTAssertEqual(DwarfExpression().constant(1 << 32).bytes, [0x10, 0x80, 0x80, 0x80, 0x80, 0x10])
    }

    func testConstant2To48IsConstuAnd2To55IsConst8uOnTie() {
        XCTAssertEqual(DwarfExpression().constant(1 << 48).bytes, [0x10, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40])
        XCTAssertEqual(DwarfExpression().constant(1 << 55).bytes, [0x0e, 0, 0, 0, 0, 0, 0, 0x80, 0])
    }

    func testConstantUInt64MaxIsConst8u() {
        XCTAssertEqual(DwarfExpression().constant(UInt64.max).bytes, [0x0e] + [UInt8](repeating: 0xff, count: 8))
    }

    func testSignedConstantNonNegativeUsesUnsignedForms() {
        XCTAssertEqual(DwarfExpression().signedConstant(5).bytes, [0x35])
        XCTAssertEqual(DwarfExpression().signedConstant(200).bytes, [0x08, 0xc8])
    }

    func testSignedConstantMinus1AndMinus128AreConst1s() {
        XCTAssertEqual(DwarfExpression().signedConstant(-1).bytes, [0x09, 0xff])
        XCTAssertEqual(DwarfExpression().signedConstant(-128).bytes, [0x09, 0x80])
    }

    func testSignedConstantMinus129AndMinus32768AreConst2s() {
        XCTAssertEqual(DwarfExpression().signedConstant(-129).bytes, [0x0b, 0x7f, 0xff])
        XCTAssertEqual(DwarfExpression().signedConstant(-32768).bytes, [0x0b, 0x00, 0x80])
    }

    func testSignedConstantMinus32769IsConstsBecauseItsSLEBIsShorterThanConst4s() {
        XCTAssertEqual(DwarfExpression().signedConstant(-32769).bytes, [0x11, 0xff, 0xff, 0x7d])
    }

    func testSignedConstantInt32MinIsConst4sAndInt64MinIsConst8s() {
        XCTAssertEqual(DwarfExpression().signedConstant(Int64(Int32.min)).bytes, [0x0d, 0x00, 0x00, 0x00, 0x80])
        XCTAssertEqual(DwarfExpression().signedConstant(Int64.min).bytes, [0x0f, 0, 0, 0, 0, 0, 0, 0, 0x80])
    }

    func testBregBelow32IsBregNAndAboveIsBregx() {
        XCTAssertEqual(DwarfExpression().breg(DwarfRegister.rsp, 8).bytes, [0x77, 0x08])
        XCTAssertEqual(DwarfExpression().breg(31, -1).bytes, [0x8f, 0x7f])
        XCTAssertEqual(DwarfExpression().breg(32, 0).bytes, [0x92, 0x20, 0x00])
        XCTAssertEqual(DwarfExpression().breg(200, -200).bytes, [0x92, 0xc8, 0x01, 0xb8, 0x7e])
    }

    func testSkipAndBranchCarryLittleEndianInt16Distances() {
        XCTAssertEqual(DwarfExpression().skip(-3).bytes, [0x2f, 0xfd, 0xff])
        XCTAssertEqual(DwarfExpression().branch(0x102).bytes, [0x28, 0x02, 0x01])
    }

    func testOperatorMethodsEmitTheirOpcodesInOrder() {
        let e = DwarfExpression().deref().derefSize(4).plusUconst(300).plus().minus().mul().and().or().xor()
            .shl().shr().shra().neg().not().dup().drop().swap().over().rot().pick(2).compare(DwarfOperation.lt).nop()
            .raw([0x9c])
        XCTAssertEqual(e.bytes, [0x06, 0x94, 0x04, 0x23, 0xac, 0x02, 0x22, 0x1c, 0x1e, 0x1a, 0x21, 0x27,
                                 0x24, 0x25, 0x26, 0x1f, 0x20, 0x12, 0x13, 0x16, 0x14, 0x17, 0x15, 0x02, 0x2d, 0x96, 0x9c])
    }

    func testDescriptionIsSpaceSeparatedHex() {
        XCTAssertEqual(DwarfExpression().breg(7, 8).deref().description, "77 8 6")
    }
}
