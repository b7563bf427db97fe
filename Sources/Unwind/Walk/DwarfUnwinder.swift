// DwarfUnwinder: our own stack walker. From one frame's registers it yields frames, each
// found by the CFI of the module covering its pc, until the outermost frame, a frame no CFI
// covers, an unreadable stack, or a bound (frame count, a CFA that does not move toward the
// stack base). Why the walk ended is kept as data (`stopReason`, or `walk()`).
//
// The one subtle rule, kept in `FrameAddress`: a frame's pc is a return address unless it
// is the first frame or its callee was a signal frame; return addresses are looked up at
// pc - 1, because the call may be the last instruction of its function.

import Bytes
import DwarfCFI
import ELF

public struct UnwoundFrame: Sendable, Equatable {
    public var index: Int
    /// The frame's pc: the interrupted instruction or a return address.
    public var pc: UInt64
    /// True if `pc` is a return address (look up pc - 1).
    public var isReturnAddress: Bool
    /// True if this frame's CIE is marked 'S' (a signal trampoline).
    public var isSignalFrame: Bool
    /// This frame's registers (callee-saved ones recovered; others as the CFI leaves them).
    public var registers: FrameRegisters
    /// The CFA of this frame, when its CFI was found.
    public var cfa: UInt64?
    public var module: String?
    public var symbol: String?
    public var symbolOffset: UInt64?
    /// True if this frame had no CFI and its caller was found through rbp (the
    /// frame-pointer fallback libdwfl also uses), so callee-saved registers past it are
    /// not recovered.
    public var callerByFramePointer = false

    public var address: FrameAddress { FrameAddress(pc, isReturnAddress ? .returnAddress : .programCounter) }
    public var lookupPC: UInt64 { address.lookupAddress }
}

public enum UnwindStopReason: Equatable, Sendable, CustomStringConvertible {
    /// The return-address rule is undefined (the outermost frame, _start or a thread start).
    case outermost
    case noModule(pc: UInt64)
    case noCFI(pc: UInt64)
    /// Unreadable memory, a bad rule, an exceeded evaluation limit.
    case error(String)
    case frameLimit
    /// The caller's pc and sp equal this frame's.
    case loop
    /// The caller's CFA is not above this frame's (the stack grows down, so every caller's
    /// frame lies above its callee's, except across a signal frame, which may switch stacks).
    case cfaDidNotIncrease(pc: UInt64, cfa: UInt64, callerCFA: UInt64)

    public var description: String {
        switch self {
        case .outermost: return "outermost frame"
        case let .noModule(pc): return "no module at 0x\(String(pc, radix: 16))"
        case let .noCFI(pc): return "no CFI for 0x\(String(pc, radix: 16))"
        case let .error(e): return e
        case .frameLimit: return "frame limit reached"
        case .loop: return "the caller's pc and sp equal this frame's"
        case let .cfaDidNotIncrease(pc, cfa, callerCFA):
            return "the CFA did not move toward the stack base at 0x\(String(pc, radix: 16)): "
                + "0x\(String(cfa, radix: 16)) then 0x\(String(callerCFA, radix: 16))"
        }
    }

    /// True for the reasons a complete walk ends with.
    public var isNormalEnd: Bool { self == .outermost }
}

/// A whole walk: its frames and why it ended.
public struct UnwindWalk: Sendable, Equatable {
    public var frames: [UnwoundFrame]
    public var stopReason: UnwindStopReason
}

public struct DwarfUnwinder<Memory: MemoryReader>: Sequence, IteratorProtocol {
    let memory: Memory
    let modules: ModuleMap
    let maxFrames: Int
    var pending: (registers: FrameRegisters, isReturnAddress: Bool)?
    var index = 0
    var previous: (pc: UInt64, sp: UInt64)?
    /// The previous frame's CFA, unless that frame was a signal frame.
    var previousCFA: UInt64?
    public private(set) var stopReason: UnwindStopReason?
    public let limits: UnwindLimits
    /// Where a frame has no module or no CFI, find its caller through the rbp chain
    /// ([rbp] = caller's rbp, [rbp + 8] = return address) instead of stopping.
    public let framePointerFallback: Bool

    public init(registers: FrameRegisters, memory: Memory, modules: ModuleMap, maxFrames: Int = 256,
                limits: UnwindLimits = .default, framePointerFallback: Bool = false) {
        self.memory = memory
        self.modules = modules
        self.maxFrames = maxFrames
        self.limits = limits
        self.framePointerFallback = framePointerFallback
        self.pending = (registers, false)
    }

    /// The caller through rbp, when the fallback is on and the chain is plausible: the
    /// saved-rbp slot above the stack pointer and above the previous frame.
    private mutating func framePointerStep(_ frame: inout UnwoundFrame) -> Bool {
        guard framePointerFallback, let rbp = frame.registers[DwarfRegister.rbp],
              let sp = frame.registers[DwarfRegister.rsp], rbp >= sp, rbp <= UInt64.max - 16,
              previousCFA.map({ rbp + 16 > $0 }) ?? true,
              let savedRBP = try? memory.fetch(UInt64.self, from: rbp),
              let returnAddress = try? memory.fetch(UInt64.self, from: rbp + 8), returnAddress != 0 else { return false }
        var caller = frame.registers
        caller[DwarfRegister.rbp] = savedRBP
        caller[DwarfRegister.rsp] = rbp + 16
        caller[DwarfRegister.returnAddress] = returnAddress
        frame.cfa = rbp + 16
        frame.callerByFramePointer = true
        previousCFA = rbp + 16
        previous = (returnAddress, rbp + 16)
        pending = (caller, true)
        return true
    }

    public mutating func next() -> UnwoundFrame? {
        guard let (registers, isReturnAddress) = pending else { return nil }
        pending = nil
        guard let pc = registers.pc else { stopReason = .outermost; return nil }
        if index >= maxFrames { stopReason = .frameLimit; return nil }
        var frame = UnwoundFrame(index: index, pc: pc, isReturnAddress: isReturnAddress, isSignalFrame: false,
                                 registers: registers)
        index += 1
        guard let module = modules.module(containing: frame.lookupPC) else {
            if !framePointerStep(&frame) { stopReason = .noModule(pc: pc) }
            return frame
        }
        frame.module = module.name
        if let s = module.symbol(for: frame.lookupPC) {
            frame.symbol = s.name
            frame.symbolOffset = isReturnAddress ? s.offset + 1 : s.offset
        }
        do {
            let cfi = try module.callFrameInfo()
            guard let (row, cie) = try cfi.row(at: frame.lookupPC &- module.bias, limits: limits) else {
                if !framePointerStep(&frame) { stopReason = .noCFI(pc: pc) }
                return frame
            }
            frame.isSignalFrame = cie.isSignalFrame
            if cie.isSignalFrame, isReturnAddress, let s = module.symbol(for: pc) {
                // A trampoline's FDE starts one byte early so pc - 1 finds it, but its name
                // is at pc.
                frame.symbol = s.name
                frame.symbolOffset = s.offset
            }
            frame.cfa = try? UnwindStep.cfa(of: row, registers: registers, memory: memory, limits: limits)
            if let c = frame.cfa, let p = previousCFA, c <= p {
                stopReason = .cfaDidNotIncrease(pc: pc, cfa: p, callerCFA: c)
                return frame
            }
            previousCFA = cie.isSignalFrame ? nil : frame.cfa
            guard let result = try UnwindStep.step(row: row, returnAddressRegister: cie.returnAddressRegister,
                                                   registers: registers, memory: memory, limits: limits) else {
                stopReason = .outermost
                return frame
            }
            let sp = result.caller.sp ?? 0
            if let p = previous, p.pc == result.caller.pc, p.sp == sp {
                stopReason = .loop
                return frame
            }
            previous = (result.caller.pc ?? 0, sp)
            // After a signal frame the caller's pc is the interrupted instruction itself.
            pending = (result.caller, !cie.isSignalFrame)
        } catch {
            stopReason = .error("\(error)")
        }
        return frame
    }
}

extension DwarfUnwinder {
    /// Every frame and why the walk ended.
    public mutating func walk() -> UnwindWalk {
        var frames: [UnwoundFrame] = []
        while let f = next() { frames.append(f) }
        return UnwindWalk(frames: frames, stopReason: stopReason ?? .outermost)
    }
}
