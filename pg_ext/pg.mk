# pg_ext/pg.mk - PostgreSQL targets, included by the top-level Makefile.
#
#   make pg          build the extension (pg_ext/gpt.so)
#   make install-pg  install it with the default model (as root)
#   make test-pg     install, then run pg_regress on a throwaway cluster
#   make test-cross  the CLI, the SQLite module and the extension give
#                    byte-identical results (tests/cross/run.sh)
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

.PHONY: install-pg test-cross
