// Vsyscall: install the vsyscall page (Vsyscall.install) and call it (VsyscallPage).
//
// One page per process, at a fixed address (the seed's "call 0xfff..."): a second install,
// or an address something else occupies, is a clear error.

import CVunwind
import Locking
import UnwindRegistry
#if canImport(Glibc)
import Glibc
#endif

public enum Vsyscall {
    /// Where the page goes unless told otherwise: far below the mmap area and the stack,
    /// far above the executable and the heap.
    public static let defaultAddress: UInt64 = 0x5500_0000_0000

    private static let current = Locked<VsyscallPage?>(nil)

    /// The installed page, if any.
    public static var installed: VsyscallPage? { current.withLock { $0 } }

    /// Emits, maps and starts the page.
    /// - faultMode: `.efault` (default) turns a bad user pointer into -EFAULT through the
    ///   fixup table; `.sigsegv` lets the fault be delivered (POSIX allows either).
    /// - tick: how often the timekeeper updates the data page.
    /// - clockMode: `.syscall` forces every entry through the real syscall; nil picks
    ///   TSC when the CPU has an invariant TSC.
    /// - mapping: shared anonymous (default) is the one mapping every consumer sees: perf
    ///   symbolizes it from its map file, eu-stack -p and gdb read it from /proc/PID/mem.
    ///   memfd can also be sealed, but perf does not symbolize it (see docs/ARCHITECTURE.md).
    /// - registrars: the unwinders told about the page's CFI (all by default: libgcc,
    ///   nongnu libunwind, gdb's JIT interface, perf's map file).
    /// - sealed: `mseal` (Linux 6.10+) the image and the readers' vvar once installed: no
    ///   `mprotect`, `munmap` or `mremap` of them succeeds for the rest of the process's
    ///   life, so no bug or exploit can make the code writable or move it. The price: the
    ///   page can never be uninstalled, and a forked child keeps reading the parent's
    ///   vvar (it cannot be replaced by a private one), which stays right while the parent
    ///   lives and, if the parent dies mid-update, sends the child's readers to the syscall
    ///   after their bounded retries.
    public static func install(address: UInt64 = defaultAddress, faultMode: FaultMode = .efault,
                               tick: Duration = .milliseconds(4), clockMode: ClockMode? = nil,
                               mapping: MappingKind = .sharedAnonymous,
                               registrars: Set<RegistrarKind> = Set(RegistrarKind.allCases),
                               sealed: Bool = false) throws -> VsyscallPage {
        try current.withLock { page in
            if let p = page { throw VsyscallError.alreadyInstalled(at: p.base) }
            guard address % VsyscallImage.pageSize == 0 else { throw VsyscallError.misaligned(address) }
            let features = CPUFeatures.current
            let image = try VsyscallImage(base: address, features: features.emitter)
            let mode = clockMode ?? (features.invariantTSC && features.rdtscp ? .tsc : .syscall)
            let registry = UnwindRegistry(registrars: try UnwindRegistry.registrars(for: registrars))
            let p = try VsyscallPage(image: image, faultMode: faultMode, tick: tick, mode: mode, mapping: mapping,
                                     registry: registry, sealed: sealed)
            page = p
            return p
        }
    }

    static func uninstall(_ p: VsyscallPage) throws {
        try current.withLock { page in
            guard let installed = page, installed === p else { throw VsyscallError.notInstalled }
            guard !p.sealed else { throw VsyscallError.sealed(at: p.base) }
            p.tearDown()
            page = nil
        }
    }
}

public enum FaultMode: String, Sendable, CaseIterable {
    case efault
    case sigsegv
}

/// An installed vsyscall page and its entry points.
public final class VsyscallPage: @unchecked Sendable {
    public typealias GettimeofdayFunction = @convention(c) (UnsafeMutablePointer<timeval>?, UnsafeMutableRawPointer?) -> Int
    public typealias TimeFunction = @convention(c) (UnsafeMutablePointer<Int>?) -> Int
    public typealias GetcpuFunction = @convention(c) (UnsafeMutablePointer<UInt32>?, UnsafeMutablePointer<UInt32>?,
                                                      UnsafeMutableRawPointer?) -> Int
    public typealias ClockGettimeFunction = @convention(c) (Int32, UnsafeMutablePointer<timespec>?) -> Int

    public let image: VsyscallImage
    public let faultMode: FaultMode
    public let clockMode: ClockMode
    public let mapping: MappingKind
    public let tick: Duration
    /// Sealed with mseal: it stays, unchangeable, for the process's life.
    public let sealed: Bool

    public let gettimeofday: GettimeofdayFunction
    public let time: TimeFunction
    public let getcpu: GetcpuFunction
    public let clockGettime: ClockGettimeFunction

    let pages: PageMapping
    let timekeeper: Timekeeper
    /// The consumers told about the page.
    public let registry: UnwindRegistry
    public var registrars: [RegistrarKind] { registry.registrars.map(\.kind) }

    public var base: UInt64 { image.base }
    /// The readers' (read-only) view of the data page.
    public var vvar: UnsafeRawPointer { UnsafeRawPointer(bitPattern: UInt(image.vvarAddress))! }
    /// Timekeeper updates so far.
    public var updates: UInt64 { timekeeper.updates.load(ordering: .relaxed) }

    init(image: VsyscallImage, faultMode: FaultMode, tick: Duration, mode: ClockMode, mapping: MappingKind,
         registry: UnwindRegistry, sealed: Bool) throws {
        self.image = image
        self.sealed = sealed
        self.registry = registry
        self.faultMode = faultMode
        self.clockMode = mode
        self.mapping = mapping
        self.tick = tick
        pages = try PageMapping.map(image: image, kind: mapping)
        let (seconds, attoseconds) = tick.components
        let tickNanoseconds = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        timekeeper = Timekeeper(vvar: pages.vvarWriter, tickNanoseconds: max(tickNanoseconds, 100_000), mode: mode)
        func entry<F>(_ kind: EntryKind, _: F.Type) -> F {
            unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(image.entry(kind).address))!, to: F.self)
        }
        gettimeofday = entry(.gettimeofday, GettimeofdayFunction.self)
        time = entry(.time, TimeFunction.self)
        getcpu = entry(.getcpu, GetcpuFunction.self)
        clockGettime = entry(.clockGettime, ClockGettimeFunction.self)
        do {
            try registry.register(image.registeredImage)
        } catch {
            pages.unmap()
            throw error
        }
        if faultMode == .efault {
            let pairs = image.fixups.flatMap { [$0.store, $0.landingPad] }
            guard vu_fixups_install(pairs, UInt32(image.fixups.count)) == 0 else {
                let e = errno
                try? registry.deregister(image.registeredImage)
                pages.unmap()
                throw VsyscallError.system("installing the EFAULT fixup handler", e)
            }
        }
        do {
            try timekeeper.start()
            // A sealed vvar cannot be replaced in a child (see install's `sealed`).
            guard sealed || vu_fork_protect(image.vvarAddress) == 0 else {
                timekeeper.stop()
                throw VsyscallError.system("pthread_atfork", ENOMEM)
            }
            // Last, when nothing can fail any more: a sealed range cannot be unmapped.
            // The image and the readers' vvar are adjacent (vvarOffset = imageSize).
            if sealed && vu_mseal(image.base, VsyscallImage.vvarOffset + UInt64(VvarLayout.size)) != 0 {
                let e = errno
                timekeeper.stop()
                throw VsyscallError.system(e == ENOSYS ? "mseal (Linux 6.10 or later)" : "mseal", e)
            }
        } catch {
            if faultMode == .efault { _ = vu_fixups_uninstall() }
            try? registry.deregister(image.registeredImage)
            pages.unmap()
            throw error
        }
    }

    /// Puts the EFAULT fixup handler back in front of a SIGSEGV/SIGBUS handler the process
    /// installed after `install` (which took EFAULT away: a bad pointer then reaches that
    /// handler). The later handler keeps every signal that is not a fixup.
    public func reassertFaultHandler() throws {
        guard faultMode == .efault else { return }
        guard vu_fixups_reassert() == 0 else { throw VsyscallError.system("re-asserting the EFAULT fixup handler", errno) }
    }

    /// Runs `body` with the lock held as a writer would hold it in mid-update (sequence1 one
    /// ahead of sequence2, no data stored), so every reader retries: after
    /// `ClockRead.retryLimit` passes an entry gives up and takes the syscall. For tests of
    /// readers (the lock-retry path, a stalled writer); the timekeeper keeps ticking and
    /// its own sections nest safely (both counters are atomic increments).
    public func holdingWriteSection<T>(_ body: () throws -> T) rethrows -> T {
        vu_vvar_write_begin(pages.vvarWriter)
        defer { vu_vvar_write_end(pages.vvarWriter) }
        return try body()
    }

    /// Stops the timekeeper, removes the fault handler and unmaps the page.
    public func uninstall() throws { try Vsyscall.uninstall(self) }

    func tearDown() {
        vu_fork_unprotect()
        timekeeper.stop()
        if faultMode == .efault { _ = vu_fixups_uninstall() }
        // Consumers forget the page before it goes away.
        try? registry.deregister(image.registeredImage)
        pages.unmap()
    }
}
