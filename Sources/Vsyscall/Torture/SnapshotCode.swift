// SnapshotCode: the torture harness's reader, emitted with the same ClockRead.locked the
// entries use, so the lock under test is byte for byte the entries' lock.
//
//   uint64_t snapshot(uint64_t *out)   (System V ABI, leaf, no frame)
//
// copies the vvar's torture words into out[0..<8] under the lock and returns how many
// times the lock sent it back (0 when the first pass was consistent). The broken variant
// is the same code built with `skipsSequence1: true`: it reads sequence2 twice, so it
// cannot see a writer that is inside its section.

public enum SnapshotCode {
    /// Where the broken variant starts in the text page (the correct one is at 0).
    public static let brokenOffset: UInt64 = 0x100

    /// One variant at `origin`, reading the vvar at `vvar` (within +-2 GiB: rip-relative).
    public static func emit(origin: UInt64, vvar: UInt64, broken: Bool) -> X86Assembler {
        var a = X86Assembler(origin: origin)
        let clock = ClockRead(vvar: vvar)
        // rsi counts passes, from -1 so that the first pass is not a retry. ClockRead.locked
        // uses r8 and r10; rdi (out) and rsi are left alone by it.
        a.mov(.rsi, immediate: UInt64.max)
        clock.locked(&a, skipsSequence1: broken) { a in
            a.inc(.rsi)
            // The stores to out are redone on every pass; only the loads are in question.
            for i in 0..<VvarLayout.tortureWordCount {
                a.load(.rax, clock.field(VvarLayout.tortureWords + 8 * i))
                a.store(.base(.rdi, Int32(8 * i)), .rax)
            }
        }
        a.mov(.rax, .rsi)
        a.ret()
        a.finish()
        return a
    }

    /// The text page: the correct variant at 0, the broken one at `brokenOffset`, int3
    /// everywhere else.
    public static func page(origin: UInt64, vvar: UInt64, size: Int = VvarLayout.size) -> [UInt8] {
        var bytes = [UInt8](repeating: 0xcc, count: size)
        for (offset, broken) in [(UInt64(0), false), (brokenOffset, true)] {
            let code = emit(origin: origin + offset, vvar: vvar, broken: broken).bytes
            precondition(code.count <= Int(brokenOffset), "snapshot code overflows its slot")
            bytes.replaceSubrange(Int(offset)..<Int(offset) + code.count, with: code)
        }
        return bytes
    }
}
