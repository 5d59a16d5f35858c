# bench/bench.mk - `make bench`: the whole benchmark in one command.  Ours
# beside llama.cpp (npm node-llama-cpp) and the machine's ceilings, the
# generation curves (batch size, context position), shared-prefix reuse,
# and the databases (SQL overhead, attach cost, memory per backend,
# pgbench, enrichment) on a throwaway PostgreSQL cluster.  Writes
# build/bench/results.json, BENCHMARKS.md and docs/bench_*.png.
#
#   make bench                          everything (about 9 minutes on 2 quiet
#                                       cores; much longer on a loaded machine)
#   make bench BENCH_ARGS='--quick'     a smoke test: small settings, one run,
#                                       report under build/bench/quick/
#   make bench BENCH_SQL=0              without the databases (no install-pg)
#   make bench BENCH_ARGS='--runs 5 --formats q8_0'   see bench/run.sh
#
# The database part installs the extension system-wide (make install-pg).
# The helpers are built with the project's flags; bandwidth.c picks its
# vector width at run time, so no -march is needed.

BENCH_DIR  := $(BUILD)/bench
BENCH_ARGS ?=
BENCH_BINS := $(BENCH_DIR)/bandwidth $(BENCH_DIR)/sgemm $(BENCH_DIR)/tokbench \
              $(BENCH_DIR)/rss $(BENCH_DIR)/corebench $(BENCH_DIR)/genbench \
              $(BENCH_DIR)/kernbench $(BENCH_DIR)/maptouch $(BENCH_DIR)/batchroof

BENCH_SQL      ?= 1
BENCH_SQL_ARGS ?=
# what the database part needs, unless BENCH_SQL=0
BENCH_SQL_DEPS := $(if $(filter 0,$(BENCH_SQL)),,sqlite install-pg)

.PHONY: bench bench-tools bench-sql

bench: $(CORE_LIB) $(CLI) $(BENCH_BINS) $(BENCH_SQL_DEPS)
	sh bench/run.sh $(if $(filter 0,$(BENCH_SQL)),--no-sql) $(BENCH_ARGS)

# The database part alone, e.g. make bench-sql BENCH_SQL_ARGS='--clients 1,2':
# results and report under build/bench/partial/ (the committed report is
# left alone).
bench-sql: $(CORE_LIB) $(CLI) $(BENCH_BINS) sqlite install-pg
	sh bench/run.sh --only sql $(if $(BENCH_SQL_ARGS),'--sql-args=$(BENCH_SQL_ARGS)') $(BENCH_ARGS)

bench-tools: $(BENCH_BINS)

$(BENCH_DIR):
	mkdir -p $@

$(BENCH_DIR)/bandwidth: bench/bandwidth.c | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ -lpthread

$(BENCH_DIR)/sgemm: bench/sgemm.c | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ -lopenblas

$(BENCH_DIR)/tokbench: bench/tokbench.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

# the page-table floor under the attach cost (the core's mapping only)
$(BENCH_DIR)/maptouch: bench/maptouch.c $(CORE_LIB) core/mapping.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

$(BENCH_DIR)/rss: bench/rss.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

$(BENCH_DIR)/corebench: bench/corebench.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

$(BENCH_DIR)/genbench: bench/genbench.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

# how far batched decoding can go: the Q8_0 products of a decode step for T
# tokens, streamed and in cache (a diagnostic; not part of the report)
$(BENCH_DIR)/batchroof: bench/batchroof.c $(CORE_LIB) core/kernels.h core/model.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

# the matrix kernel alone (a diagnostic; not part of the report)
$(BENCH_DIR)/kernbench: bench/kernbench.c $(CORE_LIB) core/kernels.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)
