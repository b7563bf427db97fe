// The row cache answers exactly as a lookup without it, whatever was looked up before: with
// two overlapping FDEs (legal, rare), the one the header table or index picks for a pc is
// the one that answers, even right after a lookup served by the other one. The expected
// rows are written out by hand from the two FDEs' programs.

import DwarfCFI
import XCTest

final class RowCacheTests: XCTestCase {
    /// FDE A covers 0x1000..<0x1100 with CFA rsp+16 from 0x1001; FDE B covers
    /// 0x1080..<0x1200 with CFA rsp+32 from 0x1081. The header lists A, then B.
    func sections() throws -> (CallFrameSection, [UInt8]) {
        var t = FrameTable()
        let cie = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: cie, start: 0x1000, length: 0x100, instructions: [(1, .cfaOffset(16))]))
        t.add(FrameTable.FDE(cie: cie, start: 0x1080, length: 0x180, instructions: [(1, .cfaOffset(32))]))
        let s = try EhFrameWriter.ehFrame(t, address: 0x800)
        let header = try EhFrameWriter.ehFrameHeader(for: t, sections: s, address: 0x700)
        return (CallFrameSection(kind: .ehFrame, bytes: s.ehFrame, address: 0x800), header)
    }

    func cfa(_ info: CallFrameInfo, _ pc: UInt64) throws -> CFARule? { try info.row(at: pc)?.row.cfa }

    func testOverlappingFDEsAnswerTheSameWithTheCacheAfterEveryOrderOfLookups() throws {
        let (ehFrame, header) = try sections()
        let rsp = DwarfRegister.rsp
        // Where both cover a pc, the later-starting B is the one the header table picks.
        let expected: [UInt64: CFARule] = [
            0x1040: .registerOffset(register: rsp, offset: 16), 0x1079: .registerOffset(register: rsp, offset: 16),
            0x1090: .registerOffset(register: rsp, offset: 32), 0x10ff: .registerOffset(register: rsp, offset: 32),
            0x1150: .registerOffset(register: rsp, offset: 32),
        ]
        let orders: [[UInt64]] = [[0x1040, 0x1090, 0x10ff, 0x1079, 0x1150], [0x1150, 0x1090, 0x1040, 0x10ff, 0x1079],
                                  [0x1079, 0x10ff, 0x1040, 0x1150, 0x1090]]
        for withHeader in [true, false] {
            for order in orders {
                let info = try CallFrameInfo(ehFrame: ehFrame,
                                             header: withHeader ? EhFrameHeader(bytes: header, address: 0x700) : nil)
                for pc in order {
                    XCTAssertEqual(try cfa(info, pc), expected[pc], "pc 0x\(String(pc, radix: 16)) after \(order), header \(withHeader)")
                }
                XCTAssertNil(try cfa(info, 0x1200), "past both FDEs")
                XCTAssertNil(try cfa(info, 0xfff), "before both FDEs")
            }
        }
    }

    func testADirectMappedCacheOfOneSlotStillAnswersEveryLookupRight() throws {
        let (ehFrame, header) = try sections()
        let info = try CallFrameInfo(ehFrame: ehFrame, header: EhFrameHeader(bytes: header, address: 0x700),
                                     rowCacheCapacity: 1)
        for _ in 0..<3 {
            XCTAssertEqual(try cfa(info, 0x1040), .registerOffset(register: DwarfRegister.rsp, offset: 16))
            XCTAssertEqual(try cfa(info, 0x1150), .registerOffset(register: DwarfRegister.rsp, offset: 32))
            XCTAssertEqual(try cfa(info, 0x1000), .registerOffset(register: DwarfRegister.rsp, offset: 8))
        }
    }
}
