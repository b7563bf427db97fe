// Bounded work on hostile CFI (issue 12, acceptance 4): an FDE whose program is 10^6
// instructions (DW_CFA_nop) ends, with the default limits, in a typed error at the
// instruction that crossed the bound, in bounded time; the same FDE of 1,000 is evaluated.

import DwarfCFI
import XCTest

final class BoundedProgramTests: XCTestCase {
    /// A CIE (zR, pcrel sdata4; CFA = rsp + 8, RA at CFA - 8) and one FDE over
    /// [0x402000, +0x100) whose program is `nops` DW_CFA_nop, as .eh_frame at 0x400000.
    static func ehFrame(nops: Int) -> [UInt8] {
        var b: [UInt8] = []
        func u32(_ v: UInt32) { for i in 0..<4 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }
        let cie: [UInt8] = [0, 0, 0, 0, 1, 0x7a, 0x52, 0, 1, 0x78, 16, 1, 0x1b, 0x0c, 7, 8, 0x90, 1, 0, 0]
        u32(UInt32(cie.count)); b += cie
        let fdeStart = b.count
        let fdeLength = 4 + 4 + 4 + 1 + nops
        u32(UInt32(fdeLength))
        u32(UInt32(b.count))  // CIE pointer: back to offset 0
        let pcBegin = Int64(0x402000) - Int64(0x400000 + b.count)
        u32(UInt32(truncatingIfNeeded: pcBegin))
        u32(0x100)
        b.append(0)  // augmentation data length
        b += [UInt8](repeating: 0, count: nops)
        precondition(b.count - fdeStart == fdeLength + 4)
        u32(0)  // terminator
        return b
    }

    func row(nops: Int) throws -> UnwindRow? {
        let info = try CallFrameInfo(ehFrame: CallFrameSection(kind: .ehFrame, bytes: Self.ehFrame(nops: nops), address: 0x400000))
        return try info.row(at: 0x402010)?.row
    }

    func testAMillionInstructionProgramIsATypedErrorAtTheInstructionPastTheDefaultLimit() throws {
        XCTAssertEqual(UnwindLimits.default.maxInstructions, 1 << 18)
        // The FDE starts at 24 (the CIE: 4 + 20 bytes); its program at 24 + 4 + 4 + 4 + 4 + 1 = 41,
        // and instruction n (from 0) at 41 + n: the one past the limit is n = 2^18.
        XCTAssertThrowsError(try row(nops: 1_000_000)) { error in
            XCTAssertEqual(error as? CFIError, CFIError(offset: 41 + UInt64(1 << 18), reason: .instructionLimit(1 << 18)))
            XCTAssertEqual("\(error)", "at 0x\(String(41 + (1 << 18), radix: 16)): more than 262144 instructions")
        }
    }

    func testTheSameFDEWithAThousandInstructionsIsEvaluated() throws {
        let row = try XCTUnwrap(try row(nops: 1000))
        XCTAssertEqual(row.start, 0x402000)
        XCTAssertEqual(row.end, 0x402100)
    }
}
