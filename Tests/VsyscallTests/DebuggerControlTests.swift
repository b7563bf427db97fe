// gdb controlling a program inside the page (issue 11 item 1): a software breakpoint at an
// entry, and stepi through a whole entry while the timekeeper ticks. The judge is gdb
// 13 running fixtures/programs/debug_probe.c (`once` mode: install, one call through
// main -> vu_probe_outer -> vu_probe_inner -> ENTRY, "called ENTRY", exit 0).
//
// A breakpoint is an int3 that ptrace writes into the text. The kernel refuses forced
// writes to a shared mapping that is not writable, so in the shared kinds (the default
// shared-anonymous, and memfd) gdb leaves the breakpoint pending without a word; the
// private kinds are copy-on-write for the debugger and take it.

import Foundation
import TestSupport
import XCTest

final class DebuggerControlTests: XCTestCase {
    private func gdb(_ mapping: String, _ commands: [String], file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let probe = try FixturePrograms.shared("debug_probe.c", file: file, line: line)
        return try Subprocess.run(try Tools.path("gdb"),
                                  ["-batch", "-nx"] + commands.flatMap { ["-ex", $0] } + ["--args", probe, "once", "vgettimeofday"],
                                  environment: ["VUNWIND_VSYSCALL_MAPPING": mapping, "SWIFT_BACKTRACE": "enable=no"])
    }

    private func lines(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter {
            (!$0.hasPrefix("[") || $0.hasPrefix("[Inferior")) && !$0.hasPrefix("During symbol reading") && !$0.hasPrefix("Using host libthread_db")
        }
    }

    private let breakCommands = ["set breakpoint pending on", "break vgettimeofday", "run", "bt", "continue"]

    func testBreakVgettimeofdayStopsInTheEntryWithTheCallersBelowAndContinueRunsToANormalExitInBothPrivateMappings() throws {
        for mapping in ["memfd-private", "private-anonymous"] {
            let r = try gdb(mapping, breakCommands)
            let out = lines(r.stdout + r.stderr)
            // The JIT symbol file arrives at install: pending until then, resolved after.
            XCTAssertTrue(out.contains("Breakpoint 1 (vgettimeofday) pending."), "\(mapping): \(out)")
            // gdb puts the breakpoint after the prologue's push rbp; mov rbp,rsp (4 bytes).
            XCTAssertTrue(out.contains("Thread 1 \"debug_probe\" hit Breakpoint 1, 0x0000550000001004 in vgettimeofday ()"),
                          "\(mapping): \(out)")
            let frames = out.filter { $0.hasPrefix("#") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            XCTAssertEqual(frames.map { $0.count > 3 ? String($0[3]) : "" }, ["vgettimeofday", "vu_probe_inner", "vu_probe_outer", "main"],
                           "\(mapping): \(out)")
            XCTAssertTrue(out.contains("called vgettimeofday"), "\(mapping): \(out)")
            XCTAssertTrue(out.contains { $0.hasSuffix("exited normally]") }, "\(mapping): \(out)")
        }
    }

    /// The limit, measured: in a shared mapping the breakpoint stays pending and the call
    /// runs through it (hbreak works there; see the README's consumer table).
    func testInTheSharedMappingsTheBreakpointStaysPendingAndTheCallRunsThroughIt() throws {
        for mapping in ["shared-anonymous", "memfd"] {
            let r = try gdb(mapping, ["set breakpoint pending on", "break vgettimeofday", "run", "info breakpoints"])
            let out = lines(r.stdout + r.stderr)
            XCTAssertFalse(out.contains { $0.contains("hit Breakpoint 1") }, "\(mapping): \(out)")
            XCTAssertTrue(out.contains("called vgettimeofday"), "\(mapping): \(out)")
            XCTAssertTrue(out.contains { $0.hasPrefix("1       breakpoint     keep y   <PENDING>") && $0.hasSuffix("vgettimeofday") },
                          "\(mapping): \(out)")
        }
    }

    /// One call stepped with stepi from the entry's first instruction, until the caller or
    /// `cap` steps; returns gdb's report lines.
    private func stepThrough(lockingThreads: Bool, cap: Int) throws -> [String] {
        let dir = try Tools.temporaryDirectory("vunwind-stepi")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = dir.appendingPathComponent("step.py").path
        try """
            import gdb
            gdb.execute("set pagination off")
            gdb.execute("break vu_probe_inner")
            gdb.execute("run")
            \(lockingThreads ? "gdb.execute(\"set scheduler-locking step\")" : "")
            entry = 0x550000001000
            n = 0
            while int(gdb.parse_and_eval("$pc")) != entry and n < 200:
                gdb.execute("stepi", to_string=True)
                n += 1
            print("entered %s" % (int(gdb.parse_and_eval("$pc")) == entry))
            ret = int(gdb.parse_and_eval("*(unsigned long *)$sp"))
            steps = 0
            while int(gdb.parse_and_eval("$pc")) != ret and steps < \(cap):
                gdb.execute("stepi", to_string=True)
                steps += 1
            print("back in the caller %s after %d steps" % (int(gdb.parse_and_eval("$pc")) == ret, steps))
            gdb.execute("set scheduler-locking off")
            gdb.execute("continue")
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let r = try gdb("shared-anonymous", ["source " + script])
        return lines(r.stdout + r.stderr)
    }

    /// With the other threads held while stepping, the timekeeper cannot publish during
    /// the read: the first pass's counters match and the call returns.
    func testStepiWithSchedulerLockingStepReturnsFromTheEntryToTheCallerWithinOneHundredSteps() throws {
        let out = try stepThrough(lockingThreads: true, cap: 3000)
        XCTAssertTrue(out.contains("entered True"), "\(out)")
        let back = try XCTUnwrap(out.first { $0.hasPrefix("back in the caller ") }, "\(out)")
        XCTAssertTrue(back.hasPrefix("back in the caller True after "), back)
        XCTAssertLessThanOrEqual(Int(back.split(separator: " ")[6]) ?? .max, 100, back)
        XCTAssertTrue(out.contains("called vgettimeofday"), "\(out)")
        XCTAssertTrue(out.contains { $0.hasSuffix("exited normally]") }, "\(out)")
    }

    /// The limit that remains (README): at about 1 ms a stepi, each pass of the lock's read
    /// spans a 4 ms tick and sees the counters move, so with gdb's default setting the
    /// reader retries (up to 4,096 passes, about 60,000 steps) before its syscall fallback.
    func testStepiWithGdbsDefaultSchedulerLockingIsStillInsideThePageAfter1500Steps() throws {
        let out = try stepThrough(lockingThreads: false, cap: 1500)
        XCTAssertTrue(out.contains("entered True"), "\(out)")
        XCTAssertTrue(out.contains("back in the caller False after 1500 steps"), "\(out)")
        XCTAssertTrue(out.contains("called vgettimeofday"), "\(out)")
    }
}
