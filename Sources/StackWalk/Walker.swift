// Walker: one unwinder behind one interface. At each stop the tester asks every walker
// for the chain of frames; each reports what its unwinder exposes (PC always; the frame's
// stack pointer and recovered callee-saved registers where it can).

import Unwind

/// One frame as a walker reported it.
public struct WalkedFrame: Sendable, Equatable {
    /// The interrupted instruction (frame 0) or a return address.
    public var pc: UInt64
    /// The frame's stack pointer (its callee's CFA), when the walker exposes it.
    public var sp: UInt64?
    /// Callee-saved registers (DWARF numbers) as the walker recovered them in this frame.
    public var registers: [UInt16: UInt64]

    public init(pc: UInt64, sp: UInt64? = nil, registers: [UInt16: UInt64] = [:]) {
        self.pc = pc
        self.sp = sp
        self.registers = registers
    }
}

/// What the tester knows at one stop of a traced helper.
public struct WalkStop: Sendable {
    /// The helper (stopped, traced by this thread).
    public var pid: Int32
    /// Its registers at the stop.
    public var registers: X86_64Registers
    /// Our DwarfUnwinder's walk at this stop, which walkers use to declare limitations
    /// (never to judge: the judge is the trampoline's ground truth).
    public var reference: UnwindWalk
    /// The helper's modules, read once per subject (the call maps nothing new).
    public var modules: ModuleMap
    /// What the trampoline made known.
    public var truth: GroundTruth
}

public protocol Walker: AnyObject {
    /// The walker's name in the matrix.
    var name: String { get }
    /// True if the walker reads CFI (a mutated CFI must then make it fail exactly where
    /// the mutation changed a row).
    var readsCFI: Bool { get }
    /// The helper has stopped at the trampoline, before the call: set up per-process state.
    func attach(pid: Int32, modules: ModuleMap) throws
    /// The chain of frames at `stop`, innermost first. A thrown error is a failed stop.
    func walk(_ stop: WalkStop) throws -> [WalkedFrame]
    /// Why this walker is expected to fail at `stop`, or nil if it is expected to pass.
    func limitation(at stop: WalkStop) -> String?
    /// The subject's run has ended.
    func detach()
}

extension Walker {
    public var readsCFI: Bool { true }
    public func limitation(at stop: WalkStop) -> String? { nil }
    public func attach(pid: Int32, modules: ModuleMap) throws {}
    public func detach() {}
}
