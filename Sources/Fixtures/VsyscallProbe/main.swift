// fixture-vsyscall: a helper process for tests that must not run in the test process
// (faults that kill, SIGSEGV-mode probes). Modes are added by the tests that need them.
//
//   crash DIR        chdir to DIR, send stdout/stderr to DIR/stdout.txt and DIR/stderr.txt,
//                    allow an unlimited core, install the page in efault mode, print
//                    "installed 0x<base> fixups <n>", then store to address 8 from
//                    ordinary code (not in the fixup table): the process must die by
//                    SIGSEGV and dump core.
//   sigsegv-probe    install the page in sigsegv mode and call every entry with every bad
//                    pointer kind under a sigsetjmp guard (vu_probe_call); one line per case:
//                    "case ENTRY ARG KIND signal=N code=N addr=0xA buffer=0xB size=N value=N"
//                    Before them "handlers segv=D bus=D" (D: "default" or the handler's
//                    address: sigsegv mode must not install one), after them
//                    "fixups-taken N" and "done N".
//   binding          print "before LIB", install the page with every registrar, print
//                    "after LIB", where LIB is the file the process's global
//                    _Unwind_RaiseException (dlsym RTLD_DEFAULT) comes from: registering
//                    with libunwind must not hand C++ throws to libunwind.so.8.
//   perf-fork        register an image with a PerfMapRegistrar at its default path, fork;
//                    the child deregisters it and exits; then the parent prints
//                    "parent PID lines N" (its /tmp/perf-PID.map), deregisters, and prints
//                    "parent file gone" or "parent file left".

import CVunwind
import UnwindRegistry
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String) -> Never {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(64)
}

/// Unbuffered: the output must be complete even when the next instruction kills us.
func say(_ message: String) {
    let line = Array((message + "\n").utf8)
    _ = line.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))

func mapPages(_ count: Int, _ prot: Int32) -> UInt64 {
    let p = mmap(nil, count * pageSize, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
    if p == MAP_FAILED { fail("mmap: \(String(cString: strerror(errno)))") }
    return UInt64(UInt(bitPattern: p))
}

func unmap(_ address: UInt64, _ count: Int) {
    if munmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), count * pageSize) != 0 {
        fail("munmap: \(String(cString: strerror(errno)))")
    }
}

// MARK: crash

func crash(directory: String) -> Never {
    guard chdir(directory) == 0 else { fail("chdir \(directory): \(String(cString: strerror(errno)))") }
    for (fd, name) in [(Int32(1), "stdout.txt"), (Int32(2), "stderr.txt")] {
        let f = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard f >= 0, dup2(f, fd) == fd else { fail("redirecting fd \(fd): \(String(cString: strerror(errno)))") }
        close(f)
    }
    var limit = rlimit(rlim_cur: rlim_t.max, rlim_max: rlim_t.max)  // RLIM_INFINITY
    guard setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit) == 0 else {
        fail("setrlimit(RLIMIT_CORE): \(String(cString: strerror(errno)))")
    }
    // prctl is variadic (Swift cannot call it): PR_SET_DUMPABLE (4) = 1, then check with
    // PR_GET_DUMPABLE (3).
    let prctl = 157
    guard vu_raw_syscall6(prctl, 4, 1, 0, 0, 0, 0) == 0 else { fail("PR_SET_DUMPABLE failed") }
    guard vu_raw_syscall6(prctl, 3, 0, 0, 0, 0, 0) == 1 else { fail("the process is not dumpable") }
    let page: VsyscallPage
    do { page = try Vsyscall.install(faultMode: .efault) } catch { fail("install: \(error)") }
    say("installed \(hex(page.base)) fixups \(page.image.fixups.count)")
    // A fault the fixup table does not cover: the handler must pass it on to the default
    // action (terminate with a core), not swallow it.
    vu_store_byte(8, 1)
    fail("survived a store to address 8")
}

// MARK: sigsegv-probe

/// One bad-pointer kind: the pointer passed and the buffer [start, start + size) the
/// entry would store to.
struct BadPointer {
    var kind: String
    var pointer: UInt64
}

/// The bad pointers. Their pages are mapped with MAP_FIXED_NOREPLACE in a region far
/// below the mmap area (the kernel allocates top-down from there, so it does not reuse
/// the holes for anything else while the probe runs):
///   +0 read-only, +1 PROT_NONE, +2 unmapped, +3 read+write, +4 unmapped (the straddle
///   runs from the end of +3 into +4).
struct BadPointers {
    static let region: UInt64 = 0x5f00_0000_0000
    static let pages = 5
    let readOnly: UInt64, protNone: UInt64, unmapped: UInt64, straddle: UInt64

    static func mapFixed(_ address: UInt64, _ count: Int, _ prot: Int32) {
        let p = mmap(UnsafeMutableRawPointer(bitPattern: UInt(address)), count * pageSize, prot,
                     MAP_PRIVATE | MAP_ANONYMOUS | Int32(VU_MAP_FIXED_NOREPLACE), -1, 0)
        if p == MAP_FAILED || UInt64(UInt(bitPattern: p)) != address {
            fail("mmap at \(hex(address)): \(String(cString: strerror(errno)))")
        }
    }

    init() {
        let page = UInt64(pageSize)
        readOnly = Self.region
        protNone = Self.region + page
        unmapped = Self.region + 2 * page
        straddle = Self.region + 3 * page
        Self.mapFixed(readOnly, 1, PROT_READ)
        Self.mapFixed(protNone, 1, PROT_NONE)
        Self.mapFixed(unmapped, 1, PROT_READ | PROT_WRITE)
        unmap(unmapped, 1)
        Self.mapFixed(straddle, 2, PROT_READ | PROT_WRITE)
        unmap(straddle + page, 1)
    }

    func kinds(size: Int) -> [BadPointer] {
        [BadPointer(kind: "null", pointer: 0),
         BadPointer(kind: "eight", pointer: 8),
         BadPointer(kind: "kernel", pointer: 0xffff_ffff_8100_0000),
         BadPointer(kind: "unmapped", pointer: unmapped),
         BadPointer(kind: "read-only", pointer: readOnly),
         BadPointer(kind: "prot-none", pointer: protNone),
         BadPointer(kind: "straddle", pointer: straddle + UInt64(pageSize) - UInt64(size / 2))]
    }

    func release() { unmap(Self.region, Self.pages) }
}

/// "default", or the address of the installed handler.
func disposition(_ signal: Int32) -> String {
    var current = sigaction()
    guard sigaction(signal, nil, &current) == 0 else { fail("sigaction: \(String(cString: strerror(errno)))") }
    let handler = unsafeBitCast(current.__sigaction_handler.sa_handler, to: UInt.self)
    return handler == 0 ? "default" : hex(UInt64(handler))
}

func sigsegvProbe() -> Never {
    let page: VsyscallPage
    do { page = try Vsyscall.install(faultMode: .sigsegv) } catch { fail("install: \(error)") }
    say("handlers segv=\(disposition(SIGSEGV)) bus=\(disposition(SIGBUS))")
    let good = mapPages(1, PROT_READ | PROT_WRITE)
    let bad = BadPointers()
    // (entry, argument, size, arguments with the bad pointer as `p`)
    let cases: [(EntryKind, String, Int, (Int) -> [Int])] = [
        (.gettimeofday, "tv", 16, { [$0, 0] }),
        (.gettimeofday, "tz", 8, { [0, $0] }),
        (.time, "t", 8, { [$0] }),
        (.getcpu, "cpu", 4, { [$0, 0, 0] }),
        (.getcpu, "node", 4, { [0, $0, 0] }),
        (.getcpu, "cache", 128, { [Int(good), Int(good) + 4, $0] }),
        (.clockGettime, "ts", 16, { [0, $0] }),
    ]
    var count = 0
    for (entry, argument, size, build) in cases {
        let function = UnsafeRawPointer(bitPattern: UInt(page.image.entry(entry).address))!
        for b in bad.kinds(size: size) {
            var a = build(Int(bitPattern: UInt(b.pointer)))
            while a.count < 6 { a.append(0) }
            var r = vu_probe_report()
            guard vu_probe_call(function, a[0], a[1], a[2], a[3], a[4], a[5], &r) == 0 else {
                fail("vu_probe_call: \(String(cString: strerror(errno)))")
            }
            say("case \(entry.name) \(argument) \(b.kind) signal=\(r.signaled != 0 ? r.signo : 0) code=\(r.code) "
                + "addr=\(hex(r.address)) buffer=\(hex(b.pointer)) size=\(size) value=\(r.value)")
            count += 1
        }
    }
    bad.release()
    unmap(good, 1)
    do { try page.uninstall() } catch { fail("uninstall: \(error)") }
    say("fixups-taken \(vu_fixups_taken())")
    say("done \(count)")
    exit(0)
}

// MARK: binding

func globalRaiseException() -> String {
    guard let p = dlsym(nil, "_Unwind_RaiseException") else { return "none" }
    var path = [CChar](repeating: 0, count: 4096)
    guard vu_dladdr_path(p, &path, UInt(path.count)) != 0 else { return "unknown" }
    return String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func binding() -> Never {
    say("before \(globalRaiseException())")
    let page: VsyscallPage
    do { page = try Vsyscall.install() } catch { fail("install: \(error)") }
    say("registrars \(page.registrars.map(\.rawValue).joined(separator: " "))")
    say("after \(globalRaiseException())")
    do { try page.uninstall() } catch { fail("uninstall: \(error)") }
    exit(0)
}

// MARK: perf-fork

func perfFork() -> Never {
    // Removal on: the test is that the child's deregistration leaves the parent's file.
    let perf = PerfMapRegistrar(keepsLines: false)
    let image = RegisteredImage(name: "fork-test", imageAddress: 0x7000_0000_0000, imageSize: 0x2000,
                                ehFrameAddress: 0x7000_0000_0800, ehFrameHeaderAddress: 0x7000_0000_0700, fdeCount: 2,
                                code: 0x7000_0000_1000..<0x7000_0000_2000,
                                symbols: [.init(name: "f0", address: 0x7000_0000_1000, size: 0x40),
                                          .init(name: "f1", address: 0x7000_0000_1040, size: 0x40)])
    do { try perf.register(image) } catch { fail("register: \(error)") }
    let parentMap = perf.path
    let child = fork()
    if child == 0 {
        do { try perf.deregister(image) } catch { fail("child deregister: \(error)") }
        _exit(0)
    }
    guard child > 0 else { fail("fork: \(String(cString: strerror(errno)))") }
    var status: Int32 = 0
    guard waitpid(child, &status, 0) == child, status == 0 else { fail("child failed: status \(status)") }
    let fd = open(parentMap, O_RDONLY)
    var lines = 0
    if fd >= 0 {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        lines = n > 0 ? buffer[0..<n].filter { $0 == 10 }.count : 0
        close(fd)
    }
    say("parent \(getpid()) lines \(lines)")
    do { try perf.deregister(image) } catch { fail("parent deregister: \(error)") }
    say(access(parentMap, F_OK) == 0 ? "parent file left" : "parent file gone")
    exit(0)
}

// MARK: held-writer

/// Calls each clock entry with the lock free, then with it held as a stalled writer would
/// hold it. getppid() marks the phases for strace. Before the retry bound, the held calls
/// spun forever: the alarm turns that into a death by SIGALRM.
func heldWriter() -> Never {
    let page: VsyscallPage
    do { page = try Vsyscall.install(tick: .seconds(3600)) } catch { fail("install: \(error)") }
    say("pid \(getpid())")
    func calls(_ phase: String) {
        var tv = timeval(), ts = timespec(), coarse = timespec(), t = 0
        _ = getppid()
        let a = page.gettimeofday(&tv, nil)
        let b = page.time(&t)
        let c = page.clockGettime(CLOCK_MONOTONIC, &ts)
        let d = page.clockGettime(CLOCK_MONOTONIC_COARSE, &coarse)
        _ = getppid()
        say("\(phase) \(a) \(tv.tv_sec) \(b) \(t) \(c) \(ts.tv_sec) \(d) \(coarse.tv_sec)")
    }
    alarm(10)
    calls("free")
    page.holdingWriteSection { calls("held") }
    calls("free")
    // Inside the alarm too: uninstall wakes the timekeeper rather than waiting out its
    // hour-long sleep (before, it blocked for the rest of the tick).
    do { try page.uninstall() } catch { fail("uninstall: \(error)") }
    alarm(0)
    exit(0)
}

let arguments = CommandLine.arguments
if arguments.count < 2 { fail("usage: fixture-vsyscall MODE ...") }
switch arguments[1] {
case "crash":
    guard arguments.count == 3 else { fail("usage: fixture-vsyscall crash DIR") }
    crash(directory: arguments[2])
case "sigsegv-probe":
    sigsegvProbe()
case "binding":
    binding()
case "perf-fork":
    perfFork()
case "held-writer":
    heldWriter()
default:
    fail("fixture-vsyscall: unknown mode \(arguments[1])")
}
