// ForkTests: the page in a program that forks (issue 9 items 3 and 7). Before: a child
// whose parent died in the middle of a vvar update spun forever in every clock call, and a
// child's uninstall joined a thread it does not have (and deleted the parent's perf map).
// Now a child gets a private vvar in syscall mode at fork. The judges: the kernel's clock
// around each call, and the process tree (a hung child keeps the subreaper from exiting).

import Foundation
import TestSupport
import Unwind
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class ForkTests: XCTestCase {
    func testAForkStormWhoseParentIsKilledAtRandomPointsLeavesNoChildHungAndEveryClockRight() throws {
        let program = try FixturePrograms.shared("fork_storm.c")
        let dir = try Tools.temporaryDirectory("vunwind-fork")
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = SeededGenerator(seed: 0xf04c)
        var children = 0, slowest = 0
        // Storms until 1,000 children have run (how many a storm gets before its writer is
        // killed depends on the machine's speed).
        var run = 0
        while children < 1000 && run < 60 {
            defer { run += 1 }
            let log = dir.appendingPathComponent("run\(run).log").path
            let top = try Spawner.spawn(program, [log, "400", "100"], environment: ["SWIFT_BACKTRACE": "enable=no"], quiet: true)
            var writer: pid_t = 0
            for _ in 0..<500 where writer == 0 {
                usleep(2000)
                let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                writer = text.split(separator: "\n").first { $0.hasPrefix("writer ") }.flatMap { pid_t($0.dropFirst(7)) } ?? 0
            }
            XCTAssertNotEqual(writer, 0, "the writer never started")
            for _ in 0..<500 where !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("begin ") { usleep(2000) }
            // Kill the writer (the parent of every child) at a random point of its storm;
            // with a 100 µs tick its timekeeper is often in the middle of an update.
            usleep(UInt32(100_000 + rng.next() % 150_000))
            kill(writer, SIGKILL)
            // The subreaper exits when the last child has: a hung child shows as a timeout.
            var status: Int32 = 0
            var exited = false
            for _ in 0..<3000 {
                if waitpid(top, &status, WNOHANG) == top { exited = true; break }
                usleep(10_000)
            }
            if !exited {
                kill(-top, SIGKILL)
                kill(top, SIGKILL)
                _ = waitpid(top, &status, 0)
            }
            let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
            let begun = Set(lines.filter { $0.hasPrefix("begin ") }.map { $0.dropFirst(6) })
            let done = lines.filter { $0.hasPrefix("done ") }.map { $0.split(separator: " ") }
            XCTAssertTrue(exited, "run \(run): children still running after 30 s: \(begun.subtracting(done.map { $0[1] }))")
            XCTAssertEqual(Set(done.map { $0[1] }), begun, "run \(run): a child began and never finished")
            XCTAssertEqual(done.filter { $0[2] != "ok" }.count, 0, "run \(run): a child's clock disagreed with the kernel's")
            children += done.count
            slowest = max(slowest, done.compactMap { Int($0[3]) }.max() ?? 0)
        }
        print("fork storm: \(children) children, the slowest clock call took \(slowest) ns")
        XCTAssertGreaterThanOrEqual(children, 1000)
    }

    func testAForkedChildsUninstallReturnsAndLeavesTheParentsPerfMap() throws {
        let program = try FixturePrograms.shared("fork_storm.c")
        let dir = try Tools.temporaryDirectory("vunwind-fork")
        defer { try? FileManager.default.removeItem(at: dir) }
        let log = dir.appendingPathComponent("log").path
        let r = try Subprocess.run(program, [log, "uninstall"], environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8), "child-uninstall 0\nparent-map 4\n")
    }
}
