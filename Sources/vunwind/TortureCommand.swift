// `vunwind torture`: the vvar lock under a writer that updates as fast as it can.
//
// One reader per CPU (pinned) copies the eight torture words under the lock, again and
// again, while one writer thread rewrites them, each write in its own section; a copy
// whose words come from two writes is a torn read. With the real lock there must be
// none (exit status 1 otherwise); --broken uses the same code with the lock's last
// sequence read aimed at sequence2 again, and reports the torn reads it lets through.

import ArgumentParser
import FoundationEssentials
import Vsyscall

struct TortureCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "torture", abstract: "Torture the vvar two-counter lock and count torn reads.",
        discussion: """
            Exit status: 0 when the real lock let no torn read through (always 0 with --broken, \
            which reports how many it caught), 1 when it did.
            """)

    @Option(help: "Snapshots to take, in total over all readers.")
    var reads: Int = 100_000_000

    @Flag(help: "Use the deliberately broken lock (sequence2 read twice) to show what a torn read looks like.")
    var broken = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        guard reads > 0 else { throw ValidationError("--reads must be positive") }
    }

    func run() throws {
        let r = try LockTorture.run(reads: reads, broken: broken)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(r), as: UTF8.self))
        } else {
            print(Self.render(r), terminator: "")
        }
        if r.tornReads > 0 && !broken { throw ExitCode(1) }
    }

    static func render(_ r: TortureResult) -> String {
        func percent(_ part: UInt64, of whole: UInt64) -> String {
            whole == 0 ? "0" : String(format2: 100 * Double(part) / Double(whole), 4)
        }
        let rate = r.seconds > 0 ? String(format2: Double(r.reads) / r.seconds / 1e6, 1) : "-"
        var out = "lock torture: \(r.broken ? "BROKEN lock (sequence2 read twice)" : "two-counter lock"), "
        out += "\(r.readers) reader\(r.readers == 1 ? "" : "s") (\(r.pinnedReaders) pinned), 1 writer\n"
        out += "reads           \(r.reads)\n"
        out += "torn reads      \(r.tornReads) (\(percent(r.tornReads, of: r.reads))%)\n"
        out += "retries         \(r.retries) (\(percent(r.retries, of: r.reads))% of reads)\n"
        out += "writer updates  \(r.writes)\n"
        out += "time            \(String(format2: r.seconds, 2)) s (\(rate) M reads/s)\n"
        if let t = r.firstTornRead {
            out += "first torn read \(t.map { "0x" + String($0, radix: 16) }.joined(separator: " "))\n"
        }
        if r.broken {
            out += "result: the broken lock let \(r.tornReads) torn read\(r.tornReads == 1 ? "" : "s") through\n"
        } else {
            out += r.tornReads == 0 ? "result: ok, no torn read\n" : "result: FAILED, the lock let \(r.tornReads) torn reads through\n"
        }
        return out
    }
}
