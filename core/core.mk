# core/core.mk - the core library (build/libgptcore.a) and the CLI (build/gpt).
# Every core/*.c file is part of the library; the CLI lives in tools/cli/.

CORE_SRCS := $(wildcard core/*.c)
CORE_OBJS := $(patsubst core/%.c,$(BUILD)/core/%.o,$(CORE_SRCS))
CORE_LIB  := $(BUILD)/libgptcore.a
CLI_SRCS  := $(wildcard tools/cli/*.c)
CLI       := $(BUILD)/gpt

core: $(CORE_LIB)
cli: $(CLI)

$(BUILD)/core/%.o: core/%.c $(wildcard core/*.h) | $(BUILD)/core
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/core:
	mkdir -p $@

$(CORE_LIB): $(CORE_OBJS)
	rm -f $@
	ar rcs $@ $^

$(CLI): $(CLI_SRCS) $(CORE_LIB) core/gpt.h
	$(CC) $(ALL_CFLAGS) $(CLI_SRCS) -o $@ $(CORE_LIB) $(LDFLAGS_SAN) $(LDLIBS_CORE)
