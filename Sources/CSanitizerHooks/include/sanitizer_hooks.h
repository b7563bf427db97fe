/* ThreadSanitizer's happens-before annotations, called only when its runtime is linked.
 *
 * The references are weak: in a program without TSan they resolve to null and each call
 * is one load and a branch not taken. With TSan (clang or swiftc -sanitize=thread) they
 * resolve to the runtime's __tsan_acquire/__tsan_release (tsan_interface.h). */
#ifndef VU_SANITIZER_HOOKS_H
#define VU_SANITIZER_HOOKS_H

extern void __tsan_acquire(void *address) __attribute__((weak));
extern void __tsan_release(void *address) __attribute__((weak));

static inline void vu_tsan_acquire(void *address) {
    if (__tsan_acquire) __tsan_acquire(address);
}

static inline void vu_tsan_release(void *address) {
    if (__tsan_release) __tsan_release(address);
}

#endif
