// The C entry points of libvunwind-vsyscall.so (include/vunwind/vsyscall.h): install and
// uninstall the page from C. The entries themselves are called directly at their absolute
// addresses.

//
// Thread safety: install and uninstall are serialized by one lock around the installed
// page; the error text is per thread (vu_error_set), so a failure on one thread never
// changes or frees the string another thread holds.

import CVsyscallC
import CVunwind
import Locking
import UnwindRegistry
import Vsyscall
#if canImport(Glibc)
import Glibc
#endif

private let installed = Locked<VsyscallPage?>(nil)

private func fail(_ message: String) -> Int32 {
    vu_error_set(message)
    return -1
}

@_cdecl("vsyscall_install")
public func vsyscall_install(_ address: UInt, _ faultMode: Int32, _ tickMicroseconds: UInt32) -> Int32 {
    vsyscall_install_with(address, faultMode, tickMicroseconds, 0xf)
}

/// As vsyscall_install, telling only the unwinders in `registrars` (VSYSCALL_REGISTER_*).
@_cdecl("vsyscall_install_with")
public func vsyscall_install_with(_ address: UInt, _ faultMode: Int32, _ tickMicroseconds: UInt32,
                                  _ registrars: UInt32) -> Int32 {
    install(address, faultMode, tickMicroseconds, registrars, sealed: false)
}

/// As vsyscall_install_with, then mseal the page for the process's life (no uninstall).
@_cdecl("vsyscall_install_sealed")
public func vsyscall_install_sealed(_ address: UInt, _ faultMode: Int32, _ tickMicroseconds: UInt32,
                                    _ registrars: UInt32) -> Int32 {
    install(address, faultMode, tickMicroseconds, registrars, sealed: true)
}

private func install(_ address: UInt, _ faultMode: Int32, _ tickMicroseconds: UInt32, _ registrars: UInt32,
                     sealed: Bool) -> Int32 {
    var kinds = Set<RegistrarKind>()
    for (bit, kind) in [(1, RegistrarKind.libgcc), (2, .libunwind), (4, .gdb), (8, .perf)] where registrars & UInt32(bit) != 0 {
        kinds.insert(kind)
    }
    // The mapping kind is chosen by the environment, so a C program needs no rebuild to try
    // the other (VUNWIND_VSYSCALL_MAPPING=memfd|shared-anonymous|private-anonymous).
    var mapping = MappingKind.sharedAnonymous
    if let m = getenv("VUNWIND_VSYSCALL_MAPPING") {
        guard let kind = MappingKind(rawValue: String(cString: m)) else {
            return fail("VUNWIND_VSYSCALL_MAPPING: unknown mapping \(String(cString: m))")
        }
        mapping = kind
    }
    // dl_iterate_phdr and _dl_find_object list the page unless VUNWIND_VSYSCALL_LOOKUP=off.
    var lookups = true
    if let l = getenv("VUNWIND_VSYSCALL_LOOKUP") {
        switch String(cString: l) {
        case "on": lookups = true
        case "off": lookups = false
        default: return fail("VUNWIND_VSYSCALL_LOOKUP: \(String(cString: l)) is neither on nor off")
        }
    }
    return installed.withLock { page -> Int32 in
        do {
            page = try Vsyscall.install(address: address == 0 ? Vsyscall.defaultAddress : UInt64(address),
                                        faultMode: faultMode == 1 ? .sigsegv : .efault,
                                        tick: .microseconds(tickMicroseconds == 0 ? 4000 : Int(tickMicroseconds)),
                                        mapping: mapping, registrars: kinds, sealed: sealed)
            // After the registrars: dl_iterate_phdr's callers see the page last, as the
            // vDSO is seen (phdr.c), under the image's soname.
            if lookups { _ = vu_phdr_publish(UInt(page!.base), VsyscallImage.soname) }
            return 0
        } catch {
            return fail("\(error)")
        }
    }
}

@_cdecl("vsyscall_uninstall")
public func vsyscall_uninstall() -> Int32 {
    installed.withLock { page -> Int32 in
        guard let p = page else { return fail("no vsyscall page is installed") }
        do {
            // Out of dl_iterate_phdr's list before the memory goes (back in if it stays).
            let listed = vu_phdr_withdraw() != 0
            do { try p.uninstall() } catch {
                if listed { _ = vu_phdr_publish(UInt(p.base), VsyscallImage.soname) }
                throw error
            }
            page = nil
            return 0
        } catch {
            return fail("\(error)")
        }
    }
}

@_cdecl("vsyscall_error")
public func vsyscall_error() -> UnsafePointer<CChar>? { vu_error_get() }

@_cdecl("vsyscall_reassert_fault_handler")
public func vsyscall_reassert_fault_handler() -> Int32 {
    installed.withLock { page -> Int32 in
        guard let p = page else { return fail("no vsyscall page is installed") }
        do {
            try p.reassertFaultHandler()
            return 0
        } catch {
            return fail("\(error)")
        }
    }
}

/// Keeps the load-time hook (CVsyscallC) linked in: nothing else refers to it.
@_cdecl("vsyscall_library_signals_restored")
public func vsyscall_library_signals_restored() -> UInt { vu_library_signals_restored() }
