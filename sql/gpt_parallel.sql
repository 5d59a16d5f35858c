--
-- A parallel query gives the same results as a serial one: each parallel
-- worker opens its own model.
--
SET gpt.model = 'tiny-f32.gguf';
CREATE TABLE gpt_prompts AS
SELECT i AS id, 'Prompt number ' || i AS prompt FROM generate_series(1, 24) i;
ANALYZE gpt_prompts;

SET max_parallel_workers_per_gather = 0;
CREATE TABLE gpt_serial AS
SELECT id, gpt_generate(prompt, max_tokens => 8, seed => id) AS g,
       gpt_tokenize(prompt) AS ids, gpt_token_count(prompt) AS n,
       (SELECT array_agg(token_id ORDER BY rank)
        FROM gpt_next_token_probs(prompt, 3)) AS top3
FROM gpt_prompts;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
-- force_parallel_mode (PostgreSQL 15) is debug_parallel_query from 16 on.
SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'on', false) AS parallel_mode;
EXPLAIN (COSTS OFF, VERBOSE)
SELECT id, gpt_generate(prompt, max_tokens => 8, seed => id) FROM gpt_prompts;

CREATE TABLE gpt_par AS
SELECT id, gpt_generate(prompt, max_tokens => 8, seed => id) AS g,
       gpt_tokenize(prompt) AS ids, gpt_token_count(prompt) AS n,
       (SELECT array_agg(token_id ORDER BY rank)
        FROM gpt_next_token_probs(prompt, 3)) AS top3
FROM gpt_prompts;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE s.g = p.g AND s.ids = p.ids AND s.n = p.n
                        AND s.top3 = p.top3) AS equal
FROM gpt_serial s JOIN gpt_par p USING (id);

-- An aggregate computed in the workers.
SELECT sum(length(gpt_generate(prompt, max_tokens => 8, seed => id)))
     = (SELECT sum(length(g)) FROM gpt_serial) AS parallel_sum
FROM gpt_prompts;

SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                       THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END,
                  'off', false) AS parallel_mode;
RESET max_parallel_workers_per_gather;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
DROP TABLE gpt_prompts, gpt_serial, gpt_par;
