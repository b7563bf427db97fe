// vunwind-walk-subject: the process `vunwind walk` single-steps. It makes its tracer its
// parent's test (PTRACE_TRACEME), prepares one subject, and calls it once through the
// trampoline (CWalkSubject), which stops at int3 just before the call.
//
//   vunwind-walk-subject page ENTRY PATH [mutate:KIND]   one of our entries down one path
//       (mutate: the page's .eh_frame edited by CFIMutation KIND before it is registered,
//       so every unwinder, in this process or outside it, reads the mutated CFI):
//       fast      TSC clock mode (or the machine's default), valid pointers
//       retry     as fast, with a holder thread keeping the write section open until
//                 the tester sets vu_walk_control.release (the reader loops meanwhile)
//       syscall   syscall clock mode: the entry's fallback syscall
//       badclock  vclock_gettime with clock id 99 (unsupported: the fallback syscall)
//       efault    a bad pointer (8) in efault mode: the fault, the fixup handler, -EFAULT
//       sigsegv   a guard page (PROT_NONE) as the pointer in sigsegv mode: the fault, the
//                 helper's SIGSEGV handler makes the page writable, the instruction runs
//                 again and the call returns normally
//   vunwind-walk-subject vdso SYMBOL ARG...     a function of the kernel's vDSO
//   vunwind-walk-subject call FILE SYMBOL ARG...  a function of any shared object
//   (--depth N before the mode: the call is made under N more frames of C)
//
// ARG (written by the tester, not by people): i:DECIMAL, z:N (N zeroed bytes),
// s:HEX (a writable NUL-terminated copy of those bytes), f:NAME (a callback: cmp_bytes,
// cmp_ints). Bad input: one line on stderr, exit 64. After the call: "returned N", exit 0.

import CVunwind
import CWalkSubject
import DwarfCFI
import UnwindRegistry
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = Array(("vunwind-walk-subject: " + message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(64)
}

/// A buffer that lives until exit (subjects may keep pointers).
func buffer(_ bytes: [UInt8]) -> UInt64 {
    let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
    p.initializeMemory(as: UInt8.self, repeating: 0, count: max(bytes.count, 1))
    bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    return UInt64(UInt(bitPattern: p))
}

func hexBytes(_ s: Substring) -> [UInt8]? {
    guard s.count % 2 == 0 else { return nil }
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
        out.append(b)
        i = j
    }
    return out
}

func argument(_ spec: String) -> UInt64 {
    let value = spec.dropFirst(2)
    switch spec.prefix(2) {
    case "i:":
        guard let v = Int64(value) else { fail("bad integer argument \(spec)") }
        return UInt64(bitPattern: v)
    case "z:":
        guard let n = Int(value), n >= 0, n <= 1 << 24 else { fail("bad buffer size \(spec)") }
        return buffer([UInt8](repeating: 0, count: n))
    case "s:":
        guard let bytes = hexBytes(value) else { fail("bad string argument \(spec)") }
        return buffer(bytes + [0])
    case "f:":
        switch value {
        case "cmp_bytes": return UInt64(UInt(bitPattern: unsafeBitCast(vu_walk_compare_bytes as @convention(c) (UnsafeRawPointer?, UnsafeRawPointer?) -> Int32, to: UnsafeRawPointer.self)))
        case "cmp_ints": return UInt64(UInt(bitPattern: unsafeBitCast(vu_walk_compare_ints as @convention(c) (UnsafeRawPointer?, UnsafeRawPointer?) -> Int32, to: UnsafeRawPointer.self)))
        default: fail("unknown callback \(value)")
        }
    default:
        fail("bad argument \(spec)")
    }
}

func symbol(_ handle: UnsafeMutableRawPointer, _ name: String, in file: String) -> UnsafeRawPointer {
    guard let p = dlsym(handle, name) else { fail("\(file): no symbol \(name)") }
    return UnsafeRawPointer(p)
}

/// The page, installed for `path`; the subject function and its arguments.
func pageSubject(_ entry: String, _ path: String, mutation: CFIMutationKind?) -> (UnsafeRawPointer, [UInt64]) {
    guard let kind = EntryKind(rawValue: entry) else { fail("unknown entry \(entry)") }
    let paths = ["fast", "retry", "syscall", "badclock", "efault", "sigsegv"]
    guard paths.contains(path) else { fail("unknown path \(path)") }
    let page: VsyscallPage
    do {
        // An hour-long tick: no timekeeper update lands inside the stepped call, so each
        // path runs the same instructions every time (retry is made to loop on purpose).
        // No perf registrar: the tester kills this helper when the call has returned, and
        // a /tmp/perf-PID.map left behind would be appended to by the next process to get
        // the PID. gdb's JIT interface is for the gdb walker, libgcc and libunwind for the
        // in-process ones.
        let registrars: Set<RegistrarKind> = [.libgcc, .libunwind, .gdb]
        page = try Vsyscall.install(faultMode: path == "sigsegv" ? .sigsegv : .efault, tick: .seconds(3600),
                                    clockMode: path == "syscall" ? .syscall : nil,
                                    registrars: mutation == nil ? registrars : [])
        if let mutation {
            try mutateCFI(of: page, mutation)
            // Registered after the edit: gdb copies the image when it is registered.
            try UnwindRegistry(registrars: UnwindRegistry.registrars(for: registrars)).register(page.image.registeredImage)
        }
    } catch { fail("install: \(error)") }
    var badPointer: UInt64 = 8
    if path == "sigsegv" {
        guard let guardPage = vu_walk_install_segv_guard() else { fail("guard page: \(String(cString: strerror(errno)))") }
        badPointer = UInt64(UInt(bitPattern: guardPage))
    }
    let bad = path == "efault" || path == "sigsegv"
    let address = page.image.textAddress + kind.slot
    let args: [UInt64]
    switch kind {
    case .gettimeofday: args = [bad ? badPointer : buffer(.init(repeating: 0, count: 16)), 0]
    case .time: args = [bad ? badPointer : buffer(.init(repeating: 0, count: 8))]
    case .getcpu: args = [bad ? badPointer : buffer(.init(repeating: 0, count: 4)), buffer(.init(repeating: 0, count: 4)), 0]
    case .clockGettime: args = [path == "badclock" ? 99 : 1, bad ? badPointer : buffer(.init(repeating: 0, count: 16))]
    }
    if path == "retry" {
        // The holder keeps the write section open (sequence1 ahead of sequence2) until the
        // tester, having seen the reader loop, sets release; then it closes the section.
        var started: UInt64 = 0
        let thread = UnsafeMutablePointer<pthread_t>.allocate(capacity: 1)
        let box = Unmanaged.passRetained(page).toOpaque()
        let rc = pthread_create(thread, nil, { arg in
            let page = Unmanaged<VsyscallPage>.fromOpaque(arg!).takeUnretainedValue()
            page.holdingWriteSection {
                vu_walk_set_release_state(3)  // "holding"
                while vu_walk_release_state() != 1 { usleep(100) }
            }
            vu_walk_set_release_state(2)
            return nil
        }, box)
        if rc != 0 { fail("pthread_create: \(rc)") }
        while vu_walk_release_state() != 3 { usleep(100); started += 1; if started > 100_000 { fail("holder did not start") } }
    }
    return (UnsafeRawPointer(bitPattern: UInt(address))!, args)
}

/// Writes a mutated copy of the page's .eh_frame over it. The header page holds no code:
/// it is made readable and writable (never writable and executable) for the copy, then
/// given back the protection the page maps it with.
func mutateCFI(of page: VsyscallPage, _ kind: CFIMutationKind) throws {
    let sections = page.image.ehFrame
    let m = try CFIMutation(kind, ehFrame: sections.ehFrame, address: sections.ehFrameAddress)
    let header = UnsafeMutableRawPointer(bitPattern: UInt(page.base))!
    let headerSize = Int(VsyscallImage.textOffset)
    guard sections.ehFrameAddress >= page.base, sections.ehFrameAddress - page.base + UInt64(m.mutated.count) <= UInt64(headerSize) else {
        fail("the page's .eh_frame is not in its header page")
    }
    guard mprotect(header, headerSize, PROT_READ | PROT_WRITE) == 0 else { fail("mprotect: \(String(cString: strerror(errno)))") }
    m.mutated.withUnsafeBytes { (header + Int(sections.ehFrameAddress - page.base)).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    guard mprotect(header, headerSize, PROT_READ | PROT_EXEC) == 0 else { fail("mprotect: \(String(cString: strerror(errno)))") }
}

var arguments = Array(CommandLine.arguments.dropFirst())
// --in-process: step ourselves with the trap flag and walk from the SIGTRAP handler
// (libgcc, libunwind local; our unwinder afterwards over saved contexts), records to fd 1; then stop (SIGSTOP) so the tester can read
// our maps and memory before we exit. Otherwise our parent traces us from here on.
// --untraced: a debugger runs us (gdb); the trampoline's int3 stops us for it.
let inProcess = arguments.first == "--in-process"
let untraced = arguments.first == "--untraced"
if inProcess || untraced { arguments.removeFirst() }
// --depth N: the call is made under N more frames of C (a deep stack, for benchmarks).
var depth = 0
if arguments.first == "--depth", arguments.count >= 2 {
    guard let n = Int(arguments[1]), (0...1000).contains(n) else { fail("bad depth \(arguments[1])") }
    depth = n
    arguments.removeFirst(2)
}
guard arguments.count >= 2 else { fail("usage: [--in-process|--untraced] page ENTRY PATH | vdso SYMBOL ARG... | call FILE SYMBOL ARG...") }
if !inProcess && !untraced {
    guard vu_ptrace_traceme() == 0 else { fail("PTRACE_TRACEME: \(String(cString: strerror(errno)))") }
}

let function: UnsafeRawPointer
var values: [UInt64]
switch arguments[0] {
case "page":
    var mutation: CFIMutationKind?
    if arguments.count == 4, arguments[3].hasPrefix("mutate:") {
        guard let kind = CFIMutationKind(rawValue: String(arguments[3].dropFirst(7))) else { fail("unknown mutation \(arguments[3])") }
        mutation = kind
    }
    guard arguments.count == 3 || mutation != nil else { fail("usage: page ENTRY PATH [mutate:KIND]") }
    (function, values) = pageSubject(arguments[1], arguments[2], mutation: mutation)
case "vdso":
    // glibc lists the vDSO as a loaded object: dlsym finds its exports.
    guard let h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD) else { fail("no vDSO in this process") }
    function = symbol(h, arguments[1], in: "[vdso]")
    values = arguments.dropFirst(2).map(argument)
case "call":
    guard arguments.count >= 3 else { fail("usage: call FILE SYMBOL ARG...") }
    guard let h = dlopen(arguments[1], RTLD_NOW) else { fail(String(cString: dlerror())) }
    function = symbol(h, arguments[2], in: arguments[1])
    values = arguments.dropFirst(3).map(argument)
default:
    fail("unknown mode \(arguments[0])")
}
guard values.count <= 6 else { fail("at most 6 arguments") }
values += [UInt64](repeating: 0, count: 6 - values.count)
if inProcess {
    let contexts = vu_memfd_create("vunwind-walk-contexts")
    guard contexts >= 0 else { fail("memfd_create: \(String(cString: strerror(errno)))") }
    guard vu_walk_inprocess_prepare(1, contexts, arguments[0] == "page" && arguments[2] == "retry" ? 1 : 0) == 0 else {
        fail("binding libgcc_s.so.1 and libunwind.so.8 failed")
    }
    _ = vu_walk_call_stepping(function, values)
    if vu_walk_inprocess_truncated() != 0 { fail("more than 200000 instructions: stepping stopped") }
    do { try LocalWalk.run(contexts: contexts, out: 1) } catch { fail("our unwinder in process: \(error)") }
    raise(SIGSTOP)
    exit(0)
}
let result = depth == 0 ? vu_walk_call(function, values) : vu_walk_call_nested(Int32(depth), function, values)
let line = Array("returned \(result)\n".utf8)
_ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
exit(0)
