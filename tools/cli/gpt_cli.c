/*
 * gpt_cli.c - the command-line tool over the core.
 *
 *   gpt generate [options] [PROMPT]     continuation (PROMPT or stdin)
 *   gpt probs    [options] [--k N] [TEXT]
 *   gpt tokenize [options] [TEXT]       ids as a JSON array
 *   gpt detokenize [options] IDS        IDS as a JSON array or "1,2,3"
 *   gpt logprobs [options] [TEXT]       per-token log-probabilities (JSON)
 *   gpt logits   [options] IDS          raw float32 logits of the last id
 *   gpt info     [options]              model information (JSON)
 *   gpt bench    [options]              prefill/decode tokens per second
 *                [--batch N]            N prompts batched vs one by one
 *
 * Common options: --model PATH (default $GPT_MODEL, else models/default.gguf),
 * --threads N, --max-tokens N, --temperature F, --top-k N, --top-p F,
 * --seed N, --stop S (repeatable), --stream (print tokens as they come).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpt.h"

typedef struct cli {
    const char *model_path;
    int threads;
    int k;
    int stream;
    int bench_prompt, bench_gen, bench_runs, bench_batch;
    const char *arg;
    gpt_gen_options opts;
} cli;

static int
die(const char *msg)
{
    fprintf(stderr, "gpt: %s\n", msg);
    return 1;
}

static int
die_err(const gpt_error *e)
{
    fprintf(stderr, "gpt: error: %s\n", e->message);
    return e->code == GPT_ERR_CANCELLED ? 130 : 1;
}

static int
usage(void)
{
    fputs("usage: gpt COMMAND [options] [TEXT]\n"
          "commands: generate, probs, tokenize, detokenize, logprobs, logits, info, bench\n"
          "options: --model PATH --threads N --max-tokens N --temperature F\n"
          "         --top-k N --top-p F --seed N --stop S --k N --stream\n"
          "         --prompt-tokens N --gen-tokens N --runs N --batch N (bench)\n"
          "TEXT defaults to standard input.\n",
          stderr);
    return 2;
}

static int
parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int
parse_double(const char *s, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    return (errno || end == s || *end) ? -1 : 0;
}

static char *
read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0, r;
    char *buf = malloc(cap);

    if (!buf)
        return NULL;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n - 1 == 0) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Parses "[1, 2, 3]" or "1,2,3" into ids. */
static int
parse_ids(const char *s, int32_t **ids, size_t *n)
{
    size_t cap = 16;
    char *end;

    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    if (!*ids)
        return -1;
    while (*s) {
        long v;
        if (*s == '[' || *s == ']' || *s == ',' || *s == ' ' || *s == '\n') {
            s++;
            continue;
        }
        errno = 0;
        v = strtol(s, &end, 10);
        if (end == s || errno || v < INT32_MIN || v > INT32_MAX)
            return -1;
        if (*n == cap) {
            int32_t *p = realloc(*ids, cap * 2 * sizeof **ids);
            if (!p)
                return -1;
            *ids = p;
            cap *= 2;
        }
        (*ids)[(*n)++] = (int32_t)v;
        s = end;
    }
    return 0;
}

/* Prints s as a JSON string. */
static void
json_str(FILE *f, const char *s, size_t n)
{
    size_t i;

    fputc('"', f);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static int
cmd_info(gpt_model *m, gpt_session *s)
{
    gpt_model_info i;

    gpt_model_get_info(m, &i);
    printf("{\"path\": ");
    json_str(stdout, i.path, strlen(i.path));
    printf(", \"architecture\": \"%s\", \"name\": ", i.architecture);
    json_str(stdout, i.name, strlen(i.name));
    printf(", \"gguf_version\": %d, \"parameters\": %lld, \"context_length\": %d, "
           "\"embedding_length\": %d, \"feed_forward_length\": %d, \"block_count\": %d, "
           "\"head_count\": %d, \"vocab_size\": %d, \"weight_type\": \"%s\", "
           "\"tensor_types\": \"%s\", \"file_size\": %lld, \"bytes_mapped\": %lld, "
           "\"threads\": %d}\n",
           i.gguf_version, (long long)i.n_params, i.n_ctx, i.n_embd, i.n_ff,
           i.n_layer, i.n_head, i.n_vocab, i.weight_type, i.tensor_types,
           (long long)i.file_size, (long long)i.bytes_mapped,
           gpt_session_threads(s));
    return 0;
}

/* Batched decoding against one sequence at a time: n prompts of
 * --prompt-tokens tokens each, --gen-tokens greedy tokens each, generated
 * by one gpt_generate_batch call and then one gpt_generate call per prompt;
 * prints the total generated tokens/s of both and checks the texts agree. */
static int
cmd_bench_batch(cli *c, gpt_session *s)
{
    int n = c->bench_batch, i, run, same = 1;
    char **prompts = calloc((size_t)n, sizeof *prompts), **texts = calloc((size_t)n, sizeof *texts);
    size_t *lens = calloc((size_t)n, sizeof *lens), *tl = calloc((size_t)n, sizeof *tl);
    gpt_gen_options o;
    gpt_error err;

    if (!prompts || !texts || !lens || !tl)
        return die("out of memory");
    gpt_gen_options_init(&o);
    o.max_tokens = c->bench_gen;
    o.temperature = 0;
    for (i = 0; i < n; i++) {
        int w;
        prompts[i] = malloc((size_t)c->bench_prompt * 8 + 16);
        if (!prompts[i])
            return die("out of memory");
        prompts[i][0] = '\0';
        for (w = 0; w < c->bench_prompt; w++) /* about one token per word */
            sprintf(prompts[i] + strlen(prompts[i]), " w%d", (i * 31 + w * 7) % 97);
        lens[i] = strlen(prompts[i]);
    }
    printf("{\"batch\": %d, \"gen_tokens\": %d, \"threads\": %d, \"runs\": [", n,
           c->bench_gen, gpt_session_threads(s));
    for (run = 0; run < c->bench_runs; run++) {
        double t0 = now_s(), t1, t2;
        if (gpt_generate_batch(s, (const char *const *)prompts, lens, (size_t)n, &o, texts, tl, &err) != GPT_OK)
            return die_err(&err);
        t1 = now_s();
        for (i = 0; i < n; i++) {
            char *one;
            size_t ol;
            if (gpt_generate(s, prompts[i], lens[i], &o, &one, &ol, &err) != GPT_OK)
                return die_err(&err);
            same &= ol == tl[i] && memcmp(one, texts[i], ol) == 0;
            gpt_free(one);
            gpt_free(texts[i]);
        }
        t2 = now_s();
        printf("%s{\"batched_tok_s\": %.2f, \"one_by_one_tok_s\": %.2f, \"speedup\": %.2f}",
               run ? ", " : "", n * (double)c->bench_gen / (t1 - t0),
               n * (double)c->bench_gen / (t2 - t1), (t2 - t1) / (t1 - t0));
        fflush(stdout);
    }
    printf("], \"identical\": %s}\n", same ? "true" : "false");
    for (i = 0; i < n; i++)
        free(prompts[i]);
    free(prompts);
    free(texts);
    free(lens);
    free(tl);
    return same ? 0 : 1;
}

static int
cmd_bench(cli *c, gpt_model *m, gpt_session *s)
{
    gpt_model_info info;
    int32_t *ids;
    int run, i;
    gpt_error err;

    gpt_model_get_info(m, &info);
    if (c->bench_prompt + c->bench_gen > info.n_ctx)
        return die("--prompt-tokens plus --gen-tokens exceed the context");
    ids = malloc((size_t)(c->bench_prompt + c->bench_gen) * sizeof *ids);
    if (!ids)
        return die("out of memory");
    for (i = 0; i < c->bench_prompt + c->bench_gen; i++)
        ids[i] = (int32_t)((i * 7919 + 13) % 50000 % info.n_vocab);
    printf("{\"model\": \"%s\", \"weight_type\": \"%s\", \"threads\": %d, "
           "\"prompt_tokens\": %d, \"gen_tokens\": %d, \"runs\": [",
           info.path, info.weight_type, gpt_session_threads(s),
           c->bench_prompt, c->bench_gen);
    for (run = 0; run < c->bench_runs; run++) {
        float *logits;
        double t0, t1, t2;
        /* a fresh prefill: change the first id so no prefix is reused */
        ids[0] = (int32_t)((ids[0] + 1) % info.n_vocab);
        t0 = now_s();
        if (gpt_eval_logits(s, ids, (size_t)c->bench_prompt, &logits, &err) != GPT_OK)
            return die_err(&err);
        gpt_free(logits);
        t1 = now_s();
        for (i = 1; i <= c->bench_gen; i++) {
            /* one new token each step: the prefix is reused from the cache */
            if (gpt_eval_logits(s, ids, (size_t)(c->bench_prompt + i), &logits, &err) != GPT_OK)
                return die_err(&err);
            gpt_free(logits);
        }
        t2 = now_s();
        printf("%s{\"prefill_tok_s\": %.2f, \"decode_tok_s\": %.2f}", run ? ", " : "",
               c->bench_prompt / (t1 - t0), c->bench_gen / (t2 - t1));
        fflush(stdout);
    }
    printf("]}\n");
    free(ids);
    return 0;
}

int
main(int argc, char **argv)
{
    cli c;
    const char *cmd;
    gpt_model *m = NULL;
    gpt_session *s = NULL;
    gpt_error err;
    char *text = NULL;
    size_t len = 0;
    int i, rc = 0;

    memset(&c, 0, sizeof c);
    gpt_gen_options_init(&c.opts);
    c.k = 10;
    c.threads = 0;
    c.bench_prompt = 128;
    c.bench_gen = 128;
    c.bench_runs = 3;
    c.model_path = getenv("GPT_MODEL");
    if (!c.model_path || !*c.model_path)
        c.model_path = "models/default.gguf";
    if (argc < 2)
        return usage();
    cmd = argv[1];
    for (i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double d;

#define NEED_VALUE() do { if (!v) return usage(); i++; } while (0)
        if (strcmp(a, "--model") == 0) {
            NEED_VALUE();
            c.model_path = v;
        } else if (strcmp(a, "--threads") == 0) {
            NEED_VALUE();
            if (parse_int(v, 0, 1024, &n)) return die("--threads must be 0..1024");
            c.threads = (int)n;
        } else if (strcmp(a, "--max-tokens") == 0) {
            NEED_VALUE();
            if (parse_int(v, -1000000, 1000000000, &n)) return die("--max-tokens must be an integer");
            c.opts.max_tokens = (int)n;
        } else if (strcmp(a, "--temperature") == 0) {
            NEED_VALUE();
            if (parse_double(v, &d)) return die("--temperature must be a number");
            c.opts.temperature = d;
        } else if (strcmp(a, "--top-k") == 0) {
            NEED_VALUE();
            if (parse_int(v, -1000000, 1000000000, &n)) return die("--top-k must be an integer");
            c.opts.top_k = (int)n;
        } else if (strcmp(a, "--top-p") == 0) {
            NEED_VALUE();
            if (parse_double(v, &d)) return die("--top-p must be a number");
            c.opts.top_p = d;
        } else if (strcmp(a, "--seed") == 0) {
            NEED_VALUE();
            c.opts.seed = strtoull(v, NULL, 10);
        } else if (strcmp(a, "--stop") == 0) {
            NEED_VALUE();
            if (c.opts.n_stop >= GPT_MAX_STOP) return die("too many --stop strings");
            c.opts.stop[c.opts.n_stop++] = v;
        } else if (strcmp(a, "--k") == 0) {
            NEED_VALUE();
            if (parse_int(v, -1000000, 1000000000, &n)) return die("--k must be an integer");
            c.k = (int)n;
        } else if (strcmp(a, "--stream") == 0) {
            c.stream = 1;
        } else if (strcmp(a, "--prompt-tokens") == 0) {
            NEED_VALUE();
            if (parse_int(v, 1, 1 << 20, &n)) return die("--prompt-tokens must be positive");
            c.bench_prompt = (int)n;
        } else if (strcmp(a, "--gen-tokens") == 0) {
            NEED_VALUE();
            if (parse_int(v, 0, 1 << 20, &n)) return die("--gen-tokens must be >= 0");
            c.bench_gen = (int)n;
        } else if (strcmp(a, "--batch") == 0) {
            NEED_VALUE();
            if (parse_int(v, 1, 4096, &n)) return die("--batch must be 1..4096");
            c.bench_batch = (int)n;
        } else if (strcmp(a, "--runs") == 0) {
            NEED_VALUE();
            if (parse_int(v, 1, 1000, &n)) return die("--runs must be 1..1000");
            c.bench_runs = (int)n;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "gpt: unknown option %s\n", a);
            return usage();
        } else if (!c.arg) {
            c.arg = a;
        } else {
            return usage();
        }
#undef NEED_VALUE
    }

    if (gpt_model_open(c.model_path, &m, &err) != GPT_OK)
        return die_err(&err);
    if (gpt_session_new(m, &s, &err) != GPT_OK ||
        gpt_session_set_threads(s, c.threads, &err) != GPT_OK) {
        gpt_model_release(m);
        return die_err(&err);
    }
    gpt_model_release(m); /* the session holds its own reference */

    if (strcmp(cmd, "info") == 0) {
        rc = cmd_info(m, s);
        goto out;
    }
    if (strcmp(cmd, "bench") == 0) {
        rc = c.bench_batch ? cmd_bench_batch(&c, s) : cmd_bench(&c, m, s);
        goto out;
    }
    if (c.arg) {
        text = strdup(c.arg);
        len = strlen(c.arg);
    } else {
        text = read_all(stdin, &len);
    }
    if (!text) {
        rc = die("out of memory");
        goto out;
    }

    if (strcmp(cmd, "generate") == 0) {
        if (c.stream) {
            gpt_step step;
            if (gpt_generate_begin(s, text, len, &c.opts, &err) != GPT_OK) {
                rc = die_err(&err);
                goto out;
            }
            do {
                if (gpt_generate_next(s, &step, &err) != GPT_OK) {
                    rc = die_err(&err);
                    goto out;
                }
                fwrite(step.text, 1, step.text_len, stdout);
                fflush(stdout);
            } while (!step.done);
            fputc('\n', stdout);
        } else {
            char *out;
            size_t n;
            if (gpt_generate(s, text, len, &c.opts, &out, &n, &err) != GPT_OK) {
                rc = die_err(&err);
                goto out;
            }
            fwrite(out, 1, n, stdout);
            fputc('\n', stdout);
            gpt_free(out);
        }
    } else if (strcmp(cmd, "probs") == 0) {
        gpt_token_prob *p;
        size_t n, j;
        if (gpt_next_token_probs(s, text, len, c.k, &p, &n, &err) != GPT_OK) {
            rc = die_err(&err);
            goto out;
        }
        for (j = 0; j < n; j++) {
            size_t bl;
            const char *b = gpt_token_bytes(m, p[j].token_id, &bl);
            char *shown;
            size_t sl;
            if (gpt_utf8_sanitize(b, bl, &shown, &sl, &err) != GPT_OK) {
                rc = die_err(&err);
                break;
            }
            printf("%zu\t%d\t", j + 1, p[j].token_id);
            json_str(stdout, shown, sl);
            printf("\t%.6f\t%.6f\n", p[j].prob, p[j].logprob);
            gpt_free(shown);
        }
        gpt_free(p);
    } else if (strcmp(cmd, "tokenize") == 0) {
        int32_t *ids;
        size_t n, j;
        if (gpt_tokenize(m, text, len, &ids, &n, &err) != GPT_OK) {
            rc = die_err(&err);
            goto out;
        }
        putchar('[');
        for (j = 0; j < n; j++)
            printf("%s%d", j ? ", " : "", ids[j]);
        puts("]");
        gpt_free(ids);
    } else if (strcmp(cmd, "detokenize") == 0) {
        int32_t *ids;
        size_t n;
        char *out;
        size_t ol;
        if (parse_ids(text, &ids, &n)) {
            rc = die("ids must be a JSON array of integers");
            goto out;
        }
        if (gpt_detokenize(m, ids, n, &out, &ol, &err) != GPT_OK) {
            free(ids);
            rc = die_err(&err);
            goto out;
        }
        fwrite(out, 1, ol, stdout);
        gpt_free(out);
        free(ids);
    } else if (strcmp(cmd, "logprobs") == 0) {
        int32_t *ids;
        double *lp;
        size_t n, j;
        if (gpt_token_logprobs(s, text, len, &ids, &lp, &n, &err) != GPT_OK) {
            rc = die_err(&err);
            goto out;
        }
        putchar('[');
        for (j = 0; j < n; j++)
            printf("%s[%d, %.9g]", j ? ", " : "", ids[j], lp[j]);
        puts("]");
        gpt_free(ids);
        gpt_free(lp);
    } else if (strcmp(cmd, "logits") == 0) {
        int32_t *ids;
        size_t n;
        float *logits;
        gpt_model_info info;
        if (parse_ids(text, &ids, &n)) {
            rc = die("ids must be a JSON array of integers");
            goto out;
        }
        if (gpt_eval_logits(s, ids, n, &logits, &err) != GPT_OK) {
            free(ids);
            rc = die_err(&err);
            goto out;
        }
        gpt_model_get_info(m, &info);
        fwrite(logits, sizeof(float), (size_t)info.n_vocab, stdout);
        gpt_free(logits);
        free(ids);
    } else {
        rc = usage();
    }
out:
    free(text);
    gpt_session_free(s);
    return rc;
}
