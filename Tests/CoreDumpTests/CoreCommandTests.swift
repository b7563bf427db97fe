// CoreCommandTests: the command line of `vunwind core` and `vunwind gcore` as a user meets
// it: several cores in one call, the JSON keys the README documents as stable, a rewrite
// that would replace its input refused, unreadable input as one line with exit 2.

import Foundation
import TestSupport
import Unwind
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class CoreCommandTests: XCTestCase {
    func cores() throws -> Cores {
        let dir = try Tools.temporaryDirectory("vunwind-core-cli")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try CoreHarness.crash(try CoreHarness.coreCrash(), [dir.path, "vdso-clock_gettime", "traced"], in: dir)
    }

    func testSeveralCoresInOneCallGiveOneReportEachWithTheDocumentedKeys() throws {
        let c = try cores()
        let other = c.ours + ".copy"
        try FileManager.default.copyItem(atPath: c.ours, toPath: other)
        let reports = try CoreHarness.analyze([c.ours, other])
        XCTAssertEqual(reports.map { $0["file"] as? String }, [c.ours, other])
        for r in reports {
            for key in ["file", "process", "signal", "modules", "missingModules", "problems", "threads"] {
                XCTAssertNotNil(r[key], "report key \(key)")
            }
            let t = try XCTUnwrap((r["threads"] as? [[String: Any]])?.first)
            XCTAssertNotNil(t["tid"] as? Int)
            let f = try XCTUnwrap((t["frames"] as? [[String: Any]])?.first)
            for key in ["pc", "function", "module", "kind", "index"] { XCTAssertNotNil(f[key], "frame key \(key)") }
        }
    }

    func testARewriteOntoItsInputIsRefusedAndTheInputIsUnchanged() throws {
        let c = try cores()
        let before = try Data(contentsOf: URL(fileURLWithPath: c.ours))
        let link = c.ours + ".samefile"
        XCTAssertEqual(Glibc.link(c.ours, link), 0)
        for out in [c.ours, link] {
            let r = try Subprocess.run(try Tools.product("vunwind"), ["core", "--no-cross-check", c.ours, "--rewrite", out])
            XCTAssertEqual(r.status, 2)
            XCTAssertEqual(r.stderr, "vunwind: \(out): \(out): the rewritten core may not replace its input\n")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: c.ours)), before)
    }

    func testAMissingCoreAndAMissingProcessAreOneLineExitTwo() throws {
        var r = try Subprocess.run(try Tools.product("vunwind"), ["core", "/nonexistent/core"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "vunwind: /nonexistent/core: cannot open: No such file or directory\n")
        r = try Subprocess.run(try Tools.product("vunwind"), ["core", "/dev/null"])
        XCTAssertEqual(r.stderr, "vunwind: /dev/null: not a regular file\n")
        r = try Subprocess.run(try Tools.product("vunwind"), ["gcore", "999999999", "-o", "/tmp/never"])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "vunwind: gcore 999999999: no process 999999999: No such file or directory\n")
    }

    func testGcoreWritesACoreOfARunningProcessThatLeavesItRunning() throws {
        let program = try FixturePrograms.shared("spin.c")
        let pid = try Spawner.spawn(program, ["vgettimeofday"], environment: ["SWIFT_BACKTRACE": "enable=no"], quiet: true)
        defer { kill(pid, SIGKILL); var s: Int32 = 0; waitpid(pid, &s, 0); unlink("/tmp/perf-\(pid).map") }
        usleep(300_000)
        let dir = try Tools.temporaryDirectory("vunwind-gcore")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("spin.core").path
        let r = try Subprocess.run(try Tools.product("vunwind"), ["gcore", "\(pid)", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("wrote \(out): 2 thread(s), "), r.stdout)
        // Still running (not stopped, not dead): its state in /proc is R or S.
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let state = stat.split(separator: ")").last?.split(separator: " ").first
        XCTAssertTrue(state == "R" || state == "S", "state \(state ?? "?")")
        // gdb reads it: the spinning thread's backtrace reaches main through the page.
        let bt = try Subprocess.run(try Tools.path("gdb"), ["-batch", "-nx", "-ex", "thread apply all bt", program, out]).stdout
        XCTAssertTrue(bt.contains(" main ("), bt)
    }
}
