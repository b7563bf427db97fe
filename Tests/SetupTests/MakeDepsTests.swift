// MakeDepsTests: `make deps` (Makefile -> scripts/deps.sh) decides right for the three
// kinds of machine a newcomer has: root without sudo (the usual container), a user with
// sudo, and a user with neither. The real make and sh run the real Makefile and script;
// `id`, `dpkg-query`, `sudo` and `apt-get` are stand-ins on a PATH that holds nothing else,
// so the test neither needs root nor installs anything, and sees every command line.

import Foundation
import TestSupport
import XCTest

final class MakeDepsTests: XCTestCase {
    /// A scratch PATH: the stand-ins plus the few real tools the script uses.
    private struct Machine {
        let bin: URL
        let log: URL

        let root: URL

        init(uid: Int, hasSudo: Bool, installed: [String]) throws {
            root = try Tools.temporaryDirectory("vunwind-deps")
            bin = root.appendingPathComponent("bin")
            log = root.appendingPathComponent("log")
            try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            for tool in ["sh", "grep", "env", "cat"] {
                try FileManager.default.createSymbolicLink(atPath: bin.appendingPathComponent(tool).path,
                                                           withDestinationPath: try Tools.path(tool))
            }
            try write("id", "[ \"$1\" = -u ] && echo \(uid)")
            try write("dpkg-query", """
                for p in \(installed.joined(separator: " ")); do
                  [ "$p" = "$3" ] && { printf 'install ok installed'; exit 0; }
                done
                exit 1
                """)
            // apt-get records its arguments and the one variable that must reach it.
            try write("apt-get", "echo \"apt-get $* [DEBIAN_FRONTEND=${DEBIAN_FRONTEND:-unset}]\" >> \(log.path)")
            if hasSudo {
                // Like sudo's env_reset: variables set before `sudo` do not reach the command.
                try write("sudo", "echo \"sudo $*\" >> \(log.path)\nexec env -i PATH=\"$PATH\" \"$@\"")
            }
        }

        private func write(_ name: String, _ body: String) throws {
            let path = bin.appendingPathComponent(name).path
            try ("#!\(try Tools.path("sh"))\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }

        /// `make -s deps` in the repository, with this machine's PATH, as a top-level make:
        /// under `make test` the suite inherits MAKELEVEL and MAKEFLAGS, and a nested make
        /// prefixes its messages with "make[1]:" (CI failed on exactly that).
        func makeDeps() throws -> (result: ProcessResult, log: [String]) {
            let r = try Subprocess.run(try Tools.path("make"), ["-s", "--no-print-directory", "deps"],
                                       environment: ["PATH": bin.path, "DEBIAN_FRONTEND": "unset-by-test",
                                                     "MAKELEVEL": "", "MAKEFLAGS": "", "MFLAGS": ""],
                                       currentDirectory: Tools.repositoryRoot.path)
            let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").map(String.init)
            try? FileManager.default.removeItem(at: root)
            return (r, lines)
        }
    }

    /// Every package the Makefile names, read from the Makefile itself.
    private func makefilePackages() throws -> [String] {
        let text = try String(contentsOf: Tools.repositoryRoot.appendingPathComponent("Makefile"), encoding: .utf8)
        guard let start = text.range(of: "DEBIAN_PACKAGES =") else { XCTFail("no DEBIAN_PACKAGES in Makefile"); return [] }
        var words: [String] = []
        for line in text[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            let continued = line.hasSuffix("\\")
            words += line.replacingOccurrences(of: "\\", with: "").split(separator: " ").map(String.init)
            if !continued { break }
        }
        return words
    }

    func testRootWithoutSudoRunsAptGetItselfWithNoninteractiveFrontend() throws {
        let all = try makefilePackages()
        XCTAssertTrue(all.contains("libdw-dev") && all.contains("elfutils"), "\(all)")
        let machine = try Machine(uid: 0, hasSudo: false, installed: all.filter { $0 != "libdw-dev" && $0 != "elfutils" })
        let (r, log) = try machine.makeDeps()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "make deps: installing libdw-dev elfutils\n")
        XCTAssertEqual(log, [
            "apt-get update -qq [DEBIAN_FRONTEND=noninteractive]",
            "apt-get install -y -qq --no-install-recommends libdw-dev elfutils [DEBIAN_FRONTEND=noninteractive]",
        ])
    }

    func testRootUsesAptGetEvenWhenSudoIsInstalled() throws {
        let machine = try Machine(uid: 0, hasSudo: true, installed: [])
        let (r, log) = try machine.makeDeps()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(log.count, 2, "\(log)")
        XCTAssertFalse(log.contains { $0.hasPrefix("sudo") }, "\(log)")
    }

    func testUserWithSudoCarriesNoninteractiveFrontendPastSudo() throws {
        let all = try makefilePackages()
        let machine = try Machine(uid: 1000, hasSudo: true, installed: all.filter { $0 != "gdb" })
        let (r, log) = try machine.makeDeps()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(log, [
            "sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq",
            "apt-get update -qq [DEBIAN_FRONTEND=noninteractive]",
            "sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gdb",
            "apt-get install -y -qq --no-install-recommends gdb [DEBIAN_FRONTEND=noninteractive]",
        ])
    }

    func testUserWithoutSudoGetsOneLineNamingThePackagesAndExitStatusNonZero() throws {
        let all = try makefilePackages()
        let machine = try Machine(uid: 1000, hasSudo: false, installed: all.filter { $0 != "gdb" && $0 != "llvm" })
        let (r, log) = try machine.makeDeps()
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(log, [], "nothing may be installed")
        // make's own "make: *** [Makefile:N: deps] Error 1" follows; the script's line is the rest.
        let ours = r.stderr.split(separator: "\n").filter { !$0.hasPrefix("make:") }
        XCTAssertEqual(ours, ["make deps: missing Debian packages: gdb llvm; install them as root: apt-get install gdb llvm"])
    }

    func testNothingMissingIsSilentAndInstallsNothing() throws {
        let machine = try Machine(uid: 1000, hasSudo: false, installed: try makefilePackages())
        let (r, log) = try machine.makeDeps()
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout + r.stderr, "")
        XCTAssertEqual(log, [])
    }
}
