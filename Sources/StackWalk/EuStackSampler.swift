// EuStackSampler: eu-stack as a walker, sampled. eu-stack attaches with ptrace itself, so
// at a sampled stop the tester hands the helper over: SIGSTOP, PTRACE_DETACH (the pending
// SIGSTOP puts it in group-stop before it runs an instruction), `eu-stack -p PID -1 -q -a`
// while it sits there, then PTRACE_ATTACH again and SIGCONT for its other threads. The
// registers and memory are untouched, so stepping continues from the same instruction.
// eu-stack prints PCs only: its frames are judged on the chain and on main.

import CVunwind
import Unwind
#if canImport(Glibc)
import Glibc
#endif

public struct EuStackSampler {
    static let path = "/usr/bin/eu-stack"
    public static let name = "eu-stack"

    /// The frames eu-stack prints for thread `pid` of the stopped, traced helper.
    static func sample(_ process: TracedProcess) throws -> [WalkedFrame] {
        let pid = process.pid
        guard kill(pid, SIGSTOP) == 0 else { throw SystemError(call: "kill SIGSTOP", errno: errno) }
        try process.detach()
        defer {
            // Ours again: attach waits for the attach stop; SIGCONT wakes the helper's
            // other threads (the traced one stays in its ptrace stop).
            if vu_ptrace_attach(pid) == 0 { try? process.waitForStop(SIGSTOP) }
            _ = kill(pid, SIGCONT)
        }
        var out: [Int32] = [0, 0]
        guard vu_pipe_cloexec(&out) == 0 else { throw SystemError(call: "pipe2", errno: errno) }
        let child: pid_t
        do {
            child = try Spawner.spawn(path, ["-p", String(pid), "-1", "-a", "-n", "64"], quiet: true, standardOutput: out[1])
        } catch {
            close(out[0]); close(out[1])
            throw error
        }
        close(out[1])
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(out[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        close(out[0])
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        // "#0  0x00005500000010b1 vgettimeofday": one line per frame.
        var frames: [WalkedFrame] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") where line.hasPrefix("#") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, fields[1].hasPrefix("0x"), let pc = UInt64(fields[1].dropFirst(2), radix: 16) else { continue }
            frames.append(WalkedFrame(pc: pc))
        }
        return frames
    }
}
