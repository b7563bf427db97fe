// swift-tools-version: 6.0
// vunwind: run-time generated code made unwindable, and proved so.
//
// Layering (bottom up; see docs/ARCHITECTURE.md):
//   Bytes -> DwarfCFI, ELF -> Unwind -> (Vsyscall, UnwindRegistry, StackWalk, CoreDump) -> vunwind
// C system libraries (libdw, libunwind) are reached only through the CLibdw / CLibunwind
// shims; CVunwind holds the C that must be C (ptrace, signal glue).
import PackageDescription

let package = Package(
    name: "vunwind",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "DwarfCFI", targets: ["DwarfCFI"]),
        .library(name: "ELF", targets: ["ELF"]),
        .library(name: "Unwind", targets: ["Unwind"]),
        .library(name: "Vsyscall", targets: ["Vsyscall"]),
        .library(name: "UnwindRegistry", targets: ["UnwindRegistry"]),
        .library(name: "CoreDump", targets: ["CoreDump"]),
        .library(name: "StackWalk", targets: ["StackWalk"]),
        // libvunwind-vsyscall.so: vsyscall_install() for C programs (include/vunwind/vsyscall.h).
        .library(name: "vunwind-vsyscall", type: .dynamic, targets: ["VsyscallC"]),
        .executable(name: "vunwind", targets: ["vunwind"]),
        .executable(name: "fixture-bigcore", targets: ["fixture-bigcore"]),
        // The helper `vunwind walk` single-steps (installed next to vunwind).
        .executable(name: "vunwind-walk-subject", targets: ["vunwind-walk-subject"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Bounds-checked byte cursors, LEB128, the MemoryReader protocol: shared by every
        // format reader so untrusted bytes are read in exactly one way.
        .target(name: "Bytes", dependencies: ["Locking"]),
        // A mutex ThreadSanitizer sees (Synchronization.Mutex plus TSan's annotations).
        .target(name: "Locking", dependencies: ["CSanitizerHooks"]),
        .target(name: "CSanitizerHooks"),
        .target(name: "DwarfCFI", dependencies: ["Bytes", "Locking"]),
        .target(name: "ELF", dependencies: ["Bytes", "CDecompress"]),
        // zlib and libzstd for compressed sections (SHF_COMPRESSED, .zdebug_*).
        .target(name: "CDecompress", linkerSettings: [.linkedLibrary("z"), .linkedLibrary("zstd")]),
        .target(
            name: "Unwind",
            dependencies: ["Bytes", "DwarfCFI", "ELF", "CVunwind", "Locking"]),

        // The vsyscall page: emitter (assembler + CFI tracker), entries, image, mapping,
        // timekeeper, fault fixups.
        .target(
            name: "Vsyscall",
            dependencies: ["Bytes", "DwarfCFI", "ELF", "CVunwind", "UnwindRegistry", "Locking"]),
        // Registrars: libgcc, nongnu libunwind, gdb's JIT interface, perf's map file.
        .target(name: "UnwindRegistry", dependencies: ["CVunwind", "Locking"]),

        .target(name: "VsyscallC", dependencies: ["Vsyscall", "UnwindRegistry", "CVunwind", "CVsyscallC", "Locking"]),
        // libvunwind-vsyscall.so's load-time hook: gives back the signals the Swift runtime's
        // backtracer took (linked into that library only).
        .target(name: "CVsyscallC", linkerSettings: [.linkedLibrary("dl")]),

        .target(name: "CVunwind"),
        // libunwind-ptrace accessors that answer for in-memory images (C: libunwind's
        // accessor table is a struct of C function pointers).
        .target(name: "CRemoteUnwind", dependencies: ["CLibunwind"]),
        // Remote unwinding of a stopped process through in-memory images: libunwind-ptrace
        // with those accessors, and a libdwfl hook that reports the images as modules.
        .target(
            name: "RemoteUnwind",
            dependencies: ["CRemoteUnwind", "CLibunwind", "CLibdw", "Unwind", "ELF", "DwarfCFI", "Bytes"],
            linkerSettings: [.linkedLibrary("lzma")]),
        // Cores: read without loading them, find vsyscall frames, synthesize the return,
        // rewrite; and write cores of live processes (vunwind gcore).
        .target(
            name: "CoreDump",
            dependencies: ["Bytes", "DwarfCFI", "ELF", "Unwind", "CLibdw", "CVunwind"]),
        // The stack-walk tester: single-steps a helper through a subject and judges every
        // walker at every instruction against the trampoline's ground truth.
        .target(
            name: "StackWalk",
            dependencies: ["Unwind", "RemoteUnwind", "DwarfCFI", "ELF", "Bytes", "Vsyscall", "CVunwind", "CWalkSubject"]),
        // The helper: a trampoline with known callee-saved values (C and assembly), the
        // page, the vDSO or any library's function as the subject.
        .target(name: "CWalkSubject"),
        .executableTarget(
            name: "vunwind-walk-subject", dependencies: ["Vsyscall", "UnwindRegistry", "CWalkSubject", "CVunwind", "Unwind", "DwarfCFI", "Bytes"],
            path: "Sources/WalkSubject", linkerSettings: [.linkedLibrary("dl"), .linkedLibrary("pthread")]),
        // A JIT author's example (examples/jit): code emitted at run time, CFI from DwarfCFI's
        // writer, registered, and walked by StackWalk (JITExampleTests).
        .executableTarget(
            name: "example-jit-walk", dependencies: ["DwarfCFI", "ELF", "UnwindRegistry", "CWalkSubject", "CVunwind"],
            path: "examples/jit"),
        .systemLibrary(
            name: "CLibdw", pkgConfig: "libdw",
            providers: [.apt(["libdw-dev", "libelf-dev"])]),
        .systemLibrary(
            name: "CLibunwind", pkgConfig: "libunwind-ptrace",
            providers: [.apt(["libunwind-dev"])]),

        .executableTarget(
            name: "vunwind",
            dependencies: ["Bytes", "DwarfCFI", "ELF", "Unwind", "Vsyscall", "CoreDump", "StackWalk", "CLibdw",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Small C programs the tests spawn (never fork the test process).
        .executableTarget(name: "fixture-stopper", path: "Sources/Fixtures/Stopper"),
        // A big, many-threaded process for `vunwind bench core`.
        .executableTarget(name: "fixture-bigcore", path: "Sources/Fixtures/BigCore",
                          linkerSettings: [.linkedLibrary("pthread")]),
        .executableTarget(
            name: "fixture-vsyscall", dependencies: ["Vsyscall", "UnwindRegistry", "CVunwind"], path: "Sources/Fixtures/VsyscallProbe"),

        // Helpers shared by the test targets: subprocesses, tool lookup, seeded randomness,
        // readelf listing parser.
        .target(name: "TestSupport", dependencies: ["DwarfCFI", "ELF", "Locking"], path: "Tests/TestSupport"),
        .testTarget(name: "BytesTests", dependencies: ["Bytes", "TestSupport"]),
        .testTarget(
            name: "DwarfCFITests",
            dependencies: ["DwarfCFI", "ELF", "Bytes", "Unwind", "CLibdw", "TestSupport"]),
        .testTarget(name: "ELFTests", dependencies: ["ELF", "Bytes", "TestSupport"]),
        .testTarget(
            name: "UnwindTests",
            dependencies: ["Unwind", "DwarfCFI", "ELF", "Bytes", "CLibunwind", "CVunwind",
                           "fixture-stopper", "TestSupport"],
            // libunwind-ptrace.so uses liblzma without naming it (no DT_NEEDED).
            linkerSettings: [.linkedLibrary("lzma")]),
        .testTarget(
            name: "VsyscallTests",
            dependencies: ["Vsyscall", "DwarfCFI", "ELF", "Bytes", "Unwind", "CVunwind", "TestSupport",
                           "fixture-vsyscall", "vunwind", "Locking"]),
        .testTarget(
            name: "UnwindRegistryTests",
            dependencies: ["UnwindRegistry", "Vsyscall", "CVunwind", "TestSupport", "fixture-vsyscall", "Locking"]),
        .testTarget(
            name: "RemoteUnwindTests",
            dependencies: ["RemoteUnwind", "Unwind", "DwarfCFI", "ELF", "Bytes", "CVunwind", "TestSupport"]),
        // `make deps` (scripts/deps.sh) as root, with sudo and with neither.
        .testTarget(name: "SetupTests", dependencies: ["TestSupport"]),
        .testTarget(
            name: "CoreDumpTests",
            dependencies: ["CoreDump", "Unwind", "ELF", "Bytes", "DwarfCFI", "CVunwind", "TestSupport", "vunwind"]),
        .testTarget(
            name: "StackWalkTests",
            dependencies: ["StackWalk", "Unwind", "DwarfCFI", "Vsyscall", "TestSupport", "vunwind-walk-subject", "vunwind",
                           "example-jit-walk"]),
        .testTarget(name: "CLITests", dependencies: ["vunwind", "Unwind", "ELF", "DwarfCFI", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
