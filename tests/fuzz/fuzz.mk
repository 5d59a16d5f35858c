# tests/fuzz/fuzz.mk - libFuzzer targets (clang from Debian: apt-get install
# clang; clang 14 has libFuzzer built in).
#
#   make fuzz                   build, then run each target FUZZ_SECONDS (60)
#   make fuzz FUZZ_SECONDS=600  longer
#   make fuzz-build             build only (build/fuzz/fuzz_*)
#   make fuzz-regress           run every committed seed once (seconds; for
#                               make test)
#   make fuzz-seeds             rewrite the committed seed corpora
#
# Usable on its own too: make -f tests/fuzz/fuzz.mk fuzz
#
# Each fuzzer compiles the core sources itself with clang and
# -fsanitize=fuzzer,address,undefined (not the gcc-built library).  New
# inputs go to build/fuzz/corpus_<target>/ (kept between runs); the
# committed seeds in tests/fuzz/corpus_<target>/ are only read.  A crash,
# leak, timeout or failed property leaves build/fuzz/<target>-crash-* and
# makes the target fail.  One process per target (the machine is small).

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     ?= build/fuzz
FUZZ_MODEL   ?= build/models/tiny-f32.gguf
FUZZ_PYTHON  ?= /usr/bin/python3
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
               -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -Icore \
               -include tests/fuzz/clang_compat.h
FUZZ_LIBS    = -lopenblas -lpthread -lm
FUZZ_CORE    := $(wildcard core/*.c)
FUZZ_TARGETS := fuzz_gguf fuzz_tokenizer
FUZZ_BINS    := $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))
# -max_len: the gguf seeds are ~25 KB; -rss_limit_mb/-timeout: a hostile
# input must neither eat memory nor stall.
FUZZ_FLAGS   = -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
               -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-gguf fuzz-tokenizer fuzz-regress

fuzz-build: $(FUZZ_BINS)

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_CORE) $(wildcard core/*.h) \
                 tests/fuzz/clang_compat.h
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $< $(FUZZ_CORE) -o $@ $(FUZZ_LIBS)

fuzz: fuzz-gguf fuzz-tokenizer

fuzz-gguf: $(FUZZ_DIR)/fuzz_gguf
	@mkdir -p $(FUZZ_DIR)/corpus_gguf
	$(FUZZ_DIR)/fuzz_gguf $(FUZZ_FLAGS) -max_len=65536 \
	    -artifact_prefix=$(FUZZ_DIR)/fuzz_gguf- \
	    $(FUZZ_DIR)/corpus_gguf tests/fuzz/corpus_gguf

fuzz-tokenizer: $(FUZZ_DIR)/fuzz_tokenizer
	@test -f $(FUZZ_MODEL) || { echo "fuzz-tokenizer: $(FUZZ_MODEL) is missing: $(FUZZ_PYTHON) tests/gen_models.py --out build/models"; exit 1; }
	@mkdir -p $(FUZZ_DIR)/corpus_tokenizer
	GPT_FUZZ_MODEL=$(FUZZ_MODEL) $(FUZZ_DIR)/fuzz_tokenizer $(FUZZ_FLAGS) \
	    -max_len=4096 -artifact_prefix=$(FUZZ_DIR)/fuzz_tokenizer- \
	    $(FUZZ_DIR)/corpus_tokenizer tests/fuzz/corpus_tokenizer

fuzz-regress: $(FUZZ_BINS)
	$(FUZZ_DIR)/fuzz_gguf -runs=0 tests/fuzz/corpus_gguf
	@test -f $(FUZZ_MODEL) || { echo "fuzz-regress: $(FUZZ_MODEL) is missing"; exit 1; }
	GPT_FUZZ_MODEL=$(FUZZ_MODEL) $(FUZZ_DIR)/fuzz_tokenizer -runs=0 \
	    tests/fuzz/corpus_tokenizer

fuzz-seeds:
	$(FUZZ_PYTHON) tests/fuzz/make_seeds.py tests/fuzz
