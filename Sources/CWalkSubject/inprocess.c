// In-process walkers: the helper steps itself with the trap flag, and at every SIGTRAP the
// handler walks its own stack with libgcc's _Unwind_Backtrace and with nongnu libunwind's
// local unwinder (unw_init_local2 with UNW_INIT_SIGNAL_FRAME on the signal's context), and
// writes what each found as fixed-size records to a file descriptor (see walk_subject.h).
// For our own unwinder, which is Swift and so not for a signal handler, it saves the
// registers and a copy of the stack; the helper walks those after the call.
// The tester judges the records afterwards against the same ground truth.
//
// Each unwinder is bound explicitly (dlopen libgcc_s.so.1 and libunwind.so.8, dlsym by
// full name): libunwind.so.8 also exports _Unwind_* names that could stand in for libgcc's.
// Both are warmed up before stepping (libgcc sorts registered FDEs with malloc on its first
// search), so at a stop inside malloc the handler allocates nothing. write(2) is the only
// output; nothing here takes a lock of its own.
//
// A walker that follows a wrong rule (vunwind walk --mutate) can read an unmapped address,
// which in process is a SIGSEGV inside the handler. While a walker runs, a guard handler
// for SIGSEGV and SIGBUS is in place that jumps back out and the record says where it
// faulted (the process's own handlers are put back before the stepped code runs again).
// Both unwinders read the stack outside their locks (libgcc's FDE search and libunwind's
// caches do not dereference the addresses a rule computes), so none is left held.
#define _GNU_SOURCE
#include "walk_subject.h"
#include "trampoline.h"
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include <libunwind.h>

struct _Unwind_Context;
typedef int (*vu_trace_fn)(struct _Unwind_Context *, void *);
static int (*gcc_backtrace)(vu_trace_fn, void *);
static uintptr_t (*gcc_get_ip_info)(struct _Unwind_Context *, int *);
static uintptr_t (*gcc_get_cfa)(struct _Unwind_Context *);
static uintptr_t (*gcc_get_gr)(struct _Unwind_Context *, int);
static int (*unw_init2)(unw_cursor_t *, unw_context_t *, int);
static int (*unw_step_fn)(unw_cursor_t *);
static int (*unw_get_reg_fn)(unw_cursor_t *, int, unw_word_t *);

static int out_fd = -1, context_fd = -1;
static uint64_t truth_sp;
static uint64_t stop_count;
static const uint64_t stop_limit = 200000;
static uint64_t truncated;
static int truth_written;
static uint64_t seen_rips[64];
static unsigned seen_count;
static int retry_mode, released;

extern char vu_walk_stepping_return_label[];

static sigjmp_buf walk_guard;
static volatile sig_atomic_t walk_guarded;
static volatile uint64_t walk_fault_address;
static struct sigaction walk_guard_action, saved_segv, saved_bus;

static void walk_fault(int signal, siginfo_t *info, void *context) {
    (void)context;
    if (walk_guarded) {
        walk_guarded = 0;
        walk_fault_address = (uint64_t)info->si_addr;
        siglongjmp(walk_guard, signal);
    }
    // Not a walker's fault (the guard is only in place while one runs): the default action.
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigaction(signal, &dfl, 0);
}

// Runs one walker under the guard; its record is static so that it is intact after a jump.
static void guarded(void (*walk)(void *), void *arg, struct vu_walk_record *r) {
    sigaction(SIGSEGV, &walk_guard_action, &saved_segv);
    sigaction(SIGBUS, &walk_guard_action, &saved_bus);
    int signal = sigsetjmp(walk_guard, 1);
    if (signal == 0) {
        walk_guarded = 1;
        walk(arg);
        walk_guarded = 0;
    } else {
        r->fault_signal = (uint64_t)signal;
        r->fault_address = walk_fault_address;
    }
    sigaction(SIGSEGV, &saved_segv, 0);
    sigaction(SIGBUS, &saved_bus, 0);
}

// The callee-saved registers a record carries, as DWARF numbers.
static const int saved_regs[VU_WALK_RECORD_REGS] = {3, 6, 12, 13, 14, 15};

static void emit_bytes(int fd, const void *data, size_t size) {
    const char *p = data;
    size_t left = size;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n <= 0) return;
        p += n;
        left -= (size_t)n;
    }
}

static void emit(const struct vu_walk_record *r) { emit_bytes(out_fd, r, sizeof *r); }

// The context for our own unwinder: registers and the stack from the red zone to a little
// past the trampoline's frame (its saved registers and return into main sit just above the stack
// pointer after the return). Static: the handler does not nest (SIGTRAP is blocked in it).
static struct vu_walk_context context_record;

static void save_context(uint64_t stop, ucontext_t *uc) {
    static const int order[17] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
                                  REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP};
    struct vu_walk_context *c = &context_record;
    c->magic = VU_WALK_CONTEXT_MAGIC;
    c->stop = stop;
    for (int i = 0; i < 17; i++) c->regs[i] = (uint64_t)uc->uc_mcontext.gregs[order[i]];
    // From the bottom of the red zone: an epilogue's CFI may still name a slot just popped
    // (below rsp), which holds its value until something else writes there; the kernel
    // put this handler's frame below the red zone, so nothing above it has changed yet.
    uint64_t bottom = c->regs[7] - 128;
    uint64_t top = truth_sp + 256;
    uint64_t length = top > bottom ? top - bottom : 0;
    if (length > VU_WALK_CONTEXT_BYTES) length = VU_WALK_CONTEXT_BYTES;
    uint64_t rsp = bottom;
    c->stack_base = rsp;
    c->stack_length = length;
    memcpy(c->stack, (const void *)rsp, length);
    emit_bytes(context_fd, c, sizeof *c);
}

struct gcc_state {
    struct vu_walk_record *r;
};

static int gcc_frame(struct _Unwind_Context *ctx, void *arg) {
    struct gcc_state *s = arg;
    struct vu_walk_record *r = s->r;
    if (r->frame_count >= VU_WALK_RECORD_FRAMES) return 5;  // _URC_END_OF_STACK
    struct vu_walk_frame *f = &r->frames[r->frame_count++];
    int before = 0;
    f->pc = gcc_get_ip_info(ctx, &before);
    // In the trace callback the context's CFA is still its callee's (libgcc updates the
    // context after the callback): the frame's own stack pointer.
    f->sp = gcc_get_cfa(ctx);
    f->known = VU_WALK_KNOWN_SP;
    for (int i = 0; i < VU_WALK_RECORD_REGS; i++) {
        f->regs[i] = gcc_get_gr(ctx, saved_regs[i]);
        f->known |= 1u << i;
    }
    return 0;  // _URC_NO_REASON
}

// The handler does not nest (SIGTRAP is blocked in it): one static record per walker.
static struct vu_walk_record gcc_record, unw_record;

static void gcc_walk(void *arg) { gcc_backtrace(gcc_frame, arg); }

static void walk_libgcc(uint64_t stop, uint64_t rip, uint64_t rsp) {
    struct vu_walk_record *r = &gcc_record;
    memset(r, 0, sizeof *r);
    r->magic = VU_WALK_RECORD_MAGIC;
    r->walker = VU_WALK_LIBGCC;
    r->stop = stop;
    r->rip = rip;
    r->rsp = rsp;
    struct gcc_state s = {r};
    guarded(gcc_walk, &s, r);
    emit(r);
}

static void unw_walk(void *arg) {
    ucontext_t *uc = arg;
    struct vu_walk_record *r = &unw_record;
    unw_cursor_t cursor;
    // libunwind's x86-64 unw_context_t is a ucontext_t: start at the interrupted instruction.
    if (unw_init2(&cursor, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME) == 0) {
        do {
            struct vu_walk_frame *f = &r->frames[r->frame_count++];
            unw_word_t v = 0;
            unw_get_reg_fn(&cursor, UNW_REG_IP, &v);
            f->pc = v;
            if (unw_get_reg_fn(&cursor, UNW_REG_SP, &v) == 0) {
                f->sp = v;
                f->known = VU_WALK_KNOWN_SP;
            }
            for (int i = 0; i < VU_WALK_RECORD_REGS; i++) {
                if (unw_get_reg_fn(&cursor, saved_regs[i], &v) == 0) {
                    f->regs[i] = v;
                    f->known |= 1u << i;
                }
            }
        } while (r->frame_count < VU_WALK_RECORD_FRAMES && unw_step_fn(&cursor) > 0);
    }
}

static void walk_libunwind(uint64_t stop, ucontext_t *uc) {
    struct vu_walk_record *r = &unw_record;
    memset(r, 0, sizeof *r);
    r->magic = VU_WALK_RECORD_MAGIC;
    r->walker = VU_WALK_LIBUNWIND_LOCAL;
    r->stop = stop;
    r->rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    r->rsp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
    guarded(unw_walk, uc, r);
    emit(r);
}

static void write_truth(ucontext_t *uc) {
    struct vu_walk_record r;
    memset(&r, 0, sizeof r);
    r.magic = VU_WALK_RECORD_MAGIC;
    r.walker = VU_WALK_TRUTH;
    // At the callee's first instruction: [rsp] is the return address, rsp + 8 the stack
    // pointer after the return, rbp still the trampoline's.
    uint64_t rsp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
    r.rip = *(uint64_t *)rsp;
    r.rsp = rsp + 8;
    truth_sp = r.rsp;
    r.frame_count = 1;
    r.frames[0].regs[1] = (uint64_t)uc->uc_mcontext.gregs[REG_RBP];
    emit(&r);
}

// The lock-retry path: once a page instruction repeats, let the holder finish (it is not
// stepped: the trap flag is per thread) and wait for it, with nanosleep (async-signal-safe).
static void release_if_looping(uint64_t rip) {
    if (!retry_mode || released) return;
    for (unsigned i = 0; i < seen_count; i++) {
        if (seen_rips[i] == rip) {
            released = 1;
            vu_walk_set_release_state(1);
            struct timespec t = {0, 100000};
            for (int n = 0; n < 100000 && vu_walk_release_state() != 2; n++) nanosleep(&t, 0);
            return;
        }
    }
    if (seen_count < 64) seen_rips[seen_count++] = rip;
}

static void trap(int signal, siginfo_t *info, void *context) {
    (void)signal;
    (void)info;
    ucontext_t *uc = context;
    uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
    if (rip == (uint64_t)vu_walk_stepping_return_label || stop_count >= stop_limit) {
        if (stop_count >= stop_limit) truncated = 1;
        uc->uc_mcontext.gregs[REG_EFL] &= ~0x100LL;  // TF off: the call has returned
        return;
    }
    if (!truth_written) {
        write_truth(uc);
        truth_written = 1;
    }
    release_if_looping(rip);
    uint64_t stop = stop_count++;
    walk_libgcc(stop, rip, (uint64_t)uc->uc_mcontext.gregs[REG_RSP]);
    walk_libunwind(stop, uc);
    save_context(stop, uc);
}

static int warm_frame(struct _Unwind_Context *ctx, void *arg) {
    (void)ctx;
    (void)arg;
    return 0;
}

int vu_walk_inprocess_prepare(int fd, int contexts, int retry) {
    void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW);
    void *unw = dlopen("libunwind.so.8", RTLD_NOW);
    if (!gcc || !unw) return -1;
    gcc_backtrace = (int (*)(vu_trace_fn, void *))dlsym(gcc, "_Unwind_Backtrace");
    gcc_get_ip_info = (uintptr_t (*)(struct _Unwind_Context *, int *))dlsym(gcc, "_Unwind_GetIPInfo");
    gcc_get_cfa = (uintptr_t (*)(struct _Unwind_Context *))dlsym(gcc, "_Unwind_GetCFA");
    gcc_get_gr = (uintptr_t (*)(struct _Unwind_Context *, int))dlsym(gcc, "_Unwind_GetGR");
    unw_init2 = (int (*)(unw_cursor_t *, unw_context_t *, int))dlsym(unw, "_ULx86_64_init_local2");
    unw_step_fn = (int (*)(unw_cursor_t *))dlsym(unw, "_ULx86_64_step");
    unw_get_reg_fn = (int (*)(unw_cursor_t *, int, unw_word_t *))dlsym(unw, "_ULx86_64_get_reg");
    if (!gcc_backtrace || !gcc_get_ip_info || !gcc_get_cfa || !gcc_get_gr || !unw_init2 || !unw_step_fn || !unw_get_reg_fn)
        return -2;
    out_fd = fd;
    context_fd = contexts;
    retry_mode = retry;
    // Warm-up: the first searches allocate (libgcc sorts its registered objects).
    gcc_backtrace(warm_frame, 0);
    ucontext_t uc;
    getcontext(&uc);
    unw_cursor_t cursor;
    if (unw_init2(&cursor, (unw_context_t *)&uc, 0) == 0) {
        while (unw_step_fn(&cursor) > 0) {}
    }
    memset(&walk_guard_action, 0, sizeof walk_guard_action);
    walk_guard_action.sa_sigaction = walk_fault;
    walk_guard_action.sa_flags = SA_SIGINFO;
    sigfillset(&walk_guard_action.sa_mask);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = trap;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    return sigaction(SIGTRAP, &sa, 0);
}

int vu_walk_inprocess_truncated(void) { return (int)truncated; }

// vu_walk_call's twin for in-process stepping: instead of int3 it sets the trap flag
// (pushfq; orq; popfq); the trap comes after the next instruction, the call, so the first
// SIGTRAP is at the subject's first instruction, and the last at the return label, where
// the handler clears the flag.
__asm__(VU_WALK_TRAMPOLINE("vu_walk_call_stepping", "vu_walk_stepping_return_label",
                           "    pushfq\n    orq $0x100, (%rsp)\n    popfq\n"));
