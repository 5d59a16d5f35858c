--
-- gpt_tokenize, gpt_detokenize, gpt_token_count: GPT-2 byte-level BPE,
-- the same ids as tiktoken's "gpt2" encoding.
--
SET gpt.model = 'tiny-f32.gguf';

SELECT gpt_tokenize('Hello world');
SELECT gpt_tokenize('The cat is lying on the');
SELECT gpt_tokenize('The quick brown fox jumps over the lazy dog.');
SELECT gpt_tokenize('');
SELECT gpt_tokenize(NULL);
-- special tokens in text are ordinary text
SELECT gpt_tokenize('<|endoftext|>');
-- non-ASCII text
SELECT gpt_tokenize('café');
SELECT gpt_tokenize(' naïve Zürich');
SELECT gpt_tokenize('讲一个“行权”和“A+”的故事');

SELECT gpt_token_count('Hello world');
SELECT gpt_token_count('讲一个“行权”和“A+”的故事');
SELECT gpt_token_count('');
SELECT gpt_token_count(NULL);
SELECT gpt_token_count(repeat('hello ', 1000));

SELECT gpt_detokenize('{15496,995}');
SELECT gpt_detokenize('{}');
SELECT gpt_detokenize(NULL);
SELECT gpt_detokenize('{50256}');
-- a multi-dimensional array is read in order
SELECT gpt_detokenize('{{15496},{995}}');
-- three byte tokens that make one character, then one alone: U+FFFD
SELECT gpt_detokenize('{164,106,110}');
SELECT gpt_detokenize('{164}');
-- token 188 is the byte 0x00, which text cannot hold: U+FFFD
SELECT gpt_detokenize('{188}');

-- round trips
SELECT gpt_detokenize(gpt_tokenize('讲一个“行权”和“A+”的故事'))
       = '讲一个“行权”和“A+”的故事' AS chinese_round_trip;
SELECT gpt_detokenize(gpt_tokenize(t)) = t AS round_trip,
       cardinality(gpt_tokenize(t)) = gpt_token_count(t) AS count_matches
FROM (VALUES ('Hello, world!'), (E'tabs\tand\nnewlines  '),
             ('emoji 👍🏽 and ∑ math'), ('   '), ('It''s 2024: 3.14!')) v(t);

-- bad input
SELECT gpt_detokenize('{15496,NULL}');
SELECT gpt_detokenize('{-1}');
SELECT gpt_detokenize('{50257}');
SELECT gpt_detokenize('{15496,2147483647}');
