// The C interface: a C program compiled with include/vunwind/vsyscall.h and the generated
// linker script calls vgettimeofday(&tv, 0) and the other entries directly, by absolute
// symbol, after vsyscall_install() from libvunwind-vsyscall.so.

import Foundation
import TestSupport
import XCTest

final class CInterfaceTests: XCTestCase {
    // Its time brackets are whole seconds of the kernel's clock: not while another test
    // moves the kernel's rate (the page may then be a tick's share off for a moment).
    override func invokeTest() {
        XCTAssertNoThrow(try KernelClockLock.shared { super.invokeTest() })
    }

    func testTheCommittedLinkerScriptIsWhatEmitGeneratesForTheDefaultAddress() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("vsyscall.ld").path
        let r = try Subprocess.run(try Tools.product("vunwind"), ["emit", "--linker-script", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let generated = try String(contentsOfFile: out, encoding: .utf8)
        let committed = try String(contentsOfFile: Tools.repositoryRoot.appendingPathComponent("include/vunwind/vsyscall.ld").path,
                                   encoding: .utf8)
        XCTAssertEqual(generated, committed)
        XCTAssertTrue(committed.contains("vgettimeofday = 0x550000001000;"))
        XCTAssertTrue(committed.contains("vclock_gettime = 0x550000001c00;"))
    }

    func testACProgramCallsEveryEntryDirectlyThroughTheAbsoluteSymbols() throws {
        let dir = try Tools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let root = Tools.repositoryRoot.path
        let lib = Tools.buildDirectory.path
        XCTAssertTrue(FileManager.default.fileExists(atPath: lib + "/libvunwind-vsyscall.so"), "libvunwind-vsyscall.so not built")
        let program = dir.appendingPathComponent("vgettimeofday").path
        let cc = try Subprocess.run(try Tools.path("gcc"), [
            "-O2", "-no-pie", "-fno-pie", "-fno-plt", "-Wa,-mrelax-relocations=no", "-I", root + "/include",
            root + "/examples/c/vgettimeofday.c", root + "/include/vunwind/vsyscall.ld",
            "-L", lib, "-lvunwind-vsyscall", "-Wl,-rpath," + lib, "-o", program,
        ])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        // The call sites reach the entries through GOT slots that hold their absolute
        // addresses, with no relocation to move them.
        let relocations = try Subprocess.run(try Tools.path("readelf"), ["-r", program])
        XCTAssertFalse(relocations.stdout.contains("550000001"), relocations.stdout)

        let before = Int(Date().timeIntervalSince1970)
        let r = try Subprocess.run(program, [], environment: ["SWIFT_BACKTRACE": "enable=no"])
        let after = Int(Date().timeIntervalSince1970)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        var fields: [String: [Int]] = [:]
        for line in r.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            fields[String(parts[0])] = parts.dropFirst().compactMap { Int($0) }
        }
        let tv = try XCTUnwrap(fields["vgettimeofday"])
        XCTAssertEqual(tv[0], 0)
        XCTAssertTrue((before...after).contains(tv[1]), "\(tv)")
        XCTAssertTrue((0..<1_000_000).contains(tv[2]))
        let t = try XCTUnwrap(fields["vtime"])
        XCTAssertEqual(t[0], t[1], "vtime returns what it stores")
        XCTAssertTrue((tv[1]...after).contains(t[0]))
        let cpu = try XCTUnwrap(fields["vgetcpu"])
        XCTAssertEqual(cpu[0], 0)
        XCTAssertTrue((0..<ProcessInfo.processInfo.processorCount).contains(cpu[1]))
        XCTAssertEqual(fields["vclock_gettime"]?.first, 0)
        XCTAssertEqual(fields["efault"], [-14])
    }
}

final class CInterfaceThreadTests: XCTestCase {
    /// Before: concurrent install/uninstall corrupted the heap (`free(): unaligned chunk`) in
    /// most runs, and vsyscall_error()'s string was freed by the next failure on any thread.
    func testEightThreadsInstallingAndUninstallingAtOnceNeitherCrashNorShareTheirErrorText() throws {
        let program = try FixturePrograms.shared("c_threads.c")
        for _ in 0..<3 {
            let r = try Subprocess.run(program, ["8"], environment: ["SWIFT_BACKTRACE": "enable=no"])
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            let lines = r.stdout.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.count, 2, r.stdout + r.stderr)
            XCTAssertTrue(lines.first?.hasPrefix("cycles 1600 ok ") == true, r.stdout)
            XCTAssertGreaterThan(Int(lines.first?.split(separator: " ").last ?? "") ?? 0, 0, "no install ever succeeded")
            XCTAssertEqual(lines.last, "error-isolation ok")
        }
    }
}
