// GDBJITRegistrar: gdb learns about an image through its JIT interface: an entry in
// __jit_debug_descriptor's list pointing at an in-memory ELF symfile whose section
// addresses are the run-time addresses. The image itself is that symfile (no copy), so
// gdb reads it from the process, live or from a core.

import CVunwind
import Locking

public final class GDBJITRegistrar: UnwindRegistrar {
    public let kind = RegistrarKind.gdb
    private let entries = Locked<[UInt64: UnsafeMutablePointer<jit_code_entry>]>([:])

    public init() {}

    public func register(_ image: RegisteredImage) throws {
        try entries.withLock { entries in
            guard entries[image.imageAddress] == nil else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is already registered")
            }
            guard let e = vu_jit_register(UnsafeRawPointer(bitPattern: UInt(image.imageAddress)), image.imageSize) else {
                throw RegistrationError(kind, "out of memory")
            }
            entries[image.imageAddress] = e
        }
    }

    public func deregister(_ image: RegisteredImage) throws {
        try entries.withLock { entries in
            guard let e = entries.removeValue(forKey: image.imageAddress) else {
                throw RegistrationError(kind, "image at 0x\(String(image.imageAddress, radix: 16)) is not registered")
            }
            vu_jit_unregister(e)
        }
    }

    /// Entries in __jit_debug_descriptor's list now.
    public static var entryCount: Int { Int(vu_jit_entry_count()) }
}
