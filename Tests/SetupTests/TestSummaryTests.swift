// TestSummaryTests: `make test` ends with "N passed, M failed" from the suite's xunit file
// (scripts/test-summary.sh) and fails when any test failed, the suite exited non-zero, or
// no results were written.

import Foundation
import TestSupport
import XCTest

final class TestSummaryTests: XCTestCase {
    func summary(_ xml: String?, status: Int32 = 0) throws -> ProcessResult {
        let dir = try Tools.temporaryDirectory("vunwind-summary")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("tests.xml").path
        if let xml { try xml.write(toFile: file, atomically: false, encoding: .utf8) }
        return try Subprocess.run(try Tools.path("sh"), [Tools.repositoryRoot.appendingPathComponent("scripts/test-summary.sh").path,
                                                         file, "\(status)"])
    }

    let passing = """
        <testsuites>
        <testsuite name="TestResults" errors="0" tests="3" failures="0" time="1.0">
        <testcase classname="A.B" name="testOne" time="0.1">
        </testcase>
        </testsuite>
        </testsuites>
        """

    func testAllPassedPrintsTheCountsAndSucceeds() throws {
        let r = try summary(passing)
        XCTAssertEqual(r.stdout, "3 passed, 0 failed\n")
        XCTAssertEqual(r.status, 0)
    }

    func testAFailureIsCountedNamedAndFails() throws {
        let r = try summary("""
            <testsuites>
            <testsuite name="TestResults" errors="1" tests="5" failures="1" time="1.0">
            <testcase classname="CoreDumpTests.X" name="testBroken" time="0.1">
            <failure message="XCTAssertEqual failed"></failure>
            </testcase>
            </testsuite>
            </testsuites>
            """)
        XCTAssertEqual(r.stdout, "3 passed, 2 failed\n  failed: CoreDumpTests.X.testBroken\n")
        XCTAssertNotEqual(r.status, 0)
    }

    func testASuiteThatExitedNonZeroFailsEvenWithNoFailureRecorded() throws {
        let r = try summary(passing, status: 1)
        XCTAssertEqual(r.stdout, "3 passed, 0 failed\n")
        XCTAssertNotEqual(r.status, 0)
    }

    func testNoResultsFileFails() throws {
        let r = try summary(nil, status: 134)
        XCTAssertTrue(r.stdout.hasPrefix("0 passed, the suite wrote no results"), r.stdout)
        XCTAssertNotEqual(r.status, 0)
    }
}
