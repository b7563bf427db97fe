// `vunwind cfi` on bad input: garbage, empty, truncated, non-ELF and corrupted files end
// with exit status 2 and exactly one line on stderr, "vunwind: FILE: at 0xOFFSET: what",
// and print nothing on stdout. Never a crash signal.

import DwarfCFI
import Foundation
import TestSupport
import XCTest

final class CFIHostileInputTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try Tools.temporaryDirectory("vunwind-hostile")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func run(_ path: String, rows: Bool = true) throws -> ProcessResult {
        try Subprocess.run(try Tools.product("vunwind"), ["cfi"] + (rows ? ["--rows"] : []) + [path])
    }

    func assertRejected(_ path: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try run(path)
        XCTAssertFalse(r.signaled, "crashed", file: file, line: line)
        XCTAssertEqual(r.status, 2, file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        XCTAssertEqual(r.stderr, "vunwind: \(path): \(message)\n", file: file, line: line)
    }

    func testAnEmptyFileIsRejectedAtOffsetZero() throws {
        try assertRejected(try write("empty", []), "at 0x0: empty file")
    }

    func testATextFileIsRejectedAsNotELF() throws {
        try assertRejected(try write("text", Array("#!/bin/sh\necho hello\n".utf8)), "at 0x0: not an ELF file (bad magic)")
    }

    func testAnELF32FileIsRejectedAtTheClassByte() throws {
        try assertRejected(try write("elf32", [0x7f, 0x45, 0x4c, 0x46, 1, 1, 1] + [UInt8](repeating: 0, count: 45)),
                           "at 0x4: ELF class 1 is not supported (ELF64 only)")
    }

    func testAFileTruncatedInsideTheHeaderIsRejectedAtTheTruncatedField() throws {
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: try SystemLibraries.path("libgcc_s.so.1"))))
        try assertRejected(try write("head", Array(whole.prefix(30))), "at 0x18: truncated: need 8 bytes, 6 left")
        try assertRejected(try write("headers", Array(whole.prefix(100))),
                           "at 0x20: program header table runs past the end of the file")
    }

    func testAFileTruncatedInsideEhFrameIsRejectedAtTheSectionsOffsetField() throws {
        let (elf, _, _) = try CFIImage.build(DwarfCFITable.sample())
        let path = try write("cut", Array(elf.dropLast(16)))
        let r = try run(path)
        XCTAssertEqual(r.status, 2)
        // .eh_frame is section 2; its header entry's sh_offset field is where the lie is.
        XCTAssertTrue(r.stderr.hasPrefix("vunwind: \(path): at 0x"), r.stderr)
        XCTAssertTrue(r.stderr.hasSuffix(": section .eh_frame runs past the end of the file\n"), r.stderr)
    }

    func testACorruptedCIEVersionIsReportedAtItsByteInTheFile() throws {
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: try SystemLibraries.path("libgcc_s.so.1"))))
        let ehFrameOffset = try ehFrameFileOffset(bytes)
        // The first entry is a CIE: length (4), CIE id (4), then the version byte.
        bytes[ehFrameOffset + 8] = 9
        try assertRejected(try write("badcie", bytes),
                           "at 0x\(String(ehFrameOffset + 8, radix: 16)): unsupported CIE version 9")
    }

    func testAMissingFileAndADirectoryAreOneLineErrors() throws {
        try assertRejected(dir.appendingPathComponent("nope").path, "cannot open: No such file or directory")
        try assertRejected(dir.path, "not a regular file")
    }

    func testOneHundredTwentySeededGarbageAndMutatedFilesEachEndInSuccessOrOneLineExitTwo() throws {
        let base = Array(try Data(contentsOf: URL(fileURLWithPath: Tools.fixture("eh-frame-personality.so"))))
        var rng = SeededGenerator(seed: 4242)
        var rejected = 0
        for i in 0..<120 {
            var bytes: [UInt8]
            if i % 4 == 0 {
                bytes = (0..<Int.random(in: 1...4096, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                if i % 8 == 0 { bytes.replaceSubrange(0..<min(4, bytes.count), with: [0x7f, 0x45, 0x4c, 0x46].prefix(bytes.count)) }
            } else {
                bytes = base
                for _ in 0..<Int.random(in: 1...8, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if i % 5 == 0 { bytes.removeLast(Int.random(in: 1..<bytes.count, using: &rng)) }
            }
            let path = try write("m\(i)", bytes)
            let r = try run(path)
            XCTAssertFalse(r.signaled, "\(path) crashed")
            XCTAssertTrue(r.status == 0 || r.status == 2, "\(path): status \(r.status)")
            if r.status == 2 {
                rejected += 1
                XCTAssertEqual(r.stdout, "", path)
                XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, "\(path): \(r.stderr)")
                XCTAssertTrue(r.stderr.hasPrefix("vunwind: \(path): "), r.stderr)
            }
        }
        XCTAssertGreaterThan(rejected, 30)
    }

    /// The file offset of .eh_frame, read with readelf (a judge, not our reader).
    func ehFrameFileOffset(_ bytes: [UInt8]) throws -> Int {
        let path = try write("probe", bytes)
        let r = try Subprocess.run(try Tools.path("readelf"), ["-S", "-W", path])
        for line in r.stdout.split(separator: "\n") where line.contains(" .eh_frame ") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if let i = f.firstIndex(of: ".eh_frame"), i + 3 < f.count, let off = Int(f[i + 3], radix: 16) { return off }
        }
        // Every input here has one (they are built with it): its absence is a failure.
        throw ConsumerError("readelf -S finds no .eh_frame in \(path):\n\(r.stdout)")
    }
}

/// A small fixed table for tests that need any valid CFI image.
enum DwarfCFITable {
    static func sample() -> FrameTable {
        var t = FrameTable()
        let cie = t.add(.x86_64())
        t.add(FrameTable.FDE(cie: cie, start: 0x40_2000, length: 0x40,
                             instructions: [(1, .cfaOffset(16)), (1, .offset(DwarfRegister.rbp, -16)),
                                            (4, .cfaRegister(DwarfRegister.rbp)), (0x3f, .cfa(DwarfRegister.rsp, 8))]))
        return t
    }
}
