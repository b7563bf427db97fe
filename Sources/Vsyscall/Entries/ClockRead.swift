// ClockRead: emits the reader half of the vvar lock and the time computation, shared by
// every entry that reads a clock (and by the torture harness's snapshot code).
//
// Register contract: uses rax, rcx, rdx, r8, r9, r10 (and r11 when the clock base is in
// it), and the retry bound's counter; leaves seconds in r9 and nanoseconds (< 1e9) in rax.
// Jumps to `fallback` when the clock mode is not TSC, and when the lock stays in an update
// for `RetryBound.limit` passes (a writer that died, was stopped or was preempted in its
// write section: a forked child's, a traced one's), so no reader spins forever.

public struct ClockRead {
    /// Where a clock's (seconds, shifted-or-plain nanoseconds) pair is.
    public enum Base {
        /// A fixed pair in the vvar, at this field offset.
        case field(Int)
        /// The pair r11 points at (chosen at run time).
        case r11
    }

    public let vvar: UInt64

    public init(vvar: UInt64) { self.vvar = vvar }

    func field(_ offset: Int) -> Memory { .absolute(vvar + UInt64(offset)) }

    private func pair(_ base: Base, second: Bool) -> Memory {
        switch base {
        case let .field(o): return field(o + (second ? 8 : 0))
        case .r11: return .base(.r11, second ? 8 : 0)
        }
    }

    /// How many passes a reader makes through a lock held by a writer before it gives up
    /// and takes the syscall. An update holds the lock for well under a microsecond, a pass
    /// takes 10-40 ns, so 4,096 passes (40-160 us) are only ever spent on a stalled writer.
    public static let retryLimit: UInt32 = 4096

    /// A bounded retry: `counter` (a register free in the entry) counts passes down from
    /// `limit`; a mismatch jumps to the out-of-line `again` stub (`retryStub`), which
    /// retries or, at zero, jumps to `exhausted`. The fast path pays one `mov r32, imm32`.
    public struct RetryBound {
        public let counter: Register
        public let limit: UInt32
        public let retry: Label
        public let again: Label
        public let exhausted: Label

        public init(_ a: inout X86Assembler, counter: Register, limit: UInt32 = ClockRead.retryLimit, exhausted: Label) {
            self.counter = counter
            self.limit = limit
            self.retry = a.newLabel()
            self.again = a.newLabel()
            self.exhausted = exhausted
        }
    }

    /// The lock's reader half around `body`: sequence2, the body's loads, sequence1, and a
    /// retry unless they match (bounded when `bound` is given: emit `retryStub` after the
    /// epilogue). With `skipsSequence1` (torture only) the final read is of sequence2
    /// again: a deliberately broken lock.
    public func locked(_ a: inout X86Assembler, skipsSequence1: Bool = false, bound: RetryBound? = nil,
                       body: (inout X86Assembler) -> Void) {
        if let bound { a.mov(bound.counter, immediate: UInt64(bound.limit)) }
        let retry = bound?.retry ?? a.newLabel()
        a.bind(retry)
        a.load(.r8, field(VvarLayout.sequence2), wide: false)
        body(&a)
        a.load(.r10, field(skipsSequence1 ? VvarLayout.sequence2 : VvarLayout.sequence1), wide: false)
        a.cmp(.r8, .r10, wide: false)
        a.jump(.notEqual, to: bound?.again ?? retry)
    }

    /// The out-of-line half of a bounded retry: one pass fewer, retry or give up. Placed
    /// where the frame's CFI is the body's (after the epilogue's restore_state).
    public func retryStub(_ a: inout X86Assembler, _ bound: RetryBound) {
        a.bind(bound.again)
        a.sub(bound.counter, immediate: 1, wide: false)
        a.jump(.notEqual, to: bound.retry)
        a.jump(to: bound.exhausted)
    }

    /// High-resolution time of the clock at `base`: r9 = seconds, rax = nanoseconds.
    public func highResolution(_ a: inout X86Assembler, base: Base, fallback: Label, bound: RetryBound? = nil) {
        locked(&a, bound: bound) { a in
            a.load(.rax, field(VvarLayout.clockMode), wide: false)
            a.test(.rax, .rax, wide: false)
            a.jump(.notEqual, to: fallback)
            // rdtscp waits for the loads above, so the TSC is read inside the section.
            a.rdtscp()
            a.shl(.rdx, 32)
            a.or(.rax, .rdx)
            a.sub(.rax, field(VvarLayout.tscBase))
            // A TSC a little behind the base (another CPU's view) counts as no time.
            let ahead = a.newLabel()
            a.jump(.aboveOrEqual, to: ahead)
            a.xor(.rax, .rax)
            a.bind(ahead)
            // 128-bit product: no overflow however long the timekeeper was away.
            a.mul(field(VvarLayout.mult))
            a.add(.rax, pair(base, second: true))
            a.adc(.rdx, immediate: 0)
            a.load(.rcx, field(VvarLayout.shift), wide: false)
            // (rdx:rax) >> cl. The high half is 0 unless the timekeeper was away for a long
            // time: then shrd, otherwise a plain shr, which is shorter on the dependency
            // chain every call waits for (the next rdtscp waits for it to execute).
            let wide = a.newLabel(), shifted = a.newLabel()
            a.jump(.notEqual, to: wide)  // ZF from the adc: rdx != 0
            a.shrCL(.rax)
            a.jump(to: shifted)
            a.bind(wide)
            a.shrdCL(.rax, .rdx)
            a.bind(shifted)
            a.load(.r9, pair(base, second: false))
        }
        normalize(&a)
    }

    /// Coarse time of the clock at `base` (plain nanoseconds): r9 = seconds, rax = ns.
    public func coarse(_ a: inout X86Assembler, base: Base, fallback: Label, bound: RetryBound? = nil) {
        locked(&a, bound: bound) { a in
            a.load(.rax, field(VvarLayout.clockMode), wide: false)
            a.test(.rax, .rax, wide: false)
            a.jump(.notEqual, to: fallback)
            a.load(.r9, pair(base, second: false))
            a.load(.rax, pair(base, second: true))
        }
        normalize(&a)
    }

    /// while rax >= 1e9 { rax -= 1e9; r9 += 1 } (zero or one turn unless the timekeeper
    /// stalled for seconds).
    func normalize(_ a: inout X86Assembler) {
        let loop = a.newLabel(), done = a.newLabel()
        a.bind(loop)
        a.cmp(.rax, immediate: 999_999_999)
        a.jump(.belowOrEqual, to: done)
        a.sub(.rax, immediate: 1_000_000_000)
        a.inc(.r9)
        a.jump(to: loop)
        a.bind(done)
    }
}
