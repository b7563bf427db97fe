// Mutations of the page's CFI (a dropped CFA offset, a wrong save slot, a missing
// restore_state, an advance one byte long), applied by the helper to its page before it
// registers it: every CFI-reading walker (remote, eu-stack, in process, gdb) must fail at
// exactly the stops where the mutated CFI gives another caller than the true one, and
// nowhere else. Where the caller changes is computed by evaluating both CFIs with our
// reader (that is the declaration); whether a walker failed is judged by the trampoline's
// truth, which no unwinder computes.

import DwarfCFI
import StackWalk
import TestSupport
import Unwind
import XCTest

final class MutationTests: XCTestCase {
    func testEachMutationIsDetectedByEveryCFIWalkerExactlyWhereItChangesTheCaller() throws {
        for kind in CFIMutationKind.allCases {
            let walkers = StackWalkTester.remoteWalkers().filter(\.readsCFI)
            XCTAssertEqual(walkers.map(\.name), ["vunwind", "libunwind-ptrace", "libdwfl"])
            let tester = StackWalkTester(helper: try Tools.product("vunwind-walk-subject"), walkers: walkers)
            tester.mutation = kind
            tester.inProcess = true
            tester.gdb = true
            tester.euStack = true
            tester.failureLimit = 1000
            let report = try tester.run(WalkSubject.page)
            XCTAssertEqual(report.failures, [], "\(kind.rawValue): \(report.failures.prefix(3))")
            XCTAssertEqual(report.skipped, [], kind.rawValue)
            let names = walkers.map(\.name) + ["eu-stack"] + StackWalkTester.inProcessWalkerNames + [StackWalkTester.gdbWalkerName]
            XCTAssertEqual(Set(report.cells.map(\.walker)), Set(names), kind.rawValue)
            for name in names {
                let cells = report.cells.filter { $0.walker == name }
                XCTAssertEqual(cells.count, WalkSubject.page.count, kind.rawValue)
                XCTAssertTrue(cells.allSatisfy { $0.failed == 0 && $0.passed + $0.expected == $0.stops }, kind.rawValue)
                // Detected at all: on the fast path of the first entry at least.
                XCTAssertGreaterThan(cells.reduce(0) { $0 + $1.expected }, 0, "\(kind.rawValue) \(name)")
            }
            // The mutation edited one instruction in each of the four entries' FDEs (the
            // row diff is non-empty), and the detections agree across the three walkers.
            let applied = try XCTUnwrap(tester.appliedMutations["vgettimeofday fast"])
            XCTAssertEqual(applied.kind, kind)
            XCTAssertFalse(applied.sites.isEmpty)
            XCTAssertNotEqual(applied.original, applied.mutated)
            let byWalker = Dictionary(grouping: report.cells, by: \.walker).mapValues { $0.map(\.expected) }
            XCTAssertEqual(byWalker["vunwind"], byWalker["libunwind-ptrace"], kind.rawValue)
            XCTAssertEqual(byWalker["vunwind"], byWalker["libdwfl"], kind.rawValue)
            // In process the three stop at the same instructions of the same helper.
            XCTAssertEqual(byWalker["libgcc"], byWalker["libunwind-local"], kind.rawValue)
            XCTAssertEqual(byWalker["libgcc"], byWalker["vunwind-local"], kind.rawValue)
        }
    }

    /// From the command line (all walkers, gdb included): exit 0 when every walker failed
    /// exactly where declared; an unknown kind is a usage error.
    func testMutateFromTheCommandLineExitsZeroWhenDetectedExactlyAnd64ForAnUnknownKind() throws {
        let vunwind = try Tools.product("vunwind")
        let r = try Subprocess.run(vunwind, ["walk", "--mutate", "drop-cfa-offset", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let bad = try Subprocess.run(vunwind, ["walk", "--mutate", "flip-everything"])
        XCTAssertEqual(bad.status, 64)
        XCTAssertTrue(bad.stderr.contains("unknown mutation flip-everything: one of drop-cfa-offset, wrong-save-slot, missing-restore-state, off-by-one-advance"), bad.stderr)
    }
}
