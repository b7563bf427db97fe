// The sealed install (issue 9 item 8): by default a program can mprotect the page's code
// and vvar and unmap them; vsyscall_install_sealed (Vsyscall.install(sealed: true)) mseals
// the image and the readers' vvar, and the kernel then refuses every change. Judged by the
// kernel's answers in a C program (fixtures/programs/sealed.c), not by our own code.

import Foundation
import TestSupport
import XCTest

final class SealedInstallTests: XCTestCase {
    func run(_ arguments: [String]) throws -> [String] {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = try FixturePrograms.build("sealed.c", in: dir)
        let r = try Subprocess.run(program, arguments, environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testASealedPageRefusesMprotectMremapMunmapAndUninstallAndStillServesItsForkedChild() throws {
        XCTAssertEqual(try run([]), [
            "install 0",
            "vgettimeofday 0",
            "child 0",
            "mprotect-text-rwx EPERM",
            "mprotect-vvar-rw EPERM",
            "mremap-text EPERM",
            "munmap-image EPERM",
            "uninstall -1 the vsyscall page at 0x550000000000 is sealed: it stays for the process's life",
            "vgettimeofday 0",
        ])
    }

    func testAnUnsealedPageCanBeMprotectedAndUninstalledAsBefore() throws {
        XCTAssertEqual(try run(["unsealed"]), [
            "install 0",
            "vgettimeofday 0",
            "child 0",
            "mprotect-text-r 0",
            "uninstall 0",
        ])
    }
}
