/*
 * functions.c - gpt_generate, gpt_tokenize, gpt_detokenize, gpt_token_count,
 * gpt_model_info and gpt_load: each turns SQL values into a core call and
 * the core's answer (or error) into an SQL result.  No model logic here.
 *
 * Conventions: a NULL argument gives NULL (like PostgreSQL's STRICT
 * functions), except gpt_load(NULL), which is an error; text arguments are
 * taken as UTF-8 bytes with their length, so NUL bytes are text.
 */
#include "functions.h"

SQLITE_EXTENSION_INIT3

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "options.h"

/* Result text the core allocated: SQLite frees it with gpt_free. */
static void result_core_text(sqlite3_context *ctx, char *text, size_t len)
{
    sqlite3_result_text64(ctx, text, (sqlite3_uint64)len, gpt_free,
                          SQLITE_UTF8);
}

static void result_message(sqlite3_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void result_message(sqlite3_context *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    if (!m) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_error(ctx, m, -1);
    sqlite3_free(m);
}

void gpt_fn_generate(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gpt_conn *c = sqlite3_user_data(ctx);
    gpt_error err = {0};
    gpt_session *s;
    gpt_gen_options o;
    char msg[512];

    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return; /* NULL prompt: NULL */
    if (argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
        const char *json = (const char *)sqlite3_value_text(argv[1]);
        int json_len = sqlite3_value_bytes(argv[1]);
        if (!json) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        if (gpt_sqlite_parse_options(json, (size_t)json_len, &o, msg,
                                     sizeof msg) != 0) {
            result_message(ctx, "gpt_generate: options: %s", msg);
            return;
        }
    } else {
        gpt_gen_options_init(&o);
    }

    const char *prompt = (const char *)sqlite3_value_text(argv[0]);
    int prompt_len = sqlite3_value_bytes(argv[0]);
    if (!prompt) {
        gpt_sqlite_options_free(&o);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    char *text = NULL;
    size_t text_len = 0;
    gpt_status rc = gpt_conn_begin(c, &s, &err);
    if (rc == GPT_OK) {
        rc = gpt_gen_options_check(gpt_session_model(s), &o, &err);
        if (rc == GPT_OK)
            rc = gpt_generate(s, prompt, (size_t)prompt_len, &o, &text,
                              &text_len, &err);
        gpt_conn_end(c, s);
    }
    gpt_sqlite_options_free(&o);
    if (rc != GPT_OK) {
        gpt_conn_result_error(ctx, "gpt_generate", c, &err);
        return;
    }
    result_core_text(ctx, text, text_len);
}

void gpt_fn_tokenize(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gpt_conn *c = sqlite3_user_data(ctx);
    gpt_error err = {0};
    gpt_model *m;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    if (!text) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    int32_t *ids = NULL;
    size_t n = 0;
    gpt_status rc = gpt_conn_model(c, &m, &err);
    if (rc == GPT_OK)
        rc = gpt_tokenize(m, text, (size_t)len, &ids, &n, &err);
    if (rc != GPT_OK) {
        gpt_conn_result_error(ctx, "gpt_tokenize", c, &err);
        return;
    }
    sqlite3_str *out = sqlite3_str_new(sqlite3_context_db_handle(ctx));
    sqlite3_str_appendchar(out, 1, '[');
    for (size_t i = 0; i < n; i++)
        sqlite3_str_appendf(out, i ? ",%d" : "%d", (int)ids[i]);
    sqlite3_str_appendchar(out, 1, ']');
    gpt_free(ids);
    int slen = sqlite3_str_length(out);
    char *json = sqlite3_str_finish(out);
    if (!json) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_text(ctx, json, slen, sqlite3_free);
    sqlite3_result_subtype(ctx, 'J'); /* JSON1 treats it as JSON */
}

void gpt_fn_detokenize(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gpt_conn *c = sqlite3_user_data(ctx);
    gpt_error err = {0};
    gpt_model *m;
    char msg[256];
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    const char *json = (const char *)sqlite3_value_text(argv[0]);
    int json_len = sqlite3_value_bytes(argv[0]);
    if (!json) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    int32_t *ids;
    size_t n;
    if (gpt_sqlite_parse_ids(json, (size_t)json_len, &ids, &n, msg,
                             sizeof msg) != 0) {
        result_message(ctx, "gpt_detokenize: %s", msg);
        return;
    }
    char *text = NULL;
    size_t len = 0;
    gpt_status rc = gpt_conn_model(c, &m, &err);
    if (rc == GPT_OK)
        rc = gpt_detokenize(m, ids, n, &text, &len, &err);
    free(ids);
    if (rc != GPT_OK) {
        gpt_conn_result_error(ctx, "gpt_detokenize", c, &err);
        return;
    }
    result_core_text(ctx, text, len);
}

void gpt_fn_token_count(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gpt_conn *c = sqlite3_user_data(ctx);
    gpt_error err = {0};
    gpt_model *m;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    const char *text = (const char *)sqlite3_value_text(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    if (!text) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t n = 0;
    gpt_status rc = gpt_conn_model(c, &m, &err);
    if (rc == GPT_OK)
        rc = gpt_token_count(m, text, (size_t)len, &n, &err);
    if (rc != GPT_OK) {
        gpt_conn_result_error(ctx, "gpt_token_count", c, &err);
        return;
    }
    sqlite3_result_int64(ctx, (sqlite3_int64)n);
}

/* Appends s as a JSON string (s is valid UTF-8: the core's strings are). */
static void append_json_string(sqlite3_str *out, const char *s)
{
    sqlite3_str_appendchar(out, 1, '"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            sqlite3_str_appendf(out, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7F)
            sqlite3_str_appendf(out, "\\u%04x", *p);
        else
            sqlite3_str_appendchar(out, 1, (char)*p);
    }
    sqlite3_str_appendchar(out, 1, '"');
}

/* Appends a path, which may hold bytes that are not UTF-8. */
static void append_json_path(sqlite3_str *out, const char *path)
{
    char *clean = NULL;
    size_t len;
    gpt_error err;
    if (gpt_utf8_sanitize(path, strlen(path), &clean, &len, &err) == GPT_OK) {
        append_json_string(out, clean);
        gpt_free(clean);
    } else {
        append_json_string(out, "");
    }
}

/* "F32:98,Q8_0:50" becomes {"F32":98,"Q8_0":50}. */
static void append_tensor_types(sqlite3_str *out, const char *types)
{
    sqlite3_str_appendchar(out, 1, '{');
    const char *p = types ? types : "";
    int first = 1;
    while (*p) {
        const char *colon = strchr(p, ':');
        const char *comma = strchr(p, ',');
        if (!comma)
            comma = p + strlen(p);
        if (colon && colon < comma) {
            sqlite3_str_appendf(out, "%s\"%.*s\":%.*s", first ? "" : ",",
                                (int)(colon - p), p, (int)(comma - colon - 1),
                                colon + 1);
            first = 0;
        }
        p = *comma ? comma + 1 : comma;
    }
    sqlite3_str_appendchar(out, 1, '}');
}

/* The info JSON shared by gpt_model_info() and gpt_load(). */
static void result_info(sqlite3_context *ctx, const char *fname, gpt_conn *c)
{
    gpt_error err = {0};
    gpt_model *m;
    gpt_model_info in;
    if (gpt_conn_model(c, &m, &err) != GPT_OK) {
        gpt_conn_result_error(ctx, fname, c, &err);
        return;
    }
    gpt_model_get_info(m, &in);
    int threads = c->threads > 0 ? c->threads : gpt_default_threads();
    sqlite3_str *out = sqlite3_str_new(sqlite3_context_db_handle(ctx));
    sqlite3_str_appendall(out, "{\"path\":");
    append_json_path(out, in.path);
    sqlite3_str_appendall(out, ",\"architecture\":");
    append_json_string(out, in.architecture);
    sqlite3_str_appendall(out, ",\"name\":");
    append_json_string(out, in.name);
    sqlite3_str_appendf(out,
        ",\"gguf_version\":%d,\"parameters\":%lld,\"context_length\":%d"
        ",\"embedding_length\":%d,\"feed_forward_length\":%d,\"layers\":%d"
        ",\"heads\":%d,\"vocab_size\":%d,\"bos_id\":%d,\"eos_id\":%d"
        ",\"tied_output\":%s,\"weight_type\":",
        in.gguf_version, (long long)in.n_params, in.n_ctx, in.n_embd,
        in.n_ff, in.n_layer, in.n_head, in.n_vocab, (int)in.bos_id,
        (int)in.eos_id, in.tied_output ? "true" : "false");
    append_json_string(out, in.weight_type);
    sqlite3_str_appendall(out, ",\"tensor_types\":");
    append_tensor_types(out, in.tensor_types);
    sqlite3_str_appendf(out,
        ",\"file_size\":%lld,\"bytes_mapped\":%lld,\"threads\":%d}",
        (long long)in.file_size, (long long)in.bytes_mapped, threads);
    int len = sqlite3_str_length(out);
    char *json = sqlite3_str_finish(out);
    if (!json) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_text(ctx, json, len, sqlite3_free);
    sqlite3_result_subtype(ctx, 'J');
}

void gpt_fn_model_info(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    result_info(ctx, "gpt_model_info", sqlite3_user_data(ctx));
}

void gpt_fn_load(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    gpt_conn *c = sqlite3_user_data(ctx);
    gpt_error err = {0};
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_error(ctx, "gpt_load: path must not be NULL", -1);
        return;
    }
    const char *path = (const char *)sqlite3_value_text(argv[0]);
    int len = sqlite3_value_bytes(argv[0]);
    if (!path) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (len == 0 || memchr(path, '\0', (size_t)len)) {
        sqlite3_result_error(ctx, len ? "gpt_load: path must not contain NUL"
                                      : "gpt_load: path must not be empty", -1);
        return;
    }
    if (gpt_conn_load(c, path, &err) != GPT_OK) {
        gpt_conn_result_error(ctx, "gpt_load", c, &err);
        return;
    }
    result_info(ctx, "gpt_load", c);
}
