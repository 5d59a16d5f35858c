# sqlite_ext/sqlite.mk - the SQLite loadable module (included by the
# top-level Makefile, which defines CC, ALL_CFLAGS, BUILD, CORE_LIB,
# LDFLAGS_SAN and LDLIBS_CORE).
#
#   make sqlite          builds sqlite_ext/gpt.so (entry point sqlite3_gpt_init)
#   make test-sqlite     shell, thread and Python tests (tests/sqlite/run.sh)
#   make install-sqlite  installs gpt.so where dlopen finds it by name, so that
#                        `.load gpt` works, plus the default model
#
# The module is linked in $(BUILD)/sqlite and copied to sqlite_ext/gpt.so
# (the path users load from the source tree), so a SANITIZE=1 build and a
# normal one never mix objects.  The core's symbols are hidden inside the
# module (--exclude-libs): only sqlite3_gpt_init is exported.

PREFIX          ?= /usr/local
# dlopen("gpt.so") searches the system library directories, not
# /usr/local/lib, so the module goes into the multiarch library directory.
SQLITE_EXT_DIR  ?= /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)
GPT_SHARE_DIR   ?= $(PREFIX)/share/gpt
SQLITE_SRCS     := $(wildcard sqlite_ext/*.c)
SQLITE_HDRS     := $(wildcard sqlite_ext/*.h) core/gpt.h
SQLITE_SO_BUILD := $(BUILD)/sqlite/gpt.so
SQLITE_SO       := sqlite_ext/gpt.so
SQLITE_THREADS_TEST := $(BUILD)/sqlite/test_threads
SQLITE_OPTIONS_TEST := $(BUILD)/sqlite/test_options
GPT_TEST_MODELS ?= build/models

.PHONY: install-sqlite

sqlite: $(SQLITE_SO)

$(SQLITE_SO_BUILD): $(SQLITE_SRCS) $(SQLITE_HDRS) $(CORE_LIB) sqlite_ext/sqlite.mk
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Isqlite_ext \
	    -DGPT_SQLITE_MODEL_PATH='"$(GPT_SHARE_DIR)/default.gguf"' \
	    -shared -o $@ $(SQLITE_SRCS) $(CORE_LIB) -Wl,--exclude-libs,ALL \
	    -Wl,-z,defs $(LDFLAGS_SAN) $(LDLIBS_CORE) -ldl

# Checked on every make (the copy may come from the other BUILD: a
# SANITIZE=1 build and a normal one share this path) and copied only when
# it differs.
$(SQLITE_SO): $(SQLITE_SO_BUILD) sqlite-always
	@cmp -s $< $@ || cp $< $@

.PHONY: sqlite-always
sqlite-always:

$(SQLITE_THREADS_TEST): tests/sqlite/test_threads.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDFLAGS_SAN) -lsqlite3 -lpthread

$(SQLITE_OPTIONS_TEST): tests/sqlite/test_options.c sqlite_ext/options.c \
                        sqlite_ext/json.c sqlite_ext/options.h \
                        sqlite_ext/json.h $(CORE_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Isqlite_ext -o $@ tests/sqlite/test_options.c \
	    sqlite_ext/options.c sqlite_ext/json.c $(CORE_LIB) $(LDFLAGS_SAN) \
	    $(LDLIBS_CORE)

test-sqlite: sqlite cli $(SQLITE_THREADS_TEST) $(SQLITE_OPTIONS_TEST) test-models
	GPT_TEST_MODELS=$(GPT_TEST_MODELS) PYTHON=$(PYTHON) CC=$(CC) GPT_CLI=$(CLI) \
	    SQLITE_THREADS_TEST=$(SQLITE_THREADS_TEST) \
	    SQLITE_OPTIONS_TEST=$(SQLITE_OPTIONS_TEST) SANITIZE=$(SANITIZE) \
	    sh tests/sqlite/run.sh

install-sqlite: sqlite
	install -D -m 755 $(SQLITE_SO) $(DESTDIR)$(SQLITE_EXT_DIR)/gpt.so
	if [ -f models/default.gguf ]; then \
	    install -D -m 644 models/default.gguf \
	        $(DESTDIR)$(GPT_SHARE_DIR)/default.gguf; fi
