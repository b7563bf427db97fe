// Evaluation: the rows UnwindTableBuilder makes of each DW_CFA opcode (exact CFA rule,
// register rules and row boundaries), its limits with their typed errors and offsets, every
// DW_OP ExpressionEvaluator supports and each of its errors, and UnwindStep on hand-built
// rows over a hand-built stack.

import Bytes
import DwarfCFI
import TestSupport
import XCTest

final class EvaluationTests: XCTestCase {
    static let fileOffset: UInt64 = 0x400
    let rsp8 = CFARule.registerOffset(register: DwarfRegister.rsp, offset: 8)
    let ra: (UInt16, RegisterRule) = (DwarfRegister.returnAddress, .offset(-8))

    func rules(_ pairs: [(UInt16, RegisterRule)]) -> RegisterRuleSet {
        var s = RegisterRuleSet()
        for (r, rule) in pairs { s[r] = rule }
        return s
    }

    func row(_ start: UInt64, _ end: UInt64, _ cfa: CFARule, _ regs: [(UInt16, RegisterRule)], args: UInt64 = 0) -> UnwindRow {
        UnwindRow(start: start, end: end, cfa: cfa, registers: rules(regs), argumentsSize: args)
    }

    func rspCFA(_ offset: Int64) -> CFARule { .registerOffset(register: DwarfRegister.rsp, offset: offset) }

    /// The rows of an FDE for [0x1000, 0x1000+length) running `program` after the x86-64
    /// CIE (CFA rsp+8, ra at CFA-8). The program starts at section index `programStart`.
    func rows(_ program: [UInt8], length: UInt32 = 0x100, caf: UInt64 = 1,
              cieProgram: [UInt8] = [0x0c, 0x07, 0x08, 0x90, 0x01], limits: UnwindLimits = .default,
              rememberedStateIncludesCFA: Bool = true) throws -> [UnwindRow] {
        let (section, fdeOffset, _) = HandCFI.section(cieProgram: cieProgram, length: length, program: program, caf: caf,
                                                      fileOffset: Self.fileOffset)
        let (fde, cie) = try section.fde(at: fdeOffset)
        return try UnwindTableBuilder.rows(fde: fde, cie: cie, section: section, limits: limits,
                                           rememberedStateIncludesCFA: rememberedStateIncludesCFA)
    }

    /// File offset of byte `index` of `program` (as passed to `rows`).
    func at(_ index: Int) -> UInt64 {
        Self.fileOffset + UInt64(HandCFI.section(program: []).programStart + index)
    }

    var programStart: Int { HandCFI.section(program: []).programStart }

    // MARK: Initial state

    func testInitialRowIsTheCIEsRulesWithAnEmptyRange() throws {
        let (section, _, _) = HandCFI.section(program: [])
        let cie = try section.cie(at: 0)
        let initial = try UnwindTableBuilder.initialRow(cie: cie, section: section)
        XCTAssertEqual(initial, row(0, 0, rsp8, [ra]))
    }

    func testFDEWithoutInstructionsIsOneRowOfTheCIEsRulesOverTheWholeFunction() throws {
        XCTAssertEqual(try rows([]), [row(0x1000, 0x1100, rsp8, [ra])])
    }

    func testAdvanceInTheCIEsInitialInstructionsIsIgnored() throws {
        // CIE: def_cfa rsp 8, advance_loc 4, offset ra. The FDE starts with both rules.
        XCTAssertEqual(try rows([], cieProgram: [0x0c, 0x07, 0x08, 0x44, 0x90, 0x01]),
                       [row(0x1000, 0x1100, rsp8, [ra])])
    }

    // MARK: Location opcodes

    func testAdvanceLocSplitsTheRowAtTheNewLocation() throws {
        XCTAssertEqual(try rows([0x41, 0x0e, 0x10]),
                       [row(0x1000, 0x1001, rsp8, [ra]), row(0x1001, 0x1100, rspCFA(16), [ra])])
    }

    func testAdvanceLocIsMultipliedByTheCodeAlignmentFactor() throws {
        XCTAssertEqual(try rows([0x41, 0x0e, 0x10], caf: 4),
                       [row(0x1000, 0x1004, rsp8, [ra]), row(0x1004, 0x1100, rspCFA(16), [ra])])
    }

    func testAdvanceLoc1() throws {
        XCTAssertEqual(try rows([0x02, 0x80, 0x0e, 0x10]),
                       [row(0x1000, 0x1080, rsp8, [ra]), row(0x1080, 0x1100, rspCFA(16), [ra])])
    }

    func testAdvanceLoc2() throws {
        XCTAssertEqual(try rows([0x03, 0x90, 0x00, 0x0e, 0x10]),
                       [row(0x1000, 0x1090, rsp8, [ra]), row(0x1090, 0x1100, rspCFA(16), [ra])])
    }

    func testAdvanceLoc4() throws {
        XCTAssertEqual(try rows([0x04, 0xa0, 0x00, 0x00, 0x00, 0x0e, 0x10]),
                       [row(0x1000, 0x10a0, rsp8, [ra]), row(0x10a0, 0x1100, rspCFA(16), [ra])])
    }

    func testSetLocMovesToAnAbsoluteAddress() throws {
        XCTAssertEqual(try rows([0x01] + HandCFI.u32(0x1010) + [0x0e, 0x10]),
                       [row(0x1000, 0x1010, rsp8, [ra]), row(0x1010, 0x1100, rspCFA(16), [ra])])
    }

    func testSetLocBackwardsIsAnErrorAtTheSetLoc() {
        assertThrowsExactly(CFIError(offset: at(3), reason: .locationDecreases(from: 0x1001, to: 0x1000)),
                            "at 0x\(String(at(3), radix: 16)): location moves back from 0x1001 to 0x1000") {
            _ = try self.rows([0x41, 0x0e, 0x10, 0x01] + HandCFI.u32(0x1000))
        }
    }

    func testAdvancePastTheFDEsEndDropsTheRowsThere() throws {
        XCTAssertEqual(try rows([0x48, 0x0e, 0x10, 0x02, 0x20, 0x0e, 0x20], length: 0x10),
                       [row(0x1000, 0x1008, rsp8, [ra]), row(0x1008, 0x1010, rspCFA(16), [ra])])
    }

    func testAdvanceExactlyToTheFDEsEndDropsTheFollowingRule() throws {
        XCTAssertEqual(try rows([0x50, 0x0e, 0x10], length: 0x10), [row(0x1000, 0x1010, rsp8, [ra])])
    }

    func testNopsMakeNoRows() throws {
        XCTAssertEqual(try rows([0x00, 0x41, 0x00, 0x0e, 0x10, 0x00]),
                       [row(0x1000, 0x1001, rsp8, [ra]), row(0x1001, 0x1100, rspCFA(16), [ra])])
    }

    func testIdenticalNeighbouringRowsAreMerged() throws {
        XCTAssertEqual(try rows([0x41, 0x0e, 0x10, 0x41, 0x0e, 0x10]),
                       [row(0x1000, 0x1001, rsp8, [ra]), row(0x1001, 0x1100, rspCFA(16), [ra])])
    }

    func testRememberThenRestoreWithNoChangeLeavesOneRow() throws {
        XCTAssertEqual(try rows([0x41, 0x0a, 0x41, 0x0b]), [row(0x1000, 0x1100, rsp8, [ra])])
    }

    // MARK: CFA opcodes

    func testDefCfaSetsRegisterAndUnfactoredOffset() throws {
        XCTAssertEqual(try rows([0x41, 0x0c, 0x06, 0x20]).last,
                       row(0x1001, 0x1100, .registerOffset(register: DwarfRegister.rbp, offset: 32), [ra]))
    }

    func testDefCfaSfFactorsItsOffsetByTheDataAlignmentFactor() throws {
        XCTAssertEqual(try rows([0x41, 0x12, 0x06, 0x7e]).last,
                       row(0x1001, 0x1100, .registerOffset(register: DwarfRegister.rbp, offset: 16), [ra]))
    }

    func testDefCfaRegisterKeepsTheOffset() throws {
        XCTAssertEqual(try rows([0x41, 0x0d, 0x06]).last,
                       row(0x1001, 0x1100, .registerOffset(register: DwarfRegister.rbp, offset: 8), [ra]))
    }

    func testDefCfaOffsetKeepsTheRegister() throws {
        XCTAssertEqual(try rows([0x41, 0x0e, 0x20]).last, row(0x1001, 0x1100, rspCFA(32), [ra]))
    }

    func testDefCfaOffsetSfIsFactored() throws {
        XCTAssertEqual(try rows([0x41, 0x13, 0x7c]).last, row(0x1001, 0x1100, rspCFA(32), [ra]))
    }

    func testDefCfaExpressionIsTheBlocksRangeInTheSection() throws {
        let rs = try rows([0x41, 0x0f, 0x02, 0x77, 0x10])
        let e = RuleExpression(index: UInt32(programStart + 3), count: 2)
        XCTAssertEqual(rs.last, row(0x1001, 0x1100, .expression(e), [ra]))
        let (bytes, origin) = try rs.last!.expression(e)
        XCTAssertEqual(Array(bytes), [0x77, 0x10])
        XCTAssertEqual(origin, at(3))
    }

    // MARK: Register opcodes

    func testUndefined() throws {
        XCTAssertEqual(try rows([0x41, 0x07, 0x10]).last, row(0x1001, 0x1100, rsp8, [(16, .undefined)]))
    }

    func testSameValue() throws {
        XCTAssertEqual(try rows([0x41, 0x08, 0x03]).last, row(0x1001, 0x1100, rsp8, [(3, .sameValue), ra]))
    }

    func testOffsetIsFactored() throws {
        XCTAssertEqual(try rows([0x41, 0x83, 0x02]).last, row(0x1001, 0x1100, rsp8, [(3, .offset(-16)), ra]))
    }

    func testOffsetExtendedIsFactored() throws {
        XCTAssertEqual(try rows([0x41, 0x05, 0x03, 0x02]).last, row(0x1001, 0x1100, rsp8, [(3, .offset(-16)), ra]))
    }

    func testOffsetExtendedSfNegativeFactorIsAboveTheCFA() throws {
        XCTAssertEqual(try rows([0x41, 0x11, 0x03, 0x7f]).last, row(0x1001, 0x1100, rsp8, [(3, .offset(8)), ra]))
    }

    func testGNUNegativeOffsetExtendedNegatesTheFactoredOffset() throws {
        XCTAssertEqual(try rows([0x41, 0x2f, 0x03, 0x02]).last, row(0x1001, 0x1100, rsp8, [(3, .offset(16)), ra]))
    }

    func testValOffset() throws {
        XCTAssertEqual(try rows([0x41, 0x14, 0x03, 0x02]).last, row(0x1001, 0x1100, rsp8, [(3, .valOffset(-16)), ra]))
    }

    func testValOffsetSf() throws {
        XCTAssertEqual(try rows([0x41, 0x15, 0x03, 0x7e]).last, row(0x1001, 0x1100, rsp8, [(3, .valOffset(16)), ra]))
    }

    func testRegister() throws {
        XCTAssertEqual(try rows([0x41, 0x09, 0x03, 0x0c]).last, row(0x1001, 0x1100, rsp8, [(3, .register(12)), ra]))
    }

    func testExpressionRuleIsTheBlocksRange() throws {
        let e = RuleExpression(index: UInt32(programStart + 4), count: 1)
        XCTAssertEqual(try rows([0x41, 0x10, 0x03, 0x01, 0x30]).last, row(0x1001, 0x1100, rsp8, [(3, .expression(e)), ra]))
    }

    func testValExpressionRuleIsTheBlocksRange() throws {
        let e = RuleExpression(index: UInt32(programStart + 4), count: 2)
        XCTAssertEqual(try rows([0x41, 0x16, 0x03, 0x02, 0x38, 0x1c]).last,
                       row(0x1001, 0x1100, rsp8, [(3, .valExpression(e)), ra]))
    }

    func testRestoreReturnsToTheCIEsRule() throws {
        XCTAssertEqual(try rows([0x41, 0x90, 0x02, 0x41, 0xd0]), [
            row(0x1000, 0x1001, rsp8, [ra]),
            row(0x1001, 0x1002, rsp8, [(16, .offset(-16))]),
            row(0x1002, 0x1100, rsp8, [ra]),
        ])
    }

    func testRestoreExtendedReturnsToTheCIEsRule() throws {
        XCTAssertEqual(try rows([0x41, 0x90, 0x02, 0x41, 0x06, 0x10]).last, row(0x1002, 0x1100, rsp8, [ra]))
    }

    func testRestoreOfARegisterTheCIENeverNamedMakesItUnspecified() throws {
        XCTAssertEqual(try rows([0x41, 0x83, 0x02, 0x41, 0xc3]), [
            row(0x1000, 0x1001, rsp8, [ra]),
            row(0x1001, 0x1002, rsp8, [(3, .offset(-16)), ra]),
            row(0x1002, 0x1100, rsp8, [ra]),
        ])
    }

    func testRememberAndRestoreStateRestoresRegisterRulesAndTheCFA() throws {
        // 1: CFA rsp+16, rbx at CFA-16. 2: remember; CFA rsp+32; r12 at CFA-24. 3: restore.
        XCTAssertEqual(try rows([0x41, 0x0e, 0x10, 0x83, 0x02, 0x41, 0x0a, 0x0e, 0x20, 0x8c, 0x03, 0x41, 0x0b]), [
            row(0x1000, 0x1001, rsp8, [ra]),
            row(0x1001, 0x1002, rspCFA(16), [(3, .offset(-16)), ra]),
            row(0x1002, 0x1003, rspCFA(32), [(3, .offset(-16)), (12, .offset(-24)), ra]),
            row(0x1003, 0x1100, rspCFA(16), [(3, .offset(-16)), ra]),
        ])
    }

    func testRestoreStateWithoutCFAKeepsTheCurrentCFAAsLLVMDoes() throws {
        let rs = try rows([0x41, 0x0e, 0x10, 0x83, 0x02, 0x41, 0x0a, 0x0e, 0x20, 0x8c, 0x03, 0x41, 0x0b],
                          rememberedStateIncludesCFA: false)
        XCTAssertEqual(rs.last, row(0x1003, 0x1100, rspCFA(32), [(3, .offset(-16)), ra]))
    }

    func testGNUArgsSizeSetsTheRowsArgumentsSize() throws {
        XCTAssertEqual(try rows([0x41, 0x2e, 0x10]),
                       [row(0x1000, 0x1001, rsp8, [ra]), row(0x1001, 0x1100, rsp8, [ra], args: 16)])
    }

    func testGNUWindowSaveIsRejectedOnX86_64() {
        assertThrowsExactly(CFIError(offset: at(1), reason: .unknownOpcode(0x2d)),
                            "at 0x\(String(at(1), radix: 16)): unknown CFA opcode 0x2d") { _ = try self.rows([0x41, 0x2d]) }
    }

    func testRowAtReturnsTheRowHoldingThePcOrNilOutsideTheFDE() throws {
        let (section, fdeOffset, _) = HandCFI.section(length: 0x10, program: [0x41, 0x0e, 0x10, 0x43, 0x83, 0x02])
        let (fde, cie) = try section.fde(at: fdeOffset)
        XCTAssertEqual(try UnwindTableBuilder.row(at: 0x1000, fde: fde, cie: cie, section: section),
                       row(0x1000, 0x1001, rsp8, [ra]))
        XCTAssertEqual(try UnwindTableBuilder.row(at: 0x1003, fde: fde, cie: cie, section: section),
                       row(0x1001, 0x1004, rspCFA(16), [ra]))
        XCTAssertEqual(try UnwindTableBuilder.row(at: 0x100f, fde: fde, cie: cie, section: section),
                       row(0x1004, 0x1010, rspCFA(16), [(3, .offset(-16)), ra]))
        XCTAssertNil(try UnwindTableBuilder.row(at: 0x1010, fde: fde, cie: cie, section: section))
        XCTAssertNil(try UnwindTableBuilder.row(at: 0xfff, fde: fde, cie: cie, section: section))
    }

    // MARK: Limits

    func testRememberDepthBeyondTheLimitIsAnErrorAtTheExtraRemember() {
        let limits = UnwindLimits(maxRememberDepth: 2)
        XCTAssertNoThrow(try rows([0x0a, 0x0a], limits: limits))
        assertThrowsExactly(CFIError(offset: at(2), reason: .rememberStackOverflow(limit: 2)),
                            "at 0x\(String(at(2), radix: 16)): more than 2 nested DW_CFA_remember_state") {
            _ = try self.rows([0x0a, 0x0a, 0x0a], limits: limits)
        }
    }

    func testDefaultRememberDepthIs64() {
        XCTAssertEqual(UnwindLimits.default.maxRememberDepth, 64)
        XCTAssertNoThrow(try rows([UInt8](repeating: 0x0a, count: 64)))
        assertThrowsExactly(CFIError(offset: at(64), reason: .rememberStackOverflow(limit: 64)),
                            "at 0x\(String(at(64), radix: 16)): more than 64 nested DW_CFA_remember_state") {
            _ = try self.rows([UInt8](repeating: 0x0a, count: 65))
        }
    }

    func testInstructionCountBeyondTheLimitIsAnErrorAtTheExtraInstruction() {
        let limits = UnwindLimits(maxInstructions: 3)
        XCTAssertNoThrow(try rows([0x00, 0x00, 0x00], limits: limits))
        assertThrowsExactly(CFIError(offset: at(3), reason: .instructionLimit(3)),
                            "at 0x\(String(at(3), radix: 16)): more than 3 instructions") {
            _ = try self.rows([0x00, 0x00, 0x00, 0x00], limits: limits)
        }
    }

    func testRowCountBeyondTheLimitIsAnErrorAtTheFDE() throws {
        let limits = UnwindLimits(maxRows: 2)
        XCTAssertEqual(try rows([0x41, 0x0e, 0x10], limits: limits).count, 2)
        let fdeAt = Self.fileOffset + UInt64(HandCFI.section(program: []).fdeOffset)
        assertThrowsExactly(CFIError(offset: fdeAt, reason: .rowLimit(2)), "at 0x\(String(fdeAt, radix: 16)): more than 2 rows") {
            _ = try self.rows([0x41, 0x0e, 0x10, 0x41, 0x0e, 0x18], limits: limits)
        }
    }

    func testRowLimitStopsARunawayTableBeforeTheEnd() throws {
        let limits = UnwindLimits(maxRows: 2)
        let fdeAt = Self.fileOffset + UInt64(HandCFI.section(program: []).fdeOffset)
        assertThrowsExactly(CFIError(offset: fdeAt, reason: .rowLimit(2)), "at 0x\(String(fdeAt, radix: 16)): more than 2 rows") {
            _ = try self.rows([0x41, 0x0e, 0x10, 0x41, 0x0e, 0x18, 0x41, 0x0e, 0x20, 0x41, 0x0e, 0x28], limits: limits)
        }
    }

    func testRestoreStateWithEmptyStackIsAnError() {
        assertThrowsExactly(CFIError(offset: at(1), reason: .restoreWithEmptyStack),
                            "at 0x\(String(at(1), radix: 16)): DW_CFA_restore_state with no remembered state") {
            _ = try self.rows([0x41, 0x0b])
        }
    }

    // libgcrypt's assembly (13,072 rows readelf lists, which an error here lost): after a
    // CFA expression, def_cfa_offset keeps the register and def_cfa_register the offset of
    // the last register-based rule, as libgcc, libunwind and readelf compute.
    func testDefCfaOffsetAfterACFAExpressionTakesTheRegisterOfTheLastRegisterBasedRule() throws {
        // CIE: CFA rsp+8. At 0x1001 CFA = expression (breg7 16); at 0x1002 def_cfa_offset 32.
        let rs = try rows([0x41, 0x0f, 0x02, 0x77, 0x10, 0x41, 0x0e, 0x20])
        let e = RuleExpression(index: UInt32(programStart + 3), count: 2)
        XCTAssertEqual(rs, [row(0x1000, 0x1001, rsp8, [ra]), row(0x1001, 0x1002, .expression(e), [ra]),
                            row(0x1002, 0x1100, rspCFA(32), [ra])])
    }

    func testDefCfaRegisterAfterACFAExpressionTakesTheOffsetOfTheLastRegisterBasedRule() throws {
        // CFA rbp+16 (def_cfa r6 16), then an expression, then def_cfa_register rsp: rsp+16.
        let rs = try rows([0x0c, 0x06, 0x10, 0x41, 0x0f, 0x02, 0x77, 0x10, 0x41, 0x0d, 0x07])
        XCTAssertEqual(rs.last, row(0x1002, 0x1100, rspCFA(16), [ra]))
        // def_cfa_offset_sf -2 (x -8 = 16) after an expression: the register of rbp+16.
        let sf = try rows([0x0c, 0x06, 0x20, 0x41, 0x0f, 0x02, 0x77, 0x10, 0x41, 0x13, 0x7e])
        XCTAssertEqual(sf.last?.cfa, .registerOffset(register: DwarfRegister.rbp, offset: 16))
    }

    func testRememberStateSavesTheRegisterBasedCFAThatAnExpressionHides() throws {
        // rsp+16; expression (hiding rsp, 16); remember; def_cfa_offset 48 (rsp+48);
        // restore (the expression, and the hidden pair rsp, 16); def_cfa_register rbp:
        // rbp+16. Had remember_state not saved the pair, the last row would be rbp+48.
        let rs = try rows([0x0e, 0x10, 0x41, 0x0f, 0x02, 0x77, 0x10, 0x0a, 0x41, 0x0e, 0x30, 0x41, 0x0b, 0x41, 0x0d, 0x06])
        let e = CFARule.expression(RuleExpression(index: UInt32(programStart + 5), count: 2))
        XCTAssertEqual(rs.map(\.cfa), [rspCFA(16), e, rspCFA(48), e, .registerOffset(register: DwarfRegister.rbp, offset: 16)])
    }

    func testACFAOffsetOf2To63IsAnOffsetOutOfRangeErrorAtItsInstruction() {
        // def_cfa r7, ULEB 2^63 (nine 0x80 bytes and 0x01).
        let big: [UInt8] = [0x0c, 0x07] + [UInt8](repeating: 0x80, count: 9) + [0x01]
        assertThrowsExactly(CFIError(offset: at(0), reason: .offsetOutOfRange(1 << 63)),
                            "at 0x\(String(at(0), radix: 16)): offset 0x8000000000000000 is beyond the signed 64-bit range") {
            _ = try self.rows(big)
        }
        // def_cfa_offset 2^63.
        assertThrowsExactly(CFIError(offset: at(0), reason: .offsetOutOfRange(1 << 63)),
                            "at 0x\(String(at(0), radix: 16)): offset 0x8000000000000000 is beyond the signed 64-bit range") {
            _ = try self.rows([0x0e] + [UInt8](repeating: 0x80, count: 9) + [0x01])
        }
        // offset_extended_sf r3, 2^62 x -8 overflows.
        assertThrowsExactly(CFIError(offset: at(0), reason: .factoredOffsetOverflow(1 << 62, factor: -8)),
                            "at 0x\(String(at(0), radix: 16)): factored offset 4611686018427387904 times data alignment factor -8 overflows 64 bits") {
            _ = try self.rows([0x11, 0x03] + [UInt8](repeating: 0x80, count: 8) + [0xc0, 0x00])
        }
    }

    // MARK: Row grouping

    func asListed(_ program: [UInt8], length: UInt32 = 0x100) throws -> [UnwindRow] {
        let (section, fdeOffset, _) = HandCFI.section(length: length, program: program, fileOffset: Self.fileOffset)
        let (fde, cie) = try section.fde(at: fdeOffset)
        return try UnwindTableBuilder.rows(fde: fde, cie: cie, section: section, grouping: .asListed)
    }

    func testAsListedRowsAreOnePerAdvanceAndOneAtTheEndAsReadelfPrintsThem() throws {
        // advance 1; def_cfa_offset 16; advance 2; advance 0; args_size 0; advance 3.
        let program: [UInt8] = [0x41, 0x0e, 0x10, 0x42, 0x40, 0x2e, 0x00, 0x43]
        XCTAssertEqual(try asListed(program), [
            row(0x1000, 0x1001, rsp8, [ra]), row(0x1001, 0x1003, rspCFA(16), [ra]),
            row(0x1003, 0x1003, rspCFA(16), [ra]), row(0x1003, 0x1006, rspCFA(16), [ra]),
            row(0x1006, 0x1100, rspCFA(16), [ra]),
        ])
        // Merged, the same program is two rows.
        XCTAssertEqual(try rows(program), [row(0x1000, 0x1001, rsp8, [ra]), row(0x1001, 0x1100, rspCFA(16), [ra])])
    }

    func testAsListedKeepsRowsAtAndPastTheFDEsEndThatMergedDrops() throws {
        // A 4-byte FDE: advance 4 (to its end), def_cfa_offset 16, advance 2 (past it).
        let program: [UInt8] = [0x44, 0x0e, 0x10, 0x42]
        XCTAssertEqual(try asListed(program, length: 4), [
            row(0x1000, 0x1004, rsp8, [ra]), row(0x1004, 0x1006, rspCFA(16), [ra]), row(0x1006, 0x1006, rspCFA(16), [ra]),
        ])
        XCTAssertEqual(try rows(program, length: 4), [row(0x1000, 0x1004, rsp8, [ra])])
    }

    func testRegisterNumber256IsAnError() {
        assertThrowsExactly(CFIError(offset: at(0), reason: .registerOutOfRange(256)),
                            "at 0x\(String(at(0), radix: 16)): register 256 is beyond the supported 255") {
            _ = try self.rows([0x07, 0x80, 0x02])
        }
    }

    func testRegisterNumber256AsTheSourceOfDwCfaRegisterIsAnError() {
        assertThrowsExactly(CFIError(offset: at(1), reason: .registerOutOfRange(256)),
                            "at 0x\(String(at(1), radix: 16)): register 256 is beyond the supported 255") {
            _ = try self.rows([0x41, 0x09, 0x03, 0x80, 0x02])
        }
    }

    func testRegister255IsAccepted() throws {
        XCTAssertEqual(try rows([0x41, 0x07, 0xff, 0x01]).last, row(0x1001, 0x1100, rsp8, [ra, (255, .undefined)]))
    }

    // MARK: ExpressionEvaluator

    static let origin: UInt64 = 0x700

    static let registers: FrameRegisters = {
        var r = FrameRegisters()
        r[DwarfRegister.rax] = 0x10
        r[DwarfRegister.rbx] = 0x3000
        r[DwarfRegister.rbp] = 0x6000
        r[DwarfRegister.rsp] = 0x7000
        r[DwarfRegister.returnAddress] = 0x1600
        return r
    }()

    static let memory = SnapshotMemoryReader(address: 0x2000, bytes: HandCFI.u64(0x1122_3344_5566_7788) + HandCFI.u64(0x2000))

    func eval(_ bytes: [UInt8], stack: [UInt64] = [], cfa: UInt64? = nil, limits: UnwindLimits = .default) throws -> UInt64 {
        try ExpressionEvaluator.evaluate(bytes[...], origin: Self.origin, initialStack: stack, registers: Self.registers,
                                         memory: Self.memory, cfa: cfa, limits: limits)
    }

    func evalError(_ bytes: [UInt8], _ reason: CFIError.Reason, at index: Int, _ message: String,
                   cfa: UInt64? = nil, limits: UnwindLimits = .default, file: StaticString = #filePath, line: UInt = #line) {
        let offset = Self.origin + UInt64(index)
        assertThrowsExactly(CFIError(offset: offset, reason: reason), "at 0x\(String(offset, radix: 16)): \(message)",
                            file: file, line: line) { _ = try self.eval(bytes, cfa: cfa, limits: limits) }
    }

    func testLit0AndLit31() throws {
        XCTAssertEqual(try eval([0x30]), 0)
        XCTAssertEqual(try eval([0x4f]), 31)
    }

    func testAddrPushesAnEightByteAddress() throws {
        XCTAssertEqual(try eval([0x03] + HandCFI.u64(0xdead_beef_0000_0001)), 0xdead_beef_0000_0001)
    }

    func testConst1uAndConst1s() throws {
        XCTAssertEqual(try eval([0x08, 0xff]), 255)
        XCTAssertEqual(try eval([0x09, 0xff]), UInt64.max)
    }

    func testConst2uAndConst2s() throws {
        XCTAssertEqual(try eval([0x0a, 0x00, 0x80]), 0x8000)
        XCTAssertEqual(try eval([0x0b, 0x00, 0x80]), UInt64(bitPattern: -32768))
    }

    func testConst4uAndConst4s() throws {
        XCTAssertEqual(try eval([0x0c, 0x00, 0x00, 0x00, 0x80]), 0x8000_0000)
        XCTAssertEqual(try eval([0x0d, 0x00, 0x00, 0x00, 0x80]), UInt64(bitPattern: Int64(Int32.min)))
    }

    func testConst8uAndConst8s() throws {
        XCTAssertEqual(try eval([0x0e] + HandCFI.u64(0x8000_0000_0000_0001)), 0x8000_0000_0000_0001)
        XCTAssertEqual(try eval([0x0f] + HandCFI.u64(0xffff_ffff_ffff_fffe)), UInt64(bitPattern: -2))
    }

    func testConstuAndConsts() throws {
        XCTAssertEqual(try eval([0x10, 0xe5, 0x8e, 0x26]), 624_485)
        XCTAssertEqual(try eval([0x11, 0xc0, 0xbb, 0x78]), UInt64(bitPattern: -123_456))
    }

    func testDupDuplicatesTheTop() throws {
        XCTAssertEqual(try eval([0x35, 0x12, 0x22]), 10, "5 dup plus")
    }

    func testDropRemovesTheTop() throws {
        XCTAssertEqual(try eval([0x31, 0x32, 0x13]), 1)
    }

    func testOverCopiesTheSecondEntry() throws {
        XCTAssertEqual(try eval([0x31, 0x32, 0x14]), 1)
        XCTAssertEqual(try eval([0x31, 0x32, 0x14, 0x13]), 2)
    }

    func testPickCopiesTheIndexedEntry() throws {
        XCTAssertEqual(try eval([0x31, 0x32, 0x33, 0x15, 0x02]), 1)
        XCTAssertEqual(try eval([0x31, 0x32, 0x33, 0x15, 0x00]), 3)
    }

    func testSwapExchangesTheTopTwo() throws {
        XCTAssertEqual(try eval([0x31, 0x32, 0x16]), 1)
        XCTAssertEqual(try eval([0x31, 0x32, 0x16, 0x13]), 2)
    }

    func testRotMovesTheTopToThirdAndTheOthersUp() throws {
        // [1, 2, 3] (3 on top) -> [3, 1, 2].
        XCTAssertEqual(try eval([0x31, 0x32, 0x33, 0x17]), 2)
        XCTAssertEqual(try eval([0x31, 0x32, 0x33, 0x17, 0x13]), 1)
        XCTAssertEqual(try eval([0x31, 0x32, 0x33, 0x17, 0x13, 0x13]), 3)
    }

    func testAbsOfNegativeAndOfInt64MinWhichStays() throws {
        XCTAssertEqual(try eval([0x09, 0xfb, 0x19]), 5)
        XCTAssertEqual(try eval([0x0f] + HandCFI.u64(1 << 63) + [0x19]), 1 << 63)
    }

    func testAnd() throws { XCTAssertEqual(try eval([0x08, 0xf0, 0x08, 0x3c, 0x1a]), 0x30) }
    func testOr() throws { XCTAssertEqual(try eval([0x08, 0xf0, 0x3f, 0x21]), 0xff) }
    func testXor() throws { XCTAssertEqual(try eval([0x08, 0xff, 0x3f, 0x27]), 0xf0) }

    func testDivIsSignedAndTruncatesTowardZero() throws {
        XCTAssertEqual(try eval([0x37, 0x09, 0xfe, 0x1b]), UInt64(bitPattern: -3), "7 / -2")
    }

    func testDivInt64MinByMinus1WrapsInsteadOfTrapping() throws {
        XCTAssertEqual(try eval([0x0f] + HandCFI.u64(1 << 63) + [0x09, 0xff, 0x1b]), 1 << 63)
    }

    func testDivByZeroIsAnError() {
        evalError([0x31, 0x30, 0x1b], .divisionByZero, at: 2, "DWARF expression divides by zero")
    }

    func testMinusWraps() throws {
        XCTAssertEqual(try eval([0x35, 0x37, 0x1c]), UInt64(bitPattern: -2), "5 - 7")
    }

    func testModIsUnsigned() throws {
        XCTAssertEqual(try eval([0x37, 0x33, 0x1d]), 1)
        // (2^64 - 1) mod 10 = 5 unsigned; signed -1 mod 10 would be -1.
        XCTAssertEqual(try eval([0x09, 0xff, 0x3a, 0x1d]), 5)
    }

    func testModByZeroIsAnError() {
        evalError([0x31, 0x30, 0x1d], .divisionByZero, at: 2, "DWARF expression divides by zero")
    }

    func testMulWraps() throws {
        XCTAssertEqual(try eval([0x36, 0x37, 0x1e]), 42)
        XCTAssertEqual(try eval([0x0e] + HandCFI.u64(1 << 63) + [0x32, 0x1e]), 0)
    }

    func testNeg() throws { XCTAssertEqual(try eval([0x35, 0x1f]), UInt64(bitPattern: -5)) }
    func testNot() throws { XCTAssertEqual(try eval([0x30, 0x20]), UInt64.max) }
    func testPlusWraps() throws { XCTAssertEqual(try eval([0x09, 0xff, 0x32, 0x22]), 1) }
    func testPlusUconst() throws { XCTAssertEqual(try eval([0x35, 0x23, 0xac, 0x02]), 305) }

    func testShlAndShr() throws {
        XCTAssertEqual(try eval([0x31, 0x34, 0x24]), 16)
        XCTAssertEqual(try eval([0x09, 0xf0, 0x32, 0x25]), 0x3fff_ffff_ffff_fffc, "logical shift of -16")
    }

    func testShraIsArithmetic() throws {
        XCTAssertEqual(try eval([0x09, 0xf0, 0x32, 0x26]), UInt64(bitPattern: -4))
    }

    func testShiftsBy64OrMoreDoNotTrap() throws {
        XCTAssertEqual(try eval([0x31, 0x08, 0x40, 0x24]), 0, "1 << 64")
        XCTAssertEqual(try eval([0x09, 0xff, 0x08, 0x40, 0x25]), 0, "-1 >> 64 logical")
        XCTAssertEqual(try eval([0x09, 0xff, 0x08, 0x40, 0x26]), UInt64.max, "-1 >> 64 arithmetic")
        XCTAssertEqual(try eval([0x35, 0x09, 0xff, 0x26]), 0, "5 >> (2^64-1) arithmetic")
    }

    func testComparisonsAreSigned() throws {
        // a = -1, b = 0.
        let ab: [UInt8] = [0x09, 0xff, 0x30]
        XCTAssertEqual(try eval(ab + [0x29]), 0, "eq")
        XCTAssertEqual(try eval(ab + [0x2a]), 0, "ge")
        XCTAssertEqual(try eval(ab + [0x2b]), 0, "gt")
        XCTAssertEqual(try eval(ab + [0x2c]), 1, "le")
        XCTAssertEqual(try eval(ab + [0x2d]), 1, "lt")
        XCTAssertEqual(try eval(ab + [0x2e]), 1, "ne")
        XCTAssertEqual(try eval([0x33, 0x33, 0x29]), 1, "3 eq 3")
        XCTAssertEqual(try eval([0x33, 0x33, 0x2a]), 1, "3 ge 3")
    }

    func testSkipJumpsForwardFromTheEndOfTheOperation() throws {
        XCTAssertEqual(try eval([0x31, 0x2f, 0x01, 0x00, 0x37]), 1)
    }

    func testBraJumpsWhenTheTopIsNonzeroAndPopsIt() throws {
        XCTAssertEqual(try eval([0x35, 0x31, 0x28, 0x01, 0x00, 0x37]), 5)
        XCTAssertEqual(try eval([0x35, 0x30, 0x28, 0x01, 0x00, 0x37]), 7)
    }

    func testBackwardSkipLoopHitsTheStepLimit() {
        evalError([0x2f, 0xfd, 0xff], .expressionStepLimit(100), at: 0, "DWARF expression ran more than 100 steps",
                  limits: UnwindLimits(maxExpressionSteps: 100))
    }

    func testSkipPastTheEndIsOutOfRange() {
        evalError([0x2f, 0x05, 0x00], .expressionBranchOutOfRange(8), at: 0, "DWARF expression branches to 8, outside the expression")
    }

    func testBraBeforeTheStartIsOutOfRange() {
        evalError([0x31, 0x28, 0xf6, 0xff], .expressionBranchOutOfRange(-6), at: 1,
                  "DWARF expression branches to -6, outside the expression")
    }

    func testBreg0AddsItsOffsetToRax() throws {
        XCTAssertEqual(try eval([0x70, 0x08]), 0x18)
    }

    func testBreg7WithNegativeOffset() throws {
        XCTAssertEqual(try eval([0x77, 0x78]), 0x6ff8)
    }

    func testBreg16ReadsTheReturnAddressColumn() throws {
        XCTAssertEqual(try eval([0x80, 0x00]), 0x1600)
    }

    func testBreg31NamesARegisterFrameRegistersDoesNotHold() {
        evalError([0x8f, 0x00], .registerUnavailable(31), at: 0, "register xmm14 has no value")
    }

    func testBregOfAnUnsetRegisterIsUnavailable() {
        evalError([0x31, 0x72, 0x00], .registerUnavailable(2), at: 1, "register rcx has no value")
    }

    func testBregxOfARegisterBeyondTheGeneralOnesIsUnavailable() {
        evalError([0x92, 0x11, 0x00], .registerUnavailable(17), at: 0, "register xmm0 has no value")
    }

    func testBregx() throws {
        XCTAssertEqual(try eval([0x92, 0x06, 0x78]), 0x5ff8)
    }

    func testDerefReadsEightBytes() throws {
        XCTAssertEqual(try eval([0x0a, 0x00, 0x20, 0x06]), 0x1122_3344_5566_7788)
    }

    func testDerefSizeZeroExtends() throws {
        XCTAssertEqual(try eval([0x0a, 0x00, 0x20, 0x94, 0x01]), 0x88)
        XCTAssertEqual(try eval([0x0a, 0x00, 0x20, 0x94, 0x02]), 0x7788)
        XCTAssertEqual(try eval([0x0a, 0x00, 0x20, 0x94, 0x04]), 0x5566_7788)
        XCTAssertEqual(try eval([0x0a, 0x00, 0x20, 0x94, 0x08]), 0x1122_3344_5566_7788)
    }

    func testDerefSizeZeroIsRejected() {
        evalError([0x0a, 0x00, 0x20, 0x94, 0x00], .unknownExpressionOpcode(0x94), at: 3, "unknown DWARF expression opcode 0x94")
    }

    func testDerefOfUnreadableMemoryIsAnErrorWithAddressAndSize() {
        evalError([0x0a, 0x00, 0x30, 0x06], .memory(address: 0x3000, count: 8), at: 3, "cannot read 8 bytes at 0x3000")
    }

    func testDerefSizeStraddlingTheEndOfMemoryIsAnError() {
        evalError([0x0a, 0x0e, 0x20, 0x94, 0x04], .memory(address: 0x200e, count: 4), at: 3, "cannot read 4 bytes at 0x200e")
    }

    func testNopDoesNothing() throws {
        XCTAssertEqual(try eval([0x96, 0x33, 0x96]), 3)
    }

    func testCallFrameCfaPushesTheCFA() throws {
        XCTAssertEqual(try eval([0x9c], cfa: 0xabc0), 0xabc0)
    }

    func testCallFrameCfaWithoutACFAIsAnError() {
        evalError([0x9c], .cfaUnavailable, at: 0, "CFA has no value")
    }

    func testInitialStackIsBelowTheExpressionsPushes() throws {
        XCTAssertEqual(try eval([0x38, 0x1c], stack: [0x100]), 0xf8)
        XCTAssertEqual(try eval([], stack: [0x100, 0x200]), 0x200)
    }

    func testBinaryOperatorOnEmptyStackUnderflows() {
        evalError([0x22], .expressionStackUnderflow(0x22), at: 0, "DWARF expression stack underflow at opcode 0x22")
    }

    func testOverWithOneEntryUnderflows() {
        evalError([0x31, 0x14], .expressionStackUnderflow(0x14), at: 1, "DWARF expression stack underflow at opcode 0x14")
    }

    func testPickBeyondTheStackUnderflows() {
        evalError([0x31, 0x15, 0x01], .expressionStackUnderflow(0x15), at: 1, "DWARF expression stack underflow at opcode 0x15")
    }

    func testEmptyResultUnderflowsAtTheEnd() {
        evalError([0x31, 0x13], .expressionStackUnderflow(0), at: 2, "DWARF expression stack underflow at opcode 0x0")
    }

    func testStackDeeperThanTheLimitOverflows() {
        evalError([0x30, 0x30, 0x30], .expressionStackOverflow(limit: 2), at: 2, "DWARF expression stack deeper than 2",
                  limits: UnwindLimits(maxExpressionStack: 2))
    }

    func testUnknownOpcodeIsAnError() {
        evalError([0x31, 0xff], .unknownExpressionOpcode(0xff), at: 1, "unknown DWARF expression opcode 0xff")
    }

    func testStackValueIsNotACFIOperation() {
        evalError([0x31, 0x9f], .unknownExpressionOpcode(0x9f), at: 1, "unknown DWARF expression opcode 0x9f")
    }

    func testTruncatedOperandIsAByteReadErrorAtTheOperand() {
        assertThrowsExactly(ByteReadError(offset: Self.origin + 1, reason: .truncated(needed: 4, available: 2)),
                            "at 0x701: truncated: need 4 bytes, 2 left") { _ = try self.eval([0x0c, 0x01, 0x02]) }
    }

    func testErrorOffsetsCountFromTheStartOfTheSliceNotItsStorage() {
        let storage: [UInt8] = [0xaa, 0xbb, 0xcc, 0x31, 0x30, 0x1b]
        assertThrowsExactly(CFIError(offset: Self.origin + 2, reason: .divisionByZero),
                            "at 0x702: DWARF expression divides by zero") {
            _ = try ExpressionEvaluator.evaluate(storage[3...], origin: Self.origin, registers: Self.registers,
                                                 memory: Self.memory)
        }
    }

    // MARK: UnwindStep

    static let stackBase: UInt64 = 0x7ff0_0000

    /// 0x100 bytes of stack: the word at stackBase + 8*i is `words[i]`, or 0x5100 + i.
    static func stack(_ words: [Int: UInt64]) -> SnapshotMemoryReader {
        var b: [UInt8] = []
        for i in 0..<32 { b += HandCFI.u64(words[i] ?? 0x5100 + UInt64(i)) }
        return SnapshotMemoryReader(address: stackBase, bytes: b)
    }

    /// The callee: rsp at stackBase + 0x40, rbp, rbx, r12..r15 and pc known.
    static let callee: FrameRegisters = {
        var r = FrameRegisters()
        r[DwarfRegister.rsp] = stackBase + 0x40
        r[DwarfRegister.rbp] = stackBase + 0x80
        r[DwarfRegister.rbx] = 0xbbbb
        r[DwarfRegister.r12] = 0xc12
        r[DwarfRegister.r13] = 0xc13
        r[DwarfRegister.r14] = 0xc14
        r[DwarfRegister.r15] = 0xc15
        r.pc = 0x40_1000
        return r
    }()

    /// CFA = rsp + 16 = stackBase + 0x50; return address at CFA-8 (word 9) = 0x40_2222.
    func stepRow(_ regs: [(UInt16, RegisterRule)], cfa: CFARule? = nil, expressions: ExpressionSource? = nil) -> UnwindRow {
        UnwindRow(start: 0x40_0ff0, end: 0x40_1010, cfa: cfa ?? rspCFA(16), registers: rules(regs), expressions: expressions)
    }

    func step(_ row: UnwindRow, ra: UInt64 = 16, registers: FrameRegisters = EvaluationTests.callee,
              memory: SnapshotMemoryReader = EvaluationTests.stack([9: 0x40_2222, 8: 0x7ff0_1000])) throws -> UnwindStepResult? {
        try UnwindStep.step(row: row, returnAddressRegister: ra, registers: registers, memory: memory)
    }

    func testCallerRspIsTheCFAAndPcIsTheSavedReturnAddress() throws {
        let r = try XCTUnwrap(try step(stepRow([ra])))
        XCTAssertEqual(r.cfa, Self.stackBase + 0x50)
        XCTAssertEqual(r.caller.sp, Self.stackBase + 0x50)
        XCTAssertEqual(r.caller.pc, 0x40_2222)
    }

    func testOffsetRuleLoadsTheCallersValueFromCFAPlusOffset() throws {
        let r = try XCTUnwrap(try step(stepRow([ra, (DwarfRegister.rbp, .offset(-16))])))
        XCTAssertEqual(r.caller[DwarfRegister.rbp], 0x7ff0_1000)
    }

    func testValOffsetRuleIsCFAPlusOffsetItself() throws {
        let r = try XCTUnwrap(try step(stepRow([ra, (DwarfRegister.rbx, .valOffset(-32))])))
        XCTAssertEqual(r.caller[DwarfRegister.rbx], Self.stackBase + 0x30)
    }

    func testRegisterRuleTakesTheCalleesOtherRegister() throws {
        let r = try XCTUnwrap(try step(stepRow([ra, (DwarfRegister.r12, .register(DwarfRegister.rbx))])))
        XCTAssertEqual(r.caller[DwarfRegister.r12], 0xbbbb)
    }

    func testExpressionRuleDereferencesTheComputedAddressWithTheCFAPushedFirst() throws {
        // [lit24, minus]: CFA - 24 = word 7.
        let source = ExpressionSource(DwarfExpression().constant(24).minus())
        let row = stepRow([ra, (DwarfRegister.r13, .expression(source.whole))], expressions: source)
        let r = try XCTUnwrap(try step(row, memory: Self.stack([9: 0x40_2222, 7: 0x1313])))
        XCTAssertEqual(r.caller[DwarfRegister.r13], 0x1313)
    }

    func testValExpressionRuleIsTheComputedValue() throws {
        let source = ExpressionSource(DwarfExpression().constant(64).minus())
        let row = stepRow([ra, (DwarfRegister.r14, .valExpression(source.whole))], expressions: source)
        let r = try XCTUnwrap(try step(row))
        XCTAssertEqual(r.caller[DwarfRegister.r14], Self.stackBase + 0x10)
    }

    func testCFAExpressionIsEvaluatedWithoutAnInitialStack() throws {
        let source = ExpressionSource(DwarfExpression().breg(DwarfRegister.rsp, 16))
        let r = try XCTUnwrap(try step(stepRow([ra], cfa: .expression(source.whole), expressions: source)))
        XCTAssertEqual(r.cfa, Self.stackBase + 0x50)
        XCTAssertEqual(r.caller.pc, 0x40_2222)
    }

    func testRowExpressionWithoutASourceIsUnavailable() {
        let row = stepRow([ra], cfa: .expression(RuleExpression(index: 3, count: 2)))
        assertThrowsExactly(CFIError(offset: 3, reason: .expressionUnavailable),
                            "at 0x3: the row's DWARF expression bytes are not available") { _ = try self.step(row) }
    }

    func testUndefinedReturnAddressIsTheOutermostFrame() throws {
        XCTAssertNil(try step(stepRow([(DwarfRegister.returnAddress, .undefined)])))
    }

    func testMissingReturnAddressRuleIsTheOutermostFrame() throws {
        XCTAssertNil(try step(stepRow([(DwarfRegister.rbp, .offset(-16))])))
    }

    func testUnspecifiedCalleeSavedRegistersKeepTheirValues() throws {
        let r = try XCTUnwrap(try step(stepRow([ra, (DwarfRegister.rbp, .offset(-16))])))
        XCTAssertEqual(r.caller[DwarfRegister.rbx], 0xbbbb)
        XCTAssertEqual(r.caller[DwarfRegister.r12], 0xc12)
        XCTAssertEqual(r.caller[DwarfRegister.r13], 0xc13)
        XCTAssertEqual(r.caller[DwarfRegister.r14], 0xc14)
        XCTAssertEqual(r.caller[DwarfRegister.r15], 0xc15)
    }

    func testSameValueKeepsTheValue() throws {
        let r = try XCTUnwrap(try step(stepRow([ra, (DwarfRegister.rbx, .sameValue)])))
        XCTAssertEqual(r.caller[DwarfRegister.rbx], 0xbbbb)
    }

    func testUndefinedRuleLeavesTheCallersRegisterUnknown() throws {
        let r = try XCTUnwrap(try step(stepRow([ra, (DwarfRegister.r12, .undefined)])))
        XCTAssertNil(r.caller[DwarfRegister.r12])
    }

    func testARuleForRspOverridesTheCFA() throws {
        let r = try XCTUnwrap(try step(stepRow([(DwarfRegister.rsp, .valOffset(8)), ra])))
        XCTAssertEqual(r.caller.sp, Self.stackBase + 0x58)
        XCTAssertEqual(r.cfa, Self.stackBase + 0x50)
    }

    func testReturnAddressInAnotherColumnBecomesTheCallersPc() throws {
        // RA column 5 (rdi), saved in rbx.
        let r = try XCTUnwrap(try step(stepRow([(DwarfRegister.rdi, .register(DwarfRegister.rbx))]), ra: 5))
        XCTAssertEqual(r.caller.pc, 0xbbbb)
    }

    func testUnreadableSavedReturnAddressIsAMemoryError() {
        // CFA = rbp + 0x1000: far beyond the stack.
        let row = stepRow([ra], cfa: .registerOffset(register: DwarfRegister.rbp, offset: 0x1000))
        let address = Self.stackBase + 0x80 + 0x1000 - 8
        assertThrowsExactly(CFIError(offset: 0, reason: .memory(address: address, count: 8)),
                            "at 0x0: cannot read 8 bytes at 0x\(String(address, radix: 16))") { _ = try self.step(row) }
    }

    func testCFARegisterWithoutAValueIsAnError() {
        let row = stepRow([ra], cfa: .registerOffset(register: DwarfRegister.rsi, offset: 8))
        assertThrowsExactly(CFIError(offset: 0, reason: .registerUnavailable(4)), "at 0x0: register rsi has no value") {
            _ = try self.step(row)
        }
    }
}
