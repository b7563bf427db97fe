// LibunwindPtraceWalker: nongnu libunwind-ptrace, remote, with the registry's accessors
// (RemoteUnwind): find_proc_info answered from in-memory images, such as our page, and
// everything else from libunwind's own _UPT_accessors.

import RemoteUnwind
import Unwind

public final class LibunwindPtraceWalker: Walker {
    public let name = "libunwind-ptrace"
    var images: [MemoryImage] = []
    public init() {}

    public func attach(pid: Int32, modules: ModuleMap) throws {
        images = MemoryImage.find(in: modules)
    }

    public func walk(_ stop: WalkStop) throws -> [WalkedFrame] {
        try LibunwindRemoteUnwinder.walk(tid: stop.pid, images: images).frames.map {
            WalkedFrame(pc: $0.pc, sp: $0.sp, registers: $0.calleeSaved)
        }
    }
}
