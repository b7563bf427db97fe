// X86Assembler: just the x86-64 instructions the vsyscall entries need, encoded at a known
// run-time address (so rip-relative operands reach absolute targets directly), with
// labels, rel32 branch fixups, a listing in the text `objdump -M intel` prints, and a
// CFITracker updated by every instruction that touches the frame.
//
// Encodings follow the Intel SDM volume 2: REX (0100WRXB), ModRM (mod reg rm), SIB for
// rsp/r12 bases, disp8 when the displacement fits, rip-relative as mod=00 rm=101.

public struct ListedInstruction: Sendable, Equatable {
    public var offset: UInt64
    public var bytes: [UInt8]
    /// Intel syntax, as `objdump -d -M intel` prints it (without its trailing comments).
    public var text: String
    /// The CFI state in force when this instruction starts.
    public var cfa: CFIState
}

public struct Label: Hashable, Sendable { let id: Int }

public struct X86Assembler: Sendable {
    /// Run-time address of byte 0.
    public let origin: UInt64
    public private(set) var bytes: [UInt8] = []
    public private(set) var listing: [ListedInstruction] = []
    public var tracker = CFITracker()

    private var labels: [Int: UInt64] = [:]
    private var nextLabel = 0
    /// rel32 fields to patch: (offset of the field, label, offset of the next instruction,
    /// listing index whose text names the target).
    private var fixups: [(field: Int, label: Label, next: Int, listed: Int)] = []

    public init(origin: UInt64) { self.origin = origin }

    public var offset: UInt64 { UInt64(bytes.count) }
    public var address: UInt64 { origin + offset }

    // MARK: Labels

    public mutating func newLabel() -> Label {
        nextLabel += 1
        return Label(id: nextLabel)
    }

    public mutating func bind(_ l: Label) {
        precondition(labels[l.id] == nil, "label bound twice")
        labels[l.id] = offset
    }

    public func offset(of l: Label) -> UInt64? { labels[l.id] }

    /// Patches every branch; fails if a label was never bound.
    public mutating func finish() {
        for f in fixups {
            guard let target = labels[f.label.id] else { preconditionFailure("unbound label") }
            let rel = Int32(Int64(target) - Int64(f.next))
            withUnsafeBytes(of: rel.littleEndian) { raw in
                for i in 0..<4 { bytes[f.field + i] = raw[i] }
            }
            let listed = listing[f.listed]
            listing[f.listed].bytes = Array(bytes[Int(listed.offset)..<Int(listed.offset) + listed.bytes.count])
            // objdump prints branch targets as bare hex.
            listing[f.listed].text += String(origin + target, radix: 16)
        }
        fixups = []
    }

    // MARK: Emission

    private mutating func emit(_ b: [UInt8], _ text: String) {
        listing.append(ListedInstruction(offset: offset, bytes: b, text: text, cfa: tracker.state))
        bytes.append(contentsOf: b)
    }

    private static func rex(w: Bool, r: Register? = nil, x: Bool = false, b: Register? = nil) -> UInt8? {
        let v: UInt8 = 0x40 | (w ? 8 : 0) | ((r?.isExtended ?? false) ? 4 : 0) | (x ? 2 : 0) | ((b?.isExtended ?? false) ? 1 : 0)
        return v == 0x40 ? nil : v
    }

    private static func modrm(_ mod: UInt8, _ reg: UInt8, _ rm: UInt8) -> UInt8 { mod << 6 | (reg & 7) << 3 | (rm & 7) }

    private static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    private static func signedHex(_ v: Int64) -> String { v < 0 ? "-0x" + String(v.magnitude, radix: 16) : "+0x" + String(v, radix: 16) }

    /// ModRM (+SIB, +displacement) bytes for `reg` and a memory operand, and its Intel text.
    /// `trailing` is the number of immediate bytes that follow (for rip-relative).
    private func memory(_ m: Memory, reg: UInt8, prefixLength: Int, trailing: Int) -> (bytes: [UInt8], text: String) {
        switch m {
        case let .base(b, disp):
            var out: [UInt8] = []
            let mod: UInt8 = disp == 0 && b.low != 5 ? 0 : (Int8(exactly: disp) != nil ? 1 : 2)
            out.append(Self.modrm(mod, reg, b.low))
            if b.low == 4 { out.append(0x24) }  // SIB: no index, base = rsp/r12
            if mod == 1 { out.append(UInt8(bitPattern: Int8(disp))) }
            if mod == 2 { out.append(contentsOf: withUnsafeBytes(of: disp.littleEndian) { Array($0) }) }
            let text = disp == 0 ? "[\(b.name64)]" : "[\(b.name64)\(Self.signedHex(Int64(disp)))]"
            return (out, text)
        case let .absolute(target):
            let next = Int64(bitPattern: address) + Int64(prefixLength + 1 + 4 + trailing)
            let disp = Int64(bitPattern: target) - next
            guard let d = Int32(exactly: disp) else { preconditionFailure("rip-relative target out of range") }
            return ([Self.modrm(0, reg, 5)] + withUnsafeBytes(of: d.littleEndian) { Array($0) },
                    "[rip\(Self.signedHex(Int64(d)))]")
        }
    }

    private static func base(of m: Memory) -> Register? {
        if case let .base(b, _) = m { return b }
        return nil
    }

    private static func size(_ wide: Bool) -> String { wide ? "QWORD PTR " : "DWORD PTR " }

    // MARK: Stack and frame (these feed the CFI tracker)

    public mutating func push(_ r: Register) {
        emit((r.isExtended ? [0x41] : []) + [0x50 + r.low], "push   \(r.name64)")
        tracker.push(r, endingAt: offset)
    }

    public mutating func pop(_ r: Register) {
        emit((r.isExtended ? [0x41] : []) + [0x58 + r.low], "pop    \(r.name64)")
        tracker.pop(r, endingAt: offset)
    }

    /// mov rbp, rsp: sets the frame pointer.
    public mutating func setFramePointer() {
        mov(.rbp, .rsp)
        tracker.setFramePointer(endingAt: offset)
    }

    public mutating func leave() {
        emit([0xc9], "leave")
        tracker.leave(endingAt: offset)
    }

    public mutating func ret() { emit([0xc3], "ret") }

    /// sub rsp, n (n > 0 grows the stack).
    public mutating func reserveStack(_ n: Int32) {
        sub(.rsp, immediate: n)
        tracker.adjustStack(by: Int64(n), endingAt: offset)
    }

    public mutating func rememberState() { tracker.rememberState(at: offset) }
    public mutating func restoreState() { tracker.restoreState(at: offset) }

    // MARK: Moves

    /// mov dst, src (64-bit, or 32-bit which zero-extends).
    public mutating func mov(_ dst: Register, _ src: Register, wide: Bool = true) {
        let rex = Self.rex(w: wide, r: src, b: dst)
        emit((rex.map { [$0] } ?? []) + [0x89, Self.modrm(3, src.low, dst.low)], "mov    \(dst.name(wide)),\(src.name(wide))")
    }

    /// mov dst, [m]
    public mutating func load(_ dst: Register, _ m: Memory, wide: Bool = true) {
        let rex = Self.rex(w: wide, r: dst, b: Self.base(of: m))
        let prefix = (rex.map { [$0] } ?? []) + [0x8b]
        let (mem, text) = memory(m, reg: dst.low, prefixLength: prefix.count, trailing: 0)
        emit(prefix + mem, "mov    \(dst.name(wide)),\(Self.size(wide))\(text)")
    }

    /// mov [m], src
    public mutating func store(_ m: Memory, _ src: Register, wide: Bool = true) {
        let rex = Self.rex(w: wide, r: src, b: Self.base(of: m))
        let prefix = (rex.map { [$0] } ?? []) + [0x89]
        let (mem, text) = memory(m, reg: src.low, prefixLength: prefix.count, trailing: 0)
        emit(prefix + mem, "mov    \(Self.size(wide))\(text),\(src.name(wide))")
    }

    /// Loads an immediate in the shortest form: mov r32, imm32 (zero-extends), mov r64,
    /// simm32 (sign-extends) or movabs.
    public mutating func mov(_ r: Register, immediate v: UInt64) {
        if v <= UInt64(UInt32.max) {
            emit((r.isExtended ? [0x41] : []) + [0xb8 + r.low] + withUnsafeBytes(of: UInt32(v).littleEndian) { Array($0) },
                 "mov    \(r.name32),\(Self.hex(v))")
        } else if let s = Int32(exactly: Int64(bitPattern: v)) {
            emit([Self.rex(w: true, b: r)!, 0xc7, Self.modrm(3, 0, r.low)] + withUnsafeBytes(of: s.littleEndian) { Array($0) },
                 "mov    \(r.name64),\(Self.hex(v))")
        } else {
            emit([Self.rex(w: true, b: r)!, 0xb8 + r.low] + withUnsafeBytes(of: v.littleEndian) { Array($0) },
                 "movabs \(r.name64),\(Self.hex(v))")
        }
    }

    public mutating func lea(_ dst: Register, _ m: Memory) {
        let prefix: [UInt8] = [Self.rex(w: true, r: dst, b: Self.base(of: m))!, 0x8d]
        let (mem, text) = memory(m, reg: dst.low, prefixLength: prefix.count, trailing: 0)
        emit(prefix + mem, "lea    \(dst.name64),\(text)")
    }

    public mutating func cmov(_ c: Condition, _ dst: Register, _ src: Register) {
        emit([Self.rex(w: true, r: dst, b: src)!, 0x0f, 0x40 + c.rawValue, Self.modrm(3, dst.low, src.low)],
             "cmov\(c.suffix)\(String(repeating: " ", count: max(1, 3 - c.suffix.count))) \(dst.name64),\(src.name64)")
    }

    // MARK: Arithmetic

    /// ALU op group 1 (add=0, or=1, adc=2, and=4, sub=5, xor=6, cmp=7) register, register.
    private mutating func alu(_ op: UInt8, _ name: String, _ dst: Register, _ src: Register, wide: Bool) {
        let rex = Self.rex(w: wide, r: src, b: dst)
        emit((rex.map { [$0] } ?? []) + [op << 3 | 1, Self.modrm(3, src.low, dst.low)],
             "\(name.padding(6)) \(dst.name(wide)),\(src.name(wide))")
    }

    /// ALU op group 1 with an immediate: imm8 form when it fits, else imm32.
    private mutating func alu(_ op: UInt8, _ name: String, _ dst: Register, immediate v: Int32, wide: Bool) {
        let rex = Self.rex(w: wide, b: dst)
        let shown = wide ? UInt64(bitPattern: Int64(v)) : UInt64(UInt32(bitPattern: v))
        if let b = Int8(exactly: v) {
            emit((rex.map { [$0] } ?? []) + [0x83, Self.modrm(3, op, dst.low), UInt8(bitPattern: b)],
                 "\(name.padding(6)) \(dst.name(wide)),\(Self.hex(shown))")
        } else {
            emit((rex.map { [$0] } ?? []) + [0x81, Self.modrm(3, op, dst.low)] + withUnsafeBytes(of: v.littleEndian) { Array($0) },
                 "\(name.padding(6)) \(dst.name(wide)),\(Self.hex(shown))")
        }
    }

    /// ALU op group 1: register, [m].
    private mutating func alu(_ op: UInt8, _ name: String, _ dst: Register, _ m: Memory, wide: Bool) {
        let rex = Self.rex(w: wide, r: dst, b: Self.base(of: m))
        let prefix = (rex.map { [$0] } ?? []) + [op << 3 | 3]
        let (mem, text) = memory(m, reg: dst.low, prefixLength: prefix.count, trailing: 0)
        emit(prefix + mem, "\(name.padding(6)) \(dst.name(wide)),\(Self.size(wide))\(text)")
    }

    public mutating func add(_ d: Register, _ s: Register, wide: Bool = true) { alu(0, "add", d, s, wide: wide) }
    public mutating func add(_ d: Register, immediate v: Int32, wide: Bool = true) { alu(0, "add", d, immediate: v, wide: wide) }
    public mutating func add(_ d: Register, _ m: Memory, wide: Bool = true) { alu(0, "add", d, m, wide: wide) }
    public mutating func or(_ d: Register, _ s: Register, wide: Bool = true) { alu(1, "or", d, s, wide: wide) }
    public mutating func adc(_ d: Register, immediate v: Int32, wide: Bool = true) { alu(2, "adc", d, immediate: v, wide: wide) }
    public mutating func and(_ d: Register, immediate v: Int32, wide: Bool = true) { alu(4, "and", d, immediate: v, wide: wide) }
    public mutating func sub(_ d: Register, _ s: Register, wide: Bool = true) { alu(5, "sub", d, s, wide: wide) }
    public mutating func sub(_ d: Register, immediate v: Int32, wide: Bool = true) { alu(5, "sub", d, immediate: v, wide: wide) }
    public mutating func sub(_ d: Register, _ m: Memory, wide: Bool = true) { alu(5, "sub", d, m, wide: wide) }
    public mutating func xor(_ d: Register, _ s: Register, wide: Bool = false) { alu(6, "xor", d, s, wide: wide) }
    public mutating func cmp(_ d: Register, _ s: Register, wide: Bool = true) { alu(7, "cmp", d, s, wide: wide) }
    public mutating func cmp(_ d: Register, immediate v: Int32, wide: Bool = true) { alu(7, "cmp", d, immediate: v, wide: wide) }

    public mutating func test(_ a: Register, _ b: Register, wide: Bool = true) {
        let rex = Self.rex(w: wide, r: b, b: a)
        emit((rex.map { [$0] } ?? []) + [0x85, Self.modrm(3, b.low, a.low)], "test   \(a.name(wide)),\(b.name(wide))")
    }

    public mutating func inc(_ r: Register, wide: Bool = true) {
        let rex = Self.rex(w: wide, b: r)
        emit((rex.map { [$0] } ?? []) + [0xff, Self.modrm(3, 0, r.low)], "inc    \(r.name(wide))")
    }

    /// mul r/m64: rdx:rax = rax * operand.
    public mutating func mul(_ m: Memory) {
        let prefix: [UInt8] = [Self.rex(w: true, b: Self.base(of: m))!, 0xf7]
        let (mem, text) = memory(m, reg: 4, prefixLength: prefix.count, trailing: 0)
        emit(prefix + mem, "mul    QWORD PTR \(text)")
    }

    /// imul dst, src, imm32.
    public mutating func imul(_ dst: Register, _ src: Register, immediate v: Int32) {
        emit([Self.rex(w: true, r: dst, b: src)!, 0x69, Self.modrm(3, dst.low, src.low)] + withUnsafeBytes(of: v.littleEndian) { Array($0) },
             "imul   \(dst.name64),\(src.name64),\(Self.hex(UInt64(bitPattern: Int64(v))))")
    }

    /// Shift group 2 by an immediate (shl=4, shr=5).
    private mutating func shift(_ op: UInt8, _ name: String, _ r: Register, _ count: UInt8, wide: Bool) {
        let rex = Self.rex(w: wide, b: r)
        emit((rex.map { [$0] } ?? []) + [0xc1, Self.modrm(3, op, r.low), count], "\(name.padding(6)) \(r.name(wide)),\(Self.hex(UInt64(count)))")
    }

    public mutating func shl(_ r: Register, _ count: UInt8, wide: Bool = true) { shift(4, "shl", r, count, wide: wide) }
    public mutating func shr(_ r: Register, _ count: UInt8, wide: Bool = true) { shift(5, "shr", r, count, wide: wide) }

    /// shr r64, cl
    public mutating func shrCL(_ r: Register) {
        emit([Self.rex(w: true, b: r)!, 0xd3, Self.modrm(3, 5, r.low)], "shr    \(r.name64),cl")
    }

    /// shrd dst, src, cl: dst = (src:dst) >> cl.
    public mutating func shrdCL(_ dst: Register, _ src: Register) {
        emit([Self.rex(w: true, r: src, b: dst)!, 0x0f, 0xad, Self.modrm(3, src.low, dst.low)], "shrd   \(dst.name64),\(src.name64),cl")
    }

    // MARK: Control flow

    public mutating func jump(_ c: Condition, to l: Label) {
        fixups.append((bytes.count + 2, l, bytes.count + 6, listing.count))
        emit([0x0f, 0x80 + c.rawValue, 0, 0, 0, 0], "j\(c.suffix.padding(5)) ")
    }

    public mutating func jump(to l: Label) {
        fixups.append((bytes.count + 1, l, bytes.count + 5, listing.count))
        emit([0xe9, 0, 0, 0, 0], "jmp    ")
    }

    // MARK: System

    public mutating func syscall() { emit([0x0f, 0x05], "syscall") }
    /// rdtscp: edx:eax = TSC, ecx = TSC_AUX; waits for earlier instructions to execute.
    public mutating func rdtscp() { emit([0x0f, 0x01, 0xf9], "rdtscp") }
    /// rdpid r64: TSC_AUX (Linux: node << 12 | cpu).
    public mutating func rdpid(_ r: Register) {
        emit([0xf3] + (r.isExtended ? [0x41] : []) + [0x0f, 0xc7, Self.modrm(3, 7, r.low)], "rdpid  \(r.name64)")
    }
    public mutating func pause() { emit([0xf3, 0x90], "pause") }
    public mutating func lfence() { emit([0x0f, 0xae, 0xe8], "lfence") }
    /// One-byte nops to pad to an alignment (never executed: between entries).
    public mutating func int3Padding(to alignment: UInt64) {
        while offset % alignment != 0 { emit([0xcc], "int3") }
    }
}

extension String {
    /// Left-aligned in `width` columns (objdump pads mnemonics to six).
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
