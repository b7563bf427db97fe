// LibdwflWalker: elfutils' libdwfl, remote: dwfl_linux_proc_attach on the traced helper,
// our hook reporting in-memory images (DwflProcess), dwfl_frame_reg per frame.

import RemoteUnwind
import Unwind

public final class LibdwflWalker: Walker {
    public let name = "libdwfl"
    var process: DwflProcess?
    public init() {}

    public func attach(pid: Int32, modules: ModuleMap) throws {
        process = try DwflProcess(pid: pid)
    }

    public func walk(_ stop: WalkStop) throws -> [WalkedFrame] {
        guard let process else { throw UnwindFailure("libdwfl is not attached") }
        return process.registerFrames(tid: stop.pid).map { frame in
            var saved = frame.registers
            let sp = saved.removeValue(forKey: 7)
            return WalkedFrame(pc: frame.pc, sp: sp, registers: saved)
        }
    }

    public func detach() { process = nil }
}
