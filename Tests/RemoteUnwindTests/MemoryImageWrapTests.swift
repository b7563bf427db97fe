// MemoryImage.find reads an image's headers from another process's memory (issue 12,
// Build 2): an executable PT_LOAD whose end passes 2^64 used to trap while building the
// code range. Now such an image is skipped like one without CFI, and the same image with a
// sane segment is found (the control).

import DwarfCFI
import ELF
import RemoteUnwind
import TestSupport
import Unwind
import XCTest

final class MemoryImageWrapTests: XCTestCase {
    /// The smallest CFI image, with its PT_LOAD made executable and given `memorySize`.
    func image(memorySize: UInt64?) throws -> ELFFile {
        var t = FrameTable()
        let cie = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: cie, start: 0x40_2000, length: 0x40, instructions: [(1, .cfaOffset(16))]))
        var bytes = try CFIImage.build(t).elf
        // Patch the first program header (PT_LOAD): p_flags |= PF_X, p_memsz.
        let phoff = Int(bytes[0x20]) | Int(bytes[0x21]) << 8
        bytes[phoff + 4] |= UInt8(ELF.pfX)
        if let memorySize {
            for i in 0..<8 { bytes[phoff + 40 + i] = UInt8(truncatingIfNeeded: memorySize >> (8 * UInt64(i))) }
        }
        return try ELFFile(bytes: bytes)
    }

    func find(_ elf: ELFFile) -> [MemoryImage] {
        let base: UInt64 = 0x7000_0000_0000
        return MemoryImage.find(in: ModuleMap(modules: [Module(name: "", base: base, end: base + 0x3000, elf: elf)]))
    }

    func testAnImageWhoseCodeSegmentWrapsPastTheTopOfTheAddressSpaceIsSkippedNotATrap() throws {
        let elf = try image(memorySize: UInt64.max - 0x1000)
        XCTAssertEqual(elf.programHeaders.first?.memorySize, UInt64.max - 0x1000)
        XCTAssertEqual(find(elf), [])
    }

    func testTheSameImageWithASaneSegmentIsFound() throws {
        let found = find(try image(memorySize: nil))
        XCTAssertEqual(found.count, 1)
        XCTAssertEqual(found.first?.code, 0x7000_0000_0000..<(0x7000_0000_0000 + (try image(memorySize: nil)).programHeaders[0].memorySize))
        XCTAssertEqual(found.first?.fdeCount, 1)
    }
}
