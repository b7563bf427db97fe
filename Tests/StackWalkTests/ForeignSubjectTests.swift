// Code no one here wrote: the running kernel's vDSO exports and functions of libc.so.6,
// each single-stepped with every walker judged against the trampoline's truth.

import Foundation
import StackWalk
import TestSupport
import Unwind
import XCTest

final class ForeignSubjectTests: XCTestCase {
    static let libc = "/lib/x86_64-linux-gnu/libc.so.6"

    func tester(_ observer: ((WalkSubject, WalkStop) -> Void)? = nil) throws -> StackWalkTester {
        let t = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: StackWalkTester.remoteWalkers())
        t.observer = observer
        t.inProcess = true
        t.euStack = true
        return t
    }

    func assertCFIWalkersPassEverywhere(_ report: WalkReport, subjects: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.cells.count, subjects * 8, file: file, line: line)
        for c in report.cells {
            XCTAssertGreaterThan(c.stops, 0, "\(c.walker) \(c.subject)", file: file, line: line)
            XCTAssertEqual(c.failed, 0, "\(c.walker) \(c.subject)", file: file, line: line)
            XCTAssertEqual(c.passed + c.expected, c.stops, "\(c.walker) \(c.subject)", file: file, line: line)
            if c.walker != "frame-pointer" { XCTAssertEqual(c.expected, 0, "\(c.walker) \(c.subject)", file: file, line: line) }
        }
        XCTAssertEqual(report.failures, [], file: file, line: line)
    }

    func testEveryVDSOExportPassesEveryCFIWalkerRemoteInProcessAndEuStackSampled() throws {
        var functions = Set<String>()
        let report = try tester { _, stop in
            let pc = stop.registers.rip
            if let m = stop.modules.module(containing: pc), m.name == "[vdso]" { functions.insert(m.symbol(for: pc)?.name ?? "?") }
        }.run(WalkSubject.vdso)
        assertCFIWalkersPassEverywhere(report, subjects: 10)
        XCTAssertTrue(functions.isSuperset(of: ["__vdso_gettimeofday", "__vdso_clock_gettime", "__vdso_time", "__vdso_getcpu",
                                                "__vdso_clock_getres"]), "\(functions.sorted())")
    }

    func testTwelveLibcFunctionsPassEveryCFIWalkerRemoteInProcessAndEuStackSampledIncludingQsortsCallback() throws {
        let calls = [
            "strlen(\"hello world\")", "memcpy(zeros(64), \"abcdefghijklmnopqrstuvwxyz0123456789\", 37)",
            "memset(zeros(300), 65, 300)", "strcmp(\"hello\", \"help\")", "strchr(\"hello world\", 119)",
            "memcmp(\"abcdef\", \"abcdeg\", 6)", "strcpy(zeros(32), \"vsyscall\")", "qsort(\"dcbahgfe\", 8, 1, cmp_bytes)",
            "getpid", "gettimeofday(zeros(16), 0)", "strtol(\"12345\", 0, 10)", "snprintf(zeros(64), 64, \"%d-%s\", 42, \"x\")",
        ]
        let subjects = try calls.map { try SubjectParser.parse("\(Self.libc):\($0)") }
        var functions: [String: Set<String>] = [:]
        let report = try tester { subject, stop in
            let pc = stop.registers.rip
            functions[subject.name, default: []].insert(stop.modules.module(containing: pc)?.symbol(for: pc)?.name ?? "?")
        }.run(subjects)
        assertCFIWalkersPassEverywhere(report, subjects: 12)
        // The callback ran inside qsort (depth 2 below the trampoline), and gettimeofday went
        // through glibc into the vDSO.
        XCTAssertTrue(functions["libc.so.6:qsort(\"dcbahgfe\", 8, 1, cmp_bytes)"]?.contains("vu_walk_compare_bytes") ?? false)
        XCTAssertTrue(functions["libc.so.6:gettimeofday(zeros(16), 0)"]?.contains("__vdso_gettimeofday") ?? false)
    }

    func testSubjectParserReadsEveryArgumentKind() throws {
        let s = try SubjectParser.parse(#"\#(Self.libc):snprintf(zeros(8), -1, 0x1f, "a,\"b\"\n\x41", cmp_ints)"#)
        XCTAssertEqual(s.target, .function(file: Self.libc, symbol: "snprintf",
                                           arguments: [.zeros(8), .integer(-1), .integer(31), .string(Array("a,\"b\"\nA".utf8)), .callback("cmp_ints")]))
        XCTAssertEqual(try SubjectParser.parse("\(Self.libc):getpid").target, .function(file: Self.libc, symbol: "getpid", arguments: []))
    }

    /// A subject that blocks (pause) or crashes (strlen(NULL)) ends the walk with one error,
    /// never a hang: a step that does not finish within the bound kills the helper.
    func testABlockingOrCrashingSubjectEndsTheWalkWithATypedErrorNotAHang() throws {
        let t = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: StackWalkTester.remoteWalkers())
        t.stepTimeout = 1
        let blocked = "libc.so.6:pause(): one instruction did not finish in 1 s "
            + "(a blocking system call, such as pause or sleep, cannot be stepped through)"
        assertThrowsExactly(WalkError(blocked), blocked) { _ = try t.run([try SubjectParser.parse("\(Self.libc):pause")]) }
        let crashed = "libc.so.6:strlen(0): the helper died of signal 11 inside the call"
        assertThrowsExactly(WalkError(crashed), crashed) { _ = try t.run([try SubjectParser.parse("\(Self.libc):strlen(0)")]) }
    }

    func testBadSubjectsAreRefusedWithOneExactLine() throws {
        let cases: [(String, String)] = [
            ("/nonexistent/lib.so:f", "/nonexistent/lib.so: cannot open: No such file or directory"),
            ("\(Self.libc):no_such_function", "\(Self.libc): no function no_such_function"),
            ("\(Self.libc):strlen(zeros(99999999))", "\(Self.libc):strlen(zeros(99999999)): zeros(N) takes 0 to 16777216 bytes, got zeros(99999999)"),
            ("\(Self.libc):strlen(\"abc)", "\(Self.libc):strlen(\"abc): unterminated string literal"),
            ("\(Self.libc):strlen(1,2,3,4,5,6,7)", "\(Self.libc):strlen(1,2,3,4,5,6,7): at most 6 arguments, got 7"),
            ("\(Self.libc):strlen(cmp_nothing)",
             "\(Self.libc):strlen(cmp_nothing): bad argument cmp_nothing (an integer, \"string\", zeros(N), cmp_bytes or cmp_ints)"),
            ("strlen", "strlen: expected FILE:SYMBOL or FILE:SYMBOL(ARGS)"),
        ]
        let vunwind = try Tools.product("vunwind")
        for (subject, message) in cases {
            let r = try Subprocess.run(vunwind, ["walk", "--subject", subject])
            XCTAssertEqual(r.status, 2, subject)
            XCTAssertEqual(r.stderr, "vunwind: \(message)\n", subject)
            XCTAssertEqual(r.stdout, "", subject)
        }
    }
}

final class WalkCommandJSONTests: XCTestCase {
    /// The stable format: an object with `cells` and `failures`, each cell with its counts.
    func testJSONHasCellsAndFailuresWithTheDocumentedKeys() throws {
        let r = try Subprocess.run(try Tools.product("vunwind"), ["walk", "--json", "--subject", "\(ForeignSubjectTests.libc):getpid"])
        // (gdb included: the command line walks with every walker unless --no-gdb.)
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: r.stdoutBytes) as? [String: Any])
        XCTAssertEqual(Set(object.keys), ["cells", "failures", "skipped"])
        let cells = try XCTUnwrap(object["cells"] as? [[String: Any]])
        XCTAssertEqual(cells.map { $0["walker"] as? String },
                       ["vunwind", "libunwind-ptrace", "libdwfl", "frame-pointer", "eu-stack", "libgcc", "libunwind-local",
                        "vunwind-local", "gdb"])
        for c in cells {
            XCTAssertEqual(Set(c.keys), ["walker", "subject", "path", "instructions", "stops", "passed", "failed", "expected", "seconds"])
            XCTAssertEqual(c["subject"] as? String, "libc.so.6:getpid()")
            XCTAssertEqual(c["path"] as? String, "call")
            XCTAssertEqual(c["failed"] as? Int, 0)
        }
        XCTAssertEqual((object["failures"] as? [Any])?.count, 0)
        XCTAssertEqual((object["skipped"] as? [Any])?.count, 0)
    }
}
