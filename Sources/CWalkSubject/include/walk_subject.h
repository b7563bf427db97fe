// CWalkSubject: the C half of vunwind-walk-subject, the helper the stack-walk tester
// single-steps. It holds what must be assembly or C: the trampoline that calls the subject
// with known callee-saved values, the guard page and SIGSEGV handler of sigsegv mode, and
// the callbacks a subject may be given (qsort's comparator).
#pragma once
#include <stdint.h>

/// Sentinels the trampoline loads before the call. rbp instead holds the trampoline's own
/// frame address (also distinct and known), so the frame-pointer chain stays valid.
#define VU_WALK_RBX 0x1b1b1b1b1b1b1b1bULL
#define VU_WALK_R12 0x1212121212121212ULL
#define VU_WALK_R13 0x1313131313131313ULL
#define VU_WALK_R14 0x1414141414141414ULL
#define VU_WALK_R15 0x1515151515151515ULL

/// Calls fn(args[0..5]) through the trampoline. It stops itself with int3 at its call
/// instruction (the tracer's signal to start stepping); the call returns to
/// vu_walk_return, and rsp there is the rsp of that int3 stop.
int64_t vu_walk_call(const void *fn, const uint64_t args[6]);
/// vu_walk_call under `depth` more frames of C (for `vunwind bench unwind`: a deep stack).
int64_t vu_walk_call_nested(int depth, const void *fn, const uint64_t args[6]);
/// The address the subject returns to (a label inside vu_walk_call).
const void *vu_walk_return_address(void);

/// For sigsegv-mode subjects: a PROT_NONE guard page to pass as the bad pointer, and a
/// SIGSEGV handler that makes it writable, so the faulting instruction runs again and the
/// call returns normally; the handler's and __restore_rt's instructions are stops too.
/// NULL on failure (errno set).
void *vu_walk_install_segv_guard(void);

/// Control block the tester writes through /proc/PID/mem: `release` set to 1 lets the
/// holder thread end its write section (the lock-retry path); the holder sets it to 2.
struct vu_walk_control {
    volatile uint64_t magic;
    volatile uint64_t release;
};
extern struct vu_walk_control vu_walk_control;
#define VU_WALK_CONTROL_MAGIC 0x6c6f72746e6f6377ULL  // "wcontrol"
/// The holder's side of the control block (volatile accesses, which Swift cannot spell).
uint64_t vu_walk_release_state(void);
void vu_walk_set_release_state(uint64_t value);

/// Comparators a subject may be given by name (qsort, bsearch): bytes and ints.
int vu_walk_compare_bytes(const void *a, const void *b);
int vu_walk_compare_ints(const void *a, const void *b);

/// In-process walking (inprocess.c). The helper steps itself with the trap flag; at each
/// SIGTRAP the handler walks with libgcc and with libunwind's local unwinder and writes
/// one record per walker to the descriptor given to vu_walk_inprocess_prepare. The first
/// record (walker VU_WALK_TRUTH) holds the truth: rip = the return address, rsp = the
/// stack pointer after the return, frames[0].regs[1] = the trampoline's rbp.
#define VU_WALK_RECORD_MAGIC 0x64726f6365726b77ULL  // "wkrecord"
#define VU_WALK_RECORD_FRAMES 32
#define VU_WALK_RECORD_REGS 6  // rbx, rbp, r12, r13, r14, r15
#define VU_WALK_KNOWN_SP (1u << 6)
enum { VU_WALK_TRUTH = 0, VU_WALK_LIBGCC = 1, VU_WALK_LIBUNWIND_LOCAL = 2, VU_WALK_VUNWIND_LOCAL = 3 };
struct vu_walk_frame {
    uint64_t pc;
    uint64_t sp;
    uint64_t regs[VU_WALK_RECORD_REGS];
    /// Bit i: regs[i] is known; VU_WALK_KNOWN_SP: sp is.
    uint64_t known;
};
struct vu_walk_record {
    uint64_t magic;
    uint64_t walker;
    uint64_t stop;
    uint64_t rip;
    uint64_t rsp;
    uint64_t frame_count;
    /// Non-zero if the walker faulted (a wrong rule led it to an unmapped address): the
    /// signal and the address; the frames are those it gave before.
    uint64_t fault_signal;
    uint64_t fault_address;
    struct vu_walk_frame frames[VU_WALK_RECORD_FRAMES];
};
/// What our own unwinder needs to walk a stop later, in this process, outside the handler:
/// the interrupted registers (DWARF order: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip) and a
/// copy of the stack from the red zone (rsp - 128) up past the trampoline's frame.
#define VU_WALK_CONTEXT_MAGIC 0x747865746e6f636bULL  // "kcontext"
#define VU_WALK_CONTEXT_BYTES 16384
struct vu_walk_context {
    uint64_t magic;
    uint64_t stop;
    uint64_t regs[17];
    uint64_t stack_base;
    uint64_t stack_length;
    uint8_t stack[VU_WALK_CONTEXT_BYTES];
};
/// Binds libgcc and libunwind, warms both up, installs the SIGTRAP handler. `retry`: the
/// lock-retry path (release the holder once a page instruction repeats). Records go to
/// `fd`, contexts to `context_fd`. 0 on success.
int vu_walk_inprocess_prepare(int fd, int context_fd, int retry);
/// Calls fn(args) with the trap flag set from the call to the return.
int64_t vu_walk_call_stepping(const void *fn, const uint64_t args[6]);
/// 1 if the stop limit ended the stepping early.
int vu_walk_inprocess_truncated(void);
