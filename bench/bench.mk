# bench/bench.mk - `make bench`: ours beside llama.cpp (npm node-llama-cpp)
# and the machine's ceilings, in one run.  Writes build/bench/results.json,
# BENCHMARKS.md and docs/bench_*.png.  BENCH_ARGS goes to bench/run.py,
# e.g. make bench BENCH_ARGS='--runs 3 --formats q8_0'.
#
# The helpers are built with the project's flags; bandwidth.c picks its
# vector width at run time, so no -march is needed.

BENCH_DIR  := $(BUILD)/bench
BENCH_ARGS ?=
BENCH_BINS := $(BENCH_DIR)/bandwidth $(BENCH_DIR)/sgemm $(BENCH_DIR)/tokbench \
              $(BENCH_DIR)/rss $(BENCH_DIR)/corebench $(BENCH_DIR)/genbench \
              $(BENCH_DIR)/kernbench

BENCH_SQL      ?= 0
BENCH_SQL_ARGS ?=

.PHONY: bench bench-tools bench-sql

# BENCH_SQL=1 adds the in-database benchmark (about 4 minutes more).
bench: $(CORE_LIB) $(CLI) $(BENCH_BINS)
	sh bench/run.sh $(BENCH_ARGS)
	if [ "$(BENCH_SQL)" = 1 ]; then $(MAKE) --no-print-directory bench-sql; fi

# The in-database benchmark alone: SQL overhead against the CLI, attach
# cost, private memory per backend, pgbench clients, batching and context
# (bench/sql_bench.py on a throwaway cluster).  Writes build/bench/sql.json
# and BENCHMARKS-SQL.md; e.g. make bench-sql BENCH_SQL_ARGS='--runs 5'.
bench-sql: $(CLI) sqlite install-pg
	sh bench/sql_bench.sh $(BENCH_SQL_ARGS)

bench-tools: $(BENCH_BINS)

$(BENCH_DIR):
	mkdir -p $@

$(BENCH_DIR)/bandwidth: bench/bandwidth.c | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ -lpthread

$(BENCH_DIR)/sgemm: bench/sgemm.c | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ -lopenblas

$(BENCH_DIR)/tokbench: bench/tokbench.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

$(BENCH_DIR)/rss: bench/rss.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

$(BENCH_DIR)/corebench: bench/corebench.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

$(BENCH_DIR)/genbench: bench/genbench.c $(CORE_LIB) core/gpt.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)

# the matrix kernel alone (a diagnostic; not part of the report)
$(BENCH_DIR)/kernbench: bench/kernbench.c $(CORE_LIB) core/kernels.h | $(BENCH_DIR)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(CORE_LIB) $(LDLIBS_CORE)
