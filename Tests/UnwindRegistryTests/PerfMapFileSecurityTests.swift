// PerfMapFileSecurityTests: /tmp/perf-PID.map is a predictable name in a directory every
// user can write. Another user (a helper run as uid 65534 through setpriv) plants a
// symlink, a hard link or a file of their own at that name, or at the name deregistration
// used for its temporary file; the registrar run by root must neither write through it,
// nor copy a file it points at into the world-readable map, nor delete anything it did
// not create. The directory is a fresh sticky, world-writable one like /tmp, so the
// kernel's fs.protected_symlinks (0 on this machine) decides nothing the test relies on.

import Foundation
import TestSupport
import UnwindRegistry
import XCTest
#if canImport(Glibc)
import Glibc
#endif

final class PerfMapFileSecurityTests: XCTestCase {
    private var dir: URL!
    private var map: String { dir.appendingPathComponent("perf-4242.map").path }

    override func setUpWithError() throws {
        guard geteuid() == 0 else {
            XCTFail("these tests play a root process against another user: run them as root (CI does)")
            throw XCTSkip("unreachable")
        }
        dir = try Tools.temporaryDirectory("vunwind-perfmap")
        XCTAssertEqual(chmod(dir.path, 0o1777), 0)
    }

    override func tearDownWithError() throws {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    private let image = RegisteredImage(
        name: "test", imageAddress: 0x7000_0000_0000, imageSize: 0x2000, ehFrameAddress: 0x7000_0000_0800,
        ehFrameHeaderAddress: 0x7000_0000_0700, fdeCount: 2, code: 0x7000_0000_1000..<0x7000_0000_2000,
        symbols: [.init(name: "f0", address: 0x7000_0000_1000, size: 0x40),
                  .init(name: "f1", address: 0x7000_0000_1040, size: 0x40)])
    private let ourLines = "700000001000 40 f0\n700000001040 40 f1\n"

    /// Runs `command` with sh as uid/gid 65534 (nobody), the hostile neighbour.
    private func asNobody(_ command: String) throws {
        let r = try Subprocess.run(try Tools.path("setpriv"),
                                   ["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/sh", "-c", command])
        XCTAssertEqual(r.status, 0, "as nobody: \(command): \(r.stderr)")
    }

    /// A root-owned file outside the shared directory.
    private func victim(_ text: String, mode: mode_t) throws -> String {
        let private_ = try Tools.temporaryDirectory("vunwind-victim")
        addTeardownBlock { try? FileManager.default.removeItem(at: private_) }
        XCTAssertEqual(chmod(private_.path, 0o755), 0)
        let path = private_.appendingPathComponent("victim").path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(path, mode), 0)
        return path
    }

    private func contents(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    private func assertRegularFileOfOurs(_ path: String, mode: mode_t, file: StaticString = #filePath, line: UInt = #line) {
        var s = stat()
        XCTAssertEqual(lstat(path, &s), 0, file: file, line: line)
        XCTAssertEqual(s.st_mode & S_IFMT, S_IFREG, "a regular file, not a link", file: file, line: line)
        XCTAssertEqual(s.st_uid, geteuid(), file: file, line: line)
        XCTAssertEqual(s.st_nlink, 1, file: file, line: line)
        XCTAssertEqual(s.st_mode & 0o7777, mode, file: file, line: line)
    }

    func testASymlinkPlantedAtTheMapNameIsReplacedAndTheRootOwnedFileItPointsAtIsUntouched() throws {
        let target = try victim("root:x:0:0:root:/root:/bin/bash\n", mode: 0o644)
        try asNobody("ln -s '\(target)' '\(map)'")
        try PerfMapRegistrar(path: map).register(image)
        XCTAssertEqual(try contents(target), "root:x:0:0:root:/root:/bin/bash\n", "written through the symlink")
        assertRegularFileOfOurs(map, mode: 0o644)
        XCTAssertEqual(try contents(map), ourLines)
    }

    func testASymlinkToA0600FileIsNotCopiedIntoTheWorldReadableMap() throws {
        let secret = try victim("SECRET-KEY\n", mode: 0o600)
        try asNobody("ln -s '\(secret)' '\(map)'")
        try PerfMapRegistrar(path: map).register(image)
        XCTAssertEqual(try contents(map), ourLines, "the secret was copied into a 0644 file")
        XCTAssertEqual(try contents(secret), "SECRET-KEY\n")
    }

    func testAHardLinkToA0600FileIsNotCopiedAndTheFileKeepsItsContentAndMode() throws {
        let secret = try victim("SECRET-KEY\n", mode: 0o600)
        XCTAssertEqual(link(secret, map), 0, String(cString: strerror(errno)))
        try PerfMapRegistrar(path: map).register(image)
        XCTAssertEqual(try contents(map), ourLines)
        XCTAssertEqual(try contents(secret), "SECRET-KEY\n")
        var s = stat()
        XCTAssertEqual(stat(secret, &s), 0)
        XCTAssertEqual(s.st_mode & 0o777, 0o600)
    }

    func testAMapFileAnotherUserPlantedIsReplacedNotExtendedWithTheirLines() throws {
        try asNobody("printf 'deadbeef 10 attacker_symbol\\n' > '\(map)'")
        try PerfMapRegistrar(path: map).register(image)
        assertRegularFileOfOurs(map, mode: 0o644)
        XCTAssertEqual(try contents(map), ourLines)
    }

    /// PIDs are reused and a killed JIT never removes its map: a file of ours last changed
    /// before this process started names code of a dead process and is replaced; one
    /// changed since (another JIT in this process) is extended.
    func testAMapFileLeftByADeadProcessWithThisPIDIsReplacedAndAFreshOneIsExtended() throws {
        try "7f0000001000 10 dead_process_symbol\n".write(toFile: map, atomically: false, encoding: .utf8)
        var old = [timeval(tv_sec: time(nil) - 3600 * 24 * 365, tv_usec: 0), timeval(tv_sec: time(nil) - 3600 * 24 * 365, tv_usec: 0)]
        XCTAssertEqual(utimes(map, &old), 0)
        let registrar = PerfMapRegistrar(path: map)
        try registrar.register(image)
        XCTAssertEqual(try contents(map), ourLines)
        try registrar.deregister(image)

        try "7f0000002000 10 another_jit_symbol\n".write(toFile: map, atomically: false, encoding: .utf8)
        try PerfMapRegistrar(path: map).register(image)
        XCTAssertEqual(try contents(map), "7f0000002000 10 another_jit_symbol\n" + ourLines)
    }

    func testTheMapFileIsMode0644WhateverTheUmask() throws {
        let old = umask(0o077)
        defer { umask(old) }
        try PerfMapRegistrar(path: map).register(image)
        assertRegularFileOfOurs(map, mode: 0o644)
    }

    func testDeregistrationDoesNotWriteThroughASymlinkAtAPredictableTemporaryName() throws {
        // Another JIT's line keeps the file alive, so deregistration rewrites it.
        try "7f0000001000 20 other_jit\n".write(toFile: map, atomically: false, encoding: .utf8)
        let perf = PerfMapRegistrar(path: map, keepsLines: false)
        try perf.register(image)
        let target = try victim("precious\n", mode: 0o644)
        // The name the registrar used to rewrite the file through (PATH.vunwind-PID).
        try asNobody("ln -s '\(target)' '\(map).vunwind-\(getpid())'")
        try perf.deregister(image)
        XCTAssertEqual(try contents(target), "precious\n")
        XCTAssertEqual(try contents(map), "7f0000001000 20 other_jit\n")
        assertRegularFileOfOurs(map, mode: 0o644)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(),
                       ["perf-4242.map", "perf-4242.map.vunwind-\(getpid())"], "no temporary file is left behind")
    }

    func testDeregistrationRemovesOnlyTheFileItCreated() throws {
        let perf = PerfMapRegistrar(path: map, keepsLines: false)
        try perf.register(image)
        // Someone else's file now stands at the name, holding exactly our lines.
        XCTAssertEqual(unlink(map), 0)
        try asNobody("printf '\(ourLines.replacingOccurrences(of: "\n", with: "\\n"))' > '\(map)'")
        try perf.deregister(image)
        var s = stat()
        XCTAssertEqual(lstat(map, &s), 0, "a file we did not create was removed")
        XCTAssertEqual(s.st_uid, 65534)
        XCTAssertEqual(try contents(map), ourLines)
    }

    func testAForkedChildsDeregistrationLeavesTheParentsMapFile() throws {
        let r = try Subprocess.run(try Tools.product("fixture-vsyscall"), ["perf-fork"],
                                   environment: ["SWIFT_BACKTRACE": "enable=no"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, r.stdout)
        XCTAssertTrue(lines.first?.hasPrefix("parent ") == true && lines.first?.hasSuffix(" lines 2") == true,
                      "the child's deregistration changed the parent's map: \(r.stdout)")
        XCTAssertEqual(lines.last, "parent file gone", "the parent's own deregistration removes its file")
    }
}
