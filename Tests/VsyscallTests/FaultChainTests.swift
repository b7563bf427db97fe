// FaultChainTests: the EFAULT fixup handler changes nothing about signals that are not its
// own (issue 9 item 4). Before: raise(SIGSEGV) and kill -SEGV were swallowed when the
// previous disposition was SIG_DFL, a previous handler's SA_RESETHAND and SA_NODEFER were
// ignored, and a handler installed later took EFAULT away for good. The judge is the
// kernel's own behaviour without the page: death by SIGSEGV, one call of a one-shot
// handler, the handler's own mask.

import Foundation
import TestSupport
import XCTest

final class FaultChainTests: XCTestCase {
    func run(_ mode: String) throws -> ProcessResult {
        let program = try FixturePrograms.shared("fault_chain.c")
        let dir = try Tools.temporaryDirectory("vunwind-fault-chain")
        defer { try? FileManager.default.removeItem(at: dir) }
        // No core files from the deaths: a shell-free limit would need a helper, so the
        // tests run in a scratch folder that is removed.
        return try Subprocess.run(program, [mode], environment: ["SWIFT_BACKTRACE": "enable=no"], currentDirectory: dir.path)
    }

    func testRaiseAndKillOfSIGSEGVWithTheDefaultDispositionKillTheProcessAsWithoutThePage() throws {
        for mode in ["raise", "kill"] {
            let r = try run(mode)
            XCTAssertTrue(r.signaled, "\(mode): \(r.stdout)")
            XCTAssertEqual(r.status, SIGSEGV, mode)
            XCTAssertEqual(r.stdout, "", mode)
        }
    }

    func testAPreviousOneShotHandlerRunsOnceAndTheNextSIGSEGVTakesTheDefaultAction() throws {
        let r = try run("resethand")
        XCTAssertEqual(r.stdout, "handled 1\n")
        XCTAssertTrue(r.signaled)
        XCTAssertEqual(r.status, SIGSEGV)
    }

    func testAPreviousHandlerRunsWithItsOwnMaskAndSANODEFER() throws {
        let r = try run("mask")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "segv-blocked 0 usr1-blocked 1\n")
    }

    func testAHandlerInstalledLaterTakesEFAULTAwayUntilReassertedAndThenStillGetsEverythingElse() throws {
        let r = try run("later")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "before-reassert handled\nafter-reassert -14\nraised handled\n")
    }
}
