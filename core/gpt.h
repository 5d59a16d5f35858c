/*
 * gpt.h - the one public header of the gpt core runtime.
 *
 * The core loads GPT-2 models stored as GGUF (architecture "gpt2"), tokenizes
 * text exactly as GPT-2 does, runs the transformer with a KV cache on a pool
 * of threads and samples continuations.  It contains no database code.
 *
 * Concurrency rules
 * -----------------
 * - A gpt_model is immutable once opened and reference counted: any number of
 *   threads may use one model at once (tokenize, detokenize, read info, create
 *   sessions).  gpt_model_retain/gpt_model_release are thread-safe.
 * - A gpt_session (KV cache, scratch buffers, random state, thread pool)
 *   belongs to one caller at a time.  Use one session per thread/connection.
 * - No thread is started when the library loads or when a model is opened.
 *   A session starts its worker threads lazily, on the first forward pass that
 *   uses more than one thread.  Worker threads block every signal and only
 *   run core code.
 *
 * Errors
 * ------
 * Every fallible call returns a gpt_status and, when not GPT_OK, fills the
 * caller's gpt_error with the same code and a one-line message that names the
 * problem and, where there is one, the fix.  The core never prints, never
 * calls abort() or exit().  Memory the core hands out (char * / arrays) is
 * released with gpt_free().
 *
 * Text
 * ----
 * Input text is UTF-8 given with an explicit length (NUL bytes are text).
 * Every string the core returns is valid UTF-8: bytes that do not form valid
 * UTF-8 become U+FFFD.
 */
#ifndef GPT_H
#define GPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ errors */

typedef enum gpt_status {
    GPT_OK = 0,
    GPT_ERR_INVALID_ARGUMENT, /* a bad option or argument (SQLSTATE 22023) */
    GPT_ERR_NOT_FOUND,        /* model file missing / unreadable (58P01) */
    GPT_ERR_CORRUPT_MODEL,    /* the file is not a valid gpt2 GGUF (XX001) */
    GPT_ERR_UNSUPPORTED,      /* valid GGUF but a feature we do not support */
    GPT_ERR_CONTEXT_OVERFLOW, /* prompt + max_tokens > context (54000) */
    GPT_ERR_NOMEM,            /* allocation failed (53200) */
    GPT_ERR_CANCELLED,        /* the cancel callback asked to stop (57014) */
    GPT_ERR_INTERNAL          /* a bug: please report (XX000) */
} gpt_status;

#define GPT_ERROR_MAX 512

typedef struct gpt_error {
    gpt_status code;
    char message[GPT_ERROR_MAX];
} gpt_error;

/* A short constant name for a status ("cancelled", "corrupt model", ...). */
const char *gpt_status_name(gpt_status s);

/* Frees anything the core returned (strings, id arrays, probability arrays). */
void gpt_free(void *p);

/* ------------------------------------------------------------------ models */

typedef struct gpt_model gpt_model;

/*
 * Opens and validates a GGUF file, mapping it read-only.  Weights are never
 * copied to the heap.  The new model has a reference count of 1.
 */
gpt_status gpt_model_open(const char *path, gpt_model **out, gpt_error *err);
void gpt_model_retain(gpt_model *m);
void gpt_model_release(gpt_model *m); /* frees and unmaps at zero; NULL ok */

typedef struct gpt_model_info {
    const char *path;         /* as given to gpt_model_open */
    const char *architecture; /* "gpt2" */
    const char *name;         /* general.name, or "" */
    int gguf_version;
    int64_t n_params;         /* number of weights in all tensors */
    int n_ctx;                /* gpt2.context_length */
    int n_embd;               /* gpt2.embedding_length */
    int n_ff;                 /* gpt2.feed_forward_length */
    int n_layer;              /* gpt2.block_count */
    int n_head;               /* gpt2.attention.head_count */
    double norm_eps;          /* gpt2.attention.layer_norm_epsilon */
    int n_vocab;              /* number of tokens */
    int32_t bos_id, eos_id;
    int tied_output;          /* 1 when output.weight is absent */
    const char *weight_type;  /* type of the matrices: "F32", "F16", "Q8_0",
                                 ... or "mixed" */
    const char *tensor_types; /* e.g. "F32:98,Q8_0:50" (type:count) */
    int64_t file_size;        /* bytes of the file */
    int64_t bytes_mapped;     /* bytes mapped (the whole file) */
} gpt_model_info;

/* Pointers inside the info stay valid while the model lives. */
void gpt_model_get_info(const gpt_model *m, gpt_model_info *info);

/* --------------------------------------------------------------- tokenizer */

/* GPT-2 byte-level BPE, identical to tiktoken's "gpt2" encode_ordinary:
 * "<|endoftext|>" in text is ordinary text.  *ids is allocated (gpt_free). */
gpt_status gpt_tokenize(const gpt_model *m, const char *text, size_t len,
                        int32_t **ids, size_t *n_ids, gpt_error *err);

/* Number of tokens of text, without keeping the ids. */
gpt_status gpt_token_count(const gpt_model *m, const char *text, size_t len,
                           size_t *n_tokens, gpt_error *err);

/* Decodes ids to text.  Ids out of range are an error naming the id.
 * Byte sequences that are not valid UTF-8 become U+FFFD.  *text is
 * NUL-terminated and allocated (gpt_free). */
gpt_status gpt_detokenize(const gpt_model *m, const int32_t *ids, size_t n_ids,
                          char **text, size_t *len, gpt_error *err);

/* The raw bytes of one token (not NUL-terminated, may be partial UTF-8);
 * NULL when id is out of range. */
const char *gpt_token_bytes(const gpt_model *m, int32_t id, size_t *len);

/* Makes a valid UTF-8 copy of bytes, each invalid or incomplete sequence
 * becoming U+FFFD (the WHATWG / Unicode "maximal subpart" rule).
 * *out is NUL-terminated and allocated (gpt_free). */
gpt_status gpt_utf8_sanitize(const char *bytes, size_t len, char **out,
                             size_t *out_len, gpt_error *err);

/* ---------------------------------------------------------------- sessions */

typedef struct gpt_session gpt_session;

/* Returns nonzero to ask the running call to stop with GPT_ERR_CANCELLED.
 * Called from the caller's thread only (never from a worker), between
 * generated tokens and between layers of a forward pass. */
typedef int (*gpt_cancel_fn)(void *arg);

/* A session holds a KV cache of the model's full context. */
gpt_status gpt_session_new(gpt_model *m, gpt_session **out, gpt_error *err);
void gpt_session_free(gpt_session *s); /* NULL ok; releases its model ref */
gpt_model *gpt_session_model(gpt_session *s);

/* Threads used by forward passes: 0 means the CPUs this process may run on
 * (sched_getaffinity).  Results do not depend on the thread count. */
gpt_status gpt_session_set_threads(gpt_session *s, int n_threads,
                                   gpt_error *err);
int gpt_session_threads(const gpt_session *s); /* the effective count */
int gpt_default_threads(void);

void gpt_session_set_cancel(gpt_session *s, gpt_cancel_fn fn, void *arg);

/* Prefix reuse (default on): a call that evaluates a prompt skips its
 * longest common token prefix with any sequence the session's KV caches
 * hold (the previous call's prompt and text; in gpt_generate_batch, every
 * sequence of the batch so far), keeping or copying those keys and values
 * instead of computing them again.  Results are bit-identical either way;
 * turning it off (on = 0) makes every call evaluate its whole prompt, for
 * measuring what reuse saves and for testing that it changes nothing. */
void gpt_session_set_prefix_reuse(gpt_session *s, int on);
int gpt_session_prefix_reuse(const gpt_session *s);

/* ------------------------------------------------------------- generation */

#define GPT_MAX_STOP 16

typedef struct gpt_gen_options {
    int max_tokens;       /* >= 0; default 64 */
    double temperature;   /* >= 0; 0 is greedy; default 0.8 */
    int top_k;            /* >= 0; 0 disables; default 40 */
    double top_p;         /* in (0, 1]; 1 disables; default 0.95 */
    uint64_t seed;        /* default 0 */
    const char *stop[GPT_MAX_STOP]; /* NUL-terminated UTF-8, non-empty */
    int n_stop;
    int truncate_prompt;  /* 1: keep the last tokens of a prompt that does
                             not fit instead of failing; default 0 */
} gpt_gen_options;

void gpt_gen_options_init(gpt_gen_options *o); /* fills the defaults */
gpt_status gpt_gen_options_check(const gpt_model *m, const gpt_gen_options *o,
                                 gpt_error *err);

/* Generates a continuation of prompt (the continuation only).  An empty
 * prompt starts from <|endoftext|>.  Stops after max_tokens tokens, at
 * <|endoftext|> (not included) or before the first stop string (not
 * included).  *text is NUL-terminated valid UTF-8 (gpt_free). */
gpt_status gpt_generate(gpt_session *s, const char *prompt, size_t len,
                        const gpt_gen_options *o, char **text,
                        size_t *text_len, gpt_error *err);

/* The same generation one token at a time (streaming).  After a successful
 * gpt_generate_begin, call gpt_generate_next until step->done.  The text of
 * a step is the valid UTF-8 that became final with this token; it may be
 * empty (bytes held back until a character or a possible stop string
 * completes).  The concatenation of all step texts equals gpt_generate's
 * result.  The step's text pointer is valid until the next call. */
typedef struct gpt_step {
    int done;           /* 1: generation ended, no token in this step */
    int32_t token_id;
    double logprob;     /* log-probability of the token at temperature 1 */
    const char *text;
    size_t text_len;
} gpt_step;

gpt_status gpt_generate_begin(gpt_session *s, const char *prompt, size_t len,
                              const gpt_gen_options *o, gpt_error *err);
gpt_status gpt_generate_next(gpt_session *s, gpt_step *step, gpt_error *err);

/* Generates a continuation of each of n prompts with the same options,
 * decoding up to 16 sequences together: each step runs one forward pass
 * for all of them, reading every weight once (continuous batching: a
 * finished sequence leaves and the next prompt takes its place).
 * Prompts starting a slot are prefilled together, and with prefix reuse
 * (gpt_session_set_prefix_reuse) a prefix shared by several prompts is
 * computed once and copied.  texts[i] is byte-identical to gpt_generate's
 * result for prompts[i]; a NULL prompt gives a NULL text.  On error no text
 * is returned. */
gpt_status gpt_generate_batch(gpt_session *s, const char *const *prompts,
                              const size_t *lens, size_t n,
                              const gpt_gen_options *o, char **texts,
                              size_t *text_lens, gpt_error *err);

/* ---------------------------------------------------------- probabilities */

typedef struct gpt_token_prob {
    int32_t token_id;
    double prob;        /* softmax over the whole vocabulary, temperature 1 */
    double logprob;
} gpt_token_prob;

/* The k most probable next tokens after text (empty text: after
 * <|endoftext|>), most probable first.  *out has *n_out = min(k, n_vocab)
 * entries (gpt_free).  k must be >= 1. */
gpt_status gpt_next_token_probs(gpt_session *s, const char *text, size_t len,
                                int k, gpt_token_prob **out, size_t *n_out,
                                gpt_error *err);

/* Log-probability of every token of text, the first conditioned on
 * <|endoftext|>, computed in one forward pass.  *ids and *logprobs have
 * *n entries (gpt_free each). */
gpt_status gpt_token_logprobs(gpt_session *s, const char *text, size_t len,
                              int32_t **ids, double **logprobs, size_t *n,
                              gpt_error *err);

/* Log-probability of continuation given prompt: the sum over the tokens of
 * continuation (tokenized on its own, so " yes" keeps its space) of
 * log p(token | prompt, earlier tokens).  An empty prompt conditions on
 * <|endoftext|>; an empty continuation scores 0.  *n_tokens (may be NULL)
 * gets the continuation's token count.  Consecutive calls with the same
 * prompt reuse its KV cache (zero-shot classification over choices), unless
 * prefix reuse is off. */
gpt_status gpt_score(gpt_session *s, const char *prompt, size_t prompt_len,
                     const char *continuation, size_t cont_len,
                     double *logprob, size_t *n_tokens, gpt_error *err);

/* Raw logits of the last position after the given ids (for tests and
 * tools): *logits has n_vocab floats (gpt_free). */
gpt_status gpt_eval_logits(gpt_session *s, const int32_t *ids, size_t n_ids,
                           float **logits, gpt_error *err);

#ifdef __cplusplus
}
#endif
#endif /* GPT_H */
