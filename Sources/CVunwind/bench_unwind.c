// The in-process half of `vunwind bench unwind`: a stack of nested C frames whose innermost
// call is into a page entry with the trap flag set, so the first SIGTRAP lands on the
// entry's first instruction. There, in the handler, libgcc's _Unwind_Backtrace and nongnu
// libunwind's local unwinder (from the signal's context) each walk the same `frames`
// frames, from the page's frame outward, `n` times, timed with rdtscp; the handler also
// saves the registers and the stack for our own unwinder, which is Swift and so is timed
// by the caller, outside the handler, over that copy. Each unwinder is bound from its own
// library (libunwind.so.8 also exports _Unwind_* names).
#define _GNU_SOURCE
#include "vunwind_bench.h"
#include <dlfcn.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

struct _Unwind_Context;
typedef int (*trace_fn)(struct _Unwind_Context *, void *);
static int (*gcc_backtrace)(trace_fn, void *);
static uintptr_t (*gcc_get_ip)(struct _Unwind_Context *);
static int (*unw_init2)(unw_cursor_t *, unw_context_t *, int);
static int (*unw_step_fn)(unw_cursor_t *);

static struct {
    const void *entry;
    uint64_t n;
    int frames;
    uint64_t stack_top;  // the end of this thread's stack mapping: the copy stops there
    struct vu_bench_unwind_result *out;
} job;

static inline __attribute__((always_inline)) uint64_t tsc(void) {
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp\n\tlfence" : "=a"(lo), "=d"(hi), "=c"(aux) : : "memory");
    (void)aux;
    return ((uint64_t)hi << 32) | lo;
}

struct gcc_count {
    int seen;  // frames counted from the page's
};

static int gcc_frame(struct _Unwind_Context *ctx, void *arg) {
    struct gcc_count *c = arg;
    // The handler's own frames and __restore_rt come first: counting starts at the page.
    if (c->seen == 0 && gcc_get_ip(ctx) != (uintptr_t)job.entry) return 0;
    return ++c->seen >= job.frames ? 5 : 0;  // _URC_END_OF_STACK ends the walk
}

static void trap(int signal, siginfo_t *info, void *context) {
    (void)signal;
    (void)info;
    ucontext_t *uc = context;
    uc->uc_mcontext.gregs[REG_EFL] &= ~0x100LL;  // one stop is enough
    if ((uint64_t)uc->uc_mcontext.gregs[REG_RIP] != (uint64_t)(uintptr_t)job.entry) return;
    struct vu_bench_unwind_result *out = job.out;
    struct gcc_count c = {0};
    uint64_t t0 = tsc();
    for (uint64_t i = 0; i < job.n; i++) {
        c.seen = 0;
        gcc_backtrace(gcc_frame, &c);
    }
    out->libgcc_cycles = tsc() - t0;
    out->libgcc_frames = (uint64_t)c.seen;
    unw_cursor_t cursor;
    int steps = 0;
    t0 = tsc();
    for (uint64_t i = 0; i < job.n; i++) {
        unw_init2(&cursor, (unw_context_t *)uc, UNW_INIT_SIGNAL_FRAME);
        for (steps = 1; steps < job.frames && unw_step_fn(&cursor) > 0; steps++) {}
    }
    out->libunwind_cycles = tsc() - t0;
    out->libunwind_frames = (uint64_t)steps;
    static const int order[17] = {REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
                                  REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15, REG_RIP};
    for (int i = 0; i < 17; i++) out->regs[i] = (uint64_t)uc->uc_mcontext.gregs[order[i]];
    // From the red zone up: the frames live above the stack pointer, the handler below it.
    out->stack_base = out->regs[7] - 128;
    uint64_t length = job.stack_top > out->stack_base ? job.stack_top - out->stack_base : 0;
    out->stack_length = length < sizeof out->stack ? length : sizeof out->stack;
    memcpy(out->stack, (const void *)(uintptr_t)out->stack_base, out->stack_length);
}

// Sets the trap flag and calls `entry` with three arguments: the trap comes after the
// instruction that follows popfq, the call, so on the entry's first instruction.
long vu_bench_tf_call(const void *entry, long a1, long a2, long a3);
__asm__(".text\n.globl vu_bench_tf_call\n.type vu_bench_tf_call,@function\nvu_bench_tf_call:\n"
        ".cfi_startproc\n    push %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset %rbp, -16\n    mov %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n    mov %rdi, %rax\n    mov %rsi, %rdi\n    mov %rdx, %rsi\n    mov %rcx, %rdx\n"
        "    pushfq\n    orq $0x100, (%rsp)\n    popfq\n    call *%rax\n    pop %rbp\n.cfi_def_cfa %rsp, 8\n    ret\n"
        ".cfi_endproc\n.size vu_bench_tf_call, .-vu_bench_tf_call\n");

__attribute__((noinline)) static long nest(int depth, const long *args) {
    if (depth == 0) return vu_bench_tf_call(job.entry, args[0], args[1], args[2]);
    long r = nest(depth - 1, args);
    __asm__ volatile("" : "+r"(r) : : "memory");  // not a tail call: this frame stays
    return r + 1;
}

int vu_bench_unwind(const void *entry, const long args[3], int depth, uint64_t n, int frames,
                    struct vu_bench_unwind_result *out) {
    if (!gcc_backtrace) {
        void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
        void *unw = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
        if (!gcc || !unw) return -1;
        gcc_backtrace = (int (*)(trace_fn, void *))dlsym(gcc, "_Unwind_Backtrace");
        gcc_get_ip = (uintptr_t (*)(struct _Unwind_Context *))dlsym(gcc, "_Unwind_GetIP");
        unw_init2 = (int (*)(unw_cursor_t *, unw_context_t *, int))dlsym(unw, "_ULx86_64_init_local2");
        unw_step_fn = (int (*)(unw_cursor_t *))dlsym(unw, "_ULx86_64_step");
        if (!gcc_backtrace || !gcc_get_ip || !unw_init2 || !unw_step_fn) return -2;
    }
    memset(out, 0, sizeof *out);
    pthread_attr_t attr;
    void *stack = 0;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0) return -3;
    pthread_attr_getstack(&attr, &stack, &size);
    pthread_attr_destroy(&attr);
    job.stack_top = (uint64_t)(uintptr_t)stack + size;
    job.entry = entry;
    job.n = n;
    job.frames = frames;
    job.out = out;
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = trap;
    sa.sa_flags = SA_SIGINFO;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGTRAP, &sa, &old) != 0) return -3;
    long r = nest(depth, args);
    sigaction(SIGTRAP, &old, 0);
    (void)r;
    return out->libgcc_frames == (uint64_t)frames && out->libunwind_frames == (uint64_t)frames ? 0 : -4;
}
