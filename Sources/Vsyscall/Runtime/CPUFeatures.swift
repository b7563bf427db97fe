// CPUFeatures: what the emitter and the timekeeper may rely on, from CPUID: rdpid and
// rdtscp for vgetcpu, an invariant TSC (constant rate, runs in deep C-states) for time.

import CVunwind

public struct CPUFeatures: Sendable, Equatable {
    public var rdpid: Bool
    public var rdtscp: Bool
    public var invariantTSC: Bool

    public init(rdpid: Bool, rdtscp: Bool, invariantTSC: Bool) {
        self.rdpid = rdpid
        self.rdtscp = rdtscp
        self.invariantTSC = invariantTSC
    }

    public static let current: CPUFeatures = {
        var r = [UInt32](repeating: 0, count: 4)
        vu_cpuid(0, 0, &r)
        let maxLeaf = r[0]
        vu_cpuid(0x8000_0000, 0, &r)
        let maxExtended = r[0]
        var rdpid = false, rdtscp = false, invariant = false
        if maxLeaf >= 7 {
            vu_cpuid(7, 0, &r)
            rdpid = r[2] & (1 << 22) != 0
        }
        if maxExtended >= 0x8000_0001 {
            vu_cpuid(0x8000_0001, 0, &r)
            rdtscp = r[3] & (1 << 27) != 0
        }
        if maxExtended >= 0x8000_0007 {
            vu_cpuid(0x8000_0007, 0, &r)
            invariant = r[3] & (1 << 8) != 0
        }
        return CPUFeatures(rdpid: rdpid, rdtscp: rdtscp, invariantTSC: invariant)
    }()

    public var emitter: EntryEmitter.Features { .init(rdpid: rdpid, rdtscp: rdtscp) }
}
