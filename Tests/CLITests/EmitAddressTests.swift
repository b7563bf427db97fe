// `vunwind emit --address`: an address the image cannot be built at is a usage error
// (exit 64, one message), not a precondition trap (issue 12: it crashed with signal 4).

import TestSupport
import XCTest

final class EmitAddressTests: XCTestCase {
    func testAnUnalignedOrOutOfRangeAddressIsAUsageErrorWithItsReason() throws {
        let vunwind = try Tools.product("vunwind")
        let cases = [
            ("0x1001", "--address 0x1001 is not a multiple of the page size (4096)"),
            ("0x0", "--address 0x0 leaves no room for the 8192-byte image in user space"),
            ("0x7ffffffff000", "--address 0x7ffffffff000 leaves no room for the 8192-byte image in user space"),
        ]
        for (address, message) in cases {
            let r = try Subprocess.run(vunwind, ["emit", "--address", address, "--listing"])
            XCTAssertEqual(r.status, 64, address)
            XCTAssertFalse(r.signaled, address)
            XCTAssertTrue(r.stderr.hasPrefix("Error: \(message)\n"), r.stderr)
            XCTAssertEqual(r.stdout, "", address)
        }
        let ok = try Subprocess.run(vunwind, ["emit", "--address", "0x500000000000", "--listing"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertTrue(ok.stdout.hasPrefix("vgettimeofday at 0x500000001000"), ok.stdout)
    }
}
