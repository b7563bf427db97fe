// UnwindRegistry: registers an image with a set of consumers and takes it back, newest
// first, exactly once. Thread-safe; registering the same image twice is an error; a
// registrar that fails midway has the earlier ones rolled back.

import Locking

public final class UnwindRegistry: Sendable {
    public let registrars: [any UnwindRegistrar]
    private let registered = Locked<[UInt64: [any UnwindRegistrar]]>([:])

    public init(registrars: [any UnwindRegistrar]) {
        self.registrars = registrars
    }

    /// The registrars for `kinds`, in a fixed order (libgcc, libunwind, gdb, perf).
    public static func registrars(for kinds: Set<RegistrarKind>) throws -> [any UnwindRegistrar] {
        try kinds.sorted().map { kind -> any UnwindRegistrar in
            switch kind {
            case .libgcc: return try LibgccRegistrar()
            case .libunwind: return try LibunwindRegistrar()
            case .gdb: return GDBJITRegistrar()
            case .perf: return PerfMapRegistrar()
            }
        }
    }

    public func register(_ image: RegisteredImage) throws {
        try registered.withLock { registered in
            guard registered[image.imageAddress] == nil else {
                throw RegistrationError(nil, "\(image.name) at 0x\(String(image.imageAddress, radix: 16)) is already registered")
            }
            var done: [any UnwindRegistrar] = []
            do {
                for r in registrars {
                    try r.register(image)
                    done.append(r)
                }
            } catch {
                for r in done.reversed() { try? r.deregister(image) }
                throw error
            }
            registered[image.imageAddress] = done
        }
    }

    /// Deregisters from every registrar, newest first; the first failure is thrown after
    /// all have been tried.
    public func deregister(_ image: RegisteredImage) throws {
        try registered.withLock { registered in
            guard let done = registered.removeValue(forKey: image.imageAddress) else {
                throw RegistrationError(nil, "\(image.name) at 0x\(String(image.imageAddress, radix: 16)) is not registered")
            }
            var firstError: Error?
            for r in done.reversed() {
                do { try r.deregister(image) } catch { if firstError == nil { firstError = error } }
            }
            if let e = firstError { throw e }
        }
    }

    public func isRegistered(_ image: RegisteredImage) -> Bool {
        registered.withLock { $0[image.imageAddress] != nil }
    }
}
