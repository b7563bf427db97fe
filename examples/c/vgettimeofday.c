/* Calls the vsyscall page from C, by its absolute symbols (see include/vunwind/vsyscall.h):
 *
 *   cc -no-pie -fno-pie -fno-plt -Wa,-mrelax-relocations=no -I include examples/c/vgettimeofday.c \
 *      include/vunwind/vsyscall.ld -L .build/release -lvunwind-vsyscall -Wl,-rpath,.build/release
 *
 * Prints one line per entry: name, return value, results. Exit status 0 if every entry
 * returned success, 1 otherwise, 2 if the page could not be installed.
 */
#include <stdio.h>
#include <vunwind/vsyscall.h>

int main(void) {
    if (vsyscall_install(0, VSYSCALL_FAULT_EFAULT, 0) != 0) {
        fprintf(stderr, "vsyscall_install: %s\n", vsyscall_error());
        return 2;
    }
    struct timeval tv;
    struct timezone tz;
    long a = vgettimeofday(&tv, &tz);
    printf("vgettimeofday %ld %ld %ld\n", a, (long)tv.tv_sec, (long)tv.tv_usec);
    time_t t = 0;
    long b = vtime(&t);
    printf("vtime %ld %ld\n", b, (long)t);
    unsigned cpu = ~0u, node = ~0u;
    long c = vgetcpu(&cpu, &node, 0);
    printf("vgetcpu %ld %u %u\n", c, cpu, node);
    struct timespec ts;
    long d = vclock_gettime(CLOCK_MONOTONIC, &ts);
    printf("vclock_gettime %ld %ld %ld\n", d, (long)ts.tv_sec, ts.tv_nsec);
    long e = vgettimeofday((struct timeval *)8, 0);
    printf("efault %ld\n", e);
    if (vsyscall_uninstall() != 0) {
        fprintf(stderr, "vsyscall_uninstall: %s\n", vsyscall_error());
        return 2;
    }
    return a == 0 && b > 0 && c == 0 && d == 0 && e == -14 ? 0 : 1;
}
