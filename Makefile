# docpipe — SQLite extension for near-duplicate documents.
#
#   make            dist/docpipe.so (installs missing Debian build packages)
#   make demo       build, then run sql/demo.sql in the sqlite3 shell
#   make test       every test: C kernel tests + Tcl suites; last line "N passed, N failed"
#   make test-fast  the same without the client examples (no npm, no network)
#   make mutate     mutation score of the tests (MUTANTS=100 SEED=1 JOBS=2;
#                   not in CI)
#   make asan       the whole suite with AddressSanitizer + UBSan, and the
#                   out-of-memory test (test/oom.c), and test/setindex.c
#   make test-setindex[-asan]  the set index's C test alone
#   make bench-setindex        the set index's insert benchmark
#   make bench-scale  both table kinds through SQL as they grow
#                   (SCALE_SET=1000000 SCALE_VECTOR=100000; plots)
#   make valgrind   the whole suite under valgrind memcheck
#   make bench      benchmarks (installs peers from npm into build/bench)
#   make test-cluster  3 dqlite nodes on 127.0.0.1 (dist/docpipe-node), with
#                   a leader killed mid-ingest; make bench-cluster: figures
#   make fuzz       libFuzzer harnesses and the operation fuzzer, at length
#   make clean
#
# Sections: build flavours (one object rule for all), the extension and its
# library, tests, clients, benchmarks, fuzzing, the dqlite cluster, install.

CC      ?= cc
CFLAGS  ?= -O2 -g
DP_CFLAGS = -std=gnu11 -Wall -Wextra -fPIC -fvisibility=hidden
# utf8proc is linked statically so docpipe.so needs only libc at run time
# (evaluated late, with "=", after "deps" may have installed it);
# --exclude-libs keeps its symbols from being exported next to ours.
UTF8PROC_A = $(shell $(CC) -print-file-name=libutf8proc.a)
# zstd (body.c) likewise: the libzstd.a of the zstd.h compiled against
ZSTD_A = $(shell $(CC) -print-file-name=libzstd.a)
STATIC_LIBS = $(UTF8PROC_A) $(ZSTD_A)
DP_LDFLAGS = -shared -Wl,--exclude-libs,ALL -Wl,-z,defs -Wl,--as-needed

SRC = ext/docpipe.c ext/config.c ext/tokenize.c ext/embed.c ext/simd.c \
      ext/simd_avx2.c ext/simd_avx512.c ext/funcs.c ext/util.c \
      ext/index.c ext/query.c ext/storage.c ext/pipeline.c ext/vtab.c \
      ext/dedup.c ext/stats.c ext/setindex.c ext/setjoin.c ext/body.c
HDR = ext/docpipe.h ext/simd_sketch.h

TCLSH ?= tclsh

.PHONY: all deps deps-test deps-bench demo test asan valgrind \
        bench bench-kernel bench-dedup bench-quality bench-insert fuzz fuzz-ops install \
        uninstall test-fast mutate \
        npm-pack clients clean deps-cluster cluster test-cluster test-cluster-asan \
        bench-cluster test-setindex test-setindex-asan bench-setindex bench-scale

all: dist/docpipe.so dist/libdocpipe.a

deps:
	@sh tools/deps.sh build
deps-test:
	@sh tools/deps.sh test
deps-bench:
	@sh tools/deps.sh bench

# --- build flavours ---------------------------------------------------
# One object directory per flavour, all made by one rule (OBJ_RULE):
#   obj   the loadable extension
#   asan  the extension under AddressSanitizer + UBSan (make asan)
#   core  SQLITE_CORE, for programs that link SQLite themselves (C tests,
#         libdocpipe.a)
#   oom   SQLITE_CORE under ASan + UBSan (the out-of-memory test)
#   fuzz  SQLITE_CORE with clang's libFuzzer instrumentation
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
CC_obj    = $(CC)
FLAGS_obj = $(CFLAGS)
CC_asan    = $(CC)
FLAGS_asan = -O1 -g -fno-omit-frame-pointer $(SAN)
CC_core    = $(CC)
FLAGS_core = $(CFLAGS) -DSQLITE_CORE
CC_oom    = $(CC)
FLAGS_oom = -O1 -g -fno-omit-frame-pointer $(SAN) -DSQLITE_CORE
CC_fuzz    = clang
FLAGS_fuzz = -g -O1 -fsanitize=fuzzer-no-link $(SAN) -DSQLITE_CORE
FLAVOURS = obj asan core oom fuzz
DEPS_fuzz = deps-test            # clang comes with the test packages

define OBJ_RULE
build/$(1)/%.o: ext/%.c $$(HDR) | $$(or $$(DEPS_$(1)),deps)
	@mkdir -p $$(dir $$@)
	$$(CC_$(1)) $$(FLAGS_$(1)) $$(DP_CFLAGS) -c $$< -o $$@
$(1)_OBJ = $$(SRC:ext/%.c=build/$(1)/%.o)
endef
$(foreach f,$(FLAVOURS),$(eval $(call OBJ_RULE,$(f))))
OBJ      = $(obj_OBJ)
ASAN_OBJ = $(asan_OBJ)
CORE_OBJ = $(core_OBJ)
OOM_OBJ  = $(oom_OBJ)
FUZZ_OBJ = $(fuzz_OBJ)

# --- the extension -------------------------------------------------------
dist/docpipe.so: $(OBJ)
	@mkdir -p dist
	$(CC) $(CFLAGS) $(DP_LDFLAGS) -o $@ $(OBJ) $(STATIC_LIBS) -lm -lpthread

build/asan/docpipe.so: $(ASAN_OBJ)
	$(CC) -fsanitize=address,undefined -shared -Wl,--exclude-libs,ALL \
	  -o $@ $(ASAN_OBJ) $(STATIC_LIBS) -lm -lpthread

# --- tests -------------------------------------------------------------
# The C test programs (test/NAME.c -> build/NAME_test), against the core
# objects; test/all.tcl runs every build/*_test.
C_TESTS = build/kernels_test build/hist_test build/ioerr_test build/setindex_test \
          build/stats_svpt_test build/kernels_san_test
build/%_test: test/%.c $(CORE_OBJ) | deps-test
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -DSQLITE_CORE -Iext -o $@ \
	  $< $(CORE_OBJ) $(STATIC_LIBS) -lsqlite3 -lm -lpthread

demo: dist/docpipe.so | deps-test
	sqlite3 :memory: < sql/demo.sql

# Out-of-memory test: the oom objects (SQLITE_CORE under ASan/UBSan/LSan).
build/oom_check: test/oom.c $(OOM_OBJ) | deps-test
	$(CC) -O1 -g $(SAN) \
	  -std=gnu11 -Wall -Wextra -DSQLITE_CORE -Iext -o $@ test/oom.c \
	  $(OOM_OBJ) $(STATIC_LIBS) -lsqlite3 -lm -lpthread

# The kernel tests again under ASan/UBSan, in make test and test-fast too:
# a kernel that reads or writes one element past an array is seen only so.
build/kernels_san_test: test/kernels.c $(OOM_OBJ) | deps-test
	$(CC) -O1 -g $(SAN) \
	  -std=gnu11 -Wall -Wextra -DSQLITE_CORE -Iext -o $@ test/kernels.c \
	  $(OOM_OBJ) $(STATIC_LIBS) -lsqlite3 -lm -lpthread

# The set index's C test under ASan/UBSan/LSan (in make asan).
build/setindex_asan: test/setindex.c $(OOM_OBJ) | deps-test
	$(CC) -O1 -g $(SAN) \
	  -std=gnu11 -Wall -Wextra -DSQLITE_CORE -Iext -o $@ test/setindex.c \
	  $(OOM_OBJ) $(STATIC_LIBS) -lsqlite3 -lm -lpthread

test-setindex: build/setindex_test
	build/setindex_test

test-setindex-asan: build/setindex_asan
	ASAN_OPTIONS=detect_leaks=1 build/setindex_asan

# What the client examples need (test/clients.test): what "make install"
# installs (the test installs it under a DESTDIR and builds the C example
# there with the README's command line), better-sqlite3 from npm (built
# once into build/node), and the npm package made by npm-pack.
CLIENTS = dist/libdocpipe.a dist/docpipe.pc \
          build/node/node_modules/better-sqlite3/package.json \
          dist/sqlite-docpipe.tgz

# better-sqlite3 12 (13 needs Node 22); it compiles its addon here (~2 min).
# When the npm registry cannot be reached, the Node.js tests are reported
# as skipped, with the reason (build/node/UNAVAILABLE), rather than failing
# every other test.
build/node/node_modules/better-sqlite3/package.json: | deps-test
	@mkdir -p build/node
	echo '{"private": true}' > build/node/package.json
	rm -f build/node/UNAVAILABLE
	cd build/node && npm install --no-save --no-audit --no-fund --loglevel=error \
	  better-sqlite3@12 >&2 2>npm.log || { \
	  echo "npm install better-sqlite3@12 failed: $$(grep -m1 'ERR' npm.log)" > UNAVAILABLE; \
	  cat UNAVAILABLE >&2; }

# The npm package layout (not published): package.json, index.js with
# getLoadablePath(), and docpipe.so.
npm-pack: dist/sqlite-docpipe.tgz
dist/sqlite-docpipe.tgz: dist/docpipe.so npm/package.json npm/index.js npm/README.md | deps-test
	rm -rf build/npm-pkg && mkdir -p build/npm-pkg
	cp npm/package.json npm/index.js npm/README.md dist/docpipe.so build/npm-pkg/
	cd build/npm-pkg && npm pack --silent >/dev/null
	mv build/npm-pkg/sqlite-docpipe-*.tgz $@

clients: $(CLIENTS)

# make test: the module arrows of ext/ (tools/arrows.py), then every suite.
test: dist/docpipe.so $(C_TESTS) $(CLIENTS) | deps-test
	python3 tools/arrows.py >/dev/null || python3 tools/arrows.py
	$(TCLSH) test/all.tcl

# Every test of the extension itself (C programs rebuilt, Tcl suites), but
# not the client examples, which need npm: about 30 s.  TESTS=boundary runs
# only the files whose name contains it.
test-fast: dist/docpipe.so $(C_TESTS) | deps-test
	DOCPIPE_SKIP=clients.test $(TCLSH) test/all.tcl $(TESTS)

# Mutation testing (tools/mutate.py): MUTANTS single-operator mutants of
# ext/*.c drawn with SEED, each built and run with test-fast in a scratch
# copy of the tree.
MUTANTS ?= 100
SEED    ?= 1
JOBS    ?= 2
mutate: | deps-test
	/usr/bin/python3 tools/mutate.py --mutants $(MUTANTS) --seed $(SEED) --jobs $(JOBS)

# The Tcl suites against the sanitized docpipe.so, then the out-of-memory
# test (every allocation of a script failing in turn, under ASan+LSan).
asan: build/asan/docpipe.so build/oom_check build/setindex_asan | deps-test
	ASAN_OPTIONS=detect_leaks=1 \
	LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	DOCPIPE_EXT=$(CURDIR)/build/asan/docpipe DOCPIPE_NO_C_TESTS=1 \
	  $(TCLSH) test/all.tcl
	ASAN_OPTIONS=detect_leaks=1 build/oom_check
	ASAN_OPTIONS=detect_leaks=1 build/setindex_asan

valgrind: dist/docpipe.so $(C_TESTS) | deps-test
	DOCPIPE_WRAP="valgrind -q --error-exitcode=99 --leak-check=full \
	  --errors-for-leak-kinds=definite" $(TCLSH) test/all.tcl

# --- benchmarks (figures in bench/results and README.md) ------------------
bench: bench-kernel bench-dedup bench-quality bench-insert

bench-quality: dist/docpipe.so | deps-bench
	sh bench/quality.sh

bench-kernel: dist/docpipe.so | deps-bench
	@mkdir -p bench/results
	sh bench/kernel.sh | tee bench/results/kernel.md

bench-dedup: dist/docpipe.so build/dedup_bench | deps-bench
	sh bench/insert.sh --kjv-only
	@mkdir -p bench/results
	build/dedup_bench dist/docpipe.so build/bench/kjv.txt 10000 | tee bench/results/dedup.md

# BENCH_DOCS documents (default 101,000: the 100k row of the table).
bench-insert: dist/docpipe.so | deps-bench
	@mkdir -p bench/results
	sh bench/insert.sh $(BENCH_DOCS) | tee bench/results/insert.md

# Benchmark programs.
build/setindex_bench: bench/setindex_bench.c $(CORE_OBJ)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -DSQLITE_CORE -Iext -o $@ \
	  bench/setindex_bench.c $(CORE_OBJ) $(STATIC_LIBS) -lsqlite3 -lm -lpthread

# The set index alone (ext/setindex.c, not yet a table kind): SETINDEX_DOCS
# documents (default 100,000), figures in bench/results/setindex.md.
SETINDEX_DOCS ?= 100000
# Both kinds as they grow (bench/scale.sh): the set kind to SCALE_SET
# documents, the dense kind to SCALE_VECTOR; figures and plots into
# bench/results/scale.*; SCALE_CORPUS=markov (bigram text) or verses (verse
# mixes, the worst case for the set kind; see bench/scale_bench.c).
SCALE_SET ?= 1000000
SCALE_VECTOR ?= 100000
SCALE_CORPUS ?= markov
bench-scale: dist/docpipe.so build/scale_bench | deps-bench
	@mkdir -p bench/results
	sh bench/scale.sh $(SCALE_SET) $(SCALE_VECTOR) $(SCALE_CORPUS)

bench-setindex: build/setindex_bench
	@mkdir -p build/bench bench/results
	build/setindex_bench $(SETINDEX_DOCS) build/bench/setindex.db

build/kernel_bench: bench/kernel_bench.c $(CORE_OBJ)
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -DSQLITE_CORE -Iext -o $@ \
	  bench/kernel_bench.c $(CORE_OBJ) $(STATIC_LIBS) -lsqlite3 -lm -lpthread

build/insert_bench: bench/insert_bench.c bench/verses.h
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -o $@ bench/insert_bench.c -lsqlite3 -lm
build/scale_bench: bench/scale_bench.c bench/verses.h
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -o $@ bench/scale_bench.c -lsqlite3 -lm

build/dedup_bench: bench/dedup_bench.c
	$(CC) -O2 -g -std=gnu11 -Wall -Wextra -o $@ bench/dedup_bench.c -lsqlite3

# --- the dqlite cluster: cluster/ (node host, Go client), test/cluster.sh ---
# The Go client is built offline in GOPATH mode against Debian's go-dqlite
# sources; the Go build cache stays under build/.
GO_ENV  = GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(CURDIR)/build/gocache GOFLAGS=
CLUSTER = dist/docpipe-node dist/docpipe-cluster build/cluster/plain-node

deps-cluster:
	@sh tools/deps.sh cluster

NODE_SRC = cluster/node.c cluster/join.c cluster/net.c
NODE_HDR = cluster/join.h cluster/net.h

dist/docpipe-node: $(NODE_SRC) $(NODE_HDR) dist/libdocpipe.a include/sqlite-docpipe.h \
                   | deps-cluster
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -Iinclude -o $@ $(NODE_SRC) \
	  dist/libdocpipe.a $(STATIC_LIBS) -ldqlite -lsqlite3 -lm -lpthread

# The same host without docpipe: what a user gets from a node built without
# it (test/cluster.sh shows the error).
build/cluster/plain-node: $(NODE_SRC) $(NODE_HDR) | deps-cluster
	@mkdir -p build/cluster
	$(CC) $(CFLAGS) -std=gnu11 -Wall -Wextra -DDOCPIPE_NODE_PLAIN -o $@ \
	  $(NODE_SRC) -ldqlite -lsqlite3 -lpthread

dist/docpipe-cluster: $(wildcard cluster/client/*.go) | deps-cluster
	@mkdir -p build/gocache dist
	$(GO_ENV) go build -o $@ ./cluster/client

cluster: $(CLUSTER)

test-cluster: dist/docpipe.so $(CLUSTER) | deps-test
	bash test/cluster.sh

# The same test with the node's own C code (node.c, join.c, net.c) built
# with AddressSanitizer + UBSan; leaks are not checked, as libdqlite and
# libuv keep allocations to the end.
build/asan/docpipe-node: $(NODE_SRC) $(NODE_HDR) dist/libdocpipe.a | deps-cluster
	@mkdir -p build/asan
	$(CC) -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	  -fno-sanitize-recover=all -std=gnu11 -Wall -Wextra -Iinclude -o $@ $(NODE_SRC) \
	  dist/libdocpipe.a $(STATIC_LIBS) -ldqlite -lsqlite3 -lm -lpthread

test-cluster-asan: dist/docpipe.so $(CLUSTER) build/asan/docpipe-node | deps-test
	ASAN_OPTIONS=detect_leaks=0 DOCPIPE_NODE=$(CURDIR)/build/asan/docpipe-node \
	  bash test/cluster.sh

bench-cluster: dist/docpipe.so $(CLUSTER) | deps-test
	@mkdir -p bench/results
	bash -o pipefail -c 'bash bench/cluster.sh | tee bench/results/cluster.md'

# --- fuzzing -------------------------------------------------------------
# libFuzzer harnesses (clang): make fuzz FUZZ_SECONDS=60 runs each that long.
FUZZ_SECONDS ?= 30
build/fuzz_%: fuzz/fuzz_%.c $(FUZZ_OBJ) | deps-test
	clang -g -O1 -fsanitize=fuzzer $(SAN) -std=gnu11 -DSQLITE_CORE \
	  -Iext -o $@ $< $(FUZZ_OBJ) $(STATIC_LIBS) -lsqlite3 -lm -lpthread

# The two-connection operation fuzzer (test/opfuzz.test) at length, under
# ASan+UBSan: OPFUZZ_SEEDS seeds of 300 operations from a seed of the clock
# (a failing seed prints the line that reproduces it).
OPFUZZ_SEEDS ?= 300
fuzz-ops: build/asan/docpipe.so | deps-test
	@mkdir -p build/fuzz-artifacts
	ASAN_OPTIONS=detect_leaks=1 LD_PRELOAD=$$($(CC) -print-file-name=libasan.so) \
	DOCPIPE_EXT=$(CURDIR)/build/asan/docpipe OPFUZZ_SEED0=$$(date +%s) \
	OPFUZZ_SEEDS=$(OPFUZZ_SEEDS) OPFUZZ_OPS=300 \
	OPFUZZ_LOG=$(CURDIR)/build/fuzz-artifacts/opfuzz-last.sql \
	  $(TCLSH) test/opfuzz.test

fuzz: build/fuzz_text build/fuzz_sql fuzz-ops
	@mkdir -p build/fuzz-work/text build/fuzz-work/sql build/fuzz-artifacts
	build/fuzz_text -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz-artifacts/ \
	  -print_final_stats=1 build/fuzz-work/text fuzz/corpus/text 2>&1 | grep -E "Done|stat::number_of_executed_units|ERROR|SUMMARY"
	build/fuzz_sql -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz-artifacts/ \
	  -print_final_stats=1 build/fuzz-work/sql fuzz/corpus/sql 2>&1 | grep -E "Done|stat::number_of_executed_units|ERROR|SUMMARY"

# --- the static library and installation --------------------------------
# Static library for programs that link SQLite themselves (SQLITE_CORE:
# calls go straight to sqlite3_*).
PREFIX ?= /usr/local
DESTDIR ?=
LIBDIR = $(PREFIX)/lib
INCDIR = $(PREFIX)/include

# libdocpipe.a holds one object, build/core/libdocpipe.o: docpipe's
# SQLITE_CORE objects and the libutf8proc.a and libzstd.a members they use, prelinked
# with "ld -r", then every symbol but sqlite3_docpipe_init made local.
# Why folded in rather than "-lutf8proc" in Libs: the README's
#   cc ... $(pkg-config --cflags --libs docpipe) -lsqlite3
# (no --static, so Libs.private is not read) must link as it stands on a
# machine with no libutf8proc-dev, and the program must not need
# libutf8proc.so at run time, as docpipe.so does not.  Why local: a
# program with its own utf8proc (another version) or its own dp* names
# links without a clash, and member names (utf8proc.o) cannot collide.
# libm and libpthread are libc's, so they stay link flags: "-lm -lpthread" in Libs.
build/core/libdocpipe.o: $(CORE_OBJ)
	$(LD) -r -o $@.tmp $(CORE_OBJ) $(STATIC_LIBS)
	objcopy --keep-global-symbol=sqlite3_docpipe_init $@.tmp $@
	rm -f $@.tmp

dist/libdocpipe.a: build/core/libdocpipe.o
	@mkdir -p dist
	rm -f $@
	ar rcs $@ build/core/libdocpipe.o

# Written on every make: it holds PREFIX and LIBDIR, which change between
# runs (make install PREFIX=...) without any file changing.
.PHONY: dist/docpipe.pc
dist/docpipe.pc:
	@mkdir -p dist
	printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: docpipe\nDescription: %s\nVersion: %s\nRequires.private: sqlite3\nLibs: -L$${libdir} -ldocpipe -lm -lpthread\nCflags: -I$${includedir}\n' \
	  '$(PREFIX)' '$(LIBDIR)' '$(INCDIR)' \
	  'SQLite extension: near-duplicate document store' \
	  "$$(sed -n 's/^#define DOCPIPE_VERSION "\(.*\)"/\1/p' ext/docpipe.h)" > $@

install: dist/docpipe.so dist/libdocpipe.a dist/docpipe.pc
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 755 dist/docpipe.so $(DESTDIR)$(LIBDIR)/docpipe.so
	install -m 644 dist/libdocpipe.a $(DESTDIR)$(LIBDIR)/libdocpipe.a
	install -m 644 include/sqlite-docpipe.h $(DESTDIR)$(INCDIR)/sqlite-docpipe.h
	install -m 644 dist/docpipe.pc $(DESTDIR)$(LIBDIR)/pkgconfig/docpipe.pc
	install -d $(DESTDIR)$(PREFIX)/bin
	sed 's|^INSTALL_LIBDIR = "@LIBDIR@"|INSTALL_LIBDIR = "$(LIBDIR)"|' bin/docpipe \
	  > $(DESTDIR)$(PREFIX)/bin/docpipe && chmod 755 $(DESTDIR)$(PREFIX)/bin/docpipe

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/docpipe.so $(DESTDIR)$(LIBDIR)/libdocpipe.a \
	  $(DESTDIR)$(INCDIR)/sqlite-docpipe.h $(DESTDIR)$(LIBDIR)/pkgconfig/docpipe.pc \
	  $(DESTDIR)$(PREFIX)/bin/docpipe

clean:
	rm -rf build dist
