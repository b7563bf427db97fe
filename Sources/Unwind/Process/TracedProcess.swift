// TracedProcess: a child this process traces (it called PTRACE_TRACEME after being
// spawned by us): wait for its stops, read and write its registers, continue it.
//
// ptrace requests must come from the tracing thread: use one TracedProcess from one thread.

import CVunwind
import DwarfCFI
#if canImport(Glibc)
import Glibc
#endif

public final class TracedProcess: @unchecked Sendable {
    public let pid: pid_t

    public enum Stop: Equatable, Sendable {
        case stopped(signal: Int32)
        case exited(status: Int32)
        case killed(signal: Int32, coreDumped: Bool)
    }

    public init(pid: pid_t) { self.pid = pid }

    /// Attaches to a running process (PTRACE_ATTACH) and waits until it is stopped.
    public static func attach(_ pid: pid_t) throws -> TracedProcess {
        guard vu_ptrace_attach(pid) == 0 else { throw SystemError(call: "PTRACE_ATTACH \(pid)", errno: errno) }
        let p = TracedProcess(pid: pid)
        try p.waitForStop(SIGSTOP)
        return p
    }

    /// Waits for the next state change (stop or exit) of the child.
    public func wait() throws -> Stop {
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, __WALL)
            if r == pid { break }
            if r < 0 && errno == EINTR { continue }
            throw SystemError(call: "waitpid(\(pid))", errno: errno)
        }
        let low = status & 0x7f
        if low == 0 { return .exited(status: (status >> 8) & 0xff) }
        if low == 0x7f { return .stopped(signal: (status >> 8) & 0xff) }
        return .killed(signal: low, coreDumped: status & 0x80 != 0)
    }

    /// Waits for the next state change for at most `seconds`; nil if none came (the child
    /// sits in a blocking system call, say). Polls: a step takes microseconds, so for the
    /// first 2 ms it only yields the CPU between polls (a sleep would cost more than the
    /// step), then it sleeps 1 ms between them.
    public func wait(timeout seconds: Double) throws -> Stop? {
        var status: Int32 = 0
        let start = Self.now()
        while true {
            let r = waitpid(pid, &status, __WALL | WNOHANG)
            if r == pid { break }
            if r < 0 {
                if errno == EINTR { continue }
                throw SystemError(call: "waitpid(\(pid))", errno: errno)
            }
            let elapsed = Self.now() - start
            if elapsed > seconds { return nil }
            if elapsed < 0.002 { sched_yield() } else { usleep(1000) }
        }
        let low = status & 0x7f
        if low == 0 { return .exited(status: (status >> 8) & 0xff) }
        if low == 0x7f { return .stopped(signal: (status >> 8) & 0xff) }
        return .killed(signal: low, coreDumped: status & 0x80 != 0)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Waits until the child stops with `signal`, passing other signals on to it.
    public func waitForStop(_ signal: Int32) throws {
        while true {
            switch try wait() {
            case let .stopped(s) where s == signal: return
            case let .stopped(s): try cont(signal: s)
            case let other: throw SystemError(call: "child ended before signal \(signal): \(other)", errno: ECHILD)
            }
        }
    }

    public func registers() throws -> X86_64Registers {
        var regs = user_regs_struct()
        guard vu_ptrace_getregs(pid, &regs) == 0 else { throw SystemError(call: "PTRACE_GETREGS", errno: errno) }
        return withUnsafeBytes(of: &regs) { raw in
            X86_64Registers(words: (0..<X86_64Registers.wordCount).map { raw.load(fromByteOffset: $0 * 8, as: UInt64.self) })
        }
    }

    public func setRegisters(_ r: X86_64Registers) throws {
        var regs = user_regs_struct()
        withUnsafeMutableBytes(of: &regs) { raw in
            for (i, w) in r.words.enumerated() { raw.storeBytes(of: w, toByteOffset: i * 8, as: UInt64.self) }
        }
        guard vu_ptrace_setregs(pid, &regs) == 0 else { throw SystemError(call: "PTRACE_SETREGS", errno: errno) }
    }

    public func cont(signal: Int32 = 0) throws {
        guard vu_ptrace_cont(pid, signal) == 0 else { throw SystemError(call: "PTRACE_CONT", errno: errno) }
    }

    public func singleStep(signal: Int32 = 0) throws {
        guard vu_ptrace_singlestep(pid, signal) == 0 else { throw SystemError(call: "PTRACE_SINGLESTEP", errno: errno) }
    }

    public func detach(signal: Int32 = 0) throws {
        guard vu_ptrace_detach(pid, signal) == 0 else { throw SystemError(call: "PTRACE_DETACH", errno: errno) }
    }

    /// Kills the child and reaps it, and every thread of it this process traces (the
    /// leader is not reported until those are reaped).
    public func kill() {
        var tids: [pid_t] = []
        if let dir = opendir("/proc/\(pid)/task") {
            while let e = readdir(dir) {
                let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if let t = pid_t(name), t != pid { tids.append(t) }
            }
            closedir(dir)
        }
        _ = Glibc.kill(pid, SIGKILL)
        var status: Int32 = 0
        for t in tids { _ = waitpid(t, &status, __WALL | WNOHANG) == 0 ? waitpid(t, &status, __WALL) : 0 }
        _ = waitpid(pid, &status, __WALL)
    }
}
