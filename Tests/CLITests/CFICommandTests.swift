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

    // Beyond row equality: where the CFI is written so that every advance changes a rule
    // (as readelf prints a row at every advance and we merge identical ones), the two
    // listings are the same bytes. libgcc_s and libstdc++ are such files, and so is the
    // vsyscall page (its tracker puts remember_state where the last rule changed).
    func testCFIRowsOutputIsByteIdenticalToReadelfForLibgccSLibstdcxxAndTheEmittedPage() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.appendingPathComponent("page.so").path
        let vunwind = try Tools.product("vunwind")
        let emit = try Subprocess.run(vunwind, ["emit", "--elf", page])
        XCTAssertEqual(emit.status, 0, emit.stderr)
        for path in [try SystemLibraries.path("libgcc_s.so.1"), try SystemLibraries.path("libstdc++.so.6"), page] {
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
