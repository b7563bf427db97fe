// RegistrationBenchmark (`vunwind bench registration`): what registering the page costs a
// process, each beside its anchor in the same run (medians, minimum and maximum of
// interleaved rounds):
//   install     Vsyscall.install with every registrar, then uninstall, beside mapping,
//               protecting and unmapping the same three pages with nothing else
//   register    register then deregister the page's image with each registrar alone
//               (libgcc, libunwind, gdb's JIT interface, perf's map file)
//   lookup      a pc in the page looked up by libgcc (_Unwind_Find_FDE) and libunwind
//               (unw_get_proc_info_by_ip) with only the page registered, and after 1,000
//               other images were registered (ratio = after / alone): what a JIT that
//               registers every function it emits does to every unwind in the process.

import CVunwind
import UnwindRegistry
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

struct RegistrationBenchmarkResult: Codable {
    var rounds: Int
    var others: Int
    /// Per operation; for lookups the ratio is after 1,000 registrations over alone.
    var rows: [TimedRow]
}

enum RegistrationBenchmark {
    static let others = 1000
    static let lookupCount: UInt64 = 10_000
    static let cycles = 20

    static func run(rounds: Int) throws -> RegistrationBenchmarkResult {
        var rows: [TimedRow] = []
        // Install: one page per process, so this phase runs before the page stays.
        let size = Int(VsyscallImage.vvarOffset) + Int(VsyscallImage.pageSize)
        let install = try Measurement.interleaved([
            Candidate(name: "install + uninstall, every registrar") {
                for _ in 0..<cycles { try Vsyscall.install().uninstall() }
                return cycles
            },
            Candidate(name: "mmap + mprotect + munmap of the three pages") {
                for _ in 0..<cycles {
                    guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                        throw VsyscallError.system("mmap", errno)
                    }
                    p.storeBytes(of: 0xc3, as: UInt8.self)
                    mprotect(p, size, PROT_READ | PROT_EXEC)
                    munmap(p, size)
                }
                return cycles
            },
        ], rounds: rounds)
        rows.append(row(install[0], per: cycles, anchor: install[1]))
        rows.append(row(install[1], per: cycles))

        let page = try Vsyscall.install(registrars: [])
        defer { try? page.uninstall() }
        let image = page.image.registeredImage
        let registrars = try UnwindRegistry.registrars(for: Set(RegistrarKind.allCases))
        let register = try Measurement.interleaved(registrars.map { r in
            Candidate(name: "register + deregister: \(r.kind.rawValue)") {
                for _ in 0..<cycles {
                    try r.register(image)
                    try r.deregister(image)
                }
                return cycles
            }
        }, rounds: rounds)
        rows += register.map { row($0, per: cycles) }

        // Lookups: the page registered with the two in-process unwinders, then 1,000 other
        // images (copies of the page's image, emitted for their own addresses in memory
        // that is never executable) on top, in every round.
        guard vu_bench_lookup_bind() == 0 else { throw VsyscallError.system("binding libgcc_s.so.1 and libunwind.so.8", ENOENT) }
        let lookupRegistrars = try UnwindRegistry.registrars(for: [.libgcc, .libunwind])
        for r in lookupRegistrars { try r.register(image) }
        defer { for r in lookupRegistrars { try? r.deregister(image) } }
        let othersImages = try otherImages(count: others)
        defer { for (base, _) in othersImages { munmap(UnsafeMutableRawPointer(bitPattern: UInt(base)), Int(VsyscallImage.imageSize)) } }
        let pc = page.image.entry(.gettimeofday).address + 4
        func lookUp(_ f: (UInt64, UInt64, UnsafeMutablePointer<UInt64>) -> UInt64) throws -> Int {
            var found: UInt64 = 0
            _ = f(pc, lookupCount, &found)
            guard found == lookupCount else { throw VsyscallError.system("a lookup of the page's pc failed", ENOENT) }
            return Int(found)
        }
        var samples: [String: [UInt64]] = [:]
        let names = ["libgcc _Unwind_Find_FDE", "libunwind unw_get_proc_info_by_ip"]
        let functions: [(UInt64, UInt64, UnsafeMutablePointer<UInt64>) -> UInt64] = [
            { vu_bench_libgcc_lookups($0, $1, $2) }, { vu_bench_libunwind_lookups($0, $1, $2) },
        ]
        for round in 0...rounds {
            for (name, f) in zip(names, functions) {
                let t0 = Measurement.now()
                _ = try lookUp(f)
                if round > 0 { samples[name + " alone", default: []].append(Measurement.now() - t0) }
            }
            for (_, other) in othersImages { for r in lookupRegistrars { try r.register(other) } }
            for (name, f) in zip(names, functions) {
                _ = try lookUp(f)  // libgcc sorts newly registered objects at the first lookup
                let t0 = Measurement.now()
                _ = try lookUp(f)
                if round > 0 { samples[name + " after \(others)", default: []].append(Measurement.now() - t0) }
            }
            for (_, other) in othersImages { for r in lookupRegistrars { try r.deregister(other) } }
        }
        for name in names {
            let alone = MeasuredCandidate(name: name + " alone", samples: samples[name + " alone"]!, checksum: 0)
            let after = MeasuredCandidate(name: name + " after \(others) other registrations",
                                          samples: samples[name + " after \(others)"]!, checksum: 0)
            rows.append(row(after, per: Int(lookupCount), anchor: alone))
            rows.append(row(alone, per: Int(lookupCount)))
        }
        return RegistrationBenchmarkResult(rounds: rounds, others: others, rows: rows)
    }

    /// `count` copies of the page's image, each emitted for and copied to its own
    /// read+write (never executable) memory: only their CFI is read.
    static func otherImages(count: Int) throws -> [(UInt64, RegisteredImage)] {
        var out: [(UInt64, RegisteredImage)] = []
        let size = Int(VsyscallImage.imageSize)
        for _ in 0..<count {
            guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
                throw VsyscallError.system("mmap", errno)
            }
            let base = UInt64(UInt(bitPattern: p))
            let image = try VsyscallImage(base: base, features: CPUFeatures.current.emitter)
            image.bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: min($0.count, size)) }
            out.append((base, image.registeredImage))
        }
        return out
    }

    static func row(_ m: MeasuredCandidate, per: Int, anchor: MeasuredCandidate? = nil) -> TimedRow {
        let n = Double(per)
        let ratio = anchor.map { Double(m.medianNanoseconds) / Double(max($0.medianNanoseconds, 1)) }
        return TimedRow(name: m.name, frames: nil, medianNanoseconds: Double(m.medianNanoseconds) / n,
                        minimumNanoseconds: Double(m.minimumNanoseconds) / n, maximumNanoseconds: Double(m.maximumNanoseconds) / n,
                        anchor: anchor?.name, ratio: ratio)
    }

    static func render(_ r: RegistrationBenchmarkResult) -> String {
        var out = "registration: per operation, medians of \(r.rounds) interleaved rounds (min, max)\n"
        for x in r.rows {
            out += x.render(width: 56)
        }
        return out
    }
}
