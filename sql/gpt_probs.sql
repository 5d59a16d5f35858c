--
-- gpt_next_token_probs: the k most probable next tokens.
--
SET gpt.model = 'tiny-f32.gguf';

SELECT count(*) AS default_k FROM gpt_next_token_probs('The cat is lying on the');
SELECT count(*) AS k_3 FROM gpt_next_token_probs('The cat', k => 3);
SELECT count(*) AS k_1 FROM gpt_next_token_probs(prompt => 'The cat', k => 1);
-- k above the vocabulary size gives the whole vocabulary
SELECT count(*) AS whole_vocabulary,
       round(sum(prob)::numeric, 6) AS total_probability
FROM gpt_next_token_probs('The cat', 100000);
SELECT count(*) AS empty_prompt FROM gpt_next_token_probs('', 5);
SELECT count(*) AS chinese FROM gpt_next_token_probs('讲一个“行权”和“A+”的故事', 5);

-- Ranks 1..k, most probable first, prob = exp(logprob), token ids valid,
-- token is the text of bytes (U+FFFD for incomplete UTF-8).
SELECT bool_and(rank = n) AS ranks,
       bool_and(prob <= prev OR prev IS NULL) AS descending,
       bool_and(abs(prob - exp(logprob)) < 1e-9) AS prob_is_exp_logprob,
       bool_and(prob > 0 AND prob <= 1 AND logprob <= 0) AS in_range,
       bool_and(token_id BETWEEN 0 AND 50256) AS ids,
       bool_and(token = gpt_detokenize(ARRAY[token_id])) AS token_text,
       bool_and(length(bytes) > 0) AS has_bytes,
       bool_and(convert_to(token, 'UTF8') = bytes OR token LIKE '%�%')
           AS bytes_match_text,
       count(*) FILTER (WHERE token LIKE '%�%') > 0 AS some_incomplete
FROM (SELECT *, row_number() OVER (ORDER BY rank) AS n,
             lag(prob) OVER (ORDER BY rank) AS prev
      FROM gpt_next_token_probs('The cat is lying on the', 50)) t;

-- bytes holds the raw bytes of the token; token shows incomplete UTF-8
-- (0xe8 starts a 3-byte character) and NUL as U+FFFD.
SELECT token_id, token, bytes
FROM gpt_next_token_probs('The cat', 100000)
WHERE token_id IN (164, 188, 15496, 50256) ORDER BY token_id;

-- Deterministic, and the same with 1 and 2 threads.
SET gpt.threads = 1;
CREATE TEMP TABLE probs1 AS SELECT * FROM gpt_next_token_probs('The cat', 20);
SET gpt.threads = 2;
SELECT count(*) AS differences FROM (
    (SELECT * FROM probs1 EXCEPT SELECT * FROM gpt_next_token_probs('The cat', 20))
    UNION ALL
    (SELECT * FROM gpt_next_token_probs('The cat', 20) EXCEPT SELECT * FROM probs1)) d;
RESET gpt.threads;

-- In a lateral join over a table.
SELECT p, count(*) FROM (VALUES ('a'), ('b')) v(p),
     LATERAL gpt_next_token_probs(p, 2) GROUP BY p ORDER BY p;

-- STRICT: NULL arguments give no rows.
SELECT count(*) AS null_prompt FROM gpt_next_token_probs(NULL);
SELECT count(*) AS null_k FROM gpt_next_token_probs('x', NULL);

-- bad input
SELECT * FROM gpt_next_token_probs('The cat', 0);
SELECT * FROM gpt_next_token_probs('The cat', -1);
SELECT * FROM gpt_next_token_probs(repeat('word ', 200));
