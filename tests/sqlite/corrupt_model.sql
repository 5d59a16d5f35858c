-- env: GPT_MODEL=@tmp/truncated.gguf
-- A default model that is not a valid GGUF file: a clear error from every
-- function, each time (nothing half-loaded is kept), and gpt_load recovers.
.load ./sqlite_ext/gpt
SELECT gpt_generate('x');
SELECT gpt_token_count('x');
SELECT * FROM gpt_next_token_probs('x', 2);
SELECT gpt_model_info();
SELECT json_extract(gpt_load(@models || '/tiny-q8_0.gguf'), '$.weight_type');
SELECT gpt_token_count('x');
