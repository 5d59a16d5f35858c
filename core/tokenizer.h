/*
 * tokenizer.h - GPT-2 byte-level BPE, identical to tiktoken's "gpt2"
 * (r50k_base) encode_ordinary: special tokens in text are ordinary text.
 *
 * Encoding = pre-tokenization with GPT-2's regex
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * (hand-written, leftmost alternative first, classes from the Unicode tables
 * in unicode_tables.h), then byte-pair merging of each piece's UTF-8 bytes,
 * lowest rank first, equal ranks left to right.
 *
 * A gpt_tokenizer is immutable once built: any number of threads may use
 * one at once.
 */
#ifndef GPT_TOKENIZER_H
#define GPT_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "gpt.h"

typedef struct gpt_tokenizer gpt_tokenizer;

/*
 * Builds a tokenizer from a vocabulary in GPT-2's byte-to-unicode form.
 *
 * tokens[i] (token_lens[i] bytes, not NUL-terminated: it may point into a
 * mapped GGUF file) is the string of id i as in encoder.json / GGUF
 * tokenizer.ggml.tokens, e.g. "\xC4\xA0the" for " the".  A token containing
 * a character outside the byte-to-unicode alphabet (a special token of some
 * other model) is taken as its raw UTF-8 bytes.  merges[i] (merge_lens[i]
 * bytes) is "A B" as in vocab.bpe / tokenizer.ggml.merges, rank i.
 *
 * Nothing is kept from the arguments after the call (the strings are copied
 * in their raw-byte form).
 *
 * GPT_ERR_CORRUPT_MODEL, with a message naming the token id or merge index,
 * for: no tokens or more than INT32_MAX, a token that is not valid UTF-8, a
 * byte value with no single-byte token, a merge that is not two non-empty
 * parts around exactly one space, a merge part or merged result that is not
 * in the vocabulary.  Duplicate token strings are accepted: the lowest id
 * wins (lookups and merges return it).
 */
gpt_status gpt_tokenizer_new(const char *const *tokens,
                             const uint32_t *token_lens, uint32_t n_tokens,
                             const char *const *merges,
                             const uint32_t *merge_lens, uint32_t n_merges,
                             gpt_tokenizer **out, gpt_error *err);
void gpt_tokenizer_free(gpt_tokenizer *t); /* NULL ok */

/* Encodes len bytes of text (valid UTF-8; NUL bytes are text).  *ids is
 * allocated with gpt_malloc (gpt_free), also when *n_ids is 0.
 * GPT_ERR_INVALID_ARGUMENT naming the byte offset when text is not valid
 * UTF-8. */
gpt_status gpt_tokenizer_encode(const gpt_tokenizer *t, const char *text,
                                size_t len, int32_t **ids, size_t *n_ids,
                                gpt_error *err);

/* Number of tokens gpt_tokenizer_encode would return. */
gpt_status gpt_tokenizer_count(const gpt_tokenizer *t, const char *text,
                               size_t len, size_t *n, gpt_error *err);

/* Raw bytes of token id (not NUL-terminated, may be partial UTF-8); NULL
 * when id is out of range. */
const char *gpt_tokenizer_token_bytes(const gpt_tokenizer *t, int32_t id,
                                      size_t *len);

uint32_t gpt_tokenizer_size(const gpt_tokenizer *t);

/* The (lowest) id whose raw bytes equal bytes[0..len), or -1. */
int32_t gpt_tokenizer_lookup(const gpt_tokenizer *t, const char *bytes,
                             size_t len);

/* Concatenates the tokens' bytes and makes them valid UTF-8 (invalid ->
 * U+FFFD).  *text is NUL-terminated (gpt_free).  An id out of range is
 * GPT_ERR_INVALID_ARGUMENT: "token id 99999 is out of range [0, 50257)". */
gpt_status gpt_tokenizer_decode(const gpt_tokenizer *t, const int32_t *ids,
                                size_t n, char **text, size_t *len,
                                gpt_error *err);

#endif
