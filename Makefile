# kernelmq — one flat Makefile.
#
#   make deps    install the Debian packages (idempotent)
#   make         build bin/kmq-broker, bin/kmq-kernel, bin/kmq-executor, bin/kmq, bin/libkmq.a
#   make run     deps + build + start the broker on its defaults, kmq-http beside it
#   make test    build + run every test (selftests and integration)
#   make check   the same tests against ASan/UBSan builds in bin/asan/
#   make bench   the benchmarks
#   make fuzz    build the libFuzzer harnesses (fuzz/) and run each for
#                FUZZ_SECONDS (default 60); fuzz/README.md says more
#   make install binaries, libkmq.a, kmq.h and the Python package kernelmq
#                under PREFIX (default /usr/local), DESTDIR honoured
#   make clean

# What building, running and testing need. tests/it_deps.sh fails when a
# Python module that the kernel, the client, the tests or the examples import
# comes from a Debian package not listed here: never install one by hand.
DEB_PACKAGES = build-essential pkg-config libczmq-dev libzmq3-dev \
               libmsgpack-dev libseccomp-dev libedit-dev \
               python3 python3-dev python3-pandas python3-numpy \
               python3-matplotlib python3-plotly python3-zmq python3-msgpack \
               python3-dill \
               procps tmux \
               libjansson-dev libsodium-dev libmicrohttpd-dev curl openssl \
               python3-requests python3-jsonschema \
               python3-jupyter-client python3-jupyter-kernel-test \
               python3-nbclient python3-nbformat jupyter-console python3-jupyter-console \
               jupyter-notebook chromium chromium-driver python3-selenium \
               clang libclang-rt-dev iproute2
# What only `make bench` needs besides (its anchors: ipykernel through
# jupyter_client). `make bench` installs them (bench-deps).
BENCH_PACKAGES = python3-jupyter-client python3-ipykernel

# The embedded interpreter is Debian's python3, never whatever is on PATH.
PYTHON_CONFIG = /usr/bin/python3-config
PKGS          = libczmq libzmq msgpack libseccomp

# SAN selects the sanitizer build: objects in build/asan, binaries in bin/asan.
ifeq ($(SAN),1)
  BUILD    = build/asan
  BIN      = bin/asan
  SANFLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
             -fno-omit-frame-pointer
  OPT      = -O1
else
  BUILD    = build/release
  BIN      = bin
  SANFLAGS =
  OPT      = -O2
endif

CC       ?= cc
CPPFLAGS  = -D_GNU_SOURCE -Icommon -Iclient -Iclient/json -Iclient/jupyter -Iclient/http -Ibroker -Ihost -Ikernel
CFLAGS    = -std=c11 $(OPT) -g -Wall -Wextra -Werror $(SANFLAGS) \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PY_CFLAGS = $(patsubst -I%,-isystem %,$(shell $(PYTHON_CONFIG) --includes 2>/dev/null))
LDFLAGS   = $(SANFLAGS)
LIBS      = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PY_LIBS   = $(shell $(PYTHON_CONFIG) --embed --ldflags 2>/dev/null)
# kmq-jupyter's JSON and HMAC, and the Python version its kernel_info reports
# (the sandbox runs Debian's python3).
JUPYTER_LIBS = $(shell pkg-config --libs jansson libsodium 2>/dev/null)
# kmq-http's HTTP server (and the JSON and tokens it shares with kmq-jupyter).
HTTP_LIBS    = $(shell pkg-config --libs libmicrohttpd 2>/dev/null) $(JUPYTER_LIBS)
PY_VERSION   = $(shell /usr/bin/python3 -c 'import platform; print(platform.python_version())' 2>/dev/null)

COMMON_SRC = $(wildcard common/*.c)
BROKER_SRC = $(filter-out broker/main.c,$(wildcard broker/*.c))
HOST_SRC   = $(filter-out host/main.c,$(wildcard host/*.c))
KERNEL_SRC = $(filter-out kernel/main.c kernel/executor_main.c,$(wildcard kernel/*.c))
CLIENT_SRC = $(filter-out client/kmq_cli%.c,$(wildcard client/*.c))
CLI_SRC    = $(wildcard client/kmq_cli*.c)
JUPYTER_SRC = $(filter-out client/jupyter/jupyter_main.c,$(wildcard client/jupyter/*.c))
# kernelmq's payloads as JSON (jansson, base64 by libsodium): kmq-jupyter and kmq-http.
JSON_SRC    = $(wildcard client/json/*.c)
HTTP_SRC    = $(filter-out client/http/http_main.c,$(wildcard client/http/*.c))

# Python compiled into kmq-kernel, one NAME=PATH a line: PATH a package
# directory or a .py file, NAME what it is imported as. kernel/embed_zip.py
# makes one deterministic zip of them (build/kmq_python.zip) that
# kernel/glue_blob.S carries and kernel/embed_finder.py serves from memory,
# so an executor needs no file from the host once its sandbox hides it.
PY_EMBED  = _kmq=kernel/glue
PY_EMBED += kmq_frame=common/kmq_frame.py
PY_EMBED_SRC = $(foreach e,$(PY_EMBED),$(call s_embed_src,$(lastword $(subst =, ,$(e)))))
s_embed_src  = $(if $(filter %.py,$(1)),$(1),$(shell find $(1) -name '*.py'))
PY_ZIP       = build/kmq_python.zip
PYTHON       = /usr/bin/python3

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))

COMMON_OBJ = $(call obj,$(COMMON_SRC))
BROKER_OBJ = $(call obj,$(BROKER_SRC))
HOST_OBJ   = $(call obj,$(HOST_SRC))
KERNEL_OBJ = $(call obj,$(KERNEL_SRC))
CLIENT_OBJ = $(call obj,$(CLIENT_SRC))
JUPYTER_OBJ = $(call obj,$(JUPYTER_SRC))
JSON_OBJ    = $(call obj,$(JSON_SRC))
HTTP_OBJ    = $(call obj,$(HTTP_SRC))

BINARIES = $(BIN)/kmq-broker $(BIN)/kmq-host $(BIN)/kmq-kernel $(BIN)/kmq-executor $(BIN)/kmq \
           $(BIN)/libkmq.a $(BIN)/kmq-jupyter $(BIN)/kmq-http \
           $(BIN)/kmq-selftest $(BIN)/kmq-testpeer $(BIN)/kmq-kernel-testsw \
           $(BIN)/kmq-executor-testsw

.PHONY: all deps bench-deps print-packages run test check bench install clean \
        fuzz fuzz-build fuzz-seeds print-fuzz
all: $(BINARIES)

# s_install_missing PACKAGES: apt-get installs those not installed yet.
define s_install_missing
	@missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update && apt-get install -y --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi
endef

deps:
	$(call s_install_missing,$(DEB_PACKAGES))

bench-deps: deps
	$(call s_install_missing,$(BENCH_PACKAGES))

# For tests/deps_check.py: which packages each step may rely on.
print-packages:
	@echo "deps: $(DEB_PACKAGES)"
	@echo "bench: $(BENCH_PACKAGES)"

$(BUILD)/%.o: %.c $(wildcard common/*.h client/*.h client/json/*.h client/jupyter/*.h client/http/*.h broker/*.h host/*.h kernel/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(if $(findstring kernel/,$<),$(PY_CFLAGS)) \
	    $(if $(findstring client/jupyter/,$<),-DKMQ_PYTHON_VERSION='"$(PY_VERSION)"') -c $< -o $@

# The Makefile is a prerequisite: a line added to PY_EMBED rebuilds the zip.
$(PY_ZIP): kernel/embed_zip.py kernel/embed_finder.py $(PY_EMBED_SRC) Makefile
	@mkdir -p $(dir $@)
	$(PYTHON) kernel/embed_zip.py $@ $(PY_EMBED)

$(BUILD)/kernel/glue_blob.o: kernel/glue_blob.S kernel/embed_finder.py $(PY_ZIP)
	@mkdir -p $(dir $@)
	$(CC) -c $< -o $@ -Ikernel -I$(dir $(PY_ZIP))

$(BIN)/kmq-broker: $(BUILD)/broker/main.o $(BROKER_OBJ) $(COMMON_OBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS)

# The kernel host: the zygote, one kmq-kernel per session, supervision.
$(BIN)/kmq-host: $(BUILD)/host/main.o $(HOST_OBJ) $(COMMON_OBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS)

# A session's monitor, one per session: no libpython. Linked from the
# kernel's archive, so it takes only the objects it calls (never the
# interpreter's: the link fails if one is called). kmq-executor beside it is
# the Python side: the zygote, and the executor it forks without a zygote.
$(BIN)/kmq-kernel: $(BUILD)/kernel/main.o $(BUILD)/kernel.a $(COMMON_OBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS)

$(BIN)/kmq-executor: $(BUILD)/kernel/executor_main.o $(KERNEL_OBJ) $(BUILD)/kernel/glue_blob.o \
                     $(COMMON_OBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -rdynamic $^ -o $@ $(LIBS) $(PY_LIBS)

$(BIN)/libkmq.a: $(CLIENT_OBJ) $(COMMON_OBJ)
	@mkdir -p $(BIN)
	rm -f $@ && ar rcs $@ $^

$(BIN)/kmq: $(call obj,$(CLI_SRC)) $(BIN)/libkmq.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS) -ledit

# A Jupyter kernel bound to a kernelmq session (client/jupyter/).
$(BIN)/kmq-jupyter: $(BUILD)/client/jupyter/jupyter_main.o $(JUPYTER_OBJ) $(JSON_OBJ) $(BIN)/libkmq.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS) $(JUPYTER_LIBS)

# An HTTP gateway: JSON and Server-Sent Events over one broker connection (client/http/).
$(BIN)/kmq-http: $(BUILD)/client/http/http_main.o $(HTTP_OBJ) $(JSON_OBJ) $(BIN)/libkmq.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS) $(HTTP_LIBS)

# The kernel's objects as an archive, so kmq-selftest links only the
# modules whose selftests it calls (not the executor's, which need libpython).
$(BUILD)/kernel.a: $(KERNEL_OBJ)
	rm -f $@ && ar rcs $@ $^

# Every module's selftest in one binary (tests/selftest.c lists them).
$(BIN)/kmq-selftest: $(BUILD)/tests/selftest.o $(BROKER_OBJ) $(HOST_OBJ) $(CLIENT_OBJ) $(COMMON_OBJ) \
                     $(JUPYTER_OBJ) $(JSON_OBJ) $(HTTP_OBJ) $(BUILD)/kernel.a
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS) $(HTTP_LIBS)

# A test-only kernel whose sandbox layers can be switched off one at a time
# (KMQ_SANDBOX_SKIP, read only when built with KMQ_SANDBOX_TEST_SWITCHES), to
# show what each layer stops. The production kmq-kernel has no such switch.
# Its Python side is kmq-executor-testsw (kernel/main.c names it).
TESTSW_OBJ = $(patsubst %.c,$(BUILD)/testsw/%.o,$(KERNEL_SRC))
$(BUILD)/testsw/%.o: %.c $(wildcard common/*.h kernel/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DKMQ_SANDBOX_TEST_SWITCHES $(CFLAGS) $(PY_CFLAGS) -c $< -o $@

$(BUILD)/testsw/kernel.a: $(TESTSW_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BIN)/kmq-kernel-testsw: $(BUILD)/testsw/kernel/main.o $(BUILD)/testsw/kernel.a $(COMMON_OBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS)

$(BIN)/kmq-executor-testsw: $(BUILD)/testsw/kernel/executor_main.o $(TESTSW_OBJ) \
                            $(BUILD)/kernel/glue_blob.o $(COMMON_OBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -rdynamic $^ -o $@ $(LIBS) $(PY_LIBS)

# A raw ZeroMQ peer for tests that must send what no well-behaved client would.
$(BIN)/kmq-testpeer: $(BUILD)/tests/testpeer.o $(COMMON_OBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) $^ -o $@ $(LIBS)

# --- fuzzing (fuzz/README.md) --------------------------------------------
# One libFuzzer harness per parser that faces untrusted bytes, built with
# clang under ASan/UBSan into build/fuzz/. The parsers' objects get coverage
# (fuzzer-no-link); only the harness links libFuzzer's main.
FUZZ_NAMES   = proto_decode proto_reader frame_kmqf zygote_spawn jupyter_decode kmq_reply
FUZZ_SECONDS ?= 60
FUZZ_CC      = clang
FUZZ_DIR     = build/fuzz
FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all \
               -fno-omit-frame-pointer
FUZZ_CFLAGS  = -std=c11 -O1 -g -Wall -Wextra -Werror $(FUZZ_SAN) \
               $(shell pkg-config --cflags $(PKGS) jansson libsodium 2>/dev/null)
FUZZ_SRC     = $(filter-out common/proto_test%.c common/frame_test%.c, \
                   $(wildcard common/proto*.c common/frame*.c)) \
               common/mem.c common/utf8.c kernel/fd_message.c kernel/zygote_spawn.c \
               client/kmq_reply.c client/jupyter/jupyter_message.c \
               client/jupyter/jupyter_mime.c client/json/kmq_json.c fuzz/fuzz_input.c
FUZZ_OBJ     = $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SRC))
FUZZ_BINS    = $(addprefix $(FUZZ_DIR)/,$(FUZZ_NAMES))
FUZZ_LIBS    = $(LIBS) $(JUPYTER_LIBS)

$(FUZZ_DIR)/obj/%.o: %.c $(wildcard common/*.h kernel/*.h client/*.h client/jupyter/*.h \
                                    fuzz/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Ifuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/fuzz/%.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer $^ -o $@ $(FUZZ_LIBS)

fuzz-build: $(FUZZ_BINS)
.SECONDARY: $(patsubst %,$(FUZZ_DIR)/obj/fuzz/%.o,$(FUZZ_NAMES) seeds)

# Each harness on a scratch corpus (new inputs go there, read with the
# committed one): fuzz/corpus/NAME grows only by hand. A crash, or an input
# that takes over 10 s, stops here with its input in $(FUZZ_DIR)/work/NAME/.
fuzz: fuzz-build
	@for name in $(FUZZ_NAMES); do \
	    work=$(FUZZ_DIR)/work/$$name; mkdir -p $$work/corpus; \
	    echo "fuzz: $$name for $(FUZZ_SECONDS) s"; \
	    $(FUZZ_DIR)/$$name -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
	        -artifact_prefix=$$work/ $$work/corpus fuzz/corpus/$$name || exit 1; \
	done

# Writes the seed corpora again from real encodings (fuzz/seeds.c, and
# common/kmq_frame.py for frames). Seeds only: found inputs are kept.
fuzz-seeds: $(FUZZ_DIR)/seeds
	$(FUZZ_DIR)/seeds fuzz/corpus
	$(PYTHON) fuzz/seeds_frame.py fuzz/corpus/frame_kmqf

$(FUZZ_DIR)/seeds: $(FUZZ_DIR)/obj/fuzz/seeds.o $(FUZZ_OBJ)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link $^ -o $@ $(FUZZ_LIBS)

# For tests/it_fuzz_corpus.sh: the harnesses' names.
print-fuzz:
	@echo $(FUZZ_NAMES)

# kmq-http beside the broker, on 127.0.0.1:8080 (HTTP_FLAGS adds flags, e.g.
# make run HTTP_FLAGS="--compat df-dict --no-auth"); it stops with the broker.
HTTP_FLAGS ?=
# kmq-http starts once the broker has made its keys there (first start), so
# that it finds the broker's key and its own (common/keys.h).
KEYS_DIR = $${KMQ_CONFIG_DIR:-$${XDG_CONFIG_HOME:-$$HOME/.config}/kernelmq}
run: deps all
	@echo "kmq-broker on its defaults. Jupyter: $(BIN)/kmq-jupyter install --user," \
	      "then pick \"Python 3 (kernelmq sandbox)\" in a notebook, or run" \
	      "jupyter console --kernel kernelmq"
	@echo "kmq-http on http://127.0.0.1:8080: curl -H \"Authorization: Bearer \$$(cat" \
	      "$${XDG_CONFIG_HOME:-$$HOME/.config}/kernelmq/http_token)\" ... (README: HTTP)"
	@echo "CURVE keys (made on first start; README: Trust): $(KEYS_DIR)"
	( for i in $$(seq 100); do [ -f "$(KEYS_DIR)/broker.key" ] && break; sleep 0.1; done; \
	  exec $(BIN)/kmq-http $(HTTP_FLAGS) ) & http=$$!; \
	$(BIN)/kmq-broker; status=$$?; kill $$http 2>/dev/null; wait $$http; exit $$status

test: all
	tests/run.sh $(BIN)

check:
	$(MAKE) SAN=1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:quarantine_size_mb=4 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    tests/run.sh bin/asan

bench: bench-deps all
	bench/run.sh $(BIN)

# Debian's python3 looks in PREFIX/lib/python3/dist-packages for /usr/local
# (and /usr); kernelmq.Client.local() finds kmq-broker in PREFIX/bin from there.
PREFIX     ?= /usr/local
PY_SITEDIR ?= $(PREFIX)/lib/python3/dist-packages
INSTALL_BIN = kmq-broker kmq-host kmq-kernel kmq-executor kmq kmq-http
PY_PACKAGE  = $(wildcard client/python/kernelmq/*.py)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib \
	    $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PY_SITEDIR)/kernelmq
	install -m 0755 $(addprefix $(BIN)/,$(INSTALL_BIN)) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 $(BIN)/libkmq.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 client/kmq.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(PY_PACKAGE) $(DESTDIR)$(PY_SITEDIR)/kernelmq/

clean:
	rm -rf build bin
