// fixture-bigcore: a process with a lot of memory and many threads, for `vunwind bench
// core` (the analysis of a large core beside eu-stack's and gdb's).
//
//   fixture-bigcore MIB THREADS READY-FILE
//
// Touches MIB MiB of anonymous memory (so a core holds it), starts THREADS - 1 threads that
// each wait a few calls deep (so every backtrace has frames), writes READY-FILE, waits.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile int started;

__attribute__((noinline)) static void wait_here(int depth) {
    if (depth > 0) {
        wait_here(depth - 1);
        __asm__ volatile("" ::: "memory");  // no tail call: keep each frame
        return;
    }
    __sync_fetch_and_add(&started, 1);
    for (;;) pause();
}

static void *thread_main(void *arg) {
    wait_here((int)(long)arg % 8 + 2);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: fixture-bigcore MIB THREADS READY-FILE\n");
        return 64;
    }
    long mib = atol(argv[1]), threads = atol(argv[2]);
    size_t size = (size_t)mib << 20;
    char *memory = mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) { perror("mmap"); return 2; }
    for (size_t i = 0; i < size; i += 4096) memory[i] = (char)(i >> 12);
    for (long i = 1; i < threads; i++) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setstacksize(&a, 1 << 16);
        if (pthread_create(&t, &a, thread_main, (void *)i) != 0) { perror("pthread_create"); return 2; }
    }
    while (started < threads - 1) usleep(1000);
    FILE *f = fopen(argv[3], "w");
    if (!f) { perror(argv[3]); return 2; }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
    wait_here(3);
    return 0;
}
