// The reader's retry is bounded (issue 9 item 3): with the lock held as a stalled writer
// holds it (a forked child whose parent died in mid-update, a writer stopped by a debugger
// or preempted), every clock entry gives up after ClockRead.retryLimit passes and answers
// with the real syscall. strace, not our code, says which syscalls each call made.

import Foundation
import TestSupport
import Vsyscall
import XCTest

final class LockBoundTests: XCTestCase {
    /// Before: the held calls spun until the fixture's 10 s alarm killed it (SIGALRM).
    func testWithTheWriterStalledInMidUpdateEveryClockEntryAnswersThroughItsSyscallAndNoneSpins() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let trace = dir.appendingPathComponent("strace").path
        let now = Int(Date().timeIntervalSince1970)
        let r = try Subprocess.run(try Tools.path("strace"), [
            "-f", "-qq", "-o", trace, "-e", "trace=getppid,gettimeofday,time,clock_gettime",
            try Tools.product("fixture-vsyscall"), "held-writer",
        ], environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(lines.map(\.first), ["pid", "free", "held", "free"], r.stdout)
        guard lines.count == 4 else { return }
        let pid = lines[0][1]
        for phase in lines[1...] {
            // gettimeofday 0, time = its seconds, clock_gettime 0 twice, seconds near now.
            XCTAssertEqual(phase[1], "0", "\(phase)")
            XCTAssertTrue(abs((Int(phase[2]) ?? 0) - now) <= 60, "\(phase)")
            XCTAssertEqual(phase[3], phase[4], "\(phase)")
            XCTAssertEqual(phase[5], "0", "\(phase)")
            XCTAssertEqual(phase[7], "0", "\(phase)")
        }
        // The main thread's syscalls between the getppid() markers of each phase.
        let mine = try String(contentsOfFile: trace, encoding: .utf8).split(separator: "\n")
            .filter { $0.hasPrefix(pid + " ") }
            .map { line -> String in
                let call = line.dropFirst(pid.count + 1).drop { $0 == " " }
                return String(call.prefix { $0 != "(" }) + (call.contains("CLOCK_MONOTONIC_COARSE") ? " coarse"
                    : call.contains("CLOCK_MONOTONIC") ? " monotonic" : "")
            }
        XCTAssertEqual(mine, [
            "getppid", "getppid",
            "getppid", "gettimeofday", "time", "clock_gettime monotonic", "clock_gettime coarse", "getppid",
            "getppid", "getppid",
        ])
    }

    func testTheBoundIsFourThousandNinetySixPassesCountedInAnArgumentRegisterThePrologueFreed() throws {
        // Every entry moves its arguments to rbx/r12 first, so esi is free for the count;
        // the listing shows the count loaded before the first pass of each clock read.
        XCTAssertEqual(ClockRead.retryLimit, 4096)
        let image = try VsyscallImage(base: Vsyscall.defaultAddress, features: .init(rdpid: false, rdtscp: true))
        for entry in image.entries {
            let loads = entry.listing.filter { $0.text.hasPrefix("mov    esi,0x1000") }.count
            let passes = entry.listing.filter { $0.text.hasPrefix("sub    esi,0x1") }.count
            switch entry.kind {
            case .getcpu: XCTAssertEqual([loads, passes], [0, 0], "getcpu reads no clock")
            case .clockGettime: XCTAssertEqual([loads, passes], [2, 2], "high-resolution and coarse reads")
            default: XCTAssertEqual([loads, passes], [1, 1], "\(entry.kind)")
            }
        }
    }
}
