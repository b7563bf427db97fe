// The vvar lock's model (issue 12, Build 4): `make model` (scripts/model.sh) has spin check
// model/vvar-lock.pml in every interleaving of the writer, an overlapping holder and two
// readers, and reject the variant whose reader reads the counters in the other order.
// spin and its generated verifier are the judge; this test runs the script CI and people
// run, and checks both verdicts.

import TestSupport
import XCTest

final class LockModelTests: XCTestCase {
    func testSpinProvesNoReaderAcceptsATornRecordAndRejectsTheReaderWithItsCountersSwapped() throws {
        let r = try Subprocess.run(try Tools.path("sh"), [Tools.repositoryRoot.path + "/scripts/model.sh"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, r.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("model: the two-counter lock: ") == true, r.stdout)
        XCTAssertTrue(lines.first?.hasSuffix(" states, stored, errors: 0") == true, r.stdout)
        XCTAssertEqual(lines.last, "model: the reader with its counters in the other order: rejected, assertion violated (a==b)")
    }
}
