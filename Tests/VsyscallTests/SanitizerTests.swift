// The default address under every sanitizer runtime on this machine (issue 11 item 3).
// The page used to sit at 0x600000000000, the base of the allocator space of gcc's ASan
// and LSan and of gcc's TSan's trace region, so installing failed ("address is occupied")
// or TSan killed the process. The judges are the sanitizer runtimes themselves, gcc's
// (libasan, liblsan, libtsan, libubsan of gcc 12) and the Swift toolchain's clang's
// (compiler-rt): a C probe asks each for the address with MAP_FIXED_NOREPLACE, and the
// public example, built with each, installs the page and calls every entry.

import Foundation
import TestSupport
import XCTest

final class SanitizerTests: XCTestCase {
    private var root: String { Tools.repositoryRoot.path }

    private struct Build {
        let name: String
        let compiler: String
        let flags: [String]
    }

    /// Every sanitizer that links here, from both compilers. Clang's TSan runtime
    /// intercepts libdispatch, so it links the toolchain's libdispatch and BlocksRuntime.
    private func builds(including memory: Bool) throws -> [Build] {
        let gcc = try Tools.path("gcc")
        let clang = try Tools.toolchainClang()
        let swiftLib = URL(fileURLWithPath: clang).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("lib/swift/linux").path
        var all = ["address", "leak", "thread", "undefined"].map {
            Build(name: "gcc -fsanitize=\($0)", compiler: gcc, flags: ["-fsanitize=\($0)"])
        }
        all += ["address", "leak", "thread", "undefined"].map {
            Build(name: "clang -fsanitize=\($0)", compiler: clang,
                  flags: ["-fsanitize=\($0)"] + ($0 == "thread"
                      ? ["-L", swiftLib, "-ldispatch", "-lBlocksRuntime", "-Wl,-rpath," + swiftLib] : []))
        }
        if memory { all.append(Build(name: "clang -fsanitize=memory", compiler: clang, flags: ["-fsanitize=memory"])) }
        return all
    }

    private static let probe = """
        #define _GNU_SOURCE
        #include <errno.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <sys/mman.h>
        #include <vunwind/vsyscall.h>
        int main(int argc, char **argv) {
            void *want = argc > 1 ? (void *)strtoul(argv[1], 0, 0) : (void *)VSYSCALL_DEFAULT_ADDRESS;
            void *p = mmap(want, 0x3000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
            printf("%s\\n", p == want ? "free" : p == MAP_FAILED ? strerror(errno) : "moved");
            return 0;
        }
        """

    /// What each runtime answers for the default address and for the old one: the default
    /// is free under all nine; the old one was taken by five of them (both TSans
    /// abort the process: it is outside their application ranges).
    func testEverySanitizerLeavesTheDefaultAddressFreeWhileBothTSansGccsASanAndLSanAndMSanTookThe0x600000000000OfBefore() throws {
        let dir = try Tools.temporaryDirectory("vunwind-sanitizers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = dir.appendingPathComponent("probe.c").path
        try Self.probe.write(toFile: source, atomically: true, encoding: .utf8)
        let old: [String: String] = [
            "gcc -fsanitize=address": "File exists", "gcc -fsanitize=leak": "File exists",
            "gcc -fsanitize=thread": "ThreadSanitizer: mmap at bad address",
            "clang -fsanitize=thread": "ThreadSanitizer: mmap at bad address", "clang -fsanitize=memory": "moved",
        ]
        for build in try builds(including: true) {
            let exe = dir.appendingPathComponent("probe").path
            let cc = try Subprocess.run(build.compiler, build.flags + ["-I", root + "/include", source, "-o", exe])
            XCTAssertEqual(cc.status, 0, "\(build.name): \(cc.stderr)")
            let now = try Subprocess.run(exe, [])
            XCTAssertEqual(now.status, 0, "\(build.name): \(now.stderr)")
            XCTAssertEqual(now.stdout, "free\n", "\(build.name) at VSYSCALL_DEFAULT_ADDRESS: \(now.stderr)")
            let before = try Subprocess.run(exe, ["0x600000000000"])
            let answer = before.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            switch old[build.name] {
            case "ThreadSanitizer: mmap at bad address"?:
                XCTAssertNotEqual(before.status, 0, build.name)
                XCTAssertTrue(before.stderr.contains("ThreadSanitizer: mmap at bad address"), "\(build.name): \(before.stderr)")
            case let expected?:
                XCTAssertEqual(answer, expected, "\(build.name) at 0x600000000000")
            case nil:
                XCTAssertEqual(answer, "free", "\(build.name) at 0x600000000000")
            }
        }
    }

    /// The public example (examples/c/vgettimeofday.c) built as its header says plus each
    /// sanitizer: it installs the page at the default address (its entries are the linker
    /// script's absolute addresses there), calls each entry, gets -EFAULT for a bad
    /// pointer and uninstalls, and the runtime reports nothing (ASan and LSan check leaks
    /// at exit, TSan races between the timekeeper and the caller).
    func testTheExampleBuiltWithASanLSanTSanAndUBSanOfGccAndClangInstallsThePageAtTheDefaultAddressAndCallsIt() throws {
        let dir = try Tools.temporaryDirectory("vunwind-sanitizers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let lib = Tools.buildDirectory.path
        for build in try builds(including: false) {
            let exe = dir.appendingPathComponent("example").path
            let cc = try Subprocess.run(build.compiler, build.flags + [
                "-g", "-no-pie", "-fno-pie", "-fno-plt", "-Wa,-mrelax-relocations=no", "-I", root + "/include",
                root + "/examples/c/vgettimeofday.c", root + "/include/vunwind/vsyscall.ld",
                "-L", lib, "-lvunwind-vsyscall", "-Wl,-rpath," + lib, "-o", exe])
            XCTAssertEqual(cc.status, 0, "\(build.name): \(cc.stderr)")
            let run = try Subprocess.run(exe, [], environment: ["SWIFT_BACKTRACE": "enable=no"])
            XCTAssertEqual(run.status, 0, "\(build.name): \(run.stdout)\(run.stderr)")
            let lines = run.stdout.split(separator: "\n").map { $0.split(separator: " ").first.map(String.init) ?? "" }
            XCTAssertEqual(lines, ["vgettimeofday", "vtime", "vgetcpu", "vclock_gettime", "efault"], build.name)
            XCTAssertTrue(run.stdout.hasPrefix("vgettimeofday 0 "), "\(build.name): \(run.stdout)")
            XCTAssertTrue(run.stdout.hasSuffix("\nefault -14\n"), "\(build.name): \(run.stdout)")
            XCTAssertFalse(run.stderr.contains("Sanitizer"), "\(build.name): \(run.stderr)")
            XCTAssertFalse(run.stderr.contains("runtime error"), "\(build.name): \(run.stderr)")
        }
    }

    /// ASan's report of a fault inside the page names its module: the runtime lists modules
    /// with dl_iterate_phdr, which the library answers with the image's soname (phdr.c);
    /// with the lookups off it names the mapping's path instead. (No function name: the
    /// symbolizer opens the module's file, and the page has none.)
    func testAnASanReportOfAFaultInVgettimeofdayNamesThePagesModuleLinuxVunwindSo1() throws {
        let dir = try Tools.temporaryDirectory("vunwind-sanitizers")
        defer { try? FileManager.default.removeItem(at: dir) }
        let lib = Tools.buildDirectory.path
        let exe = dir.appendingPathComponent("debug_probe").path
        let cc = try Subprocess.run(try Tools.path("gcc"), [
            "-fsanitize=address", "-O1", "-g", "-fno-omit-frame-pointer", "-fno-inline", "-no-pie", "-fno-pie", "-fno-plt",
            "-Wa,-mrelax-relocations=no", "-I", root + "/include", root + "/fixtures/programs/debug_probe.c",
            root + "/include/vunwind/vsyscall.ld", "-L", lib, "-lvunwind-vsyscall", "-Wl,-rpath," + lib, "-o", exe])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        for (lookup, module) in [("on", "linux-vunwind.so.1+0x"), ("off", "/dev/zero (deleted)+0x")] {
            // crash mode: SIGSEGV fault mode, a store to address 8 inside the entry.
            let r = try Subprocess.run(exe, ["crash", "vgettimeofday"], environment: [
                "SWIFT_BACKTRACE": "enable=no", "VUNWIND_VSYSCALL_LOOKUP": lookup, "ASAN_OPTIONS": "symbolize=1"])
            XCTAssertNotEqual(r.status, 0, lookup)
            XCTAssertTrue(r.stderr.contains("ERROR: AddressSanitizer: SEGV on unknown address 0x000000000008"), "\(lookup): \(r.stderr)")
            let frames = r.stderr.split(separator: "\n").filter { $0.hasPrefix("    #") }.map(String.init)
            let first = try XCTUnwrap(frames.first, r.stderr)
            XCTAssertTrue(first.hasPrefix("    #0 0x5500000010"), "\(lookup): \(first)")
            XCTAssertTrue(first.contains("(\(module)"), "\(lookup): \(first)")
            XCTAssertTrue(frames.count > 3 && frames[1].contains(" in vu_probe_inner ") && frames[2].contains(" in vu_probe_outer ")
                          && frames[3].contains(" in main "), "\(lookup): \(frames)")
        }
    }
}
