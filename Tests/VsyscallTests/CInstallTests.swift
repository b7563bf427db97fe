// make install and pkg-config for C users (issue 9 item 9): an installed prefix builds a
// working program with `cc prog.c $(pkg-config --cflags --libs vunwind-vsyscall)`, and the
// two linking mistakes that used to link silently and crash at the first call (no linker
// script; a PIE) now fail at link time with a message that names the cause. The judges are
// the real gcc, GNU ld and pkg-config.

import Foundation
import TestSupport
import XCTest

final class CInstallTests: XCTestCase {
    private var root: String { Tools.repositoryRoot.path }
    private var lib: String { Tools.buildDirectory.path }

    private func cc(_ arguments: [String]) throws -> ProcessResult {
        try Subprocess.run(try Tools.path("gcc"), arguments)
    }

    func testAnInstalledPrefixBuildsAWorkingProgramFromPkgConfigsCflagsAndLibs() throws {
        let dir = try Tools.temporaryDirectory("vunwind-install")
        defer { try? FileManager.default.removeItem(at: dir) }
        let prefix = dir.appendingPathComponent("prefix").path
        let install = try Subprocess.run(try Tools.path("sh"), [root + "/scripts/install.sh", lib, prefix])
        XCTAssertEqual(install.status, 0, install.stderr)
        for file in ["lib/libvunwind-vsyscall.so", "include/vunwind/vsyscall.h", "lib/vunwind/vsyscall.ld",
                     "lib/pkgconfig/vunwind-vsyscall.pc"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: prefix + "/" + file), file)
        }
        let pc = try Subprocess.run(try Tools.path("pkg-config"), ["--cflags", "--libs", "vunwind-vsyscall"],
                                    environment: ["PKG_CONFIG_PATH": prefix + "/lib/pkgconfig"])
        XCTAssertEqual(pc.status, 0, pc.stderr)
        XCTAssertEqual(pc.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                       "-I\(prefix)/include -fno-plt -Wa,-mrelax-relocations=no -L\(prefix)/lib -lvunwind-vsyscall "
                       + "-Wl,-rpath,\(prefix)/lib -no-pie \(prefix)/lib/vunwind/vsyscall.ld")
        // The compiler's defaults otherwise (-fPIE code), as a user's `cc` would have them.
        let program = dir.appendingPathComponent("prog").path
        let build = try cc([root + "/examples/c/vgettimeofday.c"]
                           + pc.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
                           + ["-o", program])
        XCTAssertEqual(build.status, 0, build.stderr)
        let run = try Subprocess.run(program, [], environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("vgettimeofday 0 "), run.stdout)
        XCTAssertTrue(run.stdout.hasSuffix("efault -14\n"), run.stdout)
    }

    /// Before: the entries were weak, so this linked and died of SIGSEGV at the first call.
    func testLinkingWithoutTheLinkerScriptFailsAndTheUndefinedSymbolNamesTheScript() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try cc(["-no-pie", "-fno-plt", "-Wa,-mrelax-relocations=no", "-I", root + "/include",
                        root + "/examples/c/vgettimeofday.c", "-L", lib, "-lvunwind-vsyscall",
                        "-o", dir.appendingPathComponent("prog").path])
        XCTAssertNotEqual(r.status, 0)
        for entry in ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime"] {
            XCTAssertTrue(r.stderr.contains("undefined reference to `\(entry)_is_defined_by_vsyscall_ld'"), r.stderr)
        }
    }

    /// Before: GNU ld linked a PIE and relocated the GOT slots by the load base; the first
    /// call jumped to base + 0x550000001000 and crashed (exit 139).
    func testAPIELinkWithTheScriptFailsWithTheScriptsMessage() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try cc(["-pie", "-fPIE", "-fno-plt", "-Wa,-mrelax-relocations=no", "-I", root + "/include",
                        root + "/examples/c/vgettimeofday.c", root + "/include/vunwind/vsyscall.ld",
                        "-L", lib, "-lvunwind-vsyscall", "-o", dir.appendingPathComponent("prog").path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("vsyscall.ld: the page's entries are absolute addresses; a PIE or shared "
                                        + "object would relocate them: link the executable with -no-pie"), r.stderr)
    }

    func testWeakEntriesAreAnOptInThatLinksWithoutTheScriptAndLeavesEachEntryNull() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("weak.c").path
        try """
            #include <stdio.h>
            #include <vunwind/vsyscall.h>
            int main(void) {
                printf("%d %d %d %d\\n", vgettimeofday == 0, vtime == 0, vgetcpu == 0, vclock_gettime == 0);
                return 0;
            }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        let program = dir.appendingPathComponent("weak").path
        let build = try cc(["-DVSYSCALL_WEAK_ENTRIES", "-I", root + "/include", source, "-L", lib,
                            "-lvunwind-vsyscall", "-Wl,-rpath," + lib, "-o", program])
        XCTAssertEqual(build.status, 0, build.stderr)
        let run = try Subprocess.run(program, [], environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, "1 1 1 1\n")
    }
}
