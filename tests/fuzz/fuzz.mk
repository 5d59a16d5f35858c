# tests/fuzz/fuzz.mk - libFuzzer targets (clang from Debian: apt-get install
# clang; clang 14 has libFuzzer built in).
#
#   make fuzz                   build, then run each target FUZZ_SECONDS (60)
#   make fuzz FUZZ_SECONDS=600  longer
#   make fuzz-gguf              one target (also fuzz-tokenizer,
#                               fuzz-options, fuzz-convert)
#   make fuzz-build             build only (build/fuzz/fuzz_*)
#   make fuzz-regress           run every committed seed once (seconds; for
#                               make test)
#   make fuzz-seeds             rewrite the committed seed corpora
#
# Usable on its own too: make -f tests/fuzz/fuzz.mk fuzz
#
# The targets (tests/fuzz/README.md says what each checks):
#   fuzz_gguf       the model loader, through gpt_model_open()
#   fuzz_tokenizer  tokenizer encode and decode (needs FUZZ_MODEL)
#   fuzz_options    the SQLite module's JSON options / id / string parsers
#   fuzz_convert    gpt-convert's safetensors and config.json readers, and
#                   whole conversions of tests/fuzz/hf_tiny with one file
#                   replaced
#
# Each fuzzer compiles the sources it tests itself with clang and
# -fsanitize=fuzzer,address,undefined (not the gcc-built library).  New
# inputs go to build/fuzz/corpus_<target>/ (kept between runs); the
# committed seeds in tests/fuzz/corpus_<target>/ are only read.  A crash,
# leak, timeout or failed property leaves build/fuzz/fuzz_<target>-crash-*
# (or -leak-, -timeout-, -oom-) and makes the target fail.  One process per
# target (the machine is small).

FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_DIR     ?= build/fuzz
FUZZ_MODEL   ?= build/models/tiny-f32.gguf
FUZZ_PYTHON  ?= /usr/bin/python3
FUZZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
               -fsanitize=fuzzer,address,undefined \
               -fno-sanitize-recover=undefined -Icore \
               -include tests/fuzz/clang_compat.h
FUZZ_LIBS    = -lpthread -lm
FUZZ_CORE    := $(wildcard core/*.c)
FUZZ_NAMES   := gguf tokenizer options convert
FUZZ_BINS    := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
# -rss_limit_mb/-timeout: a hostile input must neither eat memory nor stall.
FUZZ_FLAGS   = -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
               -rss_limit_mb=2048 -print_final_stats=1

# Per target: sources besides the core, include folders, environment, and
# -max_len (the gguf seeds are ~25 KB, the convert ones up to ~33 KB).
FUZZ_SRCS_options  := sqlite_ext/options.c sqlite_ext/json.c
FUZZ_INC_options   := -Isqlite_ext
FUZZ_SRCS_convert  := $(filter-out models/convert/gpt_convert.c,\
                        $(wildcard models/convert/*.c))
FUZZ_INC_convert   := -Imodels/convert
FUZZ_ENV_tokenizer := GPT_FUZZ_MODEL=$(FUZZ_MODEL)
FUZZ_MAXLEN_gguf      := 65536
FUZZ_MAXLEN_tokenizer := 4096
FUZZ_MAXLEN_options   := 4096
FUZZ_MAXLEN_convert   := 65536

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-regress fuzz-model \
        $(addprefix fuzz-,$(FUZZ_NAMES))

fuzz-build: $(FUZZ_BINS)

# fuzz_<name>: its .c, the core, and its own sources.
define FUZZ_TARGET
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c $(FUZZ_CORE) $(FUZZ_SRCS_$(1)) \
        $(wildcard core/*.h sqlite_ext/*.h models/convert/*.h) \
        $(wildcard tests/fuzz/*.h) tests/fuzz/fuzz.mk
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_INC_$(1)) $$< $(FUZZ_CORE) \
	    $(FUZZ_SRCS_$(1)) -o $$@ $(FUZZ_LIBS)

fuzz-$(1): $(FUZZ_DIR)/fuzz_$(1) $(if $(FUZZ_ENV_$(1)),fuzz-model)
	@mkdir -p $(FUZZ_DIR)/corpus_$(1)
	$(FUZZ_ENV_$(1)) $(FUZZ_DIR)/fuzz_$(1) $(FUZZ_FLAGS) \
	    -max_len=$(FUZZ_MAXLEN_$(1)) \
	    -artifact_prefix=$(FUZZ_DIR)/fuzz_$(1)- \
	    $(FUZZ_DIR)/corpus_$(1) tests/fuzz/corpus_$(1)
endef
$(foreach t,$(FUZZ_NAMES),$(eval $(call FUZZ_TARGET,$(t))))

# One after the other, never in parallel (each is one busy process).
fuzz: fuzz-build
	@for t in $(FUZZ_NAMES); do \
	    $(MAKE) --no-print-directory -f $(firstword $(MAKEFILE_LIST)) \
	        fuzz-$$t FUZZ_SECONDS=$(FUZZ_SECONDS) || exit 1; \
	done

fuzz-model:
	@test -f $(FUZZ_MODEL) || { echo "fuzz: $(FUZZ_MODEL) is missing: $(FUZZ_PYTHON) tests/gen_models.py --out build/models"; exit 1; }

# Every committed seed once, each target from its own seed folder only.
fuzz-regress: $(FUZZ_BINS) fuzz-model
	@for t in $(FUZZ_NAMES); do \
	    echo "fuzz-regress: fuzz_$$t on tests/fuzz/corpus_$$t"; \
	    GPT_FUZZ_MODEL=$(FUZZ_MODEL) $(FUZZ_DIR)/fuzz_$$t -runs=0 \
	        tests/fuzz/corpus_$$t 2>$(FUZZ_DIR)/regress_$$t.log || \
	        { tail -n 40 $(FUZZ_DIR)/regress_$$t.log; exit 1; }; \
	    grep -h 'INITED\|DONE' $(FUZZ_DIR)/regress_$$t.log | tail -n 1; \
	done

fuzz-seeds:
	$(FUZZ_PYTHON) tests/fuzz/make_seeds.py tests/fuzz
