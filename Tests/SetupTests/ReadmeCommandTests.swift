// ReadmeCommandTests: every command of every `sh` block in the README, run as written, in
// order, in one bash session at the root of a fresh copy of the repository (its tracked
// and untracked files, no .build: what a clone has), with HOME a fresh folder (for
// `make install PREFIX=$HOME/.local`). `make demo` builds the release tools the later
// blocks put on the PATH, so this is also the test of the main job on a fresh checkout:
// every step of the demo must pass. The copy is also why it works at all: `swift test`
// holds the package's .build lock while the tests run, and a `swift build` in the same
// package would wait for it forever. The one line not run is `make test`: it is the run
// this test is part of (.ci/run calls it).
//
// Each command is preceded by a marker line, so a failure names the command; exit status
// 0 is required of every one (bash -e, pipefail).

import Foundation
import TestSupport
import XCTest

final class ReadmeCommandTests: XCTestCase {
    /// The README's `sh` blocks, each a list of commands (continuation lines joined).
    static func shellBlocks(_ text: String) -> [[String]] {
        var blocks: [[String]] = []
        var current: [String]?
        var pending = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                if let c = current {
                    blocks.append(c)
                    current = nil
                } else if line == "```sh" {
                    current = []
                }
                continue
            }
            guard current != nil else { continue }
            if line.hasSuffix("\\") {
                pending += line.dropLast() + " "
                continue
            }
            let command = (pending + line).trimmingCharacters(in: .whitespaces)
            pending = ""
            if !command.isEmpty && !command.hasPrefix("#") { current!.append(command) }
        }
        return blocks
    }

    func testTheREADMEsShellBlocksAreWhatThisTestRuns() throws {
        let readme = try String(contentsOf: Tools.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = Self.shellBlocks(readme)
        // The parser sees every block (a block it missed would go untested).
        XCTAssertEqual(blocks.count, readme.components(separatedBy: "\n```sh\n").count - 1)
        XCTAssertEqual(blocks.first?.map { $0.split(separator: " ").prefix(2).joined(separator: " ") }, ["make demo", "make test"])
        XCTAssertGreaterThanOrEqual(blocks.flatMap { $0 }.count, 15)
    }

    func testEveryShellCommandInTheREADMERunsAsWrittenAndMakeDemoPassesEveryStep() throws {
        let root = Tools.repositoryRoot.path
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let commands = Self.shellBlocks(readme).flatMap { $0 }.filter { !$0.hasPrefix("make test") }
        let home = try Tools.temporaryDirectory("vunwind-readme-home")
        defer { try? FileManager.default.removeItem(at: home) }
        let copy = try Tools.temporaryDirectory("vunwind-readme-clone")
        defer { try? FileManager.default.removeItem(at: copy) }
        let files = try Subprocess.run("/bin/sh", ["-c", "cd '\(root)' && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t '\(copy.path)'"])
        XCTAssertEqual(files.status, 0, files.stderr)
        var script = "set -e -o pipefail\ncd '\(copy.path)'\n"
        for (i, command) in commands.enumerated() {
            script += "printf '\\n@@ README command %d: %s\\n' \(i) \(Self.quoted(command))\n\(command)\n"
        }
        script += "printf '\\n@@ README done\\n'\n"
        let r = try Subprocess.run("/bin/bash", ["-c", script], environment: ["HOME": home.path])
        let output = r.stdout + r.stderr
        let last = output.components(separatedBy: "\n@@ ").last?.split(separator: "\n").first ?? "?"
        XCTAssertEqual(r.status, 0, "stopped at \(last) with status \(r.status):\n\(output.suffix(3000))")
        XCTAssertTrue(r.stdout.hasSuffix("@@ README done\n"), String(r.stdout.suffix(2000)))
        // What the README says each shows.
        let sections = r.stdout.split(separator: "\n").filter { $0.hasPrefix("== ") }.map { String($0.prefix(5)) }
        XCTAssertEqual(sections, ["== 1.", "== 2.", "== 3.", "== 4.", "== 5.", "== 6.", "== 7."], "make demo's steps")
        XCTAssertTrue(r.stdout.contains("wrote .build/shell.core: 1 thread(s)"), "vunwind gcore")
        XCTAssertTrue(r.stdout.contains(" (bash), SIGSTOP"), "vunwind core names the process and its signal")
        // make demo's walk and the five in the walk block print a verdict; none unexpected.
        let verdicts = r.stdout.split(separator: "\n").filter {
            $0.range(of: #"^ *[0-9]+ stops judged, [0-9]+ unexpected$"#, options: .regularExpression) != nil
        }
        XCTAssertEqual(verdicts.count, 6, "\(verdicts)")
        XCTAssertTrue(verdicts.allSatisfy { $0.hasSuffix(" 0 unexpected") }, "\(verdicts)")
        XCTAssertEqual(r.stdout.components(separatedBy: "\nvgettimeofday 0 ").count - 1, 2, "both C builds ran")
    }

    static func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}
