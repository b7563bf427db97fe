// The walk trampoline, as assembly text: NAME(fn, args[6]) saves the callee-saved
// registers, loads the sentinels and the arguments, runs STOP (what hands control to the
// tester), calls fn, and returns from LABEL. Its CFI is exact at every instruction, and
// its epilogue restores from rbp. subject.c (STOP = int3, for ptrace) and inprocess.c
// (STOP = set the trap flag) instantiate it. rsp is 16-byte aligned at the call, and eax
// is 0 (a variadic subject gets no vector arguments).
#pragma once
#define VU_WALK_TRAMPOLINE(NAME, LABEL, STOP) \
    ".text\n" \
    ".globl " NAME "\n" \
    ".type " NAME ", @function\n" \
    NAME ":\n" \
    ".cfi_startproc\n" \
    "    push %rbp\n" \
    ".cfi_def_cfa_offset 16\n" \
    ".cfi_offset %rbp, -16\n" \
    "    mov %rsp, %rbp\n" \
    ".cfi_def_cfa_register %rbp\n" \
    "    push %rbx\n" \
    ".cfi_offset %rbx, -24\n" \
    "    push %r12\n" \
    ".cfi_offset %r12, -32\n" \
    "    push %r13\n" \
    ".cfi_offset %r13, -40\n" \
    "    push %r14\n" \
    ".cfi_offset %r14, -48\n" \
    "    push %r15\n" \
    ".cfi_offset %r15, -56\n" \
    "    sub $8, %rsp\n" \
    "    mov %rdi, %r11\n" \
    "    mov %rsi, %rax\n" \
    "    movabs $0x1b1b1b1b1b1b1b1b, %rbx\n" \
    "    movabs $0x1212121212121212, %r12\n" \
    "    movabs $0x1313131313131313, %r13\n" \
    "    movabs $0x1414141414141414, %r14\n" \
    "    movabs $0x1515151515151515, %r15\n" \
    "    mov 0(%rax), %rdi\n" \
    "    mov 8(%rax), %rsi\n" \
    "    mov 16(%rax), %rdx\n" \
    "    mov 24(%rax), %rcx\n" \
    "    mov 32(%rax), %r8\n" \
    "    mov 40(%rax), %r9\n" \
    "    xor %eax, %eax\n" \
    STOP \
    "    call *%r11\n" \
    ".globl " LABEL "\n" \
    LABEL ":\n" \
    "    lea -40(%rbp), %rsp\n" \
    "    pop %r15\n" \
    "    pop %r14\n" \
    "    pop %r13\n" \
    "    pop %r12\n" \
    "    pop %rbx\n" \
    "    pop %rbp\n" \
    ".cfi_def_cfa %rsp, 8\n" \
    "    ret\n" \
    ".cfi_endproc\n" \
    ".size " NAME ", .-" NAME "\n"
