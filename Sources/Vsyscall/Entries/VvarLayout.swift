// VvarLayout: the data page the entries read and the timekeeper writes. One definition,
// used by the emitter (field addresses in instructions), the timekeeper (stores), the
// image note (so a core is self-describing) and the torture harness.
//
// The two-counter lock of the seed (page 12): the writer increments `sequence1`, writes
// the data, then increments `sequence2`; a reader reads `sequence2`, the data, then
// `sequence1`, and retries unless they are equal.
//
// Time is kept the kernel's way: a TSC base, mult and shift, and per clock a base time in
// seconds and shifted nanoseconds; a reader computes
//   ns = (nsecShifted + (tsc - tscBase) * mult) >> shift,  seconds += ns / 1e9.

public enum VvarLayout {
    public static let sequence1 = 0x00     // u32
    public static let sequence2 = 0x04     // u32
    public static let clockMode = 0x08     // u32: ClockMode
    public static let shift = 0x0c         // u32
    public static let mult = 0x10          // u64
    public static let tscBase = 0x18       // u64
    public static let monotonicSeconds = 0x20           // u64
    public static let monotonicNanosecondsShifted = 0x28 // u64
    public static let realtimeSeconds = 0x30            // u64
    public static let realtimeNanosecondsShifted = 0x38  // u64
    public static let monotonicCoarseSeconds = 0x40     // u64
    public static let monotonicCoarseNanoseconds = 0x48 // u64
    public static let realtimeCoarseSeconds = 0x50      // u64
    public static let realtimeCoarseNanoseconds = 0x58  // u64
    public static let timezoneMinutesWest = 0x60        // i32
    public static let timezoneDSTTime = 0x64            // i32
    public static let updates = 0x68                    // u64: timekeeper updates so far
    /// Words the torture harness writes under the lock (generation-coded).
    public static let tortureWords = 0x80               // u64 x tortureWordCount
    public static let tortureWordCount = 8
    public static let size = 0x1000

    /// The distance between a clock's seconds field and its shifted nanoseconds.
    public static let basePairStride = 0x10
}

/// How the entries read time.
public enum ClockMode: UInt32, Sendable {
    /// TSC-based, in user space.
    case tsc = 0
    /// Every entry falls back to the real syscall (TSC not usable, or forced).
    case syscall = 1
}
