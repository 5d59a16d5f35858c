# tests/tests.mk - core tests (part of `make test`).
#
#   make test-models   generate the random-weight test models (fixed seed)
#   make test-core     tokenizer, session/kernels, malformed files,
#                      reference comparison, Python tool tests

MODELS_DIR  := build/models
TEST_MODELS := $(MODELS_DIR)/tiny-f32.gguf
TEST_BINS   := $(BUILD)/test_tokenizer $(BUILD)/test_session $(BUILD)/test_alloc \
               $(BUILD)/test_malformed

.PHONY: test-models test-core-bins

test-models: $(TEST_MODELS)

$(TEST_MODELS): tests/gen_models.py tools/gguf.py
	$(PYTHON) tests/gen_models.py --out $(MODELS_DIR)

$(BUILD)/test_tokenizer: tests/core/test_tokenizer.c core/tokenizer.c core/utf8.c core/error.c core/mapping.c $(wildcard core/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(ALL_CFLAGS) $(filter %.c,$^) -o $@ $(LDFLAGS_SAN)

$(BUILD)/test_session: tests/core/test_session.c $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDFLAGS_SAN) $(LDLIBS_CORE)

$(BUILD)/test_alloc: tests/core/test_alloc.c $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDFLAGS_SAN) $(LDLIBS_CORE)

$(BUILD)/test_malformed: tests/core/test_malformed.c $(CORE_LIB)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDFLAGS_SAN) $(LDLIBS_CORE)

test-core-bins: $(TEST_BINS)

test-core: test-core-bins cli test-models
	$(BUILD)/test_tokenizer tests/data
	$(BUILD)/test_session $(MODELS_DIR)/tiny-untied-f32.gguf
	$(BUILD)/test_session $(MODELS_DIR)/tiny-q8_0.gguf
	$(BUILD)/test_alloc $(MODELS_DIR)/tiny-q8_0.gguf
	$(BUILD)/test_malformed $(MODELS_DIR)/tiny-f32.gguf
	GPT_BUILD=$(BUILD) $(PYTHON) tests/core/check_reference.py
	$(PYTHON) -m unittest discover -s tests/tests_py
