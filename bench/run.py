"""run.py - the measuring half of `make bench` (bench/run.sh prepares the
inputs and calls it, then bench/report.py turns its JSON into BENCHMARKS.md
and the plots).

Everything is measured in one run so the figures share the machine's state:
  ceilings   read bandwidth (build/bench/bandwidth), OpenBLAS sgemm
             GFLOP/s (build/bench/sgemm), at each thread count
  core       prefill tokens/s at each prompt length and decode tokens/s,
             ours (build/bench/corebench: `gpt bench`'s steps, plus CPU
             time) and llama.cpp's (bench/llamacpp_bench.mjs)
             on the same GGUF, formats x thread counts, each RUNS runs;
             decode bandwidth efficiency = weight bytes read per token x
             tokens/s / best measured bandwidth at that thread count;
             and the judged one: decode runs each between two bandwidth
             measurements, the median of their ratios (bench_paired)
  tokenizer  MB/s on the shared corpus, ours (build/bench/tokbench) and
             tiktoken's (bench/tiktoken_bench.mjs)
  memory     anonymous (private) memory of a process with the 124M Q8_0
             model open and a session used (build/bench/rss)
  llama.cpp  compatibility: does each GGUF load, and is the greedy
             continuation of the tiny model the same as ours
  batch      total generated tokens/s against batch size, ours
             (build/bench/genbench batch: gpt_generate_batch beside one
             gpt_generate per prompt, texts compared) and llama.cpp's (one
             context with that many sequences), Q8_0, 1 and 2 threads
  context    decode tokens/s against context position, 1 to the full
             context (build/bench/corebench, llamacpp_bench.mjs context)
  prefix     shared-prefix KV reuse (genbench prefix): rows with a common
             prefix through one session against a new session per row, and
             one gpt_generate_batch call over the rows with prefix reuse
             against the same call with it off (the issue 6 target)
  sql        the databases (bench/sql_bench.sh: a throwaway PostgreSQL
             cluster; SQL overhead, attach cost, memory per backend,
             pgbench, enrichment), unless --no-sql

--quick: one run of small settings of everything, written under
build/bench/quick/ (BENCHMARKS.md and plots there), a smoke test of the
harness in a few minutes; the committed report is left alone.

The order alternates ours and llama.cpp per configuration so that slow
drifts in the machine's load hit both alike.
"""

import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))
import gguf  # noqa: E402
import report  # noqa: E402
import weight_bytes  # noqa: E402

GEN_PROMPT = "The cat is lying on the"


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg),
          file=sys.stderr, flush=True)


def run_json(cmd, timeout=1800):
    """Runs cmd, returns the JSON object on the last line of its stdout."""
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd),
                           res.returncode, res.stderr.strip()[-2000:]))
    return json.loads(res.stdout.strip().splitlines()[-1])


def stats(xs):
    """median, min, max and relative spread ((max - min) / median)."""
    xs = [float(x) for x in xs]
    med = statistics.median(xs)
    return {"median": round(med, 2), "min": round(min(xs), 2),
            "max": round(max(xs), 2),
            "spread_pct": round(100.0 * (max(xs) - min(xs)) / med, 1)
            if med else None,
            "runs": [round(x, 2) for x in xs]}


def machine():
    info = {"cpu": "", "flags": [], "cores": os.cpu_count(),
            "kernel": platform.release(), "mem_gib": None}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                if k == "model name" and not info["cpu"]:
                    info["cpu"] = v.strip()
                elif k == "flags" and not info["flags"]:
                    have = set(v.split())
                    info["flags"] = [x for x in (
                        "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f",
                        "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16",
                        "avx_vnni", "amx_tile") if x in have]
        with open("/proc/meminfo") as f:
            info["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            if k.strip() in ("Model name", "CPU family", "Model", "L3"):
                info["lscpu_" + k.strip().lower().replace(" ", "_")] = v.strip()
    except OSError:
        pass
    return info


def commit():
    def git(*a):
        return subprocess.run(["git"] + list(a), capture_output=True,
                              text=True, cwd=ROOT).stdout.strip()
    return {"commit": git("rev-parse", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no",
                              "--", "core", "tools", "bench"))}


def command(args):
    """The make command line that gives these arguments (bench/bench.mk
    turns BENCH_SQL=0 into --no-sql)."""
    rest = [x for x in args if x != "--no-sql"]
    return "make bench%s%s" % (" BENCH_SQL=0" if "--no-sql" in args else "",
                               " BENCH_ARGS='%s'" % " ".join(rest) if rest else "")


def bench_batch(a, model, node):
    """{"ours": {threads: genbench output}, "llama.cpp": {...}}, alternating
    the engines per thread count."""
    out = {"model": model, "sizes": [int(x) for x in a.batch_sizes.split(",")],
           "prompt_tokens": a.batch_prompt, "gen_tokens": a.batch_gen,
           "ours": {}, "llama.cpp": {}}
    for t in [int(x) for x in a.batch_threads.split(",")]:
        log("batch curve, ours, %d thread(s)" % t)
        out["ours"][str(t)] = run_json(
            ["build/bench/genbench", "batch", model, str(t), str(a.batch_prompt),
             str(a.batch_gen), str(a.runs), a.batch_sizes])
        if not a.no_llama:
            log("batch curve, llama.cpp, %d thread(s)" % t)
            out["llama.cpp"][str(t)] = run_json(
                node + ["bench/llamacpp_bench.mjs", "batch", model, str(t),
                        str(a.batch_prompt), str(a.batch_gen), str(a.runs),
                        a.batch_sizes])
    return out


def bench_context(a, model, node):
    """Decode tokens/s at each context position, 1 thread, both engines."""
    pos = [int(x) for x in a.context.split(",")]
    out = {"model": model, "positions": pos, "gen_tokens": a.context_gen,
           "threads": 1, "ours": [], "llama.cpp": None}
    log("context curve, ours")
    for p in pos:
        r = run_json(["build/bench/corebench", model, "1", str(p),
                      str(a.context_gen), str(a.runs)])
        out["ours"].append({"position": p, "decode": stats(
            x["decode_tok_s"] for x in r["runs"])})
    if not a.no_llama:
        log("context curve, llama.cpp")
        r = run_json(node + ["bench/llamacpp_bench.mjs", "context", model, "1",
                             a.context, str(a.context_gen), str(a.runs)])
        out["llama.cpp"] = [{"position": x["position"], "decode": stats(
            y["decode_tok_s"] for y in x["runs"])} for x in r["results"]]
    return out


def bench_prefix(a, model):
    rows, pre, row, gen = a.prefix.split(":")
    log("shared prefix: %s rows, %s + %s tokens, %s generated, %d threads"
        % (rows, pre, row, gen, a.prefix_threads))
    return run_json(["build/bench/genbench", "prefix", model,
                     str(a.prefix_threads), rows, pre, row, gen, str(a.runs)])


def bench_sql(a, res):
    """Runs bench/sql_bench.sh (its own throwaway cluster) into res["sql"];
    returns an error text instead of raising, so the rest is kept."""
    path = os.path.join(os.path.dirname(a.out), "sql.json")
    # again: llama.cpp has read the files since, through a mapping that
    # does not ask for huge pages
    res["evicted_before_sql"] = evict_models(a)
    cmd = ["sh", "bench/sql_bench.sh", "--out", os.path.abspath(path),
           "--runs", str(max(a.runs, 2)), "--cmd", res["command"]] + a.sql_args.split()
    log("databases: " + " ".join(cmd))
    if os.path.exists(path):
        os.remove(path)
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode != 0 or not os.path.exists(path):
        res["sql_error"] = "bench/sql_bench.sh exited with %d" % r.returncode
        return res["sql_error"]
    with open(path) as f:
        res["sql"] = json.load(f)
    return None


def merge_bandwidth(runs):
    """bench/bandwidth.c's results of several measurements as one: per
    thread count the best of all (the ceiling), the median of the medians,
    the lowest."""
    out = dict(runs[0], measurements=len(runs), threads=[])
    for x in runs[0]["threads"]:
        same = [y for r in runs for y in r["threads"] if y["threads"] == x["threads"]]
        m = dict(x)
        for k in ("best_gb_s", "cpu_best_gb_s"):
            if k in x:
                m[k] = max(y[k] for y in same)
        for k in ("median_gb_s", "cpu_median_gb_s"):
            if k in x:
                m[k] = statistics.median(y[k] for y in same)
        m["min_gb_s"] = min(y["min_gb_s"] for y in same)
        out["threads"].append(m)
    return out


def bench_paired(a, threads, models, wbytes, prompt):
    """Decode against the read bandwidth measured right beside it, in
    a.paired_rounds rounds: per thread count, bandwidth, one format's decode
    (a.gen tokens after a prompt of `prompt` tokens, one run),
    bandwidth, the next format's decode, ..., bandwidth.  Each decode is
    divided by the better of the two bandwidth measurements around it, and
    the target is judged on the median of these ratios.  This VM's memory
    bandwidth swings by a third within a minute (other tenants), so a
    decode median set against the best bandwidth seen anywhere in the run
    measures the swing as much as the decode.  One-thread rounds are pinned
    to one CPU, going round them (its cores also take turns being slower);
    the others run on all."""
    cpus = sorted(os.sched_getaffinity(0))
    out = {"rounds": a.paired_rounds, "prompt_tokens": prompt,
           "gen_tokens": a.gen, "bw_mib": a.bw_mib, "rows": []}
    ratios = {}
    log("decode beside bandwidth: %d rounds" % a.paired_rounds)
    try:
        for i in range(a.paired_rounds):
            for t in threads:
                os.sched_setaffinity(0, {cpus[i % len(cpus)]} if t == 1 else cpus)
                bw = ["build/bench/bandwidth", str(a.bw_mib), "3", str(t)]
                before = run_json(bw)["threads"][0]["best_gb_s"]
                for f, model in models.items():
                    r = run_json(["build/bench/corebench", model, str(t),
                                  str(prompt), str(a.gen), "1"])["runs"][0]
                    after = run_json(bw)["threads"][0]["best_gb_s"]
                    gb = wbytes[f] * r["decode_tok_s"] / 1e9
                    ratios.setdefault((f, t), []).append(
                        (gb, max(before, after), gb / max(before, after)))
                    before = after
    finally:
        os.sched_setaffinity(0, cpus)
    for (f, t), xs in ratios.items():
        out["rows"].append({"format": f, "threads": t,
                            "decode_gb_s": stats(x[0] for x in xs),
                            "bandwidth_gb_s": stats(x[1] for x in xs),
                            "efficiency_pct": stats(100.0 * x[2] for x in xs)})
    return out


def bench_core(a, res, threads, formats, prompts, node):
    """llama.cpp's compatibility, the ceilings, prefill and decode of every
    format and thread count (both engines), the tokenizer, memory."""
    gpt, bb = "build/gpt", "build/bench"
    # ---- llama.cpp: version, and does it load our files at all
    models = {f: os.path.join(a.models, "gpt2-124m-%s.gguf" % f)
              for f in formats}
    tiny = os.path.join(a.models, "tiny-f32.gguf")
    if not a.no_llama:
        ver = run_json(node + ["-e", "const p=require('./build/npm/node_modules/"
                               "node-llama-cpp/package.json');const b=require("
                               "'./build/npm/node_modules/@node-llama-cpp/linux-x64/"
                               "bins/linux-x64/_nlcBuildMetadata.json');console.log"
                               "(JSON.stringify({node_llama_cpp:p.version,llama_cpp:"
                               "b.buildOptions.llamaCpp.release}))"])
        log("llama.cpp %s (node-llama-cpp %s): load check" %
            (ver["llama_cpp"], ver["node_llama_cpp"]))
        files = sorted(set(list(models.values()) + [
            os.path.join(a.models, n) for n in os.listdir(a.models)
            if n.startswith("tiny") and n.endswith(".gguf")]))
        out = subprocess.run(node + ["bench/llamacpp_bench.mjs", "load"] + files,
                             capture_output=True, text=True, cwd=ROOT)
        loads = [json.loads(line) for line in out.stdout.splitlines()
                 if line.startswith("{")]
        ours = subprocess.run([gpt, "generate", "--temperature", "0",
                               "--max-tokens", "32", "--model", tiny,
                               GEN_PROMPT], capture_output=True, text=True,
                              cwd=ROOT).stdout
        ours = ours[:-1] if ours.endswith("\n") else ours  # the CLI's newline
        theirs = run_json(node + ["bench/llamacpp_bench.mjs", "generate", tiny,
                                  "32", GEN_PROMPT])
        res["llama_cpp"] = dict(ver, load=loads, greedy={
            "model": tiny, "prompt": GEN_PROMPT, "ours": ours,
            "llama_cpp": theirs["text"], "same": ours == theirs["text"]})

    # ---- ceilings
    def measure_bw():
        log("read bandwidth (%d MiB buffer)" % a.bw_mib)
        bw_runs.append(run_json([bb + "/bandwidth", str(a.bw_mib), str(max(a.runs, 5))]
                                + [str(t) for t in threads]))
        return merge_bandwidth(bw_runs)
    bw_runs = []
    bw = measure_bw()
    log("sgemm")
    sg = run_json([bb + "/sgemm", str(max(a.runs, 5))] + [str(t) for t in threads])
    res["ceilings"] = {"bandwidth": bw, "sgemm": sg}
    sg_best = {x["threads"]: x["best_gflop_s"] for x in sg["threads"]}

    # ---- prefill and decode, ours and llama.cpp's
    def ours_bench(model, t):
        out = []
        for i, p in enumerate(prompts):
            # the first prompt length also carries the decode run
            g = a.gen if i == 0 else 0
            out.append({"prompt_tokens": p, "gen_tokens": g,
                        "runs": run_json([bb + "/corebench", model, str(t),
                                          str(p), str(g),
                                          str(a.runs)])["runs"]})
        return out

    def llama_bench(model, t):
        return run_json(node + ["bench/llamacpp_bench.mjs", "bench", model,
                                str(t), ",".join(map(str, prompts)),
                                str(a.gen), str(a.runs)])["results"]

    engines = [("ours", ours_bench)]
    if not a.no_llama:
        engines.append(("llama.cpp", llama_bench))
    for fi, f in enumerate(formats):
        wb = weight_bytes.decode_bytes(models[f])
        if fi > 0:
            # again before each format: a ceiling measured once can catch
            # the other core busy and come out below what decode then gets
            res["ceilings"]["bandwidth"] = measure_bw()
        for t in threads:
            for name, fn in engines:
                log("%s %s threads=%d" % (name, f, t))
                row = {"engine": name, "format": f, "threads": t,
                       "decode_weight_bytes": wb["decode_weight_bytes"],
                       "prefill_flops_per_token": wb["prefill_flops_per_token"],
                       "prefill": {}}
                for r in fn(models[f], t):
                    runs = r["runs"]
                    row["prefill"][str(r["prompt_tokens"])] = stats(
                        x["prefill_tok_s"] for x in runs)
                    row.setdefault("prefill_cpu", {})[str(r["prompt_tokens"])] = \
                        stats(x["prefill_tok_cpu_s"] for x in runs)
                    if r["gen_tokens"]:
                        row["decode"] = stats(x["decode_tok_s"] for x in runs)
                        row["decode_cpu"] = stats(x["decode_tok_cpu_s"]
                                                  for x in runs)
                        row["decode_prompt_tokens"] = r["prompt_tokens"]
                d = row["decode"]["median"]
                row["decode_gb_s"] = round(wb["decode_weight_bytes"] * d / 1e9, 2)
                # prefill of the longest prompt against the sgemm ceiling
                pl = row["prefill"][str(max(prompts))]["median"]
                row["prefill_gflop_s"] = round(
                    wb["prefill_flops_per_token"] * pl / 1e9, 1)
                row["sgemm_efficiency_pct"] = round(
                    100.0 * row["prefill_gflop_s"] / sg_best[t], 1)
                res["core"].append(row)
    # decode against the best bandwidth of all the measurements
    bw_best = {x["threads"]: x["best_gb_s"] for x in res["ceilings"]["bandwidth"]["threads"]}
    for row in res["core"]:
        row["bandwidth_efficiency_pct"] = round(
            100.0 * row["decode_gb_s"] / bw_best[row["threads"]], 1)

    # ---- decode against the bandwidth measured beside it (the target)
    res["decode_paired"] = bench_paired(
        a, threads, models, {r["format"]: r["decode_weight_bytes"]
                             for r in res["core"]}, prompts[0])

    # ---- tokenizer
    log("tokenizer")
    tr = max(a.runs, 3)
    res["tokenizer"]["ours"] = run_json([bb + "/tokbench", tiny, a.corpus, str(tr)])
    if not a.no_llama:
        res["tokenizer"]["tiktoken"] = run_json(
            node + ["bench/tiktoken_bench.mjs", a.corpus, str(tr)])

    # ---- memory of a process with the Q8_0 model loaded and used
    q8 = models.get("q8_0", os.path.join(a.models, "gpt2-124m-q8_0.gguf"))
    if os.path.exists(q8):
        log("memory")
        res["memory"] = run_json([bb + "/rss", q8])


def evict_models(a):
    """Drops the model files (a.models, models/default.gguf) from the page
    cache (what no process maps), so each is read back by its first user in
    2 MiB folios, as on a server whose model was first read by gpt after a
    reboot (tools/gguf.py, drop_page_cache, says why)."""
    done = []
    for p in sorted(glob.glob(os.path.join(a.models, "*.gguf"))) + [
            os.path.join(ROOT, "models", "default.gguf")]:
        with open(p, "rb") as f:
            gguf.drop_page_cache(f)
        done.append(os.path.relpath(p, ROOT))
    return done


def main(argv=None):
    defaults = {  # name: (full run, --quick)
        "runs": (3, 1), "threads": ("1,2", "1"), "formats": ("f32,f16,q8_0", "q8_0"),
        "prompts": ("128,512", "64,128"), "gen": (128, 32),
        "batch_sizes": ("1,2,4,8,16", "1,4,16"), "batch_threads": ("1,2", "2"),
        "batch_prompt": (8, 8), "batch_gen": (32, 8),
        "context": ("1,128,256,512,768,1008", "1,512,1008"),
        "context_gen": (16, 8), "prefix": ("50:200:20:16", "10:200:20:16"),
        "prefix_threads": (2, 2), "bw_mib": (1024, 256),
        "paired_rounds": (5, 1),
        "sql_args": ("", "--pgbench-seconds 3 --backends 2 --gen 32 "
                         "--enrich default.gguf:100:16,gpt2-124m-q8_0.gguf:10:8"),
        "out": ("build/bench/results.json", "build/bench/quick/results.json"),
    }
    ap = argparse.ArgumentParser(
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="defaults (full run / --quick):\n" + "\n".join(
            "  --%-15s %s / %s" % (k.replace("_", "-"), full, quick)
            for k, (full, quick) in defaults.items()))
    # None: the default in the epilog, or the --quick one
    ap.add_argument("--quick", action="store_true",
                    help="small settings, one run: a smoke test")
    ap.add_argument("--runs", type=int)
    ap.add_argument("--threads")
    ap.add_argument("--formats")
    ap.add_argument("--prompts")
    ap.add_argument("--gen", type=int)
    ap.add_argument("--batch-sizes", help="batch sizes for the batch curve")
    ap.add_argument("--batch-threads", help="thread counts for the batch curve")
    ap.add_argument("--batch-prompt", type=int)
    ap.add_argument("--batch-gen", type=int)
    ap.add_argument("--context", help="context positions (prompt tokens)")
    ap.add_argument("--context-gen", type=int)
    ap.add_argument("--prefix", help="ROWS:PREFIX:ROW:GEN tokens")
    ap.add_argument("--prefix-threads", type=int)
    ap.add_argument("--sql-args", help="more arguments for bench/sql_bench.py")
    ap.add_argument("--no-sql", action="store_true",
                    help="skip the databases (BENCH_SQL=0)")
    ap.add_argument("--models", default="build/models")
    ap.add_argument("--corpus", default="build/corpus.txt")
    ap.add_argument("--bw-mib", type=int)
    ap.add_argument("--paired-rounds", type=int,
                    help="rounds of decode beside bandwidth (the 80%% target)")
    ap.add_argument("--no-llama", action="store_true",
                    help="skip llama.cpp and tiktoken (no node)")
    ap.add_argument("--only", help="some of core,batch,context,prefix,sql "
                    "(a partial run: written under build/bench/partial/)")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    parts = set((a.only or "core,batch,context,prefix,sql").split(","))
    if a.no_sql:
        parts.discard("sql")
    partial = a.quick or a.only is not None
    if a.only and not a.quick and a.out is None:
        a.out = "build/bench/partial/results.json"
    for k, (full, quick) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, quick if a.quick else full)
    threads = [int(t) for t in a.threads.split(",")]
    formats = a.formats.split(",")
    prompts = [int(p) for p in a.prompts.split(",")]
    node = ["node"]
    t_start = time.time()

    res = {"machine": machine(), "git": commit(),
           "command": command(argv if argv is not None else sys.argv[1:]),
           "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
           "loadavg_start": os.getloadavg()[0],
           "config": {"runs": a.runs, "threads": threads, "formats": formats,
                      "prompts": prompts, "gen_tokens": a.gen, "quick": a.quick,
                      "parts": sorted(parts)},
           # where bench/report.py writes: a quick or partial run keeps off
           # the committed files
           "report": {"md": os.path.join(os.path.dirname(a.out), "BENCHMARKS.md")
                      if partial else "BENCHMARKS.md",
                      "docs": os.path.join(os.path.dirname(a.out), "docs")
                      if partial else "docs"},
           "llama_cpp": None, "ceilings": {}, "core": [], "tokenizer": {}}

    res["evicted"] = evict_models(a)
    log("page cache: dropped %d model files, read back in 2 MiB folios" % len(res["evicted"]))

    # each part, with its duration (res["part_seconds"])
    q8 = os.path.join(a.models, "gpt2-124m-q8_0.gguf")
    steps = [
        ("core", lambda: bench_core(a, res, threads, formats, prompts, node)),
        ("batch", lambda: res.__setitem__("batch", bench_batch(a, q8, node))),
        ("context", lambda: res.__setitem__("context", bench_context(a, q8, node))),
        ("prefix", lambda: res.__setitem__("prefix", bench_prefix(a, q8))),
        # the databases last: a failure there keeps what came before
        ("sql", lambda: bench_sql(a, res)),
    ]
    res["part_seconds"] = {}
    failed = None
    for name, fn in steps:
        if name in parts:
            t0 = time.time()
            err = fn()
            if name == "sql":
                failed = err
            res["part_seconds"][name] = round(time.time() - t0, 1)
            log("%s: %.0f s" % (name, res["part_seconds"][name]))

    res["loadavg_end"] = os.getloadavg()[0]
    res["seconds"] = round(time.time() - t_start, 1)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    log("wrote %s (%.0f s)" % (a.out, res["seconds"]))
    report.main([a.out])
    if failed:
        sys.exit("bench: the database part failed: " + failed)


if __name__ == "__main__":
    main()
