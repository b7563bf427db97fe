// A SIGSEGV/SIGBUS probe: runs a call or a store under a sigsetjmp guard and reports
// whether a fault signal arrived, with its number, si_code and si_addr. The probe installs
// its own handler (SA_SIGINFO|SA_NODEFER) for the duration of one probe and puts the
// previous handlers back afterwards. One probe at a time per process.
#pragma once
#include <stdint.h>

struct vu_probe_report {
    /// 1 if SIGSEGV or SIGBUS arrived (then `value` is meaningless).
    int32_t signaled;
    int32_t signo;
    int32_t code;
    int32_t reserved;
    uint64_t address;   // si_addr
    uint64_t rip;       // where the fault happened
    int64_t value;      // the function's return value when no signal arrived
};

/// Calls `function` (a C function of up to six integer arguments returning long) under
/// the guard. Returns 0, or -1 with errno if the handlers could not be installed.
int vu_probe_call(const void *function, long a1, long a2, long a3, long a4, long a5, long a6,
                  struct vu_probe_report *report);

/// Stores `value` (one byte) at `address` under the guard.
int vu_probe_store(uint64_t address, uint8_t value, struct vu_probe_report *report);

/// A plain one-byte volatile store, with no guard: the kind of store a bug would make.
void vu_store_byte(uint64_t address, uint8_t value);
