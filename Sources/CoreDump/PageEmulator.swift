// PageEmulator: finishes a call into a vunwind page from the registers a core recorded, by
// interpreting the page's own machine code (read from the core, not regenerated), up to the
// entry's `ret`. This is how a thread that died or stopped mid-call gets the result the call
// would have returned and the outputs it would have stored (seed, page 10: "discard the
// vsyscall execution and ... set the right retval").
//
// It knows only the instruction forms the page's emitter produces (Vsyscall/X86Assembler):
// mov/lea/cmov, the ALU group, test, inc, mul, imul, shifts, shrd, jcc/jmp, push/pop/ret,
// rdtscp, rdpid, syscall. Anything else stops the emulation with a reason, as does every
// event the core cannot answer: the policy (what rdtscp reads, whether a store lands) is
// the caller's. Bounded: at most `maxSteps` instructions.

import Bytes

struct PageEmulator {
    /// General registers in hardware order (rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8-r15).
    struct State: Equatable {
        var gpr: [UInt64]
        var rip: UInt64
        var cf = false, zf = false, sf = false, of = false

        init(registers r: [UInt64]) {
            // user_regs_struct order: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip ...
            gpr = [r[10], r[11], r[12], r[5], r[19], r[4], r[13], r[14], r[9], r[8], r[7], r[6], r[3], r[2], r[1], r[0]]
            rip = r[16]
        }

        subscript(_ r: Int) -> UInt64 {
            get { gpr[r] }
            set { gpr[r] = newValue }
        }
    }

    enum Stop: Equatable {
        /// The entry returned: rax holds the result.
        case returned
        /// A `syscall` instruction is next (the fallback path); rax holds the number.
        case syscall
        /// `rdtscp` or `rdpid` is next and the policy cannot answer it.
        case unknownCounter(String)
        /// A load the core cannot answer.
        case unreadable(address: UInt64)
        /// A store to memory that is not writable in the core, outside the fixup table.
        case storeFault(address: UInt64)
        case unsupported(address: UInt64, bytes: [UInt8])
        case stepLimit
    }

    /// What the caller decides: the counter values, and whether a store lands.
    struct Policy {
        /// (TSC, TSC_AUX) for rdtscp, or nil when the core cannot tell.
        var rdtscp: (State) -> (UInt64, UInt32)?
        /// TSC_AUX for rdpid, or nil.
        var rdpid: (State) -> UInt64?
        /// True if a user store of `size` bytes at `address` would succeed.
        var storable: (_ address: UInt64, _ size: Int) -> Bool
        /// Where the fixup table sends a faulting store at `rip`, if anywhere.
        var landingPad: (_ rip: UInt64) -> UInt64?
    }

    struct Store: Equatable {
        var address: UInt64
        var bytes: [UInt8]
    }

    let memory: any MemoryReader
    let policy: Policy
    let maxSteps: Int
    private(set) var state: State
    /// Stores through the entry's pointer arguments, in order: the outputs.
    private(set) var stores: [Store] = []
    /// Pushes: seen by later loads, but dead once the call has returned, so no output.
    private(set) var stackStores: [Store] = []
    /// Stores that faulted and went to their landing pad.
    private(set) var faults: [UInt64] = []
    private(set) var steps = 0

    init(memory: any MemoryReader, state: State, policy: Policy, maxSteps: Int = 10_000) {
        self.memory = memory
        self.state = state
        self.policy = policy
        self.maxSteps = maxSteps
    }

    // MARK: Memory

    private func load(_ address: UInt64, _ size: Int) throws(EmulationStop) -> UInt64 {
        var bytes = [UInt8](repeating: 0, count: size)
        // Our own earlier stores first (a later load of an output sees it).
        do {
            try bytes.withUnsafeMutableBytes { try memory.fetch(from: address, into: $0) }
        } catch {
            throw EmulationStop(.unreadable(address: address))
        }
        for s in stackStores + stores {
            for (i, b) in s.bytes.enumerated() {
                let a = s.address &+ UInt64(i)
                if a >= address && a - address < UInt64(size) { bytes[Int(a - address)] = b }
            }
        }
        var v: UInt64 = 0
        for (i, b) in bytes.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    struct EmulationStop: Error {
        var stop: Stop
        init(_ s: Stop) { stop = s }
    }

    // MARK: Decoding

    private struct Cursor {
        let bytes: [UInt8]
        var i = 0
        mutating func u8() throws(EmulationStop) -> UInt8 {
            guard i < bytes.count else { throw EmulationStop(.unsupported(address: 0, bytes: bytes)) }
            defer { i += 1 }
            return bytes[i]
        }
        mutating func i32() throws(EmulationStop) -> Int32 {
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(try u8()) << (8 * UInt32(k)) }
            return Int32(bitPattern: v)
        }
        mutating func u64() throws(EmulationStop) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(try u8()) << (8 * UInt64(k)) }
            return v
        }
    }

    /// A decoded ModRM operand: a register, or a memory address (computed once the
    /// instruction's length is known, for rip-relative forms).
    private enum Operand {
        case register(Int)
        case memory(base: Int?, displacement: Int64)  // base nil: rip-relative
    }

    private func modrm(_ c: inout Cursor, rexR: Bool, rexB: Bool) throws(EmulationStop) -> (reg: Int, rm: Operand) {
        let m = try c.u8()
        let mod = m >> 6, reg = Int((m >> 3) & 7) + (rexR ? 8 : 0), rm = m & 7
        if mod == 3 { return (reg, .register(Int(rm) + (rexB ? 8 : 0))) }
        var base: Int?
        if rm == 4 {
            let sib = try c.u8()
            // Only "no index" SIBs (index = 100 without REX.X): the page never indexes.
            guard (sib >> 3) & 7 == 4 else { throw EmulationStop(.unsupported(address: state.rip, bytes: c.bytes)) }
            guard sib & 7 != 5 || mod != 0 else { throw EmulationStop(.unsupported(address: state.rip, bytes: c.bytes)) }
            base = Int(sib & 7) + (rexB ? 8 : 0)
        } else if rm == 5 && mod == 0 {
            return (reg, .memory(base: nil, displacement: Int64(try c.i32())))
        } else {
            base = Int(rm) + (rexB ? 8 : 0)
        }
        var disp: Int64 = 0
        if mod == 1 { disp = Int64(Int8(bitPattern: try c.u8())) }
        if mod == 2 { disp = Int64(try c.i32()) }
        return (reg, .memory(base: base, displacement: disp))
    }

    private func address(_ o: Operand, next: UInt64) -> UInt64 {
        guard case let .memory(base, disp) = o else { return 0 }
        let b = base.map { state[$0] } ?? next
        return b &+ UInt64(bitPattern: disp)
    }

    // MARK: Running

    /// Runs until a stop. `.returned` leaves rip and rsp as after the `ret`.
    mutating func run() -> Stop {
        while true {
            guard steps < maxSteps else { return .stepLimit }
            steps += 1
            do throws(EmulationStop) {
                if let stop = try step() { return stop }
            } catch {
                return error.stop
            }
        }
    }

    private func fetchCode() throws(EmulationStop) -> [UInt8] {
        // The longest form the emitter produces is 10 bytes (movabs); read 15, fewer at a
        // mapping's end.
        for n in stride(from: 15, through: 1, by: -1) {
            if let b = try? memory.fetchBytes(from: state.rip, count: n) { return b }
        }
        throw EmulationStop(.unreadable(address: state.rip))
    }

    private mutating func setLogic(_ v: UInt64, wide: Bool) {
        let r = wide ? v : v & 0xffff_ffff
        state.zf = r == 0
        state.sf = (r >> (wide ? 63 : 31)) & 1 == 1
        state.cf = false
        state.of = false
    }

    private func truncate(_ v: UInt64, _ wide: Bool) -> UInt64 { wide ? v : v & 0xffff_ffff }

    /// add/adc/sub/cmp with flags.
    private mutating func arith(_ op: Int, _ a: UInt64, _ b: UInt64, wide: Bool) -> UInt64 {
        let bits: UInt64 = wide ? 64 : 32
        let mask: UInt64 = wide ? .max : 0xffff_ffff
        let x = a & mask, y = b & mask
        var r: UInt64
        switch op {
        case 0, 2:  // add, adc
            let carry: UInt64 = op == 2 && state.cf ? 1 : 0
            let full = UInt128(x) + UInt128(y) + UInt128(carry)
            r = UInt64(truncatingIfNeeded: full) & mask
            state.cf = full > UInt128(mask)
            state.of = ((~(x ^ y) & (x ^ r)) >> (bits - 1)) & 1 == 1
        default:  // sub, cmp
            r = (x &- y) & mask
            state.cf = x < y
            state.of = (((x ^ y) & (x ^ r)) >> (bits - 1)) & 1 == 1
        }
        state.zf = r == 0
        state.sf = (r >> (bits - 1)) & 1 == 1
        return r
    }

    private func condition(_ c: UInt8) -> Bool {
        let s = state
        var v: Bool
        switch c >> 1 {
        case 0: v = s.of
        case 1: v = s.cf
        case 2: v = s.zf
        case 3: v = s.cf || s.zf
        case 4: v = s.sf
        case 6: v = s.sf != s.of
        case 7: v = s.zf || s.sf != s.of
        default: v = false  // parity: the page does not use it
        }
        return c & 1 == 1 ? !v : v
    }

    /// Writes an operand; true if a faulting store was redirected to its landing pad.
    private mutating func write(_ o: Operand, _ value: UInt64, wide: Bool, next: UInt64, at rip: UInt64) throws(EmulationStop) -> Bool {
        switch o {
        case let .register(r):
            // A 32-bit destination zero-extends into the full register.
            state[r] = truncate(value, wide)
            return false
        case .memory:
            let a = address(o, next: next)
            let size = wide ? 8 : 4
            if policy.storable(a, size) {
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
                stores.append(Store(address: a, bytes: bytes))
                return false
            } else if let pad = policy.landingPad(rip) {
                faults.append(rip)
                state.rip = pad
                return true
            } else {
                throw EmulationStop(.storeFault(address: a))
            }
        }
    }

    private func read(_ o: Operand, wide: Bool, next: UInt64) throws(EmulationStop) -> UInt64 {
        switch o {
        case let .register(r): return truncate(state[r], wide)
        case .memory: return try load(address(o, next: next), wide ? 8 : 4)
        }
    }

    /// One instruction; a stop, or nil to go on.
    private mutating func step() throws(EmulationStop) -> Stop? {
        let rip = state.rip
        let code = try fetchCode()
        var c = Cursor(bytes: code)
        var rep = false
        var b = try c.u8()
        if b == 0xf3 { rep = true; b = try c.u8() }
        var rexW = false, rexR = false, rexB = false
        if b & 0xf0 == 0x40 {
            rexW = b & 8 != 0; rexR = b & 4 != 0; rexB = b & 1 != 0
            if b & 2 != 0 { throw EmulationStop(.unsupported(address: rip, bytes: code)) }
            b = try c.u8()
        }
        let unsupported = EmulationStop(.unsupported(address: rip, bytes: Array(code.prefix(8))))
        // For operands decoded before the end of the instruction is known, rip-relative
        // addresses are taken against `next`, computed after any immediate.
        func nextRIP(_ c: Cursor) -> UInt64 { rip &+ UInt64(c.i) }
        switch b {
        case 0x50...0x57:
            let r = Int(b - 0x50) + (rexB ? 8 : 0)
            let sp = state[4] &- 8
            guard policy.storable(sp, 8) else { throw EmulationStop(.storeFault(address: sp)) }
            stackStores.append(Store(address: sp, bytes: (0..<8).map { UInt8(truncatingIfNeeded: state[r] >> (8 * UInt64($0))) }))
            state[4] = sp
            state.rip = nextRIP(c)
        case 0x58...0x5f:
            let r = Int(b - 0x58) + (rexB ? 8 : 0)
            let v = try load(state[4], 8)
            state[4] &+= 8
            state[r] = v
            state.rip = nextRIP(c)
        case 0xc3:
            let target = try load(state[4], 8)
            state[4] &+= 8
            state.rip = target
            return .returned
        case 0x89, 0x8b:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            let next = nextRIP(c)
            state.rip = next
            if b == 0x89 {
                // A redirect by the fixup table has already set rip to the landing pad.
                _ = try write(rm, state[reg], wide: rexW, next: next, at: rip)
            } else {
                state[reg] = try read(rm, wide: rexW, next: next)
            }
        case 0xb8...0xbf:
            let r = Int(b - 0xb8) + (rexB ? 8 : 0)
            state[r] = rexW ? try c.u64() : UInt64(UInt32(bitPattern: try c.i32()))
            state.rip = nextRIP(c)
        case 0xc7:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            guard reg & 7 == 0, case let .register(r) = rm else { throw unsupported }
            let imm = Int64(try c.i32())
            state[r] = truncate(UInt64(bitPattern: imm), rexW)
            state.rip = nextRIP(c)
        case 0x8d:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            guard case .memory = rm else { throw unsupported }
            let next = nextRIP(c)
            state[reg] = address(rm, next: next)
            state.rip = next
        case 0x01, 0x09, 0x11, 0x21, 0x29, 0x31, 0x39, 0x03, 0x0b, 0x13, 0x23, 0x2b, 0x33, 0x3b:
            let op = Int(b >> 3)
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            let next = nextRIP(c)
            state.rip = next
            // Direction bit 1: reg <- reg op r/m; else r/m <- r/m op reg (register forms only).
            let toReg = b & 2 != 0
            if !toReg, case .memory = rm { throw unsupported }
            let a = toReg ? truncate(state[reg], rexW) : try read(rm, wide: rexW, next: next)
            let v = toReg ? try read(rm, wide: rexW, next: next) : truncate(state[reg], rexW)
            let result = alu(op, a, v, wide: rexW)
            if op != 7 {
                if toReg { state[reg] = result } else if case let .register(r) = rm { state[r] = result }
            }
        case 0x81, 0x83:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            guard case let .register(r) = rm else { throw unsupported }
            let imm = b == 0x83 ? Int64(Int8(bitPattern: try c.u8())) : Int64(try c.i32())
            let op = reg & 7
            let result = alu(op, truncate(state[r], rexW), truncate(UInt64(bitPattern: imm), rexW), wide: rexW)
            if op != 7 { state[r] = result }
            state.rip = nextRIP(c)
        case 0x85:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            let next = nextRIP(c)
            setLogic(try read(rm, wide: rexW, next: next) & truncate(state[reg], rexW), wide: rexW)
            state.rip = next
        case 0xff:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            guard reg & 7 == 0, case let .register(r) = rm else { throw unsupported }
            let cf = state.cf
            state[r] = arith(0, state[r], 1, wide: rexW)
            state.cf = cf  // inc leaves CF alone
            state.rip = nextRIP(c)
        case 0xf7:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            guard reg & 7 == 4, rexW else { throw unsupported }
            let next = nextRIP(c)
            let full = UInt128(state[0]) * UInt128(try read(rm, wide: true, next: next))
            state[0] = UInt64(truncatingIfNeeded: full)
            state[2] = UInt64(truncatingIfNeeded: full >> 64)
            state.cf = state[2] != 0
            state.of = state.cf
            state.rip = next
        case 0x69:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            guard rexW else { throw unsupported }
            let imm = Int64(try c.i32())
            let next = nextRIP(c)
            let (p, over) = Int64(bitPattern: try read(rm, wide: true, next: next)).multipliedReportingOverflow(by: imm)
            state[reg] = UInt64(bitPattern: p)
            state.cf = over
            state.of = over
            state.rip = next
        case 0xc1, 0xd3:
            let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
            guard case let .register(r) = rm, reg & 7 == 4 || reg & 7 == 5 else { throw unsupported }
            let count = UInt64(b == 0xc1 ? try c.u8() : UInt8(truncatingIfNeeded: state[1])) & (rexW ? 63 : 31)
            if count > 0 {
                let v = truncate(state[r], rexW)
                let bits: UInt64 = rexW ? 64 : 32
                let result = truncate(reg & 7 == 4 ? v << count : v >> count, rexW)
                state.cf = reg & 7 == 4 ? (v >> (bits - count)) & 1 == 1 : (v >> (count - 1)) & 1 == 1
                state[r] = result
                state.zf = result == 0
                state.sf = (result >> (bits - 1)) & 1 == 1
            }
            state.rip = nextRIP(c)
        case 0x0f:
            let b2 = try c.u8()
            switch b2 {
            case 0x80...0x8f:
                let rel = Int64(try c.i32())
                let next = nextRIP(c)
                state.rip = condition(b2 - 0x80) ? next &+ UInt64(bitPattern: rel) : next
            case 0x40...0x4f:
                let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
                let next = nextRIP(c)
                if condition(b2 - 0x40) { state[reg] = try read(rm, wide: rexW, next: next) }
                state.rip = next
            case 0xad:
                let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
                guard case let .register(r) = rm, rexW else { throw unsupported }
                let count = UInt64(state[1] & 63)
                if count > 0 {
                    let v = state[r], src = state[reg]
                    state.cf = (v >> (count - 1)) & 1 == 1
                    state[r] = (v >> count) | (src << (64 - count))
                    state.zf = state[r] == 0
                    state.sf = state[r] >> 63 == 1
                }
                state.rip = nextRIP(c)
            case 0x05:
                return .syscall
            case 0x01:
                guard try c.u8() == 0xf9 else { throw unsupported }
                guard let (tsc, aux) = policy.rdtscp(state) else { return .unknownCounter("rdtscp") }
                state[0] = tsc & 0xffff_ffff
                state[2] = tsc >> 32
                state[1] = UInt64(aux)
                state.rip = nextRIP(c)
            case 0xc7 where rep:
                let (reg, rm) = try modrm(&c, rexR: rexR, rexB: rexB)
                guard reg & 7 == 7, case let .register(r) = rm else { throw unsupported }
                guard let aux = policy.rdpid(state) else { return .unknownCounter("rdpid") }
                state[r] = aux
                state.rip = nextRIP(c)
            case 0xae:
                guard try c.u8() == 0xe8 else { throw unsupported }  // lfence
                state.rip = nextRIP(c)
            default:
                throw unsupported
            }
        case 0xe9:
            let rel = Int64(try c.i32())
            state.rip = nextRIP(c) &+ UInt64(bitPattern: rel)
        case 0x90 where rep:
            state.rip = nextRIP(c)  // pause
        default:
            throw unsupported
        }
        return nil
    }

    private mutating func alu(_ op: Int, _ a: UInt64, _ b: UInt64, wide: Bool) -> UInt64 {
        switch op {
        case 0, 2, 5, 7: return arith(op, a, b, wide: wide)
        case 1: let r = truncate(a | b, wide); setLogic(r, wide: wide); return r
        case 4: let r = truncate(a & b, wide); setLogic(r, wide: wide); return r
        case 6: let r = truncate(a ^ b, wide); setLogic(r, wide: wide); return r
        default: return a
        }
    }
}
