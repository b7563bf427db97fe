// LibgccRegistrar: libgcc's unwinder (C++ exceptions, glibc backtrace()) learns about an
// image through __register_frame, which takes the start of a whole .eh_frame section
// ending in a zero terminator, and forgets it through __deregister_frame with the same
// pointer, exactly once (GCC 13+ aborts on an unknown pointer). Resolved from
// libgcc_s.so.1 explicitly.

import CVunwind
import Locking

public final class LibgccRegistrar: UnwindRegistrar {
    typealias FrameFunction = @convention(c) (UnsafeRawPointer) -> Void

    public let kind = RegistrarKind.libgcc
    private let library: DynamicLibrary
    private let registerFrame: FrameFunction
    private let deregisterFrame: FrameFunction
    private let registered = Locked<Set<UInt64>>([])

    public init() throws {
        library = try DynamicLibrary("libgcc_s.so.1", for: .libgcc)
        registerFrame = try library.symbol("__register_frame", as: FrameFunction.self, for: .libgcc)
        deregisterFrame = try library.symbol("__deregister_frame", as: FrameFunction.self, for: .libgcc)
    }

    /// Where __register_frame came from (the path of libgcc_s as loaded).
    public var libraryPath: String? {
        DynamicLibrary.path(containing: unsafeBitCast(registerFrame, to: UnsafeRawPointer.self))
    }

    public func register(_ image: RegisteredImage) throws {
        try registered.withLock { set in
            guard set.insert(image.ehFrameAddress).inserted else {
                throw RegistrationError(kind, ".eh_frame at 0x\(String(image.ehFrameAddress, radix: 16)) is already registered")
            }
            registerFrame(UnsafeRawPointer(bitPattern: UInt(image.ehFrameAddress))!)
        }
    }

    public func deregister(_ image: RegisteredImage) throws {
        try registered.withLock { set in
            guard set.remove(image.ehFrameAddress) != nil else {
                throw RegistrationError(kind, ".eh_frame at 0x\(String(image.ehFrameAddress, radix: 16)) is not registered")
            }
            deregisterFrame(UnsafeRawPointer(bitPattern: UInt(image.ehFrameAddress))!)
        }
    }
}
