# vunwind: the two commands a fresh Debian machine needs are `make demo` and `make test`.
# Both install missing Debian packages first (`make deps`: idempotent, quiet when all are
# present).

SWIFT      ?= swift
CONFIG     ?= release
BIN         = .build/$(CONFIG)/vunwind

# What the build links (libdw, libelf, libunwind, liblzma for libunwind-ptrace, zlib and
# libzstd for compressed sections) and the judges the tests run (readelf/objdump, eu-*,
# llvm-*, gdb, perf).
DEBIAN_PACKAGES = libdw-dev libelf-dev libunwind-dev liblzma-dev zlib1g-dev libzstd-dev elfutils gdb binutils llvm \
                  linux-perf g++ pkg-config strace spin time

.PHONY: deps build test demo bench install model fuzz clean

deps:
	@sh scripts/deps.sh $(DEBIAN_PACKAGES)

# --static-swift-stdlib links the Swift runtime into the vunwind executable (a tool started
# once per file or core saves ~10 ms of dynamic linking per start: `vunwind bench core`);
# SwiftPM applies it to executables only, so libvunwind-vsyscall.so stays a normal client
# of the shared runtime, and both builds share one build folder.
build: deps
	$(SWIFT) build -c $(CONFIG) --static-swift-stdlib --product vunwind
	$(SWIFT) build -c $(CONFIG) --static-swift-stdlib --product vunwind-vsyscall
	$(SWIFT) build -c $(CONFIG) --static-swift-stdlib --product vunwind-walk-subject
	$(SWIFT) build -c $(CONFIG) --product fixture-bigcore

# Debug build (assertions on); the suite runs in parallel workers and ends with a line
# "N passed, M failed" (scripts/test-summary.sh); any failure makes the target fail.
test: deps
	$(SWIFT) build --build-tests
	@rm -f .build/tests.xml; status=0; \
	$(SWIFT) test --skip-build --parallel --num-workers 2 --xunit-output .build/tests.xml || status=$$?; \
	sh scripts/test-summary.sh .build/tests.xml $$status

demo: build
	./scripts/demo.sh .build/$(CONFIG)

bench: build
	$(BIN) bench

# libFuzzer + AddressSanitizer on every parser of untrusted bytes (scripts/fuzz.sh):
# SECONDS per target, or RUNS=N for the deterministic smoke CI runs.
SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(SECONDS) RUNS=$(RUNS) bash scripts/fuzz.sh

# The C library, header, linker script and vunwind-vsyscall.pc under PREFIX.
PREFIX ?= /usr/local
# spin proves the vvar lock model and rejects its broken variant (scripts/model.sh).
model: deps
	sh scripts/model.sh

install: build
	sh scripts/install.sh .build/$(CONFIG) $(PREFIX)

clean:
	rm -rf .build
