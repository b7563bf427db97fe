// LockTorture: the vvar two-counter lock against a writer that updates as fast as it can.
//
// The writer is one thread calling vu_vvar_write_torture(vvar, g) for g = 1, 2, 3, ...:
// one write section per call that sets torture word i to g * (2i + 1). The readers are one
// thread per CPU, each pinned to its CPU, calling the emitted snapshot in a loop. A copy is
// consistent when every word comes from one generation: word i == word 0 * (2i + 1)
// (wrapping; 2i + 1 is odd, so the map g -> g * (2i + 1) is one-to-one modulo 2^64 and
// two generations can never pass for one; generation 0, the initial all-zero page, is
// consistent too). Anything else is a torn read: the lock let a reader see a half-done
// write.

import CVunwind
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public struct TortureResult: Sendable, Equatable, Codable {
    /// True when the readers used the deliberately broken lock (sequence2 read twice).
    public var broken: Bool
    public var readers: Int
    /// Readers that could be pinned to their CPU.
    public var pinnedReaders: Int
    public var reads: UInt64
    public var tornReads: UInt64
    /// Passes the lock sent back (the snapshot's return values, summed).
    public var retries: UInt64
    /// Write sections the writer completed.
    public var writes: UInt64
    public var seconds: Double
    /// The first torn copy a reader saw, if any.
    public var firstTornRead: [UInt64]?
}

/// The harness's pages and its two snapshot functions, for callers that drive it
/// themselves (tests); LockTorture.run uses one for a whole run.
public final class TortureHarness: @unchecked Sendable {
    public typealias SnapshotFunction = @convention(c) (UnsafeMutablePointer<UInt64>?) -> UInt64

    let mapping: TortureMapping
    public let snapshot: SnapshotFunction
    public let brokenSnapshot: SnapshotFunction
    private var closed = false

    public var textAddress: UInt64 { mapping.text }
    /// The readers' (read-only) view of the harness's vvar.
    public var vvarAddress: UInt64 { mapping.vvar }

    public init() throws {
        mapping = try TortureMapping.map()
        func function(_ address: UInt64) -> SnapshotFunction {
            unsafeBitCast(UnsafeRawPointer(bitPattern: UInt(address))!, to: SnapshotFunction.self)
        }
        snapshot = function(mapping.text)
        brokenSnapshot = function(mapping.text + SnapshotCode.brokenOffset)
    }

    deinit { close() }

    /// One write section: word i = generation * (2i + 1).
    public func write(generation: UInt64) { vu_vvar_write_torture(mapping.vvarWriter, generation) }

    /// Unmaps the pages; the snapshot functions must not be called afterwards.
    public func close() {
        guard !closed else { return }
        closed = true
        mapping.unmap()
    }

    /// True when `words` (the 8 torture words) all come from one generation.
    @inline(__always)
    public static func isConsistent(_ words: UnsafePointer<UInt64>) -> Bool {
        let g = words[0]
        return words[1] == g &* 3 && words[2] == g &* 5 && words[3] == g &* 7 && words[4] == g &* 9
            && words[5] == g &* 11 && words[6] == g &* 13 && words[7] == g &* 15
    }
}

public enum LockTorture {
    /// Runs `reads` snapshots in total, split over one pinned reader per CPU, against a
    /// writer that never pauses; `broken` uses the broken lock.
    public static func run(reads: Int, broken: Bool) throws -> TortureResult {
        precondition(reads >= 0)
        let harness = try TortureHarness()
        defer { harness.close() }
        let readerCount = max(1, Int(vu_cpu_count()))
        let snapshot = broken ? harness.brokenSnapshot : harness.snapshot
        let shared = Shared()

        let start = now()
        let writerThread = spawn {
            let writer = harness.mapping.vvarWriter
            var g: UInt64 = 0
            shared.writerRunning.store(true, ordering: .releasing)
            while !shared.stop.load(ordering: .relaxed) {
                g &+= 1
                vu_vvar_write_torture(writer, g)
            }
            shared.writes.store(g, ordering: .relaxed)
        }
        let slots = (0..<readerCount).map { i in
            ReaderSlot(cpu: Int32(i), count: UInt64(reads / readerCount + (i < reads % readerCount ? 1 : 0)))
        }
        let readerThreads = slots.map { slot in
            spawn {
                slot.pinned = vu_pin_to_cpu(slot.cpu) == 0
                // Start together with the writer, so every read has a writer to race.
                while !shared.writerRunning.load(ordering: .acquiring) { sched_yield() }
                slot.read(snapshot)
            }
        }
        for t in readerThreads { pthread_join(t, nil) }
        shared.stop.store(true, ordering: .relaxed)
        pthread_join(writerThread, nil)
        let seconds = Double(now() - start) / 1e9

        return TortureResult(
            broken: broken, readers: readerCount, pinnedReaders: slots.filter(\.pinned).count,
            reads: slots.reduce(0) { $0 + $1.reads }, tornReads: slots.reduce(0) { $0 + $1.torn },
            retries: slots.reduce(0) { $0 + $1.retries }, writes: shared.writes.load(ordering: .relaxed),
            seconds: seconds, firstTornRead: slots.lazy.compactMap(\.firstTorn).first)
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    private final class Shared: Sendable {
        let stop = Atomic<Bool>(false)
        let writerRunning = Atomic<Bool>(false)
        let writes = Atomic<UInt64>(0)
    }

    /// One reader's counters: written only by its thread, read after it is joined.
    private final class ReaderSlot: @unchecked Sendable {
        let cpu: Int32
        let count: UInt64
        var pinned = false
        var reads: UInt64 = 0
        var torn: UInt64 = 0
        var retries: UInt64 = 0
        var firstTorn: [UInt64]?

        init(cpu: Int32, count: UInt64) {
            self.cpu = cpu
            self.count = count
        }

        func read(_ snapshot: TortureHarness.SnapshotFunction) {
            let out = UnsafeMutablePointer<UInt64>.allocate(capacity: VvarLayout.tortureWordCount)
            defer { out.deallocate() }
            var torn: UInt64 = 0, retries: UInt64 = 0
            var done: UInt64 = 0
            while done < count {
                retries &+= snapshot(out)
                if !TortureHarness.isConsistent(out) {
                    torn += 1
                    if firstTorn == nil { firstTorn = Array(UnsafeBufferPointer(start: out, count: VvarLayout.tortureWordCount)) }
                }
                done += 1
            }
            self.reads = done
            self.torn = torn
            self.retries = retries
        }
    }

    private final class ThreadBody {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private static func spawn(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { raw in
            Unmanaged<ThreadBody>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, context)
        precondition(rc == 0, "pthread_create: \(rc)")
        return tid
    }
}
