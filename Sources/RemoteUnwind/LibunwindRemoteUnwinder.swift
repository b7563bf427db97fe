// LibunwindRemoteUnwinder: nongnu libunwind-ptrace walking a stopped, traced thread, with
// accessors that answer find_proc_info for in-memory images (CRemoteUnwind) and forward
// everything else to _UPT_accessors.

import CLibunwind
import CRemoteUnwind
import DwarfCFI
#if canImport(Glibc)
import Glibc
#endif

public struct RemoteFrame: Sendable, Equatable {
    public var pc: UInt64
    public var sp: UInt64
    /// DWARF register number -> value, for the callee-saved registers libunwind recovered.
    public var calleeSaved: [UInt16: UInt64]
    public var isSignalFrame: Bool
}

public enum LibunwindRemoteUnwinder {
    public struct Walk: Sendable {
        public var frames: [RemoteFrame]
        /// find_proc_info requests answered from an in-memory image.
        public var answeredFromImages: UInt64
    }

    /// Walks thread `tid` (stopped and traced by the caller), knowing `images`.
    public static func walk(tid: pid_t, images: [MemoryImage], maxFrames: Int = 64) throws -> Walk {
        try Session(tid: tid, images: images).walk(maxFrames: maxFrames)
    }

    /// One address space and ptrace context for many walks of one thread (a tester's
    /// stops): libunwind caches what it found per address (UNW_CACHE_GLOBAL), which is
    /// valid while the process's code and CFI stay as they are.
    public final class Session {
        let upt: UnsafeMutableRawPointer
        let space: unw_addr_space_t
        // libunwind keeps the context pointer in the cursor for every later step: it must
        // outlive the walk, so it lives on the heap, not in an inout temporary.
        let contextPointer: UnsafeMutablePointer<vu_remote_context>

        public init(tid: pid_t, images: [MemoryImage], cache: Bool = false) throws {
            guard let upt = vu_upt_create(tid) else { throw UnwindFailure("_UPT_create(\(tid)) failed") }
            guard let space = vu_remote_create_address_space() else {
                vu_upt_destroy(upt)
                throw UnwindFailure("unw_create_addr_space failed")
            }
            self.upt = upt
            self.space = space
            if cache { vu_remote_cache_globally(space) }
            contextPointer = .allocate(capacity: 1)
            contextPointer.initialize(to: vu_remote_context())
            contextPointer.pointee.magic = 0x646e_6977_6e75_7675  // VU_REMOTE_MAGIC
            contextPointer.pointee.upt = upt
            withUnsafeMutableBytes(of: &contextPointer.pointee.images) { raw in
                let slots = raw.bindMemory(to: vu_remote_image.self)
                for (i, image) in images.prefix(Int(VU_REMOTE_MAX_IMAGES)).enumerated() {
                    slots[i] = vu_remote_image(code_start: image.code.lowerBound, code_end: image.code.upperBound,
                                               header: image.header, fde_count: UInt64(image.fdeCount))
                }
            }
            contextPointer.pointee.image_count = UInt32(min(images.count, Int(VU_REMOTE_MAX_IMAGES)))
        }

        deinit {
            vu_remote_destroy_address_space(space)
            vu_upt_destroy(upt)
            contextPointer.deallocate()
        }

        /// The thread's frames now (it must be stopped).
        public func walk(maxFrames: Int = 64) throws -> Walk {
            var cursor = unw_cursor_t()
            let rc = vu_remote_init(&cursor, space, contextPointer)
            guard rc == 0 else { throw UnwindFailure("unw_init_remote failed: \(rc)") }
            var frames: [RemoteFrame] = []
            for _ in 0..<maxFrames {
                var pc: UInt64 = 0, sp: UInt64 = 0
                _ = vu_remote_get_reg(&cursor, 16, &pc)
                _ = vu_remote_get_reg(&cursor, 7, &sp)
                var saved: [UInt16: UInt64] = [:]
                for r in DwarfRegister.calleeSaved {
                    var v: UInt64 = 0
                    if vu_remote_get_reg(&cursor, Int32(r), &v) == 0 { saved[r] = v }
                }
                frames.append(RemoteFrame(pc: pc, sp: sp, calleeSaved: saved, isSignalFrame: vu_remote_is_signal_frame(&cursor) > 0))
                if vu_remote_step(&cursor) <= 0 { break }
            }
            return Walk(frames: frames, answeredFromImages: contextPointer.pointee.answered)
        }
    }
}

public struct UnwindFailure: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ d: String) { description = d }
}
