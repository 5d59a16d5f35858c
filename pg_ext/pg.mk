# pg_ext/pg.mk - PostgreSQL targets, included by the top-level Makefile.
#
#   make pg          build the extension (pg_ext/gpt.so)
#   make install-pg  install it with the default model (as root)
#   make test-pg     install, then run pg_regress on a throwaway cluster
#   make test-cross  the CLI, the SQLite module and the extension give
#                    byte-identical results (tests/cross/run.sh)
#   make test-pg-stress  pgbench with random cancels, 200 timed cancels,
#                    model files changed under running backends
#                    (tests/pg/stress.sh; about 3 minutes)
#
# The extension always links the plain build/libgptcore.a: a server that is
# not built with sanitizers cannot load a sanitized library.

PG_MAKE = $(MAKE) -C pg_ext PG_CONFIG=$(PG_CONFIG) CORE_LIB=$(CURDIR)/build/libgptcore.a

ifeq ($(SANITIZE),1)
pg:
	$(MAKE) SANITIZE= BUILD=build core
	$(PG_MAKE)
else
pg: core
	$(PG_MAKE)
endif

install-pg: pg
	$(PG_MAKE) install

test-pg: install-pg
	PG_CONFIG=$(PG_CONFIG) PYTHON=$(PYTHON) bash tests/pg/run_regress.sh

test-cross: cli sqlite install-pg
	PG_CONFIG=$(PG_CONFIG) PYTHON=$(PYTHON) bash tests/cross/run.sh

# A libpq client: the cancel test times each cancel from the client side.
PG_INCLUDEDIR = $(shell $(PG_CONFIG) --includedir)
$(BUILD)/pg_cancel_test: tests/pg/stress/cancel_test.c
	@mkdir -p $(BUILD)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -I$(PG_INCLUDEDIR) $< -o $@ $(LDFLAGS_SAN) -lpq

test-pg-stress: install-pg $(BUILD)/pg_cancel_test
	PG_CONFIG=$(PG_CONFIG) PYTHON=$(PYTHON) BUILD=$(BUILD) bash tests/pg/stress.sh

.PHONY: install-pg test-cross test-pg-stress
