#!/usr/bin/python3
"""bench/sql_bench.py - the in-database part of `make bench` (also alone:
`make bench-sql`).

Run by bench/sql_bench.sh inside tests/pg/run_regress.sh, which gives a
throwaway PostgreSQL cluster (PGHOST/PGPORT/PGUSER, GPT_PG_MODEL_DIR).
Measures, on the 124M-shaped Q8_0 model with one thread:

  overhead  the same greedy generation (64-token prompt, 128 tokens) through
            the CLI, sqlite3 and psql; median of N runs, ratio to the CLI
  attach    first gpt_generate(max_tokens 1) in a fresh connection minus the
            same call on a warm one: a new PostgreSQL backend, a new sqlite3
            process, a new SQLite connection in a process that has the model
  memory    private resident memory (smaps_rollup Private_Clean +
            Private_Dirty) of backends that used the model, beside the KV
            cache size and an idle backend
  pgbench   gpt_generate(max_tokens 32) with 1, 2, 4, 8 clients: tokens/s,
            latency percentiles from pgbench --log, failures
  enrich    rows/s filling a column one call per row, with a parallel query
            and with gpt_generate(text[]) (bench/sql_enrich.py)

Each timed call gets its own prompt (same length, different first token) so
no call reuses another's prompt from the KV cache: a fresh CLI process never
can, a warm database session could.  Writes a JSON file; bench/report.py
(bench/report_sql.py) turns it into BENCHMARKS.md's database sections.
"""
import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import sql_enrich

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.path.join(ROOT, "build", "gpt")
MODEL = os.path.join(ROOT, "build", "models", "gpt2-124m-q8_0.gguf")
MODEL_NAME = "gpt2-124m-q8_0.gguf"
OWN_NAME = "own-" + MODEL_NAME  # the same file, not opened by the postmaster
SQLITE_SO = os.path.join(ROOT, "sqlite_ext", "gpt")
PROMPT_TOKENS = 64


def pg_tool(name):
    """The server's own client binary.  Debian's /usr/bin/psql is a Perl
    wrapper that picks a version: it adds about 50 ms to every start, which
    a from-scratch timing would wrongly count as the database's."""
    try:
        bindir = subprocess.run([os.environ.get("PG_CONFIG", "pg_config"), "--bindir"],
                                capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return name
    path = os.path.join(bindir, name)
    return path if os.access(path, os.X_OK) else name


PSQL = pg_tool("psql")
PGBENCH = pg_tool("pgbench")


def log(msg):
    print("bench-sql: " + msg, file=sys.stderr, flush=True)


def run(cmd, env=None, input=None):
    r = subprocess.run(cmd, env=env, input=input, capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (cmd[0], r.returncode,
                                                   r.stderr[-2000:]))
    return r.stdout


def timed(cmd, env=None, input=None):
    t0 = time.perf_counter()
    out = run(cmd, env, input)
    return time.perf_counter() - t0, out


def pinned_rounds(n):
    """range(n) for the short parts (overhead, attach), each round run on
    one CPU: this script and so the processes it starts (CLI, sqlite3,
    psql), and the postmaster and so the backends it forks from then on.
    The cores of a shared virtual machine take turns being slower (by a
    third, at times), so without this a round's CLI and database calls could
    land on different ones; rounds go round the CPUs, and every CPU is
    given back at the end.  Plain rounds where the postmaster's affinity
    cannot be set (another user's server)."""
    cpus = sorted(os.sched_getaffinity(0))
    try:
        d = run([PSQL, "-X", "-qAt", "-c", "SHOW data_directory"], env=pg_env()).strip()
        with open(os.path.join(d, "postmaster.pid")) as f:
            pm = int(f.readline())
        os.sched_setaffinity(pm, cpus)
    except (OSError, ValueError, RuntimeError):
        yield from range(n)
        return
    try:
        for i in range(n):
            cpu = {cpus[i % len(cpus)]}
            os.sched_setaffinity(pm, cpu)
            os.sched_setaffinity(0, cpu)
            yield i
    finally:
        os.sched_setaffinity(pm, cpus)
        os.sched_setaffinity(0, cpus)


def med(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    return [min(xs), max(xs)] if xs else None


# ---------------------------------------------------------------- prompts
def tokenize(text):
    return json.loads(run([CLI, "tokenize", "--model", MODEL], input=text))


def detokenize(ids):
    return run([CLI, "detokenize", "--model", MODEL,
                ",".join(str(i) for i in ids)])


def make_prompts(n):
    """n prompts of exactly PROMPT_TOKENS tokens that differ in their first
    token (taken from the corpus; a variant whose text does not tokenize
    back to the same count is skipped)."""
    with open(os.path.join(ROOT, "build", "corpus.txt"), encoding="utf-8") as f:
        base = tokenize(f.read(4000))[:PROMPT_TOKENS]
    out, first = [], 464  # ' The' region of the vocabulary
    while len(out) < n:
        ids = [first] + base[1:]
        first += 1
        text = detokenize(ids)
        if first > 1464:
            raise RuntimeError("no prompt of %d tokens" % PROMPT_TOKENS)
        if len(tokenize(text)) == PROMPT_TOKENS:
            out.append(text)
    return out


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


# ---------------------------------------------------------------- SQLite
def sqlite_env():
    env = dict(os.environ, GPT_MODEL=MODEL, GPT_THREADS="1")
    return env


RUNTIME = re.compile(r"^Run Time: real ([0-9.]+)", re.M)


def sqlite_session(stmts):
    """Runs statements in one sqlite3 connection; returns their real times
    and the output lines that are not timings."""
    script = ".load %s\n.timer on\n" % SQLITE_SO + "".join(
        s + "\n" for s in stmts)
    out = run(["sqlite3", ":memory:"], env=sqlite_env(), input=script)
    times = [float(x) for x in RUNTIME.findall(out)]
    rows = [l for l in out.splitlines() if not l.startswith("Run Time:")]
    return times, rows


def sqlite_gen(prompt, n):
    return ("SELECT gpt_token_count(gpt_generate(%s, "
            "'{\"max_tokens\": %d, \"temperature\": 0}'));" % (sql_str(prompt), n))


def bench_overhead(prompts, gen, runs):
    """The CLI, SQLite and PostgreSQL in rounds, one after another, so a
    change in the machine's load falls on all three alike; the ratios are
    medians of the per-round ratios.  Per round: `gpt generate` and `gpt
    info` (the CLI's warm time is their difference), a sqlite3 session and a
    psql session that each warm up with a 1-token call and then time the
    generation, and a new sqlite3 process and a new psql (from scratch)."""
    cli = {"cold_process_s": [], "open_s": [], "generate_s": [], "output_tokens": []}
    dbs = {k: {"generate_s": [], "cold_process_s": [], "output_tokens": []}
           for k in ("sqlite", "postgres")}
    for i in pinned_rounds(runs):
        t, out = timed([CLI, "generate", "--model", MODEL, "--threads", "1",
                        "--temperature", "0", "--max-tokens", str(gen), prompts[i]])
        cli["cold_process_s"].append(t)
        cli["output_tokens"].append(len(tokenize(out.rstrip("\n"))))
        cli["open_s"].append(timed([CLI, "info", "--model", MODEL, "--threads", "1"])[0])
        cli["generate_s"].append(t - cli["open_s"][-1])
        times, rows = sqlite_session([sqlite_gen(prompts[-1], 1), sqlite_gen(prompts[i], gen)])
        dbs["sqlite"]["generate_s"].append(times[1])
        dbs["sqlite"]["output_tokens"].append(int(rows[1]))
        dbs["sqlite"]["cold_process_s"].append(timed(
            ["sqlite3", ":memory:"], env=sqlite_env(),
            input=".load %s\n%s\n" % (SQLITE_SO, sqlite_gen(prompts[i], gen)))[0])
        times, rows = psql_session([pg_gen(prompts[-1], 1), pg_gen(prompts[i], gen)])
        dbs["postgres"]["generate_s"].append(times[1])
        dbs["postgres"]["output_tokens"].append(int(rows[1]))
        dbs["postgres"]["cold_process_s"].append(timed(
            [PSQL, "-X", "-qAt", "-c", pg_gen(prompts[i], gen)], env=pg_env())[0])
    out = {"gen_tokens": gen, "rounds": runs, "cli": cli}
    for x in [cli] + list(dbs.values()):
        x.update(median_s=med(x["generate_s"]), spread_s=spread(x["generate_s"]),
                 cold_median_s=med(x["cold_process_s"]),
                 cold_spread_s=spread(x["cold_process_s"]))
    for k, x in dbs.items():
        out[k] = x
        out[k + "_ratio"] = med([a / b for a, b in zip(x["generate_s"], cli["generate_s"])])
        out[k + "_cold_ratio"] = med([a / b for a, b in
                                      zip(x["cold_process_s"], cli["cold_process_s"])])
    return out


def attach_sqlite(prompts, runs):
    """A new sqlite3 process: its first connection maps the model."""
    first, warm = [], []
    for i in pinned_rounds(runs):
        times, _ = sqlite_session([sqlite_gen(prompts[i], 1),
                                   sqlite_gen(prompts[i + 1], 1)])
        first.append(times[0])
        warm.append(times[1])
    return attach_result(first, warm)


# Run by a fresh Debian python3 (its sqlite3 module can load extensions):
# connection A uses the model; then each new connection B times its first
# call and a second one.  sqlite_ext/registry.c shares one mapped model per
# file per process, so B finds the model open and its pages mapped, as a
# connection of an application's pool does.
CONN_SCRIPT = r"""
import json, sqlite3, sys, time
so, prompts = sys.argv[1], json.loads(sys.argv[2])
q = "SELECT gpt_generate(?, '{\"max_tokens\": 1, \"temperature\": 0}')"
def connect():
    c = sqlite3.connect(":memory:")
    c.enable_load_extension(True)
    c.load_extension(so)
    return c
def timed(c, p):
    t = time.perf_counter()
    c.execute(q, (p,)).fetchone()
    return time.perf_counter() - t
a = connect()
timed(a, prompts[0])
out = []
for i in range(1, len(prompts) - 1, 2):
    b = connect()
    out.append([timed(b, prompts[i]), timed(b, prompts[i + 1])])
    b.close()
print(json.dumps(out))
"""


def attach_sqlite_conn(prompts, runs):
    """A new connection in a process where another one uses the model."""
    out = json.loads(run([sys.executable, "-c", CONN_SCRIPT, SQLITE_SO,
                          json.dumps(prompts[:2 * runs + 1])], env=sqlite_env()))
    return attach_result([f for f, _ in out], [w for _, w in out])


def attach_result(first, warm):
    d = [a - b for a, b in zip(first, warm)]
    return {"first_s": first, "warm_s": warm, "attach_s": d,
            "median_ms": med(d) * 1e3, "spread_ms": [x * 1e3 for x in spread(d)]}


# ---------------------------------------------------------------- PostgreSQL
PG_TIME = re.compile(r"^Time: ([0-9.]+) ms", re.M)


def pg_env(app=None, options=None):
    env = dict(os.environ, PGOPTIONS=options or
               "-c gpt.model=%s -c gpt.threads=1" % MODEL_NAME)
    if app:
        env["PGAPPNAME"] = app
    return env


def pg_gen(prompt, n):
    return ("SELECT gpt_token_count(gpt_generate(%s, max_tokens => %d, "
            "temperature => 0));" % (sql_str(prompt), n))


def psql_session(stmts, options=None):
    script = "\\timing on\n" + "".join(s + "\n" for s in stmts)
    out = run([PSQL, "-X", "-qAt", "-v", "ON_ERROR_STOP=1"],
              env=pg_env(options=options), input=script)
    times = [float(x) / 1e3 for x in PG_TIME.findall(out)]
    rows = [l for l in out.splitlines() if not l.startswith("Time:")]
    return times, rows


def attach_pg(prompts, runs, model=MODEL_NAME):
    """A new backend.  MODEL_NAME is the model the postmaster opened at
    startup (bench/sql_bench.sh sets it as gpt.model): the backend inherits
    it.  OWN_NAME, another link to the same file, is not: the backend
    opens it on its first call."""
    first, warm = [], []
    opts = "-c gpt.model=%s -c gpt.threads=1" % model
    for i in pinned_rounds(runs):
        times, _ = psql_session([pg_gen(prompts[i], 1), pg_gen(prompts[i + 1], 1)],
                                options=opts)
        first.append(times[0])
        warm.append(times[1])
    return attach_result(first, warm)


def page_touch(runs):
    """The floor under any attach cost: a new process maps the model as
    gpt_model_open does and reads a byte of every page (bench/maptouch.c),
    as the first forward pass must; the file is in the page cache.  Returns
    the milliseconds per run and the KiB mapped 2 MiB at a time."""
    tool = os.path.join(ROOT, "build", "bench", "maptouch")
    out = [json.loads(run([tool, MODEL])) for _ in range(runs)]
    return [o["touch_ms"] for o in out], min(o["pmd_kib"] for o in out)


def smaps_private(pid):
    vals = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                vals[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return {"private_bytes": vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0),
            "rss_bytes": vals.get("Rss", 0), "pss_bytes": vals.get("Pss", 0),
            "shared_bytes": vals.get("Shared_Clean", 0) + vals.get("Shared_Dirty", 0)}


def bench_memory(prompts, nbackends, gen):
    """nbackends sessions each generate `gen` tokens then sleep; an idle
    session (SELECT 1) is the baseline.  Reads their smaps_rollup."""
    procs = []
    for i in range(nbackends + 1):
        q = pg_gen(prompts[i], gen) if i < nbackends else "SELECT 1;"
        script = q + "\nSELECT pg_sleep(120);\n"
        p = subprocess.Popen([PSQL, "-X", "-qAt"], env=pg_env("gptmem_%d" % i),
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, text=True)
        p.stdin.write(script)
        p.stdin.close()
        procs.append(p)
    pids = {}
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            out = run([PSQL, "-X", "-qAt", "-c",
                       "SELECT application_name, pid FROM pg_stat_activity "
                       "WHERE application_name LIKE 'gptmem_%' AND "
                       "query LIKE '%pg_sleep%'"], env=pg_env())
            pids = {a: int(p) for a, p in (l.split("|") for l in out.split())}
            if len(pids) == nbackends + 1:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError("memory: sessions did not reach pg_sleep")
        res = {a: smaps_private(p) for a, p in sorted(pids.items())}
    finally:
        if pids:
            run([PSQL, "-X", "-qAt", "-c",
                 "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE application_name LIKE 'gptmem_%'"], env=pg_env())
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    idle = res.pop("gptmem_%d" % nbackends)
    used = list(res.values())
    priv = [u["private_bytes"] for u in used]
    return {"backends": used, "idle_backend": idle,
            "private_median_bytes": med(priv),
            "private_over_idle_bytes": med(priv) - idle["private_bytes"],
            "tokens_in_cache": PROMPT_TOKENS + gen}


def bench_pgbench(prompt, clients, seconds, tmp):
    script = os.path.join(tmp, "gen32.sql")
    with open(script, "w") as f:
        # a different number in each prompt: no call reuses another's KV
        f.write("\\set r random(1, 1000000000)\n"
                "SELECT gpt_generate('Row ' || :r || ': ' || %s, "
                "max_tokens => 32, temperature => 0);\n" % sql_str(prompt))
    os.chmod(tmp, 0o755)
    out = []
    for c in clients:
        logdir = os.path.join(tmp, "pgb%d" % c)
        os.makedirs(logdir)
        text = run([PGBENCH, "-n", "-T", str(seconds), "-c", str(c), "-j", str(c),
                    "-f", script, "-r", "--log", "--log-prefix",
                    os.path.join(logdir, "log")], env=pg_env())
        lat = []
        for name in os.listdir(logdir):
            with open(os.path.join(logdir, name)) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3:
                        lat.append(int(parts[2]) / 1e3)  # us -> ms
        lat.sort()

        def pct(p):
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] if lat else None

        def grab(pattern, conv=float):
            m = re.search(pattern, text)
            return conv(m.group(1)) if m else None

        txn = grab(r"number of transactions actually processed: (\d+)", int)
        failed = grab(r"number of failed transactions: (\d+)", int) or 0
        tps = grab(r"tps = ([0-9.]+) \(without initial connection time\)")
        out.append({"clients": c, "seconds": seconds, "transactions": txn,
                    "failed": failed, "tps": tps, "tokens_per_s": tps * 32 if tps else None,
                    "latency_avg_ms": grab(r"latency average = ([0-9.]+) ms"),
                    "latency_p50_ms": pct(50), "latency_p90_ms": pct(90),
                    "latency_p99_ms": pct(99), "latency_max_ms": lat[-1] if lat else None})
        log("pgbench %d clients: %s tps, %s failed" % (c, tps, failed))
    return out


# ---------------------------------------------------------------- machine
def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        commit = run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).strip()
    except Exception:
        commit = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(),
            "commit": commit,
            "postgres": run([PSQL, "-X", "-qAt", "-c", "SHOW server_version"],
                            env=pg_env()).strip(),
            "sqlite": run(["sqlite3", "--version"]).split()[0]}


def mb(b):
    return b / 2**20


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def kv_bytes():
    info = json.loads(run([CLI, "info", "--model", MODEL]))
    per_tok = 2 * info["block_count"] * info["embedding_length"] * 2  # K and V, F16
    return info, per_tok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench", "sql.json"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--gen", type=int, default=128)
    # the overhead and attach parts are short: more runs than the others
    # keep one slow moment of a shared machine from deciding their medians
    ap.add_argument("--overhead-runs", type=int, default=5,
                    help="rounds of the overhead part (at least --runs)")
    ap.add_argument("--attach-runs", type=int, default=9,
                    help="runs of each attach case (at least --runs)")
    ap.add_argument("--pgbench-seconds", type=int, default=15)
    ap.add_argument("--clients", default="1,2,4,8")
    ap.add_argument("--backends", type=int, default=3)
    ap.add_argument("--enrich", default="default.gguf:1000:16,gpt2-124m-q8_0.gguf:50:16",
                    help="MODEL:ROWS:TOKENS,... (models in gpt.model_dir)")
    # the enrichment is the longest part: two runs keep `make bench` short
    ap.add_argument("--enrich-runs", type=int, default=2,
                    help="runs of each enrichment form")
    ap.add_argument("--only", default="overhead,attach,memory,pgbench,enrich")
    ap.add_argument("--cmd", default="make bench-sql")
    a = ap.parse_args()
    only = set(a.only.split(","))
    if not os.environ.get("GPT_PG_MODEL_DIR"):
        sys.exit("bench-sql: run me through bench/sql_bench.sh")

    # the model under its own name inside gpt.model_dir, and a second name
    for name in (MODEL_NAME, OWN_NAME):
        dst = os.path.join(os.environ["GPT_PG_MODEL_DIR"], name)
        if not os.path.exists(dst):
            try:
                os.link(MODEL, dst)
            except OSError:
                shutil.copy(MODEL, dst)
            os.chmod(dst, 0o644)

    run([PSQL, "-X", "-qAt", "-c", "CREATE EXTENSION IF NOT EXISTS gpt"], env=pg_env())
    r = {"load_before": loadavg(), "runs": a.runs, "cmd": a.cmd, "machine": machine()}
    info, per_tok = kv_bytes()
    r["model"] = info
    prompts = make_prompts(max(2 * max(a.runs, a.attach_runs, a.overhead_runs) + 2,
                               a.backends + 2))
    r["prompt_tokens"] = PROMPT_TOKENS
    log("prompts ready (%d tokens each)" % PROMPT_TOKENS)
    tmp = tempfile.mkdtemp(prefix="gpt-bench-sql.")
    try:
        if "overhead" in only:
            r["overhead"] = bench_overhead(prompts, a.gen, max(a.runs, a.overhead_runs))
            log("overhead: cli %.3f s, sqlite x%.3f, postgres x%.3f" % (
                r["overhead"]["cli"]["median_s"], r["overhead"]["sqlite_ratio"],
                r["overhead"]["postgres_ratio"]))
        if "attach" in only:
            ar = max(a.runs, a.attach_runs)
            r["attach"] = {"sqlite": attach_sqlite(prompts, ar),
                           "sqlite_conn": attach_sqlite_conn(prompts, ar),
                           "postgres": attach_pg(prompts, ar),
                           "postgres_open": attach_pg(prompts, ar, OWN_NAME)}
            r["attach"]["page_touch_ms"], r["attach"]["page_touch_pmd_kib"] = page_touch(ar)
            log("attach: sqlite process %.1f ms, sqlite connection %.1f ms, postgres %.1f ms "
                "(opening the model itself: %.1f ms)" % (
                r["attach"]["sqlite"]["median_ms"], r["attach"]["sqlite_conn"]["median_ms"],
                r["attach"]["postgres"]["median_ms"], r["attach"]["postgres_open"]["median_ms"]))
        if "memory" in only:
            m = bench_memory(prompts, a.backends, a.gen)
            m["kv_full_bytes"] = per_tok * info["context_length"]
            m["kv_used_bytes"] = per_tok * m["tokens_in_cache"]
            r["memory"] = m
            log("memory: private %.1f MiB per backend (idle %.1f MiB)" % (
                mb(m["private_median_bytes"]), mb(m["idle_backend"]["private_bytes"])))
        if "pgbench" in only:
            r["pgbench"] = bench_pgbench(prompts[0], [int(c) for c in a.clients.split(",")],
                                         a.pgbench_seconds, tmp)
        if "enrich" in only:
            r["enrich"] = []
            for spec in a.enrich.split(","):
                name, rows, tokens = spec.split(":")
                r["enrich"].append(sql_enrich.bench_enrich(
                    psql_session, name, int(rows), int(tokens),
                    min(a.enrich_runs, a.runs), log))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    r["load_after"] = loadavg()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(r, f, indent=1)
    log("wrote " + a.out)


if __name__ == "__main__":
    main()
