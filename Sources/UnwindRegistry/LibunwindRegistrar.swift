// LibunwindRegistrar: nongnu libunwind's local unwinder (unw_step, and its _Unwind_*
// when a program links it first) learns about an image through _U_dyn_register. On x86-64
// UNW_INFO_FORMAT_DYNAMIC is not implemented (it silently falls back to frame-pointer
// guessing); UNW_INFO_FORMAT_REMOTE_TABLE over the image's own .eh_frame_hdr table works,
// with table_len in machine words (FIELD-NOTES). Resolved from libunwind.so.8 explicitly
// and RTLD_LOCAL, so registering never lets libunwind take over libgcc's _Unwind_* names.

import CVunwind
import Locking

public final class LibunwindRegistrar: UnwindRegistrar {
    typealias DynFunction = @convention(c) (UnsafeMutableRawPointer) -> Void

    public let kind = RegistrarKind.libunwind
    private let library: DynamicLibrary
    private let dynRegister: DynFunction
    private let dynCancel: DynFunction
    /// Image base -> its unw_dyn_info_t (heap, alive while registered).
    private let infos = Locked<[UInt64: UnsafeMutableRawPointer]>([:])

    public init() throws {
        library = try DynamicLibrary("libunwind.so.8", for: .libunwind)
        dynRegister = try library.symbol("_U_dyn_register", as: DynFunction.self, for: .libunwind)
        dynCancel = try library.symbol("_U_dyn_cancel", as: DynFunction.self, for: .libunwind)
    }

    public func register(_ image: RegisteredImage) throws {
        try infos.withLock { infos in
            guard infos[image.imageAddress] == nil else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is already registered")
            }
            // The binary-search table follows the header's 4 encoding bytes, the
            // eh_frame_ptr and fde_count (sdata4/udata4, as EhFrameWriter writes them).
            guard let info = vu_libunwind_dyn_info_create(image.code.lowerBound, image.code.upperBound,
                                                          image.ehFrameHeaderAddress, image.ehFrameHeaderAddress + 12,
                                                          UInt64(image.fdeCount)) else {
                throw RegistrationError(kind, "out of memory")
            }
            dynRegister(info)
            infos[image.imageAddress] = info
        }
    }

    public func deregister(_ image: RegisteredImage) throws {
        try infos.withLock { infos in
            guard let info = infos.removeValue(forKey: image.imageAddress) else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is not registered")
            }
            dynCancel(info)
            vu_libunwind_dyn_info_destroy(info)
        }
    }
}
