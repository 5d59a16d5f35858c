--
-- A LATIN1 database: text is converted to UTF-8 for the core and back;
-- characters LATIN1 cannot hold are an error, never invalid text.
-- (run by `make installcheck-latin1`, in a database created as LATIN1)
--
SET client_encoding = 'UTF8';
CREATE EXTENSION IF NOT EXISTS gpt;
SET gpt.model = 'tiny-f32.gguf';
SHOW server_encoding;

-- the same ids as in a UTF-8 database
SELECT gpt_tokenize('café');
SELECT gpt_tokenize(' naïve Zürich');
SELECT gpt_token_count(' naïve Zürich');
SELECT gpt_detokenize('{66,1878,2634}');
SELECT gpt_detokenize(gpt_tokenize('Ça coûte 5 £ ?')) = 'Ça coûte 5 £ ?'
       AS round_trip;
SELECT gpt_generate('café', max_tokens => 0) = '' AS generate;
SELECT gpt_generate('café', max_tokens => 4, temperature => 0)
     = gpt_generate('café', max_tokens => 4, temperature => 0) AS deterministic;
SELECT count(*) FROM gpt_next_token_probs('café', 3);

-- not representable in LATIN1
SELECT gpt_detokenize('{164,106,110}');
SELECT gpt_detokenize('{164}');
SELECT gpt_tokenize('讲一个“行权”和“A+”的故事');

-- many prompts, streaming and scoring convert the same way
SELECT gpt_generate(ARRAY['café', NULL, 'Zürich'], max_tokens => 4, seed => 1)
       IS NOT DISTINCT FROM
       ARRAY[gpt_generate('café', max_tokens => 4, seed => 1), NULL,
             gpt_generate('Zürich', max_tokens => 4, seed => 1)] AS batch;
SELECT string_agg(token, '' ORDER BY step)
     = gpt_generate('Zürich', max_tokens => 4, seed => 1) AS stream
FROM gpt_generate_tokens('Zürich', max_tokens => 4, seed => 1);
SELECT pos, token_id, token FROM gpt_token_logprobs('café Zürich') ORDER BY pos;
SELECT gpt_score('café Zürich') = (SELECT sum(logprob)
                                   FROM gpt_token_logprobs('café Zürich'))
       AS score;
SELECT gpt_choose('Où est', ARRAY[' café', ' Zürich']) IN (' café', ' Zürich')
       AS choose;
