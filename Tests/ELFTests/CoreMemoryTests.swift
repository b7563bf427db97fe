// CoreMemoryTests: how a core's PT_LOAD segments become one address space: sorted, the
// first segment in table order winning where they overlap, [filesz, memsz) as zeros, a
// wrapping segment left out, a gap and data past a truncated file unreadable.

import Bytes
import ELF
import XCTest

final class CoreMemoryTests: XCTestCase {
    func load(_ vaddr: UInt64, memsz: UInt64, offset: UInt64, filesz: UInt64) -> ProgramHeader {
        ProgramHeader(type: ELF.ptLoad, flags: ELF.pfR, offset: offset, virtualAddress: vaddr, fileSize: filesz,
                      memorySize: memsz, alignment: 0x1000)
    }

    func testOverlapsGoToTheFirstSegmentInTableOrderAndTheRestReadsByAddress() throws {
        // The file: 0x100 bytes of 0xaa, then 0xbb, then 0xcc.
        let file = [UInt8](repeating: 0xaa, count: 0x100) + [UInt8](repeating: 0xbb, count: 0x100)
            + [UInt8](repeating: 0xcc, count: 0x100)
        let m = CoreMemory(source: ArrayByteSource(file), programHeaders: [
            load(0x2000, memsz: 0x100, offset: 0x100, filesz: 0x100),  // 0xbb at 0x2000
            load(0x1f80, memsz: 0x200, offset: 0x000, filesz: 0x100),  // 0xaa from 0x1f80, overlaps the first
            load(0x1000, memsz: 0x200, offset: 0x200, filesz: 0x80),   // 0xcc, then zeros
            load(0xffff_ffff_ffff_ff00, memsz: 0x200, offset: 0, filesz: 0x100),  // wraps
        ])
        XCTAssertEqual(m.pieces.map { "\(String($0.start, radix: 16))-\(String($0.end, radix: 16)):\($0.segment)" },
                       ["1000-1200:2", "1f80-2000:1", "2000-2100:0", "2100-2180:1"])
        XCTAssertEqual(m.problems, ["segment 3 at 0xffffffffffffff00 with size 0x200 wraps the address space; ignored"])
        XCTAssertEqual(try m.fetchBytes(from: 0x1ffe, count: 4), [0xaa, 0xaa, 0xbb, 0xbb])
        XCTAssertEqual(try m.fetchBytes(from: 0x107e, count: 4), [0xcc, 0xcc, 0, 0])
        // 0x2100..0x2180 is segment 1 past its filesz: zeros.
        XCTAssertEqual(try m.fetchBytes(from: 0x2100, count: 1), [0])
        XCTAssertThrowsError(try m.fetchBytes(from: 0x1200, count: 1)) {
            XCTAssertEqual("\($0)", "at 0x1200: cannot read 1 bytes at 0x1200: not in the core")
        }
    }

    func testDataPastTheEndOfATruncatedCoreIsUnreadableNotZeros() {
        let m = CoreMemory(source: ArrayByteSource([1, 2, 3, 4]), programHeaders: [load(0x1000, memsz: 0x1000, offset: 0, filesz: 0x1000)])
        XCTAssertEqual(try m.fetchBytes(from: 0x1000, count: 4), [1, 2, 3, 4])
        XCTAssertThrowsError(try m.fetchBytes(from: 0x1002, count: 4)) {
            XCTAssertEqual("\($0)", "at 0x1002: cannot read 4 bytes at 0x1002: the core is truncated: segment 0's data is past its end")
        }
        XCTAssertEqual(m.dumpedLength(at: 0x1000, limit: 1 << 20), 0, "the segment's data is not all in the file")
    }
}
