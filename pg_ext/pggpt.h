/*
 * pggpt.h - declarations shared by the files of the PostgreSQL adapter.
 *
 * The adapter is thin: it turns SQL arguments into core calls, core errors
 * into ereport(), core memory into palloc'd memory and PostgreSQL interrupts
 * into the core's cancel callback.  No model logic lives here.
 *
 * Files:
 *   gpt.c      _PG_init and the gpt.* settings
 *   backend.c  the per-backend model and session, model path checks
 *   convert.c  status -> SQLSTATE, database encoding <-> UTF-8
 *   funcs.c    the SQL-callable functions (one prompt, tokenizer, info)
 *   batch.c    gpt_generate(text[]) and gpt_generate_tokens (streaming)
 *   scoring.c  gpt_token_logprobs, gpt_score, gpt_choose
 */
#ifndef PGGPT_H
#define PGGPT_H

#include "postgres.h"

#include "fmgr.h"
#include "nodes/execnodes.h"
#include "utils/tuplestore.h"

#include "gpt.h"

/* ---- settings (gpt.c) */
extern char *pggpt_model_name;      /* gpt.model */
extern char *pggpt_model_dir;       /* gpt.model_dir */
extern int pggpt_threads;           /* gpt.threads, 0 = automatic */
extern int pggpt_max_threads;       /* gpt.max_threads */
extern int pggpt_max_tokens_limit;  /* gpt.max_tokens_limit */
extern bool pggpt_preload;          /* gpt.preload */

/* ---- the backend's model and session (backend.c) */

/* The model named by gpt.model, opened on first use and reopened when the
 * setting or the file changes.  Never NULL: errors are raised. */
extern gpt_model *pggpt_get_model(void);

/* A session on that model with the threads and cancel callback set. */
extern gpt_session *pggpt_get_session(void);

/* A session of its own for one streaming generation (never the backend's
 * session above), and its release: the caller must release it exactly
 * once, also when an error unwinds (a memory context callback). */
extern gpt_session *pggpt_stream_session_acquire(void);
extern void pggpt_stream_session_release(gpt_session *s);

/* The thread count gpt.threads and gpt.max_threads give. */
extern int pggpt_effective_threads(void);

/* Milliseconds the current model took to open (in the postmaster, when
 * preloaded). */
extern double pggpt_model_load_ms(void);

/* Opens gpt.model in the postmaster (shared_preload_libraries) so that
 * every backend inherits it; a failure is logged, never raised. */
extern void pggpt_preload_model(void);

/* True while the current model is the one the postmaster opened. */
extern bool pggpt_model_preloaded(void);

/* ---- conversions (convert.c) */

/* Sets rsinfo up for a materialized set result: *tupdesc is replaced by a
 * copy in per-query memory, and the returned tuplestore (also there) takes
 * the rows. */
extern Tuplestorestate *pggpt_materialize(ReturnSetInfo *rsinfo,
                                          TupleDesc *tupdesc);

/* Raises the error for a core status (never returns).  For a cancelled
 * call it lets PostgreSQL report the interrupt first. */
extern void pggpt_raise(gpt_status st, const gpt_error *err) pg_attribute_noreturn();
/* The same, naming max_tokens when the context overflows. */
extern void pggpt_raise_generate(gpt_status st, const gpt_error *err) pg_attribute_noreturn();

/* Database-encoded text -> UTF-8 bytes for the core (not NUL-terminated
 * unless converted; *len is set).  May point into t. */
extern const char *pggpt_text_to_utf8(text *t, size_t *len);

/* Same, NUL-terminated (palloc'd). */
extern char *pggpt_text_to_utf8_cstring(text *t);

/* UTF-8 from the core -> a text datum in the database encoding.  NUL
 * characters become U+FFFD because text cannot hold them; characters the
 * database encoding cannot represent raise 22P05. */
extern text *pggpt_utf8_to_text(const char *s, size_t len);

/* The sanitized text of a token (U+FFFD for a partial character). */
extern text *pggpt_token_text(gpt_model *m, int32_t id);

/* Moves a string the core allocated into palloc'd memory (NUL-terminated)
 * and frees the core's copy, also when palloc fails. */
extern char *pggpt_take_core_string(char *s, size_t len);

/* ---- argument checks (funcs.c) */

/* Reads and checks max_tokens, temperature, top_k, top_p, seed (arguments
 * 1..5, never NULL) and stop (argument 6, NULL for none) into o, with the
 * errors gpt_generate gives.  The caller still runs gpt_gen_options_check. */
extern void pggpt_read_gen_options(FunctionCallInfo fcinfo, gpt_gen_options *o);

#endif
