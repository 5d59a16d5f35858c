"""sql_enrich.py - the enrichment benchmark of `make bench` (issue 8): rows/s
for filling a column with gpt_generate over a table, three ways, in
PostgreSQL (called by bench/sql_bench.py inside the throwaway cluster):

  per row   UPDATE docs SET x = gpt_generate(body, ...): one call per row
            in one backend
  parallel  CREATE TABLE ... AS SELECT id, gpt_generate(body, ...) FROM docs
            with a forced parallel plan (parallel_setup_cost = 0,
            parallel_tuple_cost = 0, min_parallel_table_scan_size = 0,
            max_parallel_workers_per_gather = 2): the leader and two
            workers, each with its own model and session.  UPDATE cannot
            run in parallel in PostgreSQL; CREATE TABLE AS can.  Run under
            EXPLAIN (ANALYZE) so the launched workers are known.
  batched   UPDATE docs SET x = g.x FROM (SELECT unnest(ids),
            unnest(gpt_generate(bodies, ...)) ...): one gpt_generate(text[])
            call for all rows, decoding up to 16 together

Greedy decoding, gpt.threads = 1 everywhere.  The three results must be
identical row for row (checked).  A size is MODEL:ROWS:TOKENS, the model
a file name in gpt.model_dir.
"""
import re
import statistics

PARALLEL = ("SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; "
            "SET min_parallel_table_scan_size = 0; "
            "SET max_parallel_workers_per_gather = 2;")

# Row texts: a review number and a few varying words, 11-13 tokens, so that
# prompt plus continuation fit the smallest model's 128-token context.
SETUP = """
DROP TABLE IF EXISTS docs, docs_par;
-- fillfactor 10 spreads the rows over many pages, so the parallel scan
-- can share them out evenly between the processes; parallel_workers = 2
-- whatever the table's size (the planner would give a small table one)
CREATE TABLE docs (id int PRIMARY KEY, body text, x_row text, x_batch text)
    WITH (fillfactor = 10, parallel_workers = 2);
INSERT INTO docs (id, body)
SELECT i, 'Review ' || i || ': the ' ||
       (ARRAY['parcel', 'phone', 'chair', 'lamp', 'book'])[1 + i %% 5] ||
       ' arrived ' ||
       (ARRAY['late', 'early', 'broken', 'on time'])[1 + i %% 4] ||
       ' and the customer said'
FROM generate_series(1, %d) AS i;
ANALYZE docs;
"""


def gen(arg, tokens):
    return ("gpt_generate(%s, max_tokens => %d, temperature => 0)" %
            (arg, tokens))


def bench_enrich(psql_session, model, rows, tokens, runs, log):
    """psql_session(stmts, options) runs statements in one new backend and
    returns (per-statement seconds, output rows)."""
    opts = "-c gpt.model=%s -c gpt.threads=1" % model
    psql_session([SETUP % rows], opts)
    forms = {
        "per_row": ["UPDATE docs SET x_row = %s;" % gen("body", tokens)],
        "parallel": [PARALLEL, "DROP TABLE IF EXISTS docs_par;",
                     "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) "
                     "CREATE TABLE docs_par AS SELECT id, %s AS x FROM docs;"
                     % gen("body", tokens)],
        "batched": ["UPDATE docs d SET x_batch = g.x FROM (SELECT "
                    "unnest(ids) AS id, unnest(%s) AS x FROM (SELECT "
                    "array_agg(id ORDER BY id) AS ids, array_agg(body ORDER "
                    "BY id) AS bodies FROM docs) a) g WHERE d.id = g.id;"
                    % gen("bodies", tokens)],
    }
    out = {"model": model, "rows": rows, "max_tokens": tokens, "threads": 1}
    workers = []
    for name, stmts in forms.items():
        secs = []
        for _ in range(runs):
            # a new backend each run: every form pays its attach alike
            times, lines = psql_session(stmts, opts)
            secs.append(times[-1])
            if name == "parallel":
                m = re.search(r"Workers Launched: (\d+)", "\n".join(lines))
                workers.append(int(m.group(1)) if m else 0)
        out[name] = {"seconds": secs, "median_s": statistics.median(secs),
                     "rows_per_s": rows / statistics.median(secs),
                     "spread_rows_per_s": [rows / max(secs), rows / min(secs)]}
        log("enrich %s %d rows x %d tokens, %s: %.1f rows/s" % (
            model, rows, tokens, name, out[name]["rows_per_s"]))
    out["parallel"]["workers_launched"] = workers
    _, check = psql_session([
        "SELECT count(*), count(*) FILTER (WHERE d.x_row IS NULL "
        "OR d.x_row IS DISTINCT FROM d.x_batch OR d.x_row IS DISTINCT FROM "
        "p.x), count(DISTINCT d.x_row), sum(gpt_token_count(d.x_row)) "
        "FROM docs d JOIN docs_par p USING (id);"], opts)
    n, differ, distinct, ntok = (int(v) for v in check[-1].split("|"))
    out.update(compared=n, differing=differ, distinct_texts=distinct,
               retokenized_tokens=ntok,
               identical=(n == rows and differ == 0))
    return out
