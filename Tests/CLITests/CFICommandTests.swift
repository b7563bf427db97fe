// `vunwind cfi --rows` against `readelf --debug-dump=frames-interp`, row for row, on the
// libraries every process here runs and on the running kernel's vDSO; and its behaviour on
// bad input: one line naming the file and the byte offset, exit status 2.

import Foundation
import TestSupport
import Unwind
import XCTest

final class CFICommandTests: XCTestCase {
    func compareWithReadelf(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let readelf = try Subprocess.run(try Tools.path("readelf"), ["--debug-dump=no-follow-links", "--debug-dump=frames-interp", path])
        XCTAssertEqual(readelf.status, 0, file: file, line: line)
        let ours = try Subprocess.run(try Tools.product("vunwind"), ["cfi", "--rows", path])
        XCTAssertEqual(ours.status, 0, ours.stderr, file: file, line: line)
        XCTAssertEqual(ours.stderr, "", file: file, line: line)
        let theirs = FrameListing(text: readelf.stdout)
        let mine = FrameListing(text: ours.stdout)
        XCTAssertEqual(Set(theirs.entries.keys), Set(mine.entries.keys), "sections", file: file, line: line)
        var rows = 0
        for (section, entries) in theirs.entries {
            XCTAssertEqual(Set(entries.keys), Set(mine.entries[section]?.keys ?? [:].keys), "\(path) \(section) entries",
                           file: file, line: line)
            for (offset, entry) in entries {
                XCTAssertEqual(entry.header, mine.entries[section]?[offset]?.header, "\(path) entry header", file: file, line: line)
                let a = theirs.normalizedRows(section: section, offset: offset)
                let b = mine.normalizedRows(section: section, offset: offset)
                if a != b {
                    XCTFail("\(path) \(section) 0x\(String(offset, radix: 16)):\n readelf \(a)\n ours    \(b)", file: file, line: line)
                }
                rows += a.count
            }
        }
        return rows
    }

    func testCFIRowsEqualReadelfFramesInterpForEveryFDEOfTheSystemLibraries() throws {
        for lib in SystemLibraries.judged {
            let rows = try compareWithReadelf(try SystemLibraries.path(lib))
            XCTAssertGreaterThan(rows, 1000, lib)
        }
    }

    func testCFIRowsEqualReadelfFramesInterpForTheRunningKernelsVDSO() throws {
        let (_, bytes) = try VDSOImage.current()
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("vdso.so").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        XCTAssertGreaterThan(try compareWithReadelf(path), 5)
    }

    // Beyond row equality: `--rows` prints readelf's rows (one per advance, one at each
    // FDE's end, none merged), so the two listings are the same bytes: libgcc_s,
    // libstdc++, libc, libgcrypt (whose CFA expressions are followed by def_cfa_register)
    // and the vsyscall page.
    func testCFIRowsOutputIsByteIdenticalToReadelfForLibgccSLibstdcxxLibcLibgcryptAndTheEmittedPage() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("page.so").path
        let vunwind = try Tools.product("vunwind")
        let emit = try Subprocess.run(vunwind, ["emit", "--elf", page])
        XCTAssertEqual(emit.status, 0, emit.stderr)
        for path in [try SystemLibraries.path("libgcc_s.so.1"), try SystemLibraries.path("libstdc++.so.6"),
                     try SystemLibraries.path("libc.so.6"), try SystemLibraries.path("libgcrypt.so.20"), page] {
            let readelf = try Subprocess.run(try Tools.path("readelf"), ["--debug-dump=no-follow-links", "--debug-dump=frames-interp", path])
            let ours = try Subprocess.run(vunwind, ["cfi", "--rows", path])
            XCTAssertEqual(ours.status, 0, ours.stderr)
            XCTAssertGreaterThan(readelf.stdoutBytes.count, 1000, path)
            if ours.stdoutBytes != readelf.stdoutBytes {
                let a = readelf.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                let b = ours.stdout.split(separator: "\n", omittingEmptySubsequences: false)
                let first = (0..<min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                XCTFail("\(path): first difference at line \(first + 1):\n readelf \(first < a.count ? String(a[first]) : "<end>")"
                        + "\n ours    \(first < b.count ? String(b[first]) : "<end>")")
            }
        }
    }

    /// `vunwind cfi --rows` and readelf on `path`: (ours, readelf's), after checking that
    /// they are the same bytes.
    func assertByteIdenticalToReadelf(_ path: String, line: UInt = #line) throws -> String {
        let readelf = try Subprocess.run(try Tools.path("readelf"), ["--debug-dump=no-follow-links", "--debug-dump=frames-interp", path])
        let ours = try Subprocess.run(try Tools.product("vunwind"), ["cfi", "--rows", path])
        XCTAssertEqual(ours.status, 0, ours.stderr, line: line)
        XCTAssertEqual(ours.stdout, readelf.stdout, path, line: line)
        return ours.stdout
    }

    // One fixture per class of file the sweep against readelf found refused or dropped
    // (fixtures/README.md): each listing is readelf's, byte for byte, and shows the fact
    // that was lost.
    func testCFIRowsListsEachFileClassFixtureExactlyAsReadelfDoes() throws {
        // A CFA expression followed by def_cfa_register rsp: rsp plus the offset before it.
        let realigned = try assertByteIdenticalToReadelf(Tools.fixture("cfa-expression.so"))
        XCTAssertEqual(realigned.components(separatedBy: "0000000000001011 exp      c-16  c-8   \n0000000000001017 rsp+16   c-16  c-8   \n").count, 3,
                       "in .eh_frame and in .debug_frame")
        // Compressed .debug_frame (zlib, zstd) and GNU .zdebug_frame, beside a plain .eh_frame.
        for (fixture, name) in [("debug-frame-zlib.so", ".debug_frame"), ("debug-frame-zstd.so", ".debug_frame"),
                                ("debug-frame-zlib-gnu.so", ".zdebug_frame")] {
            let text = try assertByteIdenticalToReadelf(Tools.fixture(fixture))
            let parts = text.components(separatedBy: "Contents of the \(name) section:")
            XCTAssertEqual(parts.count, 2, fixture)
            XCTAssertTrue(parts[0].hasPrefix("Contents of the .eh_frame section:"), fixture)
            // 66 functions: 64 f-functions, sink and realigned.
            XCTAssertEqual(parts[1].components(separatedBy: " FDE cie=").count - 1, 66, fixture)
        }
        // An empty .eh_frame, then the assembler's, relocated: pc ranges from 0.
        let object = try assertByteIdenticalToReadelf(Tools.fixture("two-eh-frames.o"))
        XCTAssertTrue(object.hasPrefix("\nSection '.eh_frame' has no debugging data.\nContents of the .eh_frame section:"))
        XCTAssertTrue(object.contains("FDE cie=00000000 pc=0000000000000000..0000000000000027\n"))
        XCTAssertTrue(object.contains("FDE cie=00000000 pc=0000000000000030..0000000000000066\n"))
        // A separate debug file: .eh_frame NOBITS (readelf's one-line notice), .debug_frame listed.
        let separate = try assertByteIdenticalToReadelf(Tools.fixture("cfa-expression.debug"))
        XCTAssertTrue(separate.hasPrefix("section '.eh_frame' has the NOBITS type - its contents are unreliable.\nContents of the .debug_frame section:"))
        XCTAssertTrue(separate.contains("0000000000001017 rsp+16   c-16  c-8   \n"))
        // .debug_frame of an object: R_X86_64_32 and R_X86_64_64 applied.
        let debug = try assertByteIdenticalToReadelf(Tools.fixture("debug-frame-relocatable.o"))
        XCTAssertTrue(debug.contains("00000018 000000000000003c 00000000 FDE cie=00000000 pc=0000000000000000..000000000000004a\n"))
    }

    func testCFIMergeFlagGivesTheTableALookupSeesWithIdenticalNeighboursMerged() throws {
        let vunwind = try Tools.product("vunwind")
        let path = try SystemLibraries.path("libgcrypt.so.20")
        let listed = try Subprocess.run(vunwind, ["cfi", "--rows", path])
        let merged = try Subprocess.run(vunwind, ["cfi", "--rows", "--merge", path])
        XCTAssertEqual(merged.status, 0, merged.stderr)
        // Normalized the same way, the two tables agree; merged has fewer rows.
        let a = FrameListing(text: merged.stdout), b = FrameListing(text: listed.stdout)
        XCTAssertEqual(a.entryCount, b.entryCount)
        var rows = 0
        for (section, entries) in b.entries {
            for offset in entries.keys {
                let m = a.normalizedRows(section: section, offset: offset), l = b.normalizedRows(section: section, offset: offset)
                if m != l { XCTFail("\(section) entry 0x\(String(offset, radix: 16)): merged \(m), listed \(l)") }
                rows += l.count
            }
        }
        XCTAssertGreaterThan(rows, 10_000, "libgcrypt has 13,072 rows")
        XCTAssertLessThan(merged.stdout.utf8.count, listed.stdout.utf8.count)
    }

    func testCFIVDSOFlagListsTheVDSOThatAFileDumpOfItListsToo() throws {
        let vunwind = try Tools.product("vunwind")
        let live = try Subprocess.run(vunwind, ["cfi", "--vdso", "--rows"])
        XCTAssertEqual(live.status, 0, live.stderr)
        let listing = FrameListing(text: live.stdout)
        XCTAssertGreaterThan(listing.entries[".eh_frame"]?.count ?? 0, 2)
        // The same image written to a file (the bytes this process's vDSO holds; every
        // process maps the same vDSO) and listed as a file: the same entries and rows, and
        // byte for byte the same listing.
        let (_, bytes) = try VDSOImage.current()
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("vdso.so").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try Subprocess.run(vunwind, ["cfi", path, "--rows"])
        XCTAssertEqual(file.status, 0, file.stderr)
        XCTAssertEqual(FrameListing(text: file.stdout), listing)
        XCTAssertEqual(file.stdout, live.stdout)
    }

    func testCFIRowsEqualReadelfForDebugFrameVersions1To4And64BitDWARFAndPersonalityFixtures() throws {
        for name in ["debug-frame-v1.so", "debug-frame-v3.so", "debug-frame-v4.so", "debug-frame-v4-dwarf64.so",
                     "eh-frame-personality.so"] {
            XCTAssertGreaterThan(try compareWithReadelf(Tools.fixture(name)), 3, name)
        }
    }

    struct Report: Decodable {
        struct Section: Decodable { var name: String; var entries: [Entry] }
        struct Entry: Decodable {
            var kind: String
            var version: UInt8?
            var augmentation: String?
            var lsda: UInt64?
            var pcBegin: UInt64?
            var rows: [Row]?
        }
        struct Row: Decodable { var start: UInt64; var cfa: String; var registers: [String: String] }
        var sections: [Section]
    }

    func json(_ path: String) throws -> Report {
        let r = try Subprocess.run(try Tools.product("vunwind"), ["cfi", "--rows", "--json", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return try JSONDecoder().decode(Report.self, from: r.stdoutBytes)
    }

    func testCFIJSONReportsTheDebugFrameCIEVersionOfEachFixture() throws {
        for (name, version) in [("debug-frame-v1.so", 1), ("debug-frame-v3.so", 3), ("debug-frame-v4.so", 4),
                                ("debug-frame-v4-dwarf64.so", 4)] {
            let report = try json(Tools.fixture(name))
            let debug = try XCTUnwrap(report.sections.first { $0.name == ".debug_frame" }, name)
            XCTAssertEqual(debug.entries.first?.kind, "CIE", name)
            XCTAssertEqual(debug.entries.first?.version, UInt8(version), name)
            XCTAssertEqual(debug.entries.first?.augmentation, "", name)
            // vu_fixture_frames saves rbx, r14 and r15 (clang) or rbx, rbp, r12 (gcc): the last
            // body row of its FDE has the CFA at rsp+N with the return address at CFA-8.
            let fde = try XCTUnwrap(debug.entries.first { $0.kind == "FDE" }, name)
            XCTAssertEqual(fde.rows?.first?.cfa, "rsp+8", name)
            XCTAssertEqual(fde.rows?.first?.registers["ra"], "c-8", name)
            XCTAssertGreaterThan(fde.rows?.count ?? 0, 3, name)
        }
    }

    func testCFIJSONShowsThePersonalityCIEAndTheLSDAOfTheFunctionWithATryBlock() throws {
        let report = try json(Tools.fixture("eh-frame-personality.so"))
        let eh = try XCTUnwrap(report.sections.first { $0.name == ".eh_frame" })
        XCTAssertTrue(eh.entries.contains { $0.kind == "CIE" && $0.augmentation == "zPLR" })
        XCTAssertTrue(eh.entries.contains { $0.kind == "FDE" && $0.lsda != nil })
    }
}
