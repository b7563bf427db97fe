// Compressed sections and relocatable objects: ELFFile.decodedContents gives a section's
// bytes as its readers must see them. The judges are outside tools: objcopy
// --decompress-debug-sections writes the plain bytes each compressed fixture must
// decompress to, and readelf -r lists the relocations whose results are checked. Hostile
// variants (made from the fixtures' own bytes) end in typed errors at exact offsets.

import Bytes
import ELF
import Foundation
import TestSupport
import XCTest

final class SectionDecodingTests: XCTestCase {
    func elf(_ path: String) throws -> ELFFile { try ELFFile(bytes: try Array(Data(contentsOf: URL(fileURLWithPath: path)))) }

    /// The plain bytes of `name` in `path` as objcopy decompresses them.
    func objcopyDecompressed(_ path: String, _ name: String) throws -> [UInt8] {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("plain.so").path
        let r = try Subprocess.run(try Tools.path("objcopy"), ["--decompress-debug-sections", path, out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let plain = try elf(out)
        // objcopy renames .zdebug_frame to .debug_frame as it decompresses.
        let s = try XCTUnwrap(plain.section(named: name) ?? plain.section(named: ".debug_frame"))
        XCTAssertEqual(s.flags & ELF.shfCompressed, 0)
        return try plain.contents(of: s)
    }

    func testZlibZstdAndGNUZlibDebugFramesDecompressToTheBytesObjcopyWrites() throws {
        for (fixture, name, raw) in [("debug-frame-zlib.so", ".debug_frame", true), ("debug-frame-zstd.so", ".debug_frame", true),
                                     ("debug-frame-zlib-gnu.so", ".zdebug_frame", false)] {
            let path = Tools.fixture(fixture)
            let file = try elf(path)
            let s = try XCTUnwrap(file.section(named: name), fixture)
            XCTAssertEqual(s.flags & ELF.shfCompressed != 0, raw, fixture)
            let stored = try file.contents(of: s)
            let decoded = try file.decodedContents(of: s)
            XCTAssertEqual(decoded, try objcopyDecompressed(path, name), fixture)
            XCTAssertGreaterThan(decoded.count, stored.count, fixture)
            // 66 functions: a CIE, then one FDE each.
            XCTAssertEqual(decoded.count, 0xa78, fixture)
        }
    }

    /// `fixture` with the bytes at `offset` replaced.
    func patched(_ fixture: String, at offset: Int, _ bytes: [UInt8]) throws -> ELFFile {
        var data = try Array(Data(contentsOf: URL(fileURLWithPath: Tools.fixture(fixture))))
        data.replaceSubrange(offset..<(offset + bytes.count), with: bytes)
        return try ELFFile(bytes: data)
    }

    func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    func assertDecodeError(_ file: ELFFile, _ name: String, _ expected: ELFError, _ text: String,
                           line: UInt = #line) {
        XCTAssertThrowsError(try file.decodedContents(of: file.section(named: name)!), line: line) { error in
            XCTAssertEqual(error as? ELFError, expected, line: line)
            XCTAssertEqual("\(error)", text, line: line)
        }
    }

    func testHostileCompressionHeadersAndStreamsAreTypedErrorsAtTheirOffsets() throws {
        let plain = try elf(Tools.fixture("debug-frame-zlib.so"))
        let s = try XCTUnwrap(plain.section(named: ".debug_frame"))
        let at = Int(s.offset)
        func hex(_ v: Int) -> String { "0x" + String(v, radix: 16) }
        // ch_type 3.
        assertDecodeError(try patched("debug-frame-zlib.so", at: at, [3, 0, 0, 0]), ".debug_frame",
                          ELFError(offset: UInt64(at), reason: .unsupportedCompression(3)),
                          "at \(hex(at)): compression type 3 is not supported (zlib 1 and zstd 2 are)")
        // ch_size 2^40: refused before anything is allocated.
        assertDecodeError(try patched("debug-frame-zlib.so", at: at + 8, le64(1 << 40)), ".debug_frame",
                          ELFError(offset: UInt64(at + 8), reason: .decompressedSizeLimit(1 << 40, limit: 1 << 30)),
                          "at \(hex(at + 8)): decompressed size 1099511627776 is beyond the limit of 1073741824 bytes")
        // ch_size one more, one less than the stream makes.
        assertDecodeError(try patched("debug-frame-zlib.so", at: at + 8, le64(0xa79)), ".debug_frame",
                          ELFError(offset: UInt64(at + 24), reason: .decompressionFailed("the stream makes 2680 bytes, the header says 2681")),
                          "at \(hex(at + 24)): cannot decompress: the stream makes 2680 bytes, the header says 2681")
        assertDecodeError(try patched("debug-frame-zlib.so", at: at + 8, le64(0xa77)), ".debug_frame",
                          ELFError(offset: UInt64(at + 24), reason: .decompressionFailed("the stream makes more than the 2679 bytes the header says")),
                          "at \(hex(at + 24)): cannot decompress: the stream makes more than the 2679 bytes the header says")
        // A corrupt zlib header (the stream's first byte).
        assertDecodeError(try patched("debug-frame-zlib.so", at: at + 24, [0xff]), ".debug_frame",
                          ELFError(offset: UInt64(at + 24), reason: .decompressionFailed("zlib: incorrect header check")),
                          "at \(hex(at + 24)): cannot decompress: zlib: incorrect header check")
        // A corrupt zstd magic number.
        let z = try XCTUnwrap(try elf(Tools.fixture("debug-frame-zstd.so")).section(named: ".debug_frame"))
        let zAt = Int(z.offset)
        assertDecodeError(try patched("debug-frame-zstd.so", at: zAt + 24, [0, 0, 0, 0]), ".debug_frame",
                          ELFError(offset: UInt64(zAt + 24), reason: .decompressionFailed("zstd: Unknown frame descriptor")),
                          "at \(hex(zAt + 24)): cannot decompress: zstd: Unknown frame descriptor")
    }

    func testAnObjectsEhFrameGetsItsPC32RelocationsAsReadelfListsThem() throws {
        // readelf -r: .rela.eh_frame (file offset 0x258) holds R_X86_64_PC32 .text + 0 at
        // 0x20 and .text + 0x30 at 0x38; .text's symbol is 0. S + A - P: -0x20 and -8.
        let file = try elf(Tools.fixture("two-eh-frames.o"))
        let sections = file.sections.filter { $0.name == ".eh_frame" }
        XCTAssertEqual(sections.map(\.size), [0, 0x50], "an empty .eh_frame, then the CFI")
        let stored = try file.contents(of: sections[1])
        let decoded = try file.decodedContents(of: sections[1])
        func i32(_ b: [UInt8], _ at: Int) -> Int32 { Int32(bitPattern: UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24) }
        XCTAssertEqual([i32(stored, 0x20), i32(stored, 0x38)], [0, 0])
        XCTAssertEqual([i32(decoded, 0x20), i32(decoded, 0x38)], [-0x20, 0x30 - 0x38])
        // Everything else is untouched.
        var rest = decoded
        for i in 0x20..<0x24 { rest[i] = stored[i] }
        for i in 0x38..<0x3c { rest[i] = stored[i] }
        XCTAssertEqual(rest, stored)
        // The same section of a linked file is not relocated again.
        let linked = try elf(Tools.fixture("cfa-expression.so"))
        let eh = try XCTUnwrap(linked.section(named: ".eh_frame"))
        XCTAssertEqual(try linked.decodedContents(of: eh), try linked.contents(of: eh))
    }

    func testHostileRelocationsAreTypedErrorsAtTheirEntries() throws {
        // Entry 0 of .rela.eh_frame is at 0x258: r_offset, then r_info (symbol << 32 | type).
        assertDecodeErrorAtEhFrame(try patched("two-eh-frames.o", at: 0x258 + 8, le64(99 << 32 | 2)),
                                   ELFError(offset: 0x258 + 8, reason: .badRelocation("symbol 99 is outside .symtab")),
                                   "at 0x260: bad relocation: symbol 99 is outside .symtab")
        assertDecodeErrorAtEhFrame(try patched("two-eh-frames.o", at: 0x258, le64(0x4e)),
                                   ELFError(offset: 0x258, reason: .badRelocation("offset 0x4e is outside .eh_frame")),
                                   "at 0x258: bad relocation: offset 0x4e is outside .eh_frame")
        assertDecodeErrorAtEhFrame(try patched("two-eh-frames.o", at: 0x258, le64(UInt64.max)),
                                   ELFError(offset: 0x258, reason: .badRelocation("offset 0xffffffffffffffff is outside .eh_frame")),
                                   "at 0x258: bad relocation: offset 0xffffffffffffffff is outside .eh_frame")
    }

    func assertDecodeErrorAtEhFrame(_ file: ELFFile, _ expected: ELFError, _ text: String, line: UInt = #line) {
        let s = file.sections.filter { $0.name == ".eh_frame" }[1]
        XCTAssertThrowsError(try file.decodedContents(of: s), line: line) { error in
            XCTAssertEqual(error as? ELFError, expected, line: line)
            XCTAssertEqual("\(error)", text, line: line)
        }
    }
}
