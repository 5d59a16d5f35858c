# gpt: GPT-2 inference inside PostgreSQL and SQLite.
#
#   make            build the core library, the CLI, the SQLite module and the
#                   PostgreSQL extension
#   make test       install missing Debian packages, build, run every test
#                   (core, converter, SQLite, PostgreSQL on a throwaway
#                   cluster, PostgreSQL under load, cancels and model file
#                   faults, CLI = SQLite = PostgreSQL, fuzz seed corpora)
#   make demo       the quick start: a continuation and next-token
#                   probabilities from SQLite and from PostgreSQL
#   make bench      benchmarks
#   make gpt2       download GPT-2 from the Hugging Face hub (needs internet)
#                   and convert it to models/gpt2-{q8_0,f16}.gguf
#   make install    install the SQLite module, the PostgreSQL extension and
#                   the default model
#
#   make test SANITIZE=1
#                   the core, CLI, converter and SQLite module built with
#                   ASan + UBSan into build-san/ and their tests run (all
#                   but PostgreSQL's: its server loads plain code only)
#   make fuzz       every libFuzzer target FUZZ_SECONDS (60) each
#                   (tests/fuzz/fuzz.mk)

BUILD   ?= build
CC      ?= cc
PYTHON  ?= /usr/bin/python3
PG_CONFIG ?= pg_config

CFLAGS_BASE = -std=c11 -D_GNU_SOURCE -O2 -g -fPIC -Wall -Wextra -Wshadow \
              -Wno-unused-parameter -Wvla -fvisibility=hidden
ifeq ($(SANITIZE),1)
  CFLAGS_BASE += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
                 -fno-sanitize-recover=undefined
  LDFLAGS_SAN  = -fsanitize=address,undefined
  BUILD := build-san
endif
CFLAGS  ?=
ALL_CFLAGS = $(CFLAGS_BASE) $(CFLAGS) -Icore
LDLIBS_CORE = -lpthread -lm

.PHONY: all core cli sqlite pg test test-core test-sqlite test-pg test-pg-stress deps \
        test-models demo bench install clean

all: core cli sqlite pg convert

include core/core.mk
-include sqlite_ext/sqlite.mk
-include pg_ext/pg.mk
-include tests/tests.mk
-include models/models.mk
-include models/convert.mk
-include tests/fuzz/fuzz.mk
-include bench/bench.mk

deps:
	@sh tools/install-deps.sh

# SANITIZE=1: everything that can run sanitized (the sub-makes inherit
# SANITIZE=1, so they build and test build-san/); the fuzz seeds run in
# their own ASan+UBSan fuzzer builds either way.
test: deps
ifeq ($(SANITIZE),1)
	$(MAKE) core cli sqlite convert
	$(MAKE) test-core
	$(MAKE) test-convert
	$(MAKE) test-sqlite
	$(MAKE) fuzz-regress
	@echo "test: SANITIZE=1 skipped test-pg and test-cross: the PostgreSQL" \
	      "server is not built with ASan/UBSan and cannot load a sanitized" \
	      "extension (plain make test runs them)"
else
	$(MAKE) all
	$(MAKE) test-core
	$(MAKE) test-convert
	$(MAKE) test-sqlite
	$(MAKE) test-pg
	$(MAKE) test-pg-stress
	$(MAKE) test-cross
	$(MAKE) fuzz-regress
endif

install: install-sqlite install-pg

demo:
	bash tools/demo.sh

clean:
	rm -rf build build-san
	-$(MAKE) -C pg_ext clean
