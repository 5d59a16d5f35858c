/*
 * sampler.h - choosing the next token from logits, and its random stream.
 */
#ifndef GPT_SAMPLER_H
#define GPT_SAMPLER_H

#include <stdint.h>

#include "gpt.h"

/* xoshiro256** seeded through splitmix64: a stream that depends only on the
 * seed. */
typedef struct gpt_rng {
    uint64_t s[4];
} gpt_rng;

void gpt_rng_seed(gpt_rng *r, uint64_t seed);
double gpt_rng_uniform(gpt_rng *r); /* [0, 1) with 53 bits */

/* Work space for sampling over n_vocab logits. */
typedef struct gpt_sampler_buf {
    int32_t *idx;
    double *p;
    int cap;
} gpt_sampler_buf;

/* Picks a token: greedy (lowest id among equal maxima) when temperature is
 * 0, else top-k, then top-p over the tokens sorted by logit, then one draw
 * from the rng.  Allocates into buf on first use; returns -1 on allocation
 * failure. */
int32_t gpt_sample(const float *logits, int n_vocab,
                   const gpt_gen_options *o, gpt_rng *rng,
                   gpt_sampler_buf *buf);

/* log softmax(logits)[id] at temperature 1, in double. */
double gpt_logprob_of(const float *logits, int n_vocab, int32_t id);

/* The k largest logits, largest first, lowest id first among equals. */
int gpt_top_k(const float *logits, int n_vocab, int k, int32_t *out);

#endif
