// An .eh_frame_hdr table entry whose FDE pointer leads to a CIE (or to no entry at all):
// the error is at that entry's pointer in the header, saying so, not at the CIE's offset
// in .eh_frame (0, before) as "FDE's CIE pointer leads to 0x0" (HostileInputTests found it).

import DwarfCFI
import XCTest

final class HeaderEntryTests: XCTestCase {
    func testAHeaderEntryPointingAtTheCIEIsAnErrorAtThatEntrysPointer() throws {
        var t = FrameTable()
        let cie = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: cie, start: 0x40_2000, length: 0x40, instructions: [(1, .cfaOffset(16))]))
        t.add(FrameTable.FDE(cie: cie, start: 0x40_3000, length: 0x40, instructions: [(1, .cfaOffset(16))]))
        let ehFrameAddress: UInt64 = 0x40_1100, headerAddress: UInt64 = 0x40_1000
        let sections = try EhFrameWriter.ehFrame(t, address: ehFrameAddress)
        var header = try EhFrameWriter.ehFrameHeader(for: t, sections: sections, address: headerAddress)
        // Entry 1 (0x403000): its FDE pointer (datarel sdata4, at 12 + 8 + 4) now leads to
        // .eh_frame's first byte, the CIE.
        let toCIE = Int32(ehFrameAddress - headerAddress)
        for i in 0..<4 { header[24 + i] = UInt8(truncatingIfNeeded: toCIE >> (8 * Int32(i))) }
        let info = try CallFrameInfo(ehFrame: CallFrameSection(kind: .ehFrame, bytes: sections.ehFrame, address: ehFrameAddress),
                                     header: EhFrameHeader(bytes: header, address: headerAddress, fileOffset: 0x2000))
        XCTAssertNotNil(try info.row(at: 0x40_2004), "entry 0 is untouched")
        XCTAssertThrowsError(try info.row(at: 0x40_3004)) { error in
            XCTAssertEqual(error as? CFIError, CFIError(offset: 0x2000 + 24, reason: .headerEntryNotAnFDE(ehFrameAddress)))
            XCTAssertEqual("\(error)", "at 0x2018: .eh_frame_hdr entry points at 0x401100, which is not an FDE")
        }
    }
}
