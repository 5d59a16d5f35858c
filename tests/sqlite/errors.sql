-- Every bad input of every function, and the message it gets.  Each error
-- is printed by the shell as "Runtime error near line N: MESSAGE"; the
-- script goes on after it.  After the errors, the connection still works.
.load ./sqlite_ext/gpt

.print '--- gpt_generate: options that are not JSON objects'
SELECT gpt_generate('x', '');
SELECT gpt_generate('x', 'max_tokens=5');
SELECT gpt_generate('x', '{max_tokens: 5}');
SELECT gpt_generate('x', '{"max_tokens": 5');
SELECT gpt_generate('x', '{"max_tokens": 5,}');
SELECT gpt_generate('x', '{"max_tokens": 5} trailing');
SELECT gpt_generate('x', '{"max_tokens" 5}');
SELECT gpt_generate('x', '[1, 2]');
SELECT gpt_generate('x', '"max_tokens"');
SELECT gpt_generate('x', 5);
SELECT gpt_generate('x', x'ff');
SELECT gpt_generate('x', '{"stop": "\q"}');
SELECT gpt_generate('x', '{"stop": "\ud800"}');
SELECT gpt_generate('x', '{"stop": "unterminated}');

.print '--- gpt_generate: unknown keys'
SELECT gpt_generate('x', '{"temprature": 0.5}');
SELECT gpt_generate('x', '{"max_tokens": 5, "Seed": 1}');
SELECT gpt_generate('x', '{"": 1}');
SELECT gpt_generate('x', '{"truncate_prompt": true}');
SELECT gpt_generate('x', '{"a\"b\n讲": 1}');
SELECT gpt_generate('x', '{"max_tokens": 5, "max_tokens": 6}');

.print '--- gpt_generate: wrong types and values'
SELECT gpt_generate('x', '{"max_tokens": -1}');
SELECT gpt_generate('x', '{"max_tokens": 2.5}');
SELECT gpt_generate('x', '{"max_tokens": "5"}');
SELECT gpt_generate('x', '{"max_tokens": 1e9}');
SELECT gpt_generate('x', '{"max_tokens": 99999999999}');
SELECT gpt_generate('x', '{"max_tokens": 1000000}');
SELECT gpt_generate('x', '{"max_tokens": 128}');
-- 150 tokens do not fit in the tiny model's 128.
SELECT gpt_generate(replace(hex(zeroblob(150)), '00', ' x'), '{"max_tokens": 1}');
SELECT gpt_generate('x', '{"temperature": -0.1}');
SELECT gpt_generate('x', '{"temperature": "hot"}');
SELECT gpt_generate('x', '{"temperature": 1e400}');
SELECT gpt_generate('x', '{"top_k": -1}');
SELECT gpt_generate('x', '{"top_k": false}');
SELECT gpt_generate('x', '{"top_p": 0}');
SELECT gpt_generate('x', '{"top_p": 1.5}');
SELECT gpt_generate('x', '{"top_p": -0.5}');
SELECT gpt_generate('x', '{"top_p": [0.5]}');
SELECT gpt_generate('x', '{"seed": 1.5}');
SELECT gpt_generate('x', '{"seed": "42"}');
SELECT gpt_generate('x', '{"seed": 18446744073709551616}');
SELECT gpt_generate('x', '{"stop": 5}');
SELECT gpt_generate('x', '{"stop": {"a": 1}}');
SELECT gpt_generate('x', '{"stop": ["a", null]}');
SELECT gpt_generate('x', '{"stop": ""}');
SELECT gpt_generate('x', '{"stop": ["a", ""]}');
SELECT gpt_generate('x', '{"stop": "a\u0000b"}');
SELECT gpt_generate('x', '{"stop": ["1","2","3","4","5","6","7","8","9","10","11","12","13","14","15","16","17"]}');

.print '--- gpt_tokenize, gpt_token_count, gpt_detokenize'
SELECT gpt_tokenize(printf('%.*c', 100000, 'a')) IS NOT NULL AS long_text_ok;
SELECT gpt_detokenize('');
SELECT gpt_detokenize('15496, 995');
SELECT gpt_detokenize('[15496, 995');
SELECT gpt_detokenize('{"ids": [1]}');
SELECT gpt_detokenize('[1.5]');
SELECT gpt_detokenize('[1, "2"]');
SELECT gpt_detokenize('[1, null]');
SELECT gpt_detokenize('[[1]]');
SELECT gpt_detokenize('[-1]');
SELECT gpt_detokenize('[50257]');
SELECT gpt_detokenize('[2147483648]');
SELECT gpt_detokenize(42);

.print '--- gpt_next_token_probs'
SELECT * FROM gpt_next_token_probs;
SELECT * FROM gpt_next_token_probs WHERE k = 3;
SELECT * FROM gpt_next_token_probs('x', 0);
SELECT * FROM gpt_next_token_probs('x', -5);
SELECT * FROM gpt_next_token_probs('x', 2.5);
SELECT * FROM gpt_next_token_probs('x', 'many');
SELECT * FROM gpt_next_token_probs(replace(hex(zeroblob(150)), '00', ' x'), 3);
SELECT * FROM gpt_next_token_probs('x', 3, 'extra');
CREATE VIRTUAL TABLE t USING gpt_next_token_probs;

.print '--- gpt_generate_each'
SELECT * FROM gpt_generate_each;
SELECT * FROM gpt_generate_each WHERE options = '{}';
SELECT * FROM gpt_generate_each('');
SELECT * FROM gpt_generate_each('not JSON');
SELECT * FROM gpt_generate_each('{"prompt": "a"}');
SELECT * FROM gpt_generate_each('"a"');
SELECT * FROM gpt_generate_each(42);
SELECT * FROM gpt_generate_each(x'ff');
SELECT * FROM gpt_generate_each('[1]');
SELECT * FROM gpt_generate_each('["a", "b", 3]');
SELECT * FROM gpt_generate_each('["a", true]');
SELECT * FROM gpt_generate_each('[["a"]]');
SELECT * FROM gpt_generate_each('[{"a": 1}]');
SELECT * FROM gpt_generate_each('["a",]');
SELECT * FROM gpt_generate_each('["a"] ["b"]');
SELECT * FROM gpt_generate_each('["a\q"]');
SELECT * FROM gpt_generate_each('["a"]', 'max_tokens=5');
SELECT * FROM gpt_generate_each('["a"]', '{"max_tokens": -1}');
SELECT * FROM gpt_generate_each('["a"]', '{"temprature": 0.5}');
SELECT * FROM gpt_generate_each('[]', '{"seed": "1"}');
SELECT * FROM gpt_generate_each('["a"]', '{"max_tokens": 1000000}');
SELECT * FROM gpt_generate_each(json_array('a', NULL, replace(hex(zeroblob(150)), '00', ' x')), '{"max_tokens": 1}');
SELECT * FROM gpt_generate_each('["a"]', '{}', 3);
CREATE VIRTUAL TABLE t_each USING gpt_generate_each;

.print '--- gpt_generate_tokens'
SELECT * FROM gpt_generate_tokens;
SELECT * FROM gpt_generate_tokens WHERE options = '{}';
SELECT * FROM gpt_generate_tokens('x', '');
SELECT * FROM gpt_generate_tokens('x', '[1]');
SELECT * FROM gpt_generate_tokens('x', '{"top_p": 0}');
SELECT * FROM gpt_generate_tokens('x', '{"Seed": 1}');
SELECT * FROM gpt_generate_tokens('x', '{"stop": ""}');
SELECT * FROM gpt_generate_tokens('x', '{"max_tokens": 128}');
SELECT * FROM gpt_generate_tokens(replace(hex(zeroblob(150)), '00', ' x'), '{"max_tokens": 1}');
SELECT * FROM gpt_generate_tokens('x', '{}', 3);
CREATE VIRTUAL TABLE t_tokens USING gpt_generate_tokens;

.print '--- gpt_token_logprobs'
SELECT * FROM gpt_token_logprobs;
SELECT * FROM gpt_token_logprobs(replace(hex(zeroblob(150)), '00', ' x'));
SELECT * FROM gpt_token_logprobs('x', 2);
CREATE VIRTUAL TABLE t_logprobs USING gpt_token_logprobs;

.print '--- gpt_score'
SELECT gpt_score();
SELECT gpt_score('a', 'b', 'c');
SELECT gpt_score(replace(hex(zeroblob(150)), '00', ' x'));
-- The text plus <|endoftext|> must fit: 127 tokens do, 128 do not.
SELECT gpt_score(replace(hex(zeroblob(127)), '00', ' x')) < 0 AS fits_127;
SELECT gpt_score(replace(hex(zeroblob(128)), '00', ' x'));
SELECT gpt_score(replace(hex(zeroblob(100)), '00', ' x'), replace(hex(zeroblob(40)), '00', ' y'));

.print '--- gpt_choose'
SELECT gpt_choose('x');
SELECT gpt_choose('x', '[]');
SELECT gpt_choose('x', ' [ ] ');
SELECT gpt_choose('x', '');
SELECT gpt_choose('x', 'yes, no');
SELECT gpt_choose('x', '{"a": " yes"}');
SELECT gpt_choose('x', '" yes"');
SELECT gpt_choose('x', 7);
SELECT gpt_choose('x', '[" yes", 1]');
SELECT gpt_choose('x', '[" yes", null]');
SELECT gpt_choose('x', '[null]');
SELECT gpt_choose('x', '[" yes", [" no"]]');
SELECT gpt_choose('x', '[" yes", ""]');
SELECT gpt_choose('x', '[" yes" " no"]');
SELECT gpt_choose('x', json_array(' yes', replace(hex(zeroblob(150)), '00', ' x')));
SELECT gpt_choose(replace(hex(zeroblob(150)), '00', ' x'), '[" yes"]');

.print '--- wrong numbers of arguments'
SELECT gpt_generate();
SELECT gpt_generate('x', '{}', 3);
SELECT gpt_tokenize('a', 'b');
SELECT gpt_model_info(1);
SELECT gpt_load();

.print '--- gpt_load and gpt_load restricted to direct use'
SELECT gpt_load(NULL);
SELECT gpt_load('');
SELECT gpt_load('/nonexistent/model.gguf');
SELECT gpt_load(@tmp || '/empty.gguf');
SELECT gpt_load(@tmp || '/text.gguf');
SELECT gpt_load(@tmp || '/truncated.gguf');
SELECT gpt_load(@tmp || '/dir.gguf');
CREATE TABLE m(path TEXT);
CREATE VIEW v AS SELECT gpt_load(path) FROM m;
INSERT INTO m VALUES ('build/models/tiny-f16.gguf');
SELECT * FROM v;
CREATE TRIGGER tr AFTER INSERT ON m BEGIN SELECT gpt_load(new.path); END;
INSERT INTO m VALUES ('build/models/tiny-f16.gguf');
-- A generated column cannot use a function that is not deterministic.
CREATE TABLE g(t TEXT, n INTEGER GENERATED ALWAYS AS (gpt_token_count(t)));
CREATE INDEX gi ON m(gpt_token_count(path));

.print '--- still working, still on the first model'
SELECT json_extract(gpt_model_info(), '$.path') LIKE '%/tiny-f32.gguf' AS first_model;
SELECT gpt_detokenize(gpt_tokenize('still working')) AS ok;
SELECT count(*) AS each_ok FROM gpt_generate_each('["a", null]', '{"max_tokens": 2}');
SELECT count(*) AS tokens_ok FROM gpt_generate_tokens('a', '{"max_tokens": 2}');
SELECT count(*) AS logprobs_ok FROM gpt_token_logprobs('a b');
SELECT gpt_score('a') < 0 AS score_ok, gpt_choose('a', '[" b"]') AS choose_ok;
