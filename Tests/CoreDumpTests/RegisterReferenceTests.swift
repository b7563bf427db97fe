// RegisterReferenceTests: the rewritten core's returned thread has the registers gdb gives
// it. The reference: the same live process, held at the same fault, where gdb pops the
// frame itself (`return (long)-14`, with the page's CFI from its JIT interface or the
// vDSO's own) and writes a core with `gcore`. rip, rsp, rax, rbx, rbp and r12-r15 of the
// two cores, as gdb reads them, must be equal.

import CoreDump
import Foundation
import TestSupport
import Unwind
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class RegisterReferenceTests: XCTestCase {
    static let compared = ["rip", "rsp", "rax", "rbx", "rbp", "r12", "r13", "r14", "r15"]

    /// gdb's `info registers` of a core's current thread.
    func registers(_ program: String, _ core: String) throws -> [String: String] {
        let text = try CoreHarness.gdb(program, core: core, ["info registers " + Self.compared.joined(separator: " ")])
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count >= 2, Self.compared.contains(String(f[0])) { out[String(f[0])] = String(f[1]) }
        }
        return out
    }

    func assertMatchesGDBsReturn(_ program: String, _ arguments: [String], directory: URL?, label: String,
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try Tools.temporaryDirectory("vunwind-core-reference")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let pid = try Spawner.spawn(program, arguments.map { $0 == "DIR" ? dir.path : $0 },
                                    environment: ["SWIFT_BACKTRACE": "enable=no"], quiet: true, directory: dir.path)
        let child = TracedProcess(pid: pid)
        var status: Int32 = 0
        defer {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, __WALL)
            unlink("/tmp/perf-\(pid).map")
        }
        try child.waitForStop(SIGSEGV)
        let ours = dir.appendingPathComponent("ours.core").path
        try CoreWriter.write(pid: pid, to: ours, alreadyStopped: [pid])
        // Hand the process to gdb held at the same fault: the SIGSEGV is replaced by a stop.
        try child.detach(signal: SIGSTOP)
        let reference = dir.appendingPathComponent("gdb-returned.core").path
        let g = try Subprocess.run(try Tools.path("gdb"), ["-batch", "-nx", "-p", "\(pid)", "-ex", "set confirm off",
                                                           "-ex", "return (long)-14", "-ex", "gcore \(reference)"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: reference), "gdb: \(g.stdout)\n\(g.stderr)", file: file, line: line)
        let returned = ours + ".returned"
        _ = try CoreHarness.analyze([ours, "--rewrite", returned], file: file, line: line)
        let theirs = try registers(program, reference), mine = try registers(program, returned)
        XCTAssertEqual(theirs.count, Self.compared.count, "\(label): gdb read \(theirs)", file: file, line: line)
        XCTAssertEqual(mine, theirs, label, file: file, line: line)
        XCTAssertEqual(mine["rax"], "0xfffffffffffffff2", label, file: file, line: line)
    }

    func testEachEntryReturnedInTheCoreHasTheRegistersGDBsReturnGivesTheLiveProcess() throws {
        let program = try FixturePrograms.shared("debug_probe.c")
        for entry in ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"] {
            try assertMatchesGDBsReturn(program, ["crash-traced", entry], directory: nil, label: entry)
        }
    }

    func testTheVDSOCaseReturnedInTheCoreHasTheRegistersGDBsReturnGivesTheLiveProcess() throws {
        try assertMatchesGDBsReturn(try CoreHarness.coreCrash(), ["DIR", "vdso-gettimeofday", "traced"], directory: nil,
                                    label: "__vdso_gettimeofday")
    }
}
