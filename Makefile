# libmlm — see README.md. Targets:
#   make                 both libraries, the mlm tool and the examples
#   make check           the Check suites (SANITIZE=1: under ASan+UBSan;
#                        SANITIZE=thread: under TSan; CK_RUN_SUITE=name: one suite)
#   make demo            the main job (see README.md)
#   make install / uninstall   PREFIX=/usr/local DESTDIR=
#   make deps            the Debian packages the build and tests need
#   make fuzz            libFuzzer harnesses, FUZZ_SECONDS each (default 600)
#   make bench           benchmarks (long; never part of make check)
#   make bench-tokenize  tokenizer throughput, libmlm vs HF tokenizers, with ratios
#   make bench-model     libmlm vs PyTorch vs ONNX Runtime on a distilroberta-
#                        shaped model (bench/run_model_bench.sh; minutes)
#   make bench-dataset   dataset preparation throughput and memory (BENCH_MB=100)
#   make bench-t5        summarization (T5 generate) throughput, libmlm vs PyTorch
#   make bench-train     training throughput, MFU and peak RSS, libmlm vs PyTorch
#                        (bench/run_train_bench.sh; ~3 minutes, STEPS=2 WARMUP=1 less)
#   make bench-t5-train  seq2seq (T5) training throughput and peak RSS, libmlm vs
#                        PyTorch fp32 and bf16 autocast (bench/run_t5_train_bench.sh)
#   make bench-dtype     fill-mask and 8x128 forward with fp32/bf16/int8 weights vs
#                        ONNX Runtime fp32/int8 and PyTorch fp32/bf16 autocast
#   make bench-dtype-accuracy  bf16/int8 vs fp32 predictions on a model trained here
#   make bench-distributed  mpirun -np 2 training vs one process, MPI_Allreduce
#                        alone, and the multi-node scaling model (~6 minutes)
#   make check-valgrind  the suites under valgrind (slow; CK_RUN_SUITE=name for one)
#   make abi-dump / abi-check   the ABI baseline under abi/

VERSION_MAJOR := 0
VERSION_MINOR := 1
VERSION_PATCH := 0
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)

PREFIX ?= /usr/local
DESTDIR ?=
INCLUDEDIR ?= $(PREFIX)/include
LIBDIR ?= $(PREFIX)/lib
BINDIR ?= $(PREFIX)/bin
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CC ?= cc
CXX ?= c++
# make's built-in default is "cc"; keep it unless the user chose another.
ifeq ($(origin CC),default)
CC := cc
endif

# ---------------------------------------------------------------- dependencies
# Debian packages: what the build and `make check` need.
DEB_PACKAGES := gcc make pkg-config binutils libblis-pthread-dev libcjson-dev \
                libutf8proc-dev libonig-dev zlib1g-dev check abigail-tools \
                libopenmpi-dev openmpi-bin
# What `make fuzz` needs on top.
DEB_PACKAGES_FUZZ := clang libclang-rt-14-dev
# What regenerating the goldens under tests/ needs (never make check).
DEB_PACKAGES_GOLDEN := python3-torch python3-numpy nodejs npm
# The benchmarks' peers: PyTorch, ONNX Runtime (npm, models from python3-onnx)
# and oneDNN (bench-bf16).
DEB_PACKAGES_BENCH := $(DEB_PACKAGES_GOLDEN) python3-onnx libdnnl-dev

# BLIS ships no pkg-config file on Debian and puts its header and libraries
# in a folder per threading model. We take the pthread build (our threads
# are per handle, passed to BLIS per call; no OpenMP runtime is dragged in),
# falling back to the others, and link its static archive into libmlm so
# that the expert API (bli_gks_lookup_id) is available and no BLIS symbol
# is exported from libmlm.so.
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
BLIS_FLAVOURS := blis-pthread blis-serial blis-openmp
BLIS_INC ?= $(patsubst %/blis.h,%,$(firstword $(foreach f,$(BLIS_FLAVOURS),\
    $(wildcard /usr/include/$(MULTIARCH)/$(f)/blis.h)) $(wildcard /usr/include/blis/blis.h /usr/local/include/blis/blis.h)))
BLIS_A ?= $(firstword $(foreach f,$(BLIS_FLAVOURS),\
    $(wildcard /usr/lib/$(MULTIARCH)/$(f)/libblis.a)) $(wildcard /usr/lib/libblis.a /usr/local/lib/libblis.a))
BLIS_OPENMP := $(if $(findstring openmp,$(BLIS_A)),-fopenmp,)

PKG_DEPS := libcjson libutf8proc oniguruma zlib
PKG_CFLAGS = $(shell pkg-config --cflags $(PKG_DEPS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKG_DEPS) 2>/dev/null)
# The mlm tool reads and prints JSON lines with cJSON too.
CLI_CFLAGS = $(shell pkg-config --cflags libcjson 2>/dev/null)
CLI_LIBS = $(shell pkg-config --libs libcjson 2>/dev/null) -lm
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

# OpenMPI for data-parallel training (docs/distributed.md), when its
# pkg-config file is there; MPI=0 builds a libmlm without it (the single
# process only), MPI=1 insists. Only src/train/dist.c sees mpi.h.
MPI ?= $(if $(shell pkg-config --exists ompi-c 2>/dev/null && echo y),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c) -DMLM_HAVE_MPI
MPI_LIBS := $(shell pkg-config --libs ompi-c)
MPI_PC := ompi-c
endif

# ---------------------------------------------------------------- flags
WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
OPT ?= -O2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE $(OPT) -g -fPIC $(WARN) $(if $(filter 1,$(WERROR)),-Werror,)
# No contraction of a·b + c into an FMA (GCC's default in ISO C mode,
# clang's is "on"): kernels compiled for several instruction sets
# (nn/ops/vec.h) then compute the same floats on every CPU.
LIB_CFLAGS := $(CFLAGS_BASE) -ffp-contract=off -fvisibility=hidden -DMLM_BUILDING_LIBRARY \
              -Iinclude -Isrc -I$(BLIS_INC) $(PKG_CFLAGS)
SYS_LIBS := $(BLIS_A) $(PKG_LIBS) $(MPI_LIBS) $(BLIS_OPENMP) -lpthread -lm

# Build variants keep their objects apart; B/OUTLIB/OUTBIN may be set on the
# command line (CI builds with clang into build/clang, for instance).
ifeq ($(SANITIZE),1)
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
B ?= build/san
OUTLIB ?= build/san/lib
OUTBIN ?= build/san/bin
else ifeq ($(SANITIZE),thread)
SAN := -fsanitize=thread
B ?= build/tsan
OUTLIB ?= build/tsan/lib
OUTBIN ?= build/tsan/bin
else
SAN :=
B ?= build/rel
OUTLIB ?= lib
OUTBIN ?= bin
endif

# ---------------------------------------------------------------- sources
LIB_SRC := $(sort $(wildcard src/*/*.c src/*/*/*.c))
LIB_SRC := $(filter-out src/cli/%,$(LIB_SRC))
LIB_OBJ := $(patsubst %.c,$(B)/%.o,$(LIB_SRC))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
# Leaf modules of the library the tool compiles in as well (one source, two
# binaries): UTF-8 has one home, and the tool cannot call the library's
# hidden copy.
CLI_SHARED_SRC := src/core/utf8.c
TEST_SRC := $(sort $(wildcard tests/*.c))
EXAMPLES := $(patsubst examples/%.c,$(OUTBIN)/examples/%,$(wildcard examples/*.c))

SONAME := libmlm.so.$(VERSION_MAJOR)
SHLIB := $(OUTLIB)/libmlm.so.$(VERSION)
STLIB := $(OUTLIB)/libmlm.a
MLM_BIN := $(OUTBIN)/mlm
TEST_BIN := $(B)/tests/check_mlm
VERSION_SCRIPT := src/libmlm.map

.PHONY: all check check-run check-valgrind demo deps deps-ok deps-fuzz deps-golden deps-bench install uninstall clean \
        fuzz bench bench-tokenize bench-model bench-dataset bench-train bench-t5 \
        bench-t5-train bench-bf16 bench-dtype bench-dtype-accuracy bench-distributed abi-dump \
        abi-check \
        check-cli-compat

all: $(SHLIB) $(STLIB) $(MLM_BIN) $(EXAMPLES) $(OUTLIB)/pkgconfig/mlm.pc

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(LIB_CFLAGS) $(SAN) -MMD -MP -c $< -o $@

# The elementwise kernels are loops written for the vectorizer.
# -fno-trapping-math lets it if-convert selects (x < 0 ? a : b) into vector
# blends; no value changes, only floating-point exception flags. PRE and
# sinking would split the math behind a clamp (x > hi ? hi : x) into a
# constant path and a computed one, control flow that the AVX2/AVX-512
# variants (nn/ops/vec.h, where (float)(int)x becomes a trunc call) can no
# longer if-convert: off for these files, which are loops and nothing else
# (GCC's passes; clang has neither the passes nor the flags).
CC_IS_CLANG := $(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1))
KERNEL_CFLAGS := -O3 -fno-trapping-math $(if $(CC_IS_CLANG),,-fno-tree-pre -fno-tree-sink)
$(B)/src/nn/ops/kernels.o $(B)/src/nn/ops/loss.o: LIB_CFLAGS += $(KERNEL_CFLAGS)
# fmaf inline (one instruction where the portable bf16 path has FMA units)
$(B)/src/nn/ops/gemm_bf16.o: LIB_CFLAGS += $(KERNEL_CFLAGS) -fno-math-errno
# the int8 path's quantization and portable int32 loops, written for the vectorizer
$(B)/src/nn/ops/gemm_i8.o: LIB_CFLAGS += $(KERNEL_CFLAGS) -fno-math-errno
# The optimizers' updates are such loops too (nn/ops/vec.h); their sqrtf never
# sees a negative, and without errno it is one instruction the loop can
# vectorize.
$(B)/src/train/adamw.o $(B)/src/train/adafactor.o: LIB_CFLAGS += $(KERNEL_CFLAGS) -fno-math-errno
# the one file that calls MPI; a stamp of MPI's setting rebuilds it when
# that changes (make MPI=0 after make, say)
$(B)/src/train/dist.o: LIB_CFLAGS += $(MPI_CFLAGS)
$(B)/src/train/dist.o: $(B)/mpi-$(MPI).stamp
$(B)/mpi-$(MPI).stamp:
	@mkdir -p $(dir $@)
	@rm -f $(B)/mpi-*.stamp
	@touch $@

$(SHLIB): $(LIB_OBJ) $(VERSION_SCRIPT)
	@mkdir -p $(dir $@)
	$(CC) -shared $(SAN) -Wl,-soname,$(SONAME) -Wl,--version-script=$(VERSION_SCRIPT) \
	    -Wl,--exclude-libs,ALL -Wl,-z,defs -o $@ $(LIB_OBJ) $(SYS_LIBS)
	ln -sf libmlm.so.$(VERSION) $(OUTLIB)/$(SONAME)
	ln -sf $(SONAME) $(OUTLIB)/libmlm.so

$(STLIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $(LIB_OBJ)

# The tool uses the public header (and CLI_SHARED_SRC's leaf modules only),
# and links the shared library, so it cannot reach anything else the ABI
# does not export.
$(MLM_BIN): $(CLI_SRC) $(CLI_SHARED_SRC) $(wildcard src/cli/*.h) $(SHLIB) include/mlm.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -Iinclude -Isrc $(CLI_CFLAGS) -o $@ $(CLI_SRC) $(CLI_SHARED_SRC) \
	    -L$(OUTLIB) -lmlm \
	    $(CLI_LIBS) -Wl,-rpath,'$$ORIGIN/../lib' -Wl,-rpath,'$$ORIGIN/../$(OUTLIB)'

$(OUTBIN)/examples/%: examples/%.c $(SHLIB) include/mlm.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -Iinclude -o $@ $< -L$(OUTLIB) -lmlm \
	    -Wl,-rpath,'$$ORIGIN/../../lib' -Wl,-rpath,'$$ORIGIN/../../$(OUTLIB)'

# mlm.pc from its template, for the PREFIX/LIBDIR/INCLUDEDIR of this make
# run. `make install` writes it again with the install's own PREFIX: the copy
# in $(OUTLIB) was made by an earlier `make` that may have had another.
PC_SUBST = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(INCLUDEDIR))|g' -e 's|@VERSION@|$(VERSION)|g' \
	    -e 's|@BLIS_A@|$(BLIS_A)|g' -e 's|@BLIS_OPENMP@|$(BLIS_OPENMP)|g' \
	    -e 's|@MPI_PC@|$(MPI_PC)|g' pkgconfig/mlm.pc.in

$(OUTLIB)/pkgconfig/mlm.pc: pkgconfig/mlm.pc.in Makefile
	@mkdir -p $(dir $@)
	$(PC_SUBST) > $@.tmp && mv $@.tmp $@

# ---------------------------------------------------------------- tests
# Tests link the static library so they can reach internal functions too.
$(TEST_BIN): $(TEST_SRC) $(STLIB) $(wildcard tests/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -Iinclude -Isrc -Itests -I$(BLIS_INC) $(PKG_CFLAGS) $(CHECK_CFLAGS) \
	    -DMLM_SHLIB='"$(SHLIB)"' -DMLM_BIN='"$(MLM_BIN)"' -DMLM_EXAMPLES='"$(OUTBIN)/examples"' \
	    -DMLM_MPI_HOST='"$(MPI_HOST)"' \
	    -o $@ $(TEST_SRC) $(STLIB) $(CHECK_LIBS) $(SYS_LIBS)

# A host application with its own MPI (tests/mpi/host.c), which the
# distributed suite runs under mpirun: built when libmlm is built with MPI.
MPI_HOST := $(if $(MPI_PC),$(B)/tests/mpi_host,)
$(B)/tests/mpi_host: tests/mpi/host.c $(STLIB) include/mlm.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -Iinclude $(MPI_CFLAGS) -o $@ $< $(STLIB) $(SYS_LIBS)

# `make check` works on a fresh machine: it installs what is missing first,
# then re-runs make so that the BLIS paths are looked up again afterwards.
check: deps-ok
	@$(MAKE) --no-print-directory check-run

# Check's default 4 s per test is too tight for the parity suites on a busy
# 2-core machine, and sanitizers slow everything several times.
CK_TIMEOUT ?= 120
CK_MULT := $(if $(SAN),4,1)

# Under SANITIZE=thread a race fails the test that ran into it
# (halt_on_error), with the committed suppressions (tests/tsan.supp, each
# entry explained there); extra options can come from the caller's
# TSAN_OPTIONS.
ifeq ($(SANITIZE),thread)
CHECK_ENV := TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp $(TSAN_OPTIONS)"
endif

check-run: all $(TEST_BIN) $(MPI_HOST)
	MLM_TEST_ROOT=$(CURDIR) CK_DEFAULT_TIMEOUT=$(CK_TIMEOUT) CK_TIMEOUT_MULTIPLIER=$(CK_MULT) \
	    $(CHECK_ENV) $(TEST_BIN)

# The suites under valgrind's memcheck (no fork, so leaks are seen), with the
# suppressions for BLIS's process-lifetime pools (tests/valgrind.supp).
# Slow: minutes. CK_RUN_SUITE=name limits it to one suite.
check-valgrind: all $(TEST_BIN)
	MLM_TEST_ROOT=$(CURDIR) CK_FORK=no CK_DEFAULT_TIMEOUT=3600 \
	    valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,possible \
	    --suppressions=$(CURDIR)/tests/valgrind.supp $(TEST_BIN)

demo: deps-ok
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh $(OUTBIN)

# ---------------------------------------------------------------- packages
# npm: Node.js builds from NodeSource bundle npm and conflict with Debian's
# package, so a working npm command counts as the package.
deps:
	@missing=""; for p in $(DEB_PACKAGES) $(EXTRA_PACKAGES); do \
	    if [ $$p = npm ] && command -v npm >/dev/null 2>&1; then continue; fi; \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else \
	    echo "deps: missing Debian packages; run:"; \
	    echo "  sudo apt-get install -y$$missing"; exit 1; \
	fi

deps-ok:
	@missing=""; for p in $(DEB_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then $(MAKE) --no-print-directory deps; fi

deps-fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(DEB_PACKAGES_FUZZ)"

deps-golden:
	@$(MAKE) --no-print-directory deps EXTRA_PACKAGES="$(DEB_PACKAGES_GOLDEN)"

# SKIP_PEERS=1 runs libmlm's side of a benchmark only: the library's packages.
deps-bench:
	@$(MAKE) --no-print-directory deps $(if $(filter 1,$(SKIP_PEERS)),,EXTRA_PACKAGES="$(DEB_PACKAGES_BENCH)")

# ---------------------------------------------------------------- install
install: all
	install -d $(DESTDIR)$(INCLUDEDIR)/mlm $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(BINDIR)
	install -m 644 include/mlm.h $(DESTDIR)$(INCLUDEDIR)/mlm.h
	install -m 644 include/mlm/*.h $(DESTDIR)$(INCLUDEDIR)/mlm/
	install -m 755 $(SHLIB) $(DESTDIR)$(LIBDIR)/
	ln -sf libmlm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libmlm.so
	install -m 644 $(STLIB) $(DESTDIR)$(LIBDIR)/
	$(PC_SUBST) > $(DESTDIR)$(PKGCONFIGDIR)/mlm.pc.tmp
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/mlm.pc.tmp
	mv $(DESTDIR)$(PKGCONFIGDIR)/mlm.pc.tmp $(DESTDIR)$(PKGCONFIGDIR)/mlm.pc
	$(CC) $(CFLAGS_BASE) -Iinclude -Isrc $(CLI_CFLAGS) -o $(DESTDIR)$(BINDIR)/mlm $(CLI_SRC) \
	    $(CLI_SHARED_SRC) -L$(OUTLIB) -lmlm \
	    $(CLI_LIBS) -Wl,-rpath,$(LIBDIR)

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/mlm.h $(DESTDIR)$(INCLUDEDIR)/mlm/*.h
	-rmdir $(DESTDIR)$(INCLUDEDIR)/mlm 2>/dev/null
	rm -f $(DESTDIR)$(LIBDIR)/libmlm.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	      $(DESTDIR)$(LIBDIR)/libmlm.so $(DESTDIR)$(LIBDIR)/libmlm.a \
	      $(DESTDIR)$(PKGCONFIGDIR)/mlm.pc $(DESTDIR)$(BINDIR)/mlm

# ---------------------------------------------------------------- ABI
# abi/libmlm.abi is the committed baseline; .ci/abi-check compares the
# fresh build against it and fails on an incompatible change unless the
# SONAME's major version was bumped in the same change.
abi-dump: $(SHLIB)
	abidw --no-corpus-path --headers-dir include --out-file abi/libmlm.abi $(SHLIB)

abi-check: $(SHLIB)
	sh .ci/abi-check $(SHLIB) abi/libmlm.abi

# ---------------------------------------------------------------- CLI compat
# `mlm train` / `mlm eval` leave the same files as the tool at
# CLI_COMPAT_BASE (the commit before the tool stopped recomputing the
# trainer's state, plan and FLOs): tests/cli_train_compat.py runs both on
# this machine and lists the differences that change made on purpose.
CLI_COMPAT_BASE ?= da03358
check-cli-compat: $(MLM_BIN)
	sh .ci/cli-compat $(CLI_COMPAT_BASE) $(MLM_BIN)

# ---------------------------------------------------------------- fuzzing
FUZZ_SECONDS ?= 600
FUZZ_CC ?= clang
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,build/fuzz/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
              -Iinclude -Isrc -I$(BLIS_INC) $(PKG_CFLAGS) -DMLM_BUILDING_LIBRARY

build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(LIB_SRC)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(LIB_SRC) $(SYS_LIBS)

fuzz: deps-fuzz
	@$(MAKE) --no-print-directory fuzz-build
	@for t in $(FUZZ_TARGETS); do \
	    name=$${t#build/fuzz/fuzz_}; mkdir -p build/fuzz/corpus-$$name; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	    $$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        build/fuzz/corpus-$$name tests/fuzz/corpus/$$name || exit 1; \
	done

fuzz-build: $(FUZZ_TARGETS)

# ---------------------------------------------------------------- benchmarks
# bf16_gemm_bench links oneDNN (libdnnl-dev), which only it needs: make bench-bf16.
BENCH_SRC := $(filter-out bench/bf16_gemm_bench.c $(if $(MPI_PC),,bench/allreduce_bench.c),\
                $(wildcard bench/*.c))
BENCH_BIN := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRC))

build/bench/%: bench/%.c $(STLIB) $(wildcard bench/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -O3 -Iinclude -Isrc -I$(BLIS_INC) $(PKG_CFLAGS) $(BENCH_CFLAGS) -o $@ $< \
	    $(STLIB) $(SYS_LIBS) $(BENCH_LIBS)

# MPI's own allreduce, timed (make bench-distributed)
build/bench/allreduce_bench: BENCH_CFLAGS = $(MPI_CFLAGS)

# bf16 products: libmlm's fp32, its bf16 kernel and oneDNN's bf16 matmul, 1 and 2
# threads (docs/architecture.md, "Reduced precision kernels").
build/bench/bf16_gemm_bench: BENCH_LIBS = -ldnnl -lgomp
bench-bf16: deps-bench
	@$(MAKE) --no-print-directory build/bench/bf16_gemm_bench
	OMP_WAIT_POLICY=passive build/bench/bf16_gemm_bench

bench: deps-ok
	@$(MAKE) --no-print-directory $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

# libmlm vs HF tokenizers (Node binding), same text and threads, with ratios;
# then `mlm tokenize` (plain and --json, stdin to a file) against HF's
# in-memory encodeBatch.
bench-tokenize: deps-bench
	@$(MAKE) --no-print-directory build/bench/tokenizer_bench $(MLM_BIN)
	@sh bench/tokenize.sh

# Needs /usr/bin/python3 with Debian's torch and node + npm (for the peers);
# SKIP_PEERS=1 runs libmlm's side only.
bench-model: deps-bench
	@$(MAKE) --no-print-directory build/bench/fill_mask_bench
	@sh bench/run_model_bench.sh

# Dataset preparation: tokenize + group a generated corpus of BENCH_MB MB
# (under /tmp) streaming on 1 and 2 threads, peak RSS at two corpus sizes,
# and the HF tokenizers Node peer (npm install in tests/ if needed).
BENCH_MB ?= 100
bench-dataset: deps-bench
	@$(MAKE) --no-print-directory build/bench/dataset_bench
	build/bench/dataset_bench $(BENCH_MB)

# Training: tokens/s, model-FLOPs utilisation against the measured FMA peak,
# and peak RSS, for a small model and a distilroberta-base-shaped one, 1 and
# 2 threads, against PyTorch's best BLIS configuration (needs /usr/bin/python3
# with Debian's torch; SKIP_PEERS=1 runs libmlm's side only). SHAPES, THREADS,
# STEPS, WARMUP, TORCH_ARCHS, TORCH_SEARCH: see the script.
bench-train: deps-bench
	@$(MAKE) --no-print-directory build/bench/train_bench
	@sh bench/run_train_bench.sh

# Data-parallel training: mpirun -np 2 against one process (1 and 2
# threads), shared memory and TCP, with and without overlap, MPI_Allreduce
# alone, and the scaling model (bench/run_dist_bench.sh; docs/distributed.md)
bench-distributed: deps-bench
	@$(MAKE) --no-print-directory build/bench/train_bench build/bench/t5_train_bench \
	    build/bench/allreduce_bench
	@sh bench/run_dist_bench.sh

# Summarization: libmlm's generate() vs the PyTorch reference's on a
# t5-small-shaped T5, 128 tokens into 32, greedy and beam 4, batch 1 and 8,
# 1 and 2 threads, ratios, the memory floor and peak RSS (needs
# /usr/bin/python3 with Debian's torch; SKIP_PEERS=1 runs libmlm's side
# only). REPS, THREADS, BATCHES, MODES, STYLE, TORCH_ARCH: see the script.
bench-t5: deps-bench
	@$(MAKE) --no-print-directory build/bench/t5_bench
	@sh bench/run_t5_bench.sh

# Seq2seq training: tokens/s (source + target), MFU and peak RSS of T5
# training steps (fwd + bwd + clip + AdamW) at the t5-small shape, batch 8 x
# (128 + 32), 1 and 2 threads, against PyTorch's best BLIS configuration in
# fp32 and, where the CPU has AVX512-BF16 or AMX, bf16 autocast (needs
# /usr/bin/python3 with Debian's torch; SKIP_PEERS=1 runs libmlm's side
# only). THREADS, REPS, STEPS, WARMUP, TORCH_ARCHS, BF16: see the script.
bench-t5-train: deps-bench
	@$(MAKE) --no-print-directory build/bench/t5_train_bench
	@sh bench/run_t5_train_bench.sh

# Reduced precision (issue #15): fill-mask and the 8x128 forward with fp32,
# bf16 and int8 weights against ONNX Runtime fp32 and int8 (dynamic
# quantization), PyTorch fp32 and bf16 autocast, with each dtype's memory
# floor from a bandwidth probe in the same run. REPS, THREADS, SKIP_PEERS:
# see the script. bench-dtype-accuracy: top-1/top-5 agreement of bf16 and
# int8 with fp32 on a model trained here (the script trains it once).
bench-dtype: deps-bench
	@$(MAKE) --no-print-directory build/bench/fill_mask_bench
	@sh bench/run_dtype_bench.sh

bench-dtype-accuracy: deps-bench
	@$(MAKE) --no-print-directory all build/bench/dtype_accuracy
	@sh bench/run_dtype_accuracy.sh

clean:
	rm -rf build lib bin

-include $(LIB_OBJ:.o=.d)
