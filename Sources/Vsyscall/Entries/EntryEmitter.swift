// EntryEmitter: the vsyscall entries as machine code, with the raw-syscall ABI (0 or
// -errno in %rax; vtime returns seconds).
//
// Every entry builds a real frame (push rbp / mov rbp, rsp), keeps its pointer arguments
// in callee-saved registers (rbx, r12) while it reads the clock, and returns through an
// epilogue that is followed by more code (landing pads, syscall fallback), so its CFI needs
// DW_CFA_remember_state / DW_CFA_restore_state: not a trivial FDE.

public struct EntryEmitter {
    public struct Features: Sendable, Equatable {
        /// rdpid reads TSC_AUX without reading the TSC.
        public var rdpid: Bool
        public var rdtscp: Bool

        public init(rdpid: Bool, rdtscp: Bool) {
            self.rdpid = rdpid
            self.rdtscp = rdtscp
        }
    }

    public let textAddress: UInt64
    public let vvarAddress: UInt64
    public let features: Features
    var clock: ClockRead { ClockRead(vvar: vvarAddress) }

    public init(textAddress: UInt64, vvarAddress: UInt64, features: Features) {
        self.textAddress = textAddress
        self.vvarAddress = vvarAddress
        self.features = features
    }

    static let efault: UInt64 = UInt64(bitPattern: -14)

    public func emit(_ kind: EntryKind) -> EmittedEntry {
        var a = X86Assembler(origin: textAddress + kind.slot)
        var fixups: [(Int, Label)] = []  // listing index of a store, landing label
        switch kind {
        case .gettimeofday: gettimeofday(&a, &fixups)
        case .time: time(&a, &fixups)
        case .getcpu: getcpu(&a, &fixups)
        case .clockGettime: clockGettime(&a, &fixups)
        }
        a.finish()
        precondition(a.tracker.isBalanced, "\(kind): remember/restore unbalanced")
        precondition(a.offset <= EntryKind.slotSize, "\(kind) overflows its slot")
        let resolved = fixups.map { (index, label) in
            Fixup(store: a.origin + a.listing[index].offset, landingPad: a.origin + a.offset(of: label)!)
        }
        return EmittedEntry(kind: kind, address: a.origin, bytes: a.bytes, listing: a.listing,
                            frameInstructions: a.tracker.instructions, fixups: resolved)
    }

    /// A store to user memory that may fault: recorded for the fixup table.
    private func userStore(_ a: inout X86Assembler, _ fixups: inout [(Int, Label)], landing: Label,
                           _ m: Memory, _ r: Register, wide: Bool) {
        fixups.append((a.listing.count, landing))
        a.store(m, r, wide: wide)
    }

    private func prologue(_ a: inout X86Assembler, saving: [Register]) {
        a.push(.rbp)
        a.setFramePointer()
        for r in saving { a.push(r) }
    }

    /// The epilogue, bracketed so the code after the `ret` keeps the frame's CFI.
    private func epilogue(_ a: inout X86Assembler, saved: [Register]) {
        a.rememberState()
        for r in saved.reversed() { a.pop(r) }
        a.pop(.rbp)
        a.ret()
        a.restoreState()
    }

    private func efaultPad(_ a: inout X86Assembler, _ landing: Label, exit: Label) {
        a.bind(landing)
        a.mov(.rax, immediate: Self.efault)
        a.jump(to: exit)
    }

    private func syscallFallback(_ a: inout X86Assembler, _ fallback: Label, exit: Label, number: UInt32,
                                 arguments: [(Register, Register)]) {
        a.bind(fallback)
        for (to, from) in arguments { a.mov(to, from) }
        a.mov(.rax, immediate: UInt64(number))
        a.syscall()
        a.jump(to: exit)
    }

    // vgettimeofday(struct timeval *tv, struct timezone *tz)
    private func gettimeofday(_ a: inout X86Assembler, _ fixups: inout [(Int, Label)]) {
        let saved: [Register] = [.rbx, .r12]
        let (storeTV, storeTZ, success, exit, efault, fallback) =
            (a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel())
        prologue(&a, saving: saved)
        a.mov(.rbx, .rdi)
        a.mov(.r12, .rsi)
        let bound = ClockRead.RetryBound(&a, counter: .rsi, exhausted: fallback)
        clock.highResolution(&a, base: .field(VvarLayout.realtimeSeconds), fallback: fallback, bound: bound)
        a.test(.rbx, .rbx)
        a.jump(.notEqual, to: storeTV)
        a.test(.r12, .r12)
        a.jump(.notEqual, to: storeTZ)
        // Early return: nothing to store.
        a.xor(.rax, .rax)
        epilogue(&a, saved: saved)
        a.bind(storeTV)
        userStore(&a, &fixups, landing: efault, .base(.rbx, 0), .r9, wide: true)
        // usec = ns / 1000 for ns < 2^32: (ns * 0x10624dd3) >> 38, as the kernel's vDSO.
        a.imul(.rax, .rax, immediate: 0x1062_4dd3)
        a.shr(.rax, 38)
        userStore(&a, &fixups, landing: efault, .base(.rbx, 8), .rax, wide: true)
        a.test(.r12, .r12)
        a.jump(.equal, to: success)
        a.bind(storeTZ)
        a.load(.rax, clock.field(VvarLayout.timezoneMinutesWest), wide: false)
        userStore(&a, &fixups, landing: efault, .base(.r12, 0), .rax, wide: false)
        a.load(.rax, clock.field(VvarLayout.timezoneDSTTime), wide: false)
        userStore(&a, &fixups, landing: efault, .base(.r12, 4), .rax, wide: false)
        a.bind(success)
        a.xor(.rax, .rax)
        a.bind(exit)
        epilogue(&a, saved: saved)
        efaultPad(&a, efault, exit: exit)
        clock.retryStub(&a, bound)
        syscallFallback(&a, fallback, exit: exit, number: EntryKind.gettimeofday.syscallNumber,
                        arguments: [(.rdi, .rbx), (.rsi, .r12)])
    }

    // vtime(time_t *t): the seconds, also stored at t unless it is NULL.
    private func time(_ a: inout X86Assembler, _ fixups: inout [(Int, Label)]) {
        let saved: [Register] = [.rbx]
        let (done, exit, efault, fallback) = (a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel())
        prologue(&a, saving: saved)
        a.mov(.rbx, .rdi)
        // The seconds of the high-resolution clock, so vtime agrees with vgettimeofday.
        let bound = ClockRead.RetryBound(&a, counter: .rsi, exhausted: fallback)
        clock.highResolution(&a, base: .field(VvarLayout.realtimeSeconds), fallback: fallback, bound: bound)
        a.test(.rbx, .rbx)
        a.jump(.equal, to: done)
        userStore(&a, &fixups, landing: efault, .base(.rbx, 0), .r9, wide: true)
        a.bind(done)
        a.mov(.rax, .r9)
        a.bind(exit)
        epilogue(&a, saved: saved)
        efaultPad(&a, efault, exit: exit)
        clock.retryStub(&a, bound)
        syscallFallback(&a, fallback, exit: exit, number: EntryKind.time.syscallNumber, arguments: [(.rdi, .rbx)])
    }

    // vgetcpu(unsigned *cpu, unsigned *node, void *cache): TSC_AUX as Linux sets it,
    // node << 12 | cpu.
    private func getcpu(_ a: inout X86Assembler, _ fixups: inout [(Int, Label)]) {
        let saved: [Register] = [.rbx, .r12]
        let (node, success, exit, efault, fallback) = (a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel())
        prologue(&a, saving: saved)
        a.mov(.rbx, .rdi)
        a.mov(.r12, .rsi)
        if features.rdpid {
            a.rdpid(.rax)
        } else if features.rdtscp {
            a.rdtscp()
            a.mov(.rax, .rcx, wide: false)
        } else {
            a.jump(to: fallback)
        }
        a.test(.rbx, .rbx)
        a.jump(.equal, to: node)
        a.mov(.rcx, .rax, wide: false)
        a.and(.rcx, immediate: 0xfff, wide: false)
        userStore(&a, &fixups, landing: efault, .base(.rbx, 0), .rcx, wide: false)
        a.bind(node)
        a.test(.r12, .r12)
        a.jump(.equal, to: success)
        a.shr(.rax, 12, wide: false)
        userStore(&a, &fixups, landing: efault, .base(.r12, 0), .rax, wide: false)
        a.bind(success)
        a.xor(.rax, .rax)
        a.bind(exit)
        epilogue(&a, saved: saved)
        efaultPad(&a, efault, exit: exit)
        syscallFallback(&a, fallback, exit: exit, number: EntryKind.getcpu.syscallNumber,
                        arguments: [(.rdi, .rbx), (.rsi, .r12)])
    }

    // vclock_gettime(clockid_t id, struct timespec *ts): REALTIME (0), MONOTONIC (1) and
    // their COARSE variants (5, 6) here; every other clock through the syscall.
    private func clockGettime(_ a: inout X86Assembler, _ fixups: inout [(Int, Label)]) {
        let saved: [Register] = [.rbx, .r12]
        let (store, other, coarseReal, coarse, exit, efault, fallback) =
            (a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel(), a.newLabel())
        prologue(&a, saving: saved)
        a.mov(.rbx, .rdi)
        a.mov(.r12, .rsi)
        a.cmp(.rdi, immediate: 1, wide: false)
        a.jump(.above, to: other)
        // 0 -> realtime pair, 1 -> monotonic pair.
        a.lea(.r11, clock.field(VvarLayout.monotonicSeconds))
        a.lea(.rdx, clock.field(VvarLayout.realtimeSeconds))
        a.test(.rdi, .rdi, wide: false)
        a.cmov(.equal, .r11, .rdx)
        let bound = ClockRead.RetryBound(&a, counter: .rsi, exhausted: fallback)
        clock.highResolution(&a, base: .r11, fallback: fallback, bound: bound)
        a.bind(store)
        userStore(&a, &fixups, landing: efault, .base(.r12, 0), .r9, wide: true)
        userStore(&a, &fixups, landing: efault, .base(.r12, 8), .rax, wide: true)
        a.xor(.rax, .rax)
        a.bind(exit)
        epilogue(&a, saved: saved)
        a.bind(other)
        a.cmp(.rdi, immediate: 5, wide: false)
        a.jump(.equal, to: coarseReal)
        a.cmp(.rdi, immediate: 6, wide: false)
        a.jump(.notEqual, to: fallback)
        a.lea(.r11, clock.field(VvarLayout.monotonicCoarseSeconds))
        a.jump(to: coarse)
        a.bind(coarseReal)
        a.lea(.r11, clock.field(VvarLayout.realtimeCoarseSeconds))
        a.bind(coarse)
        let coarseBound = ClockRead.RetryBound(&a, counter: .rsi, exhausted: fallback)
        clock.coarse(&a, base: .r11, fallback: fallback, bound: coarseBound)
        a.jump(to: store)
        efaultPad(&a, efault, exit: exit)
        clock.retryStub(&a, bound)
        clock.retryStub(&a, coarseBound)
        syscallFallback(&a, fallback, exit: exit, number: EntryKind.clockGettime.syscallNumber,
                        arguments: [(.rdi, .rbx), (.rsi, .r12)])
    }
}
