// Timekeeper: the seed's "privileged kernel", a thread that updates the vvar every tick.
//
// Time is the TSC scaled by mult >> shift from a base, steered toward the kernel's
// CLOCK_MONOTONIC: each update reads the TSC inside the write section, takes as the new
// base exactly what readers would have computed there (so the clock is continuous and
// never steps back; it may step forward after a stall), and picks a mult that closes the
// remaining error over the next tick, within +-5000 ppm of the long-term rate. REALTIME
// is MONOTONIC plus the kernel's current REALTIME-MONOTONIC offset (which steps when
// someone sets the clock, as the kernel's does).
//
// The long-term rate follows the kernel's discipline: each tick reads the kernel's NTP
// tick and frequency (adjtimex, no privilege needed), and when they change (an NTP daemon,
// adjtimex -t) rescales the rate by the kernel's new second and measures the long-term
// rate afresh from there. Without this a 1 % tick change left the page 23 ms off within
// 3 s, the steering's bound being far below the change. The timezone (settimeofday's tz)
// is republished when it changes.

import CVunwind
import Locking
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

final class Timekeeper: @unchecked Sendable {
    static let shift: UInt32 = 32
    static let nanosecond: UInt128 = 1 << 32  // one nanosecond in shifted units

    let vvar: UnsafeMutableRawPointer
    let tickNanoseconds: UInt64
    let mode: ClockMode
    private let stopping = Atomic<Bool>(false)
    private var thread: pthread_t?
    /// The process that started the thread.
    private var owner: pid_t = 0
    // stop() wakes the thread through these rather than waiting out its sleep: with a long
    // tick (an hour is allowed) uninstall would otherwise block for up to that long.
    private let wakeLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    // The readers' clock: base TSC, base MONOTONIC in shifted nanoseconds, mult.
    private(set) var tscBase: UInt64 = 0
    private(set) var monotonicShifted: UInt128 = 0
    private(set) var mult: UInt64 = 0
    // Long-term rate: the first sample, against which the nominal mult is refined.
    private var first: Sample?
    private var nominalMult: UInt64 = 0
    /// The kernel's second, in ns << 16 (`kernelSecond`), when the long-term rate was set.
    private var secondLength: UInt64 = 0
    private var publishedTimezone = (minutesWest: Int32(0), dstTime: Int32(0))
    /// The REALTIME - MONOTONIC offset last published (kept over a disturbed sample).
    private var realtimeOffset: Int64 = 0
    let updates = Atomic<UInt64>(0)

    struct Sample {
        var tsc: UInt64
        var monotonic: UInt64  // ns
        var realtimeOffset: Int64  // REALTIME - MONOTONIC, ns
        /// The m1...m3 window: at `disturbedWindow` or more the thread was preempted inside
        /// it, and the pair and the offset may be off by as much.
        var window: UInt64 = 0
        var isDisturbed: Bool { window >= Timekeeper.disturbedWindow }
    }

    init(vvar: UnsafeMutableRawPointer, tickNanoseconds: UInt64, mode: ClockMode) {
        self.vvar = vvar
        self.tickNanoseconds = tickNanoseconds
        self.mode = mode
        pthread_mutex_init(wakeLock, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(wake, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(wake)
        pthread_mutex_destroy(wakeLock)
        wake.deallocate()
        wakeLock.deallocate()
    }

    static func now(_ clock: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func sleep(nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while clock_nanosleep(CLOCK_MONOTONIC, 0, &request, &remaining) == EINTR { request = remaining }
    }

    /// A window no undisturbed sample comes near (a few hundred ns is usual): one this
    /// long had the thread preempted inside it.
    static let disturbedWindow: UInt64 = 20_000

    /// A (TSC, MONOTONIC) pair and the REALTIME-MONOTONIC offset: the tightest of three
    /// reads, judged by the whole m1...m3 window (a preemption between m2 and m3 spoils the
    /// offset as surely as one between m1 and m2 spoils the pair), and more reads while
    /// even the tightest was disturbed.
    static func sample() -> Sample {
        var best: Sample?
        var bestWindow = UInt64.max
        for attempt in 0..<12 {
            if attempt >= 3 && bestWindow < disturbedWindow { break }
            let m1 = now(CLOCK_MONOTONIC)
            let tsc = vu_rdtscp(nil)
            let m2 = now(CLOCK_MONOTONIC)
            let r = now(CLOCK_REALTIME)
            let m3 = now(CLOCK_MONOTONIC)
            if m3 &- m1 < bestWindow {
                bestWindow = m3 &- m1
                best = Sample(tsc: tsc, monotonic: m1 + (m2 &- m1) / 2,
                              realtimeOffset: Int64(bitPattern: r) &- Int64(bitPattern: m2 + (m3 &- m2) / 2),
                              window: m3 &- m1)
            }
        }
        return best!
    }

    /// The TSC rate in shifted nanoseconds per cycle, from two samples; cached per process
    /// so repeated installs do not pay for it.
    nonisolated(unsafe) private static var cachedMult: UInt64 = 0
    private static let cacheLock = Locked(())

    static func calibrate() -> UInt64 {
        if let m = cacheLock.withLock({ _ in cachedMult == 0 ? nil : cachedMult }) { return m }
        let a = sample()
        sleep(nanoseconds: 2_000_000)
        let b = sample()
        let m = rate(from: a, to: b)
        cacheLock.withLock { _ in cachedMult = m }
        return m
    }

    /// The length of the kernel's second against a nominal one, in ns << 16, from its NTP
    /// tick (µs per USER_HZ tick) and frequency (ppm << 16): 10^9 << 16 at tick 10000 and
    /// frequency 0 with USER_HZ 100. nil if adjtimex fails.
    static func kernelSecond() -> UInt64? {
        var tick = 0, frequency = 0
        guard vu_kernel_clock_get(&tick, &frequency) == 0, tick > 0 else { return nil }
        let nominal = Int64(tick) * Int64(vu_user_hz()) * 1000 << 16
        // A ppm is 1000 ns per second: frequency (ppm << 16) * 1000 in ns << 16.
        let length = nominal + Int64(frequency) * 1000
        return length > 0 ? UInt64(length) : nil
    }

    static func rate(from a: Sample, to b: Sample) -> UInt64 {
        let cycles = UInt128(b.tsc &- a.tsc)
        let ns = UInt128(b.monotonic &- a.monotonic)
        guard cycles > 0 else { return 1 << 32 }
        return UInt64(truncatingIfNeeded: (ns << shift) / cycles)
    }

    /// Writes the initial state (or the syscall mode) and starts the thread.
    func start() throws {
        vu_vvar_write_begin(vvar)
        vu_vvar_store32(vvar, UInt32(VvarLayout.clockMode), mode.rawValue)
        vu_vvar_store32(vvar, UInt32(VvarLayout.shift), Self.shift)
        vu_vvar_write_end(vvar)
        var tz = timezone()
        var tv = timeval()
        gettimeofday(&tv, &tz)
        vu_vvar_write_begin(vvar)
        vu_vvar_store32(vvar, UInt32(VvarLayout.timezoneMinutesWest), UInt32(bitPattern: tz.tz_minuteswest))
        vu_vvar_store32(vvar, UInt32(VvarLayout.timezoneDSTTime), UInt32(bitPattern: tz.tz_dsttime))
        vu_vvar_write_end(vvar)
        publishedTimezone = (tz.tz_minuteswest, tz.tz_dsttime)
        guard mode == .tsc else { return }
        secondLength = Self.kernelSecond() ?? 0
        nominalMult = Self.calibrate()
        mult = nominalMult
        let s = Self.sample()
        first = s
        tscBase = s.tsc
        monotonicShifted = UInt128(s.monotonic) << Self.shift
        realtimeOffset = s.realtimeOffset
        publish(realtimeOffset: s.realtimeOffset, inSection: false)
        let context = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        // The thread starts with every signal blocked (a new thread inherits the mask), so
        // no handler of the program ever runs on it, in the middle of a vvar update, and
        // process-directed signals go to the program's own threads.
        var all = sigset_t(), saved = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_SETMASK, &all, &saved)
        let rc = pthread_create(&tid, nil, { raw in
            let keeper = Unmanaged<Timekeeper>.fromOpaque(raw!).takeRetainedValue()
            keeper.run()
            return nil
        }, context)
        pthread_sigmask(SIG_SETMASK, &saved, nil)
        guard rc == 0 else {
            Unmanaged<Timekeeper>.fromOpaque(context).release()
            throw VsyscallError.system("starting the timekeeper thread", rc)
        }
        thread = tid
        owner = getpid()
    }

    func stop() {
        // Only the process that started the thread has it: a forked child has none to wake
        // or join, and must not take a lock the parent's thread may have held at the fork.
        guard let t = thread, owner == getpid() else {
            stopping.store(true, ordering: .releasing)
            thread = nil
            return
        }
        pthread_mutex_lock(wakeLock)
        stopping.store(true, ordering: .releasing)
        pthread_cond_signal(wake)
        pthread_mutex_unlock(wakeLock)
        pthread_join(t, nil)
        thread = nil
    }

    private func run() {
        while waitOneTick() {
            update()
            followTimezone()
        }
    }

    /// settimeofday(NULL, tz) changes the kernel's timezone: gettimeofday's tz follows it.
    private func followTimezone() {
        var tz = timezone()
        var tv = timeval()
        gettimeofday(&tv, &tz)
        guard tz.tz_minuteswest != publishedTimezone.minutesWest || tz.tz_dsttime != publishedTimezone.dstTime else { return }
        publishedTimezone = (tz.tz_minuteswest, tz.tz_dsttime)
        vu_vvar_write_begin(vvar)
        vu_vvar_store32(vvar, UInt32(VvarLayout.timezoneMinutesWest), UInt32(bitPattern: tz.tz_minuteswest))
        vu_vvar_store32(vvar, UInt32(VvarLayout.timezoneDSTTime), UInt32(bitPattern: tz.tz_dsttime))
        vu_vvar_write_end(vvar)
    }

    /// Sleeps until the next tick is due; false, at once, when stop() asks the thread to end.
    private func waitOneTick() -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let ns = UInt64(deadline.tv_nsec) + tickNanoseconds % 1_000_000_000
        deadline.tv_sec += Int(tickNanoseconds / 1_000_000_000 + ns / 1_000_000_000)
        deadline.tv_nsec = Int(ns % 1_000_000_000)
        pthread_mutex_lock(wakeLock)
        defer { pthread_mutex_unlock(wakeLock) }
        while !stopping.load(ordering: .acquiring) {
            if pthread_cond_timedwait(wake, wakeLock, &deadline) == ETIMEDOUT { break }
        }
        return !stopping.load(ordering: .acquiring)
    }

    /// One tick: steer toward the kernel's clock and republish, continuously.
    ///
    /// A disturbed sample (the thread preempted inside its reads, on a loaded machine: all
    /// twelve tries) is not trusted: the clock is rebased and republished at the rate it
    /// has, with the REALTIME offset it had, and no steering, stepping or rate refinement
    /// happens until an undisturbed sample. Trusting one once put REALTIME 4 ms off, and a
    /// forward step it caused cannot be taken back.
    func update() {
        let s = Self.sample()
        if !s.isDisturbed {
            realtimeOffset = s.realtimeOffset
            if let length = Self.kernelSecond(), secondLength != 0, length != secondLength {
                // The kernel's rate changed: scale ours by the same factor at once, and
                // measure the long-term rate from here (the old reference mixes both rates).
                nominalMult = UInt64(truncatingIfNeeded: UInt128(nominalMult) * UInt128(length) / UInt128(secondLength))
                secondLength = length
                first = s
            } else if let f = first, s.tsc > f.tsc &+ 1_000_000 {
                nominalMult = Self.rate(from: f, to: s)
            }
        }
        vu_vvar_write_begin(vvar)
        // The new base, read inside the section: readers with the old data all read the
        // TSC before it, so nothing published later can be behind what they returned.
        let t1 = vu_rdtscp(nil)
        let delta = t1 > tscBase ? t1 - tscBase : 0
        var ours = monotonicShifted + UInt128(delta) * UInt128(mult)
        if !s.isDisturbed {
            let sampleAge = t1 > s.tsc ? t1 - s.tsc : 0
            let target = (UInt128(s.monotonic) << Self.shift) + UInt128(sampleAge) * UInt128(nominalMult)
            // More than a millisecond behind (a stall): step forward. Never step back.
            if target > ours && target - ours > 1_000_000 * Self.nanosecond { ours = target }
            let error = target >= ours ? Int128(target - ours) : -Int128(ours - target)
            let tickCycles = max(UInt128(1), (UInt128(tickNanoseconds) << Self.shift) / UInt128(max(nominalMult, 1)))
            var m = Int128(nominalMult) + error / Int128(tickCycles)
            // Wide enough to close a tick's worth of error after a 10 % change in tens of
            // ticks; the error term is far smaller than this in steady state (tens of ppm).
            let bound = Int128(nominalMult) / 200
            m = min(max(m, Int128(nominalMult) - bound), Int128(nominalMult) + bound)
            mult = UInt64(max(m, 1))
        }
        tscBase = t1
        monotonicShifted = ours
        publish(realtimeOffset: realtimeOffset, inSection: true)
        vu_vvar_write_end(vvar)
        updates.add(1, ordering: .relaxed)
    }

    /// Stores the clock state; inside a write section unless `inSection` is false (then it
    /// opens its own).
    private func publish(realtimeOffset: Int64, inSection: Bool) {
        if !inSection { vu_vvar_write_begin(vvar) }
        let second = UInt128(1_000_000_000) << Self.shift
        let real = realtimeOffset >= 0 ? monotonicShifted + (UInt128(realtimeOffset) << Self.shift)
            : monotonicShifted - (UInt128(-realtimeOffset) << Self.shift)
        func store64(_ offset: Int, _ v: UInt64) { vu_vvar_store64(vvar, UInt32(offset), v) }
        store64(VvarLayout.mult, mult)
        store64(VvarLayout.tscBase, tscBase)
        store64(VvarLayout.monotonicSeconds, UInt64(monotonicShifted / second))
        store64(VvarLayout.monotonicNanosecondsShifted, UInt64(monotonicShifted % second))
        store64(VvarLayout.realtimeSeconds, UInt64(real / second))
        store64(VvarLayout.realtimeNanosecondsShifted, UInt64(real % second))
        store64(VvarLayout.monotonicCoarseSeconds, UInt64(monotonicShifted / second))
        store64(VvarLayout.monotonicCoarseNanoseconds, UInt64((monotonicShifted % second) >> Self.shift))
        store64(VvarLayout.realtimeCoarseSeconds, UInt64(real / second))
        store64(VvarLayout.realtimeCoarseNanoseconds, UInt64((real % second) >> Self.shift))
        store64(VvarLayout.updates, updates.load(ordering: .relaxed) + 1)
        if !inSection { vu_vvar_write_end(vvar) }
    }
}
