# Fornax build. `make help` lists the targets.
#
# Layout: proto/ (.proto -> C with protoc-c into $(BUILD)/gen), libcommon/
# (libfxcommon.a), services/<name>/ (lib<name>.a + an optional main.c giving
# fornax-<name>), services/fornax/ (the all-in-one binary). Objects go under
# $(BUILD), which `make clean` removes.
#
# Switches: SANITIZE=1 (AddressSanitizer + UndefinedBehaviorSanitizer, built
# into build/san), OPT=-O0 (optimisation level), V=1 (echo commands).

SANITIZE ?= 0
OPT ?= -O2
ifeq ($(SANITIZE),1)
BUILD ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS :=
endif
ifneq ($(V),1)
Q := @
endif

CC := gcc
PKGS := libevent libevent_pthreads libprotobuf-c grpc rocksdb liburing openssl zlib \
        libzstd yaml-0.1 jansson libpcre2-8 libcurl libdeflate
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lroaring -lm -lpthread

CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -pthread \
          -I. -Ilibcommon -I$(BUILD)/gen $(SANFLAGS) -MMD -MP
LDFLAGS := -pthread $(SANFLAGS)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)

# --- protobuf -------------------------------------------------------------
PROTOS := $(shell find proto -name '*.proto' | sort)
PROTO_C := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
PROTO_H := $(PROTO_C:.c=.h)
PROTO_OBJ := $(PROTO_C:.c=.o)
PROTO_LIB := $(BUILD)/libfxproto.a

# --- libcommon -------------------------------------------------------------
COMMON_SRC := $(sort $(wildcard libcommon/*/*.c))
COMMON_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRC))
COMMON_LIB := $(BUILD)/libfxcommon.a

# --- services ---------------------------------------------------------------
SERVICES := $(sort $(filter-out fornax,$(notdir $(wildcard services/*))))
define service_rules
$(1)_SRC := $$(filter-out services/$(1)/main.c,$$(sort $$(wildcard services/$(1)/*.c)))
$(1)_OBJ := $$(patsubst %.c,$$(BUILD)/obj/%.o,$$($(1)_SRC))
$(1)_LIB := $$(BUILD)/lib$(1).a
$$($(1)_LIB): $$($(1)_OBJ)
	@mkdir -p $$(@D)
	$$(Q)rm -f $$@ && ar rcs $$@ $$^
endef
$(foreach s,$(SERVICES),$(eval $(call service_rules,$(s))))
SERVICE_LIBS := $(foreach s,$(SERVICES),$($(s)_LIB))
SERVICE_MAINS := $(foreach s,$(SERVICES),$(if $(wildcard services/$(s)/main.c),$(s)))
BINS := $(if $(wildcard services/fornax/main.c),$(BUILD)/bin/fornax) $(foreach s,$(SERVICE_MAINS),$(BUILD)/bin/fornax-$(s))

# The web UI is compiled into the binary so nothing is fetched at run time.
UI_FILES := $(sort $(shell find ui -type f ! -name '*.md' 2>/dev/null))
UI_OBJ := $(BUILD)/obj/ui_bundle.o

ALL_LIBS = $(SERVICE_LIBS) $(COMMON_LIB) $(PROTO_LIB)
LINK_LIBS = $(SERVICE_LIBS) $(UI_OBJ) $(COMMON_LIB) $(PROTO_LIB) $(PKG_LIBS)

# --- tests and benchmarks ------------------------------------------------------
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

.DEFAULT_GOAL := all
.SECONDARY:
.DELETE_ON_ERROR:
.PHONY: all build run test test-unit test-fuzz test-integration test-e2e bench fuzz fmt help clean deps deps-test

all: build ## Build every binary (the default)

build: deps $(BINS)

deps: ## Install missing Debian build dependencies (needs root)
	$(Q)sh mk/deps.sh build

deps-test:
	$(Q)sh mk/deps.sh test

run: build ## Install what is missing, build, start fornax -target=all on :4040 (flags: ARGS=...)
	$(BUILD)/bin/fornax -target=all $(ARGS)

test: deps-test ## Install what is missing, build, run every test (unit under ASan/UBSan)
	$(Q)$(MAKE) --no-print-directory SANITIZE=1 test-unit test-fuzz
	$(Q)$(MAKE) --no-print-directory build
	$(Q)$(MAKE) --no-print-directory test-integration test-e2e

test-unit: $(UNIT_BINS) ## Unit tests (cmocka)
	$(Q)sh tests/run-unit.sh $(UNIT_BINS)

test-fuzz: $(FUZZ_BINS) ## Run each fuzz target over its corpus plus random mutations
	$(Q)sh tests/run-fuzz.sh $(BUILD)/fuzz

test-integration: $(BINS) ## Integration tests: real fornax processes on loopback
	$(Q)FORNAX_BIN=$(abspath $(BUILD)/bin) sh tests/integration/run.sh

test-e2e: $(BINS) ## End-to-end tests with real clients (Node SDK, go tool pprof, Chromium)
	$(Q)FORNAX_BIN=$(abspath $(BUILD)/bin) sh tests/e2e/run.sh

bench: deps $(BINS) $(BENCH_BINS) ## Benchmarks; figures go to stdout (see docs/performance.md)
	$(Q)sh mk/deps.sh bench
	$(Q)FORNAX_BIN=$(abspath $(BUILD)/bin) BENCH_BIN=$(abspath $(BUILD)/bench) sh bench/run.sh

fuzz: ## Build libFuzzer targets with clang into build/libfuzzer (run them by hand)
	$(Q)$(MAKE) --no-print-directory BUILD=build/libfuzzer CC=clang \
	    SANFLAGS="-fsanitize=fuzzer-no-link,address,undefined" libfuzzer-targets

fmt: ## Format C sources with clang-format
	$(Q)find libcommon services tests bench -name '*.[ch]' | xargs clang-format -i

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 20

clean: ## Remove build outputs
	rm -rf build

# --- rules ---------------------------------------------------------------------
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	$(Q)protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(PROTO_H)
	$(Q)$(CC) $(filter-out -Werror,$(CFLAGS)) $(PKG_CFLAGS) -c -o $@ $<

$(PROTO_LIB): $(PROTO_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/obj/%.o: %.c | $(PROTO_H)
	@mkdir -p $(@D)
	@echo "  CC $<"
	$(Q)$(CC) $(CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/obj/libcommon/http/buildinfo.o: CFLAGS += -DFX_VERSION='"$(VERSION)"' \
    -DFX_REVISION='"$(REVISION)"' -DFX_BRANCH='"$(BRANCH)"'

$(COMMON_LIB): $(COMMON_OBJ)
	@mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/gen/ui_bundle.c: $(UI_FILES) mk/embed.sh
	@mkdir -p $(@D)
	$(Q)sh mk/embed.sh $(UI_FILES) > $@

$(UI_OBJ): $(BUILD)/gen/ui_bundle.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/bin/fornax: $(BUILD)/obj/services/fornax/main.o $(ALL_LIBS) $(UI_OBJ)
	@mkdir -p $(@D)
	@echo "  LD $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS)

$(BUILD)/bin/fornax-%: $(BUILD)/obj/services/%/main.o $(ALL_LIBS) $(UI_OBJ)
	@mkdir -p $(@D)
	@echo "  LD $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS) $(UI_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS) -lcmocka

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/driver.o $(ALL_LIBS) $(UI_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/obj/tests/fuzz/driver.o $(LINK_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(ALL_LIBS) $(UI_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) $(LDFLAGS) -o $@ $< $(LINK_LIBS)

libfuzzer-targets: $(patsubst tests/fuzz/%.c,$(BUILD)/bin/%,$(FUZZ_SRC))

$(BUILD)/bin/fuzz_%: $(BUILD)/obj/tests/fuzz/fuzz_%.o $(ALL_LIBS) $(UI_OBJ)
	@mkdir -p $(@D)
	$(Q)$(CC) -fsanitize=fuzzer,address,undefined -o $@ $< $(LINK_LIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
