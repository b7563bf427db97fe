// CoreBenchmark (`vunwind bench core`): the analysis of a large core — by default 1 GiB of
// dumped memory and 64 threads, from fixture-bigcore, written by vunwind's own CoreWriter —
// beside eu-stack --core and gdb -batch -ex 'thread apply all bt' on the same core, each a
// process, interleaved; with each one's peak resident memory (wait4's ru_maxrss).

import CoreDump
import FoundationEssentials
import Unwind
#if canImport(Glibc)
import Glibc
#endif

struct CoreBenchmarkResult: Codable {
    struct Run: Codable {
        var name: String
        var medianMilliseconds: Double
        var minimumMilliseconds: Double
        var maximumMilliseconds: Double
        var peakRSSMegabytes: Double
    }

    var coreBytes: UInt64
    var threads: Int
    var writeMilliseconds: Double
    var runs: [Run]
    /// ours / eu-stack and ours / gdb: below 1 means we take less time.
    var ratioToEuStack: Double
    var ratioToGDB: Double
    var ratioToEuStackWithoutCrossCheck: Double
    /// Our peak RSS over the core's size.
    var peakRSSFractionOfCore: Double
}

enum CoreBenchmark {
    /// Runs a program, output discarded; wall time and peak RSS.
    static func timed(_ path: String, _ args: [String]) throws -> (ns: UInt64, rssKB: Int) {
        let t0 = Measurement.now()
        let pid = try Spawner.spawn(path, args, quiet: true)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw SystemError(call: "wait4", errno: errno) }
        }
        return (Measurement.now() - t0, usage.ru_maxrss)
    }

    static func run(vunwind: String, mebibytes: Int, threads: Int, rounds: Int) throws -> CoreBenchmarkResult {
        let dir = (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp") + "/vunwind-bench-core-\(getpid())"
        _ = mkdir(dir, 0o700)
        defer {
            unlink(dir + "/core"); unlink(dir + "/ready")
            rmdir(dir)
        }
        // Built with vunwind, into the same folder.
        let helper = String(vunwind[...(vunwind.lastIndex(of: "/") ?? vunwind.startIndex)]) + "fixture-bigcore"
        let ready = dir + "/ready"
        let pid = try Spawner.spawn(helper, ["\(mebibytes)", "\(threads)", ready], quiet: true)
        defer {
            kill(pid, SIGKILL)
            var s: Int32 = 0
            waitpid(pid, &s, 0)
        }
        var waited = 0
        while access(ready, F_OK) != 0 {
            usleep(10_000)
            waited += 1
            guard waited < 6000 else { throw SystemError(call: "fixture-bigcore did not get ready", errno: ETIMEDOUT) }
        }
        let core = dir + "/core"
        let w0 = Measurement.now()
        let summary = try CoreWriter.write(pid: pid, to: core)
        let writeNs = Measurement.now() - w0
        kill(pid, SIGKILL)
        var st = stat()
        stat(core, &st)
        func tool(_ name: String) -> String { ["/usr/bin/" + name, "/bin/" + name].first { access($0, X_OK) == 0 } ?? name }
        let gdb = tool("gdb"), euStack = tool("eu-stack")
        let candidates: [(String, String, [String])] = [
            ("vunwind core", vunwind, ["core", core]),
            ("vunwind core --no-cross-check", vunwind, ["core", "--no-cross-check", core]),
            ("eu-stack --core", euStack, ["--core", core, "-e", helper]),
            ("gdb -batch -ex 'thread apply all bt'", gdb, ["-batch", "-nx", "-ex", "thread apply all bt", helper, core]),
        ]
        var times = [[UInt64]](repeating: [], count: candidates.count)
        var rss = [Int](repeating: 0, count: candidates.count)
        for round in 0...rounds {
            for (i, c) in candidates.enumerated() {
                let (ns, kb) = try timed(c.1, c.2)
                if round > 0 { times[i].append(ns) }  // round 0 warms the page cache
                rss[i] = max(rss[i], kb)
            }
        }
        let runs = candidates.indices.map { i -> CoreBenchmarkResult.Run in
            let s = times[i].sorted()
            return .init(name: candidates[i].0, medianMilliseconds: Double(s[s.count / 2]) / 1e6,
                         minimumMilliseconds: Double(s[0]) / 1e6, maximumMilliseconds: Double(s[s.count - 1]) / 1e6,
                         peakRSSMegabytes: Double(rss[i]) / 1024)
        }
        return CoreBenchmarkResult(
            coreBytes: UInt64(st.st_size), threads: summary.threads, writeMilliseconds: Double(writeNs) / 1e6, runs: runs,
            ratioToEuStack: runs[0].medianMilliseconds / runs[2].medianMilliseconds,
            ratioToGDB: runs[0].medianMilliseconds / runs[3].medianMilliseconds,
            ratioToEuStackWithoutCrossCheck: runs[1].medianMilliseconds / runs[2].medianMilliseconds,
            peakRSSFractionOfCore: Double(rss[0]) * 1024 / Double(max(st.st_size, 1)))
    }

    static func render(_ r: CoreBenchmarkResult) -> String {
        var out = "core analysis: a core of \(r.coreBytes >> 20) MiB, \(r.threads) threads "
            + "(written by vunwind gcore in \(String(format2: r.writeMilliseconds, 0)) ms); each a process, interleaved\n"
        for run in r.runs {
            out += "  " + (run.name + " ").padded(42) + "median \(String(format2: run.medianMilliseconds, 1)) ms"
                + "  (min \(String(format2: run.minimumMilliseconds, 1)), max \(String(format2: run.maximumMilliseconds, 1)))"
                + "  peak RSS \(String(format2: run.peakRSSMegabytes, 1)) MB\n"
        }
        out += "  ours / eu-stack: \(String(format2: r.ratioToEuStack, 2))x (without the libdwfl cross-check "
            + "\(String(format2: r.ratioToEuStackWithoutCrossCheck, 2))x); ours / gdb: \(String(format2: r.ratioToGDB, 2))x; "
            + "our peak RSS is \(String(format2: r.peakRSSFractionOfCore * 100, 1))% of the core\n"
        return out
    }
}

