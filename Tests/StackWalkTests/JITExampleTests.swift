// examples/jit: a function emitted at run time, its CFI written with DwarfCFI, mapped and
// registered, verified at every instruction through the StackWalk API. With rbx's save
// slot one word off, the tester reports exactly the instructions where rbx is recovered
// from that slot (after `push rbx`, up to and including `pop rbx`).

import StackWalk
import TestSupport
import XCTest

final class JITExampleTests: XCTestCase {
    func walk(_ mode: String) throws -> WalkReport {
        let tester = StackWalkTester(helper: try Tools.product("example-jit-walk"), walkers: StackWalkTester.remoteWalkers())
        tester.failureLimit = 100
        return try tester.run([WalkSubject(.helper(name: "jit_function", arguments: [mode]))])
    }

    func testTheEmittedFunctionUnwindsAtEveryInstructionForEveryWalker() throws {
        let report = try walk("right")
        XCTAssertEqual(report.cells.map(\.walker), ["vunwind", "libunwind-ptrace", "libdwfl", "frame-pointer"])
        for c in report.cells {
            // push rbp, mov rbp rsp, push rbx, mov, lea, mov, pop rbx, pop rbp, ret
            XCTAssertEqual(c.stops, 9, c.walker)
            XCTAssertEqual(c.failed, 0, c.walker)
        }
        XCTAssertEqual(report.cells.filter { $0.walker != "frame-pointer" }.map(\.passed), [9, 9, 9])
        // The rbp chain misses the caller before `mov rbp, rsp` and after `pop rbp`.
        XCTAssertEqual(report.cells.last?.expected, 3)
        XCTAssertEqual(report.failures, [])
    }

    func testAWrongSaveSlotIsReportedAtExactlyTheInstructionsThatUseIt() throws {
        let report = try walk("wrong")
        for walker in ["vunwind", "libunwind-ptrace", "libdwfl"] {
            let failures = report.failures.filter { $0.walker == walker }
            XCTAssertEqual(failures.map(\.offset), [5, 8, 12, 19], walker)
            XCTAssertEqual(Set(failures.map(\.function)), ["jit_function"], walker)
            XCTAssertEqual(Set(failures.map(\.field)), ["rbx"], walker)
            XCTAssertEqual(Set(failures.map(\.expected)), ["0x1b1b1b1b1b1b1b1b"], walker)
            XCTAssertEqual(failures.map(\.instruction), ["mov %rdi,%rbx", "lea (%rbx,%rbx,1),%rax", "mov $0x99,%rbx", "pop %rbx"], walker)
        }
        // The frame-pointer walker reads no CFI: the bug does not touch it.
        XCTAssertEqual(report.cells.last?.failed, 0)
        XCTAssertFalse(report.passed)
    }
}
