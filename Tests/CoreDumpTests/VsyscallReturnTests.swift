// VsyscallReturnTests: threads that died inside a virtual syscall are returned from it.
// Judges: eu-stack's own frames on the same core (ours must be its frames 1..n, from the
// synthesized return), and gdb and eu-stack on the rewritten core (frame #0 is the caller,
// $rax is -14). Each case runs on our own core of the fault and, where core_pattern writes
// a file, on the kernel's.

import Foundation
import TestSupport
import XCTest

final class VsyscallReturnTests: XCTestCase {
    /// The thread of a report that stopped inside a vsyscall (the helpers have one).
    private func thread(_ report: [String: Any]) -> [String: Any] {
        ((report["threads"] as? [[String: Any]]) ?? []).first { $0["vsyscall"] != nil } ?? [:]
    }

    private func pcs(_ thread: [String: Any]) -> [UInt64] {
        ((thread["frames"] as? [[String: Any]]) ?? []).compactMap { CoreHarness.hex($0["pc"]) }
    }

    /// Analysis, eu-stack agreement, rewrite, and gdb/eu-stack on the rewrite, for one core.
    /// `caller`: eu-stack's name of the caller; `gdbCaller` gdb's, when it is ours to name.
    private func assertReturned(core: String, program: String, function: String, kind: String, caller: String,
                                gdbCaller: String?, file: StaticString = #filePath, line: UInt = #line) throws {
        let out = core + ".returned"
        let reports = try CoreHarness.analyze([core, "--rewrite", out], file: file, line: line)
        let t = thread(reports.first ?? [:])
        let vsyscall = t["vsyscall"] as? [String: Any]
        XCTAssertEqual(vsyscall?["kind"] as? String, kind, "\(t)", file: file, line: line)
        XCTAssertEqual(vsyscall?["function"] as? String, function, file: file, line: line)
        let returned = t["returned"] as? [String: Any]
        XCTAssertEqual(returned?["value"] as? Int, -14, "\(t)", file: file, line: line)
        XCTAssertEqual((t["crossCheck"] as? [String: Any])?["agrees"] as? Bool, true, "\(t["crossCheck"] ?? "")", file: file, line: line)
        // eu-stack on the original core: frame 0 is the vsyscall, 1..n the callers.
        let tid = t["tid"] as? Int ?? -1
        let theirs = try CoreHarness.euStack(core: core, exe: program)[tid] ?? []
        XCTAssertGreaterThan(theirs.count, 3, file: file, line: line)
        if kind != "legacy [vsyscall] page" {
            XCTAssertEqual(Array(theirs.dropFirst().map(\.pc)), pcs(t), "our frames after the return vs eu-stack's 1..n",
                           file: file, line: line)
        }
        XCTAssertEqual(CoreHarness.hex(returned?["rip"]), pcs(t).first, file: file, line: line)
        // The rewritten core: the call has returned, for gdb and for eu-stack.
        // gdb looks at the thread the core names first: the one that faulted.
        let gdb = try CoreHarness.gdb(program, core: out, ["bt", "p $rax", "p/x $pc"])
        if let gdbCaller {
            let frame0 = gdb.split(separator: "\n").first { $0.hasPrefix("#0 ") }.map(String.init) ?? ""
            XCTAssertTrue(frame0.hasPrefix("#0  \(gdbCaller) (") || frame0.contains(" in \(gdbCaller) ("),
                          "gdb frame #0: \(frame0)\n\(gdb)", file: file, line: line)
        }
        XCTAssertTrue(gdb.contains("$1 = -14"), gdb, file: file, line: line)
        XCTAssertTrue(gdb.contains("$2 = \((returned?["rip"] as? String) ?? "?")\n") || gdb.contains("$2 = \((returned?["rip"] as? String) ?? "?") "),
                      gdb, file: file, line: line)
        let after = try CoreHarness.euStack(core: out, exe: program)[tid] ?? []
        XCTAssertEqual(after.first?.name, caller, "eu-stack on the rewritten core", file: file, line: line)
        XCTAssertEqual(after.first?.pc, pcs(t).first, file: file, line: line)
    }

    private func crashCores(_ mode: String) throws -> Cores {
        let program = try CoreHarness.coreCrash()
        let dir = try Tools.temporaryDirectory("vunwind-core-\(mode)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try CoreHarness.crash(program, [dir.path, mode, "traced"], in: dir)
    }

    func testAFaultInTheVDSOsGettimeofdayReturnsEFAULTAndTheCallersAreEuStacksFrames() throws {
        let cores = try crashCores("vdso-gettimeofday")
        let program = try CoreHarness.coreCrash()
        for core in [cores.ours] + (cores.kernel.map { [$0] } ?? []) {
            try assertReturned(core: core, program: program, function: "__vdso_gettimeofday", kind: "vDSO", caller: "crash_inner",
                               gdbCaller: "crash_inner")
        }
    }

    func testAFaultInTheVDSOsClockGettimeReturnsEFAULTAndTheCallersAreEuStacksFrames() throws {
        let cores = try crashCores("vdso-clock_gettime")
        let program = try CoreHarness.coreCrash()
        for core in [cores.ours] + (cores.kernel.map { [$0] } ?? []) {
            // glibc's clock_gettime calls the vDSO: its frame is the caller here.
            try assertReturned(core: core, program: program, function: "__vdso_clock_gettime", kind: "vDSO",
                               caller: "clock_gettime@@GLIBC_2.17", gdbCaller: nil)
        }
    }

    func testEachEntryOfOurPageInSigsegvModeReturnsEFAULTToItsCaller() throws {
        let program = try FixturePrograms.shared("debug_probe.c")
        for entry in ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"] {
            let dir = try Tools.temporaryDirectory("vunwind-core-\(entry)")
            addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
            // debug_probe writes its core to its cwd: run it from `dir` through a shell-free chdir.
            let cores = try CoreHarness.crash(program, ["crash-traced", entry], in: dir, chdirTo: dir)
            for core in [cores.ours] + (cores.kernel.map { [$0] } ?? []) {
                try assertReturned(core: core, program: program, function: entry, kind: "vunwind page", caller: "vu_probe_inner",
                               gdbCaller: "vu_probe_inner")
            }
        }
    }

    func testTheLegacyVsyscallPageWithABadPointerReturnsEFAULTToItsCaller() throws {
        let cores = try crashCores("legacy")
        let program = try CoreHarness.coreCrash()
        for core in [cores.ours] + (cores.kernel.map { [$0] } ?? []) {
            try assertReturned(core: core, program: program, function: "vsyscall gettimeofday", kind: "legacy [vsyscall] page",
                               caller: "crash_inner", gdbCaller: "crash_inner")
            // Before the rewrite eu-stack 0.188 misses the caller of the legacy page: it
            // takes the frame pointer from the frameless page and lands one frame too far.
            let before = try CoreHarness.euStack(core: core, exe: program).values.first { !$0.isEmpty } ?? []
            XCTAssertEqual(before.map(\.name).prefix(3), ["", "crash_outer", "main"], "\(before)")
        }
    }
}
