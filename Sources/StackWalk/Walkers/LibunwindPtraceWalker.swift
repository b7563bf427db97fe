// LibunwindPtraceWalker: nongnu libunwind-ptrace, remote, with the registry's accessors
// (RemoteUnwind): find_proc_info answered from in-memory images, such as our page, and
// everything else from libunwind's own _UPT_accessors.

import RemoteUnwind
import Unwind

public final class LibunwindPtraceWalker: Walker {
    public let name = "libunwind-ptrace"
    var session: LibunwindRemoteUnwinder.Session?
    public init() {}

    /// One session per subject, caching what libunwind found per address (the code and
    /// CFI do not change during a call): 5x the stops per second of a fresh one each stop.
    public func attach(pid: Int32, modules: ModuleMap) throws {
        session = try LibunwindRemoteUnwinder.Session(tid: pid, images: MemoryImage.find(in: modules), cache: true)
    }

    public func walk(_ stop: WalkStop) throws -> [WalkedFrame] {
        guard let session else { throw UnwindFailure("libunwind-ptrace is not attached") }
        return try session.walk().frames.map { WalkedFrame(pc: $0.pc, sp: $0.sp, registers: $0.calleeSaved) }
    }

    public func detach() { session = nil }
}
