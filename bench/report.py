"""report.py - turns build/bench/results.json (bench/run.py) into
BENCHMARKS.md and the plots docs/bench_*.png (bench/report_plots.py); a
quick or partial run's report goes beside its results instead (the
"report" entry of the results).  The generation sections come from
bench/report_gen.py, the database ones from bench/report_sql.py.

    /usr/bin/python3 bench/report.py [build/bench/results.json]
"""

import json
import os
import sys

import report_gen
import report_plots
import report_sql

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FMT = {"f32": "F32", "f16": "F16", "q8_0": "Q8_0"}


RUNS = [0]  # the configured number of runs (set in main)



def kv_cache_bytes(mem):
    """A full-context KV cache's bytes; results from before the F16 cache
    (bench/rss.c then printed kv_cache_f32_bytes) keep their figure."""
    mem.setdefault("kv_cache_bytes", mem.get("kv_cache_f32_bytes"))
    return mem["kv_cache_bytes"]

def cell(s):
    """median (min-max) of a stats dict, and the run count when a time
    budget cut it short."""
    if not s:
        return "-"
    n = len(s.get("runs", []))
    return "%s (%s-%s)%s" % (num(s["median"]), num(s["min"]), num(s["max"]),
                             " [%d run%s]" % (n, "s" if n > 1 else "")
                             if 0 < n < RUNS[0] else "")


def num(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x


def ratio(a, b):
    return a / b if b else float("nan")


def find(res, engine, fmt, t):
    for r in res["core"]:
        if (r["engine"], r["format"], r["threads"]) == (engine, fmt, t):
            return r
    return None


def _worst(res, key_dec, key_pre, threads, bw_best):
    """Worst ratios over formats x threads: decode vs llama.cpp, prefill vs
    llama.cpp, decode bandwidth efficiency; from the wall-clock figures
    (key_dec "decode", key_pre "prefill") or the CPU-time ones."""
    cfg = res["config"]
    dec = pre = bw = None
    for f in cfg["formats"]:
        for t in threads:
            o, lc = find(res, "ours", f, t), find(res, "llama.cpp", f, t)
            if not o or key_dec not in o:
                continue
            e = 100.0 * o["decode_weight_bytes"] * o[key_dec]["median"] / 1e9 \
                / bw_best[t]
            if bw is None or e < bw[0]:
                bw = (e, FMT[f], t)
            if not lc or key_dec not in lc:
                continue
            q = ratio(o[key_dec]["median"], lc[key_dec]["median"])
            if dec is None or q < dec[0]:
                dec = (q, FMT[f], t)
            for p in map(str, cfg["prompts"]):
                q = ratio(o[key_pre][p]["median"], lc[key_pre][p]["median"])
                if pre is None or q < pre[0]:
                    pre = (q, FMT[f], t, p)
    return dec, pre, bw


def cpu_bandwidth(res):
    """{1: best single-thread read bandwidth per CPU-second} (falls back
    to the wall-clock figure for results without it)."""
    for x in res["ceilings"]["bandwidth"]["threads"]:
        if x["threads"] == 1:
            return {1: x.get("cpu_best_gb_s", x["best_gb_s"])}
    return {1: float("nan")}


def targets(res):
    """[(issue, target, met, measured)] for issue 2 (the core part)."""
    out = []
    if not res.get("core"):
        return out
    bw_best = {x["threads"]: x["best_gb_s"]
               for x in res["ceilings"]["bandwidth"]["threads"]}
    wall = _worst(res, "decode", "prefill", res["config"]["threads"], bw_best)
    cpu = _worst(res, "decode_cpu", "prefill_cpu", [1], cpu_bandwidth(res))

    def row(target, w, c, ok, fmt):
        if not w:
            return
        text = "worst " + fmt % w
        if c:
            text += "; per CPU-second, 1 thread: " + (fmt % c).split(" (")[0]
        out.append(("2", target, "yes" if ok(w[0]) else "**no**", text))
    row("decode >= llama.cpp, every format and thread count", wall[0], cpu[0],
        lambda x: x >= 1.0, "%.2fx (%s, %d thr)")
    paired = res.get("decode_paired")
    if paired and paired["rows"]:
        # judged on decode against the bandwidth measured beside it
        r = min(paired["rows"], key=lambda x: x["efficiency_pct"]["median"])
        e = r["efficiency_pct"]
        text = ("worst %.0f%% (%s, %d thr; rounds %.0f-%.0f%%), each decode "
                "against the bandwidth measured beside it, median of %d rounds"
                % (e["median"], FMT[r["format"]], r["threads"], e["min"],
                   e["max"], paired["rounds"]))
        if wall[2]:
            text += ("; against the best bandwidth of the whole run: worst "
                     "%.0f%% (%s, %d thr)" % wall[2])
        out.append(("2", "decode >= 80% of the read-bandwidth ceiling",
                    "yes" if e["median"] >= 80 else "**no**", text))
    else:
        row("decode >= 80% of the read-bandwidth ceiling", wall[2], cpu[2],
            lambda x: x >= 80, "%.0f%% (%s, %d thr)")
    row("prefill >= llama.cpp, every format, thread count and prompt length",
        wall[1], cpu[1], lambda x: x >= 1.0, "%.2fx (%s, %d thr, %s tokens)")
    tk = res["tokenizer"]
    if "tiktoken" in tk:
        q = ratio(tk["ours"]["median_mb_s"], tk["tiktoken"]["median_mb_s"])
        out.append(("2", "tokenizer >= tiktoken (MB/s, one thread each)",
                    "yes" if q >= 1.0 else "**no**", "%.2fx of tiktoken (%.1f vs "
                    "%.1f MB/s)" % (q, tk["ours"]["median_mb_s"],
                                    tk["tiktoken"]["median_mb_s"])))
    mem = res.get("memory")
    if mem:
        extra = mem["anon_added_kb"] * 1024 - kv_cache_bytes(mem)
        out.append(("2", "private memory <= KV cache + a few MB (Q8_0, one process)",
                    "yes" if extra <= 10 * 2**20 else "**no**",
                    "%.1f MB anonymous memory added; a full-context KV cache is "
                    "%.1f MB" % (mem["anon_added_kb"] / 1024,
                                 mem["kv_cache_bytes"] / 2**20)))
    return out


def core_sections(res, pngs):
    """Ceilings, prefill and decode, tokenizer, memory, llama.cpp's
    compatibility: the core part's sections."""
    L = []
    w = L.append
    cfg = res["config"]
    llama = res.get("llama_cpp")
    c = res["ceilings"]
    w("## Ceilings\n")
    w("| threads | read bandwidth GB/s, best (median) | per CPU-second (1 thread), best (median) | sgemm GFLOP/s, best (median) |")
    w("|---|---|---|---|")
    sg = {x["threads"]: x for x in c["sgemm"]["threads"]}
    for b in c["bandwidth"]["threads"]:
        s = sg.get(b["threads"], {})
        w("| %d | %.1f (%.1f) | %s | %.0f (%.0f) |" % (
            b["threads"], b["best_gb_s"], b["median_gb_s"],
            "%.1f (%.1f) GB/s, sgemm %.0f (%.0f)" % (
                b["cpu_best_gb_s"], b["cpu_median_gb_s"],
                s.get("cpu_best_gflop_s", 0), s.get("cpu_median_gflop_s", 0))
            if "cpu_best_gb_s" in b and b["threads"] == 1 else "-",
            s.get("best_gflop_s", 0), s.get("median_gflop_s", 0)))
    w("\nBandwidth: sum of a %d MiB float buffer with %s loads (bench/bandwidth.c), "
      "measured %s (before each format's prefill and decode runs): best and "
      "median over all of them. " % (c["bandwidth"]["buffer_mib"], c["bandwidth"]["isa"].upper(),
                                    "%d times" % c["bandwidth"].get("measurements", 1)
                                    if c["bandwidth"].get("measurements", 1) > 1 else "once"))
    w("sgemm: OpenBLAS cblas_sgemm, 512 x {3072x768, 768x3072, 2304x768} "
      "(bench/sgemm.c; %s). Per CPU-second: bytes / the reading thread's CPU "
      "time, the bandwidth while it actually ran (the ceiling for the "
      "one-thread per-CPU-second figures below).\n" % c["sgemm"]["config"])

    w("## Prefill and decode (tokens/s)\n")
    pr = [str(p) for p in cfg["prompts"]]
    hdr = "| format | threads | engine | " + " | ".join(
        "prefill %s" % p for p in pr) + " | decode %d | decode GB/s | of best bandwidth " \
        "| prefill %s GFLOP/s | of sgemm |" % (cfg["gen_tokens"], pr[-1])
    w(hdr)
    w("|" + "---|" * (hdr.count("|") - 1))
    for f in cfg["formats"]:
        for t in cfg["threads"]:
            for e in ("ours", "llama.cpp"):
                r = find(res, e, f, t)
                if not r:
                    continue
                w("| %s | %d | %s | %s | %s | %.2f | %.0f%% | %s | %s |" % (
                    FMT[f], t, e, " | ".join(cell(r["prefill"][p]) for p in pr),
                    cell(r["decode"]), r["decode_gb_s"],
                    r["bandwidth_efficiency_pct"],
                    "%.1f" % r["prefill_gflop_s"] if "prefill_gflop_s" in r else "-",
                    "%.0f%%" % r["sgemm_efficiency_pct"]
                    if "sgemm_efficiency_pct" in r else "-"))
    w("\nDecode: %d tokens, one per forward pass, after a %s-token prompt. "
      "Decode GB/s = weight bytes read per token (every blk.* tensor, the "
      "final norm, and the tied LM head = token_embd in full: %s) x tokens/s; "
      "of bandwidth = that / the best measured read bandwidth at the same "
      "thread count. Prefill: the whole prompt in one call on an empty cache; "
      "its GFLOP/s counts one multiply-add per block weight per token "
      "(%.2f GFLOP per token; attention's own products and the last token's "
      "LM head left out), of sgemm = that / the best OpenBLAS sgemm GFLOP/s "
      "at the same thread count.\n"
      % (cfg["gen_tokens"], pr[0], ", ".join(
          "%s %.1f MB" % (FMT[f], find(res, "ours", f, cfg["threads"][0])
                          ["decode_weight_bytes"] / 1e6) for f in cfg["formats"]),
         res["core"][0].get("prefill_flops_per_token", 0) / 1e9))
    paired = res.get("decode_paired")
    if paired and paired["rows"]:
        w("Decode beside the bandwidth (the judged efficiency): %d rounds; in "
          "each, per thread count, the read bandwidth is measured, then one "
          "format's decode (%d tokens after a %d-token prompt, one run), the "
          "bandwidth again, the next format, and so on; each decode's GB/s is "
          "divided by the better of the two bandwidth measurements around it. "
          "One-thread rounds are pinned to one CPU, going round them. Medians "
          "(min-max) over the rounds:\n"
          % (paired["rounds"], paired["gen_tokens"], paired["prompt_tokens"]))
        w("| format | threads | decode GB/s | bandwidth beside it, GB/s | of bandwidth |")
        w("|---|---|---|---|---|")
        for r in sorted(paired["rows"], key=lambda x: (cfg["formats"].index(x["format"]),
                                                        x["threads"])):
            w("| %s | %d | %s | %s | %s%% |" % (
                FMT[r["format"]], r["threads"], cell(r["decode_gb_s"]),
                cell(r["bandwidth_gb_s"]), cell(r["efficiency_pct"])))
        w("")
    if llama:
        w("Ours vs llama.cpp (ratio of medians):\n")
        w("| format | threads | " + " | ".join("prefill %s" % p for p in pr)
          + " | decode |")
        w("|---|---|" + "---|" * (len(pr) + 1))
        for f in cfg["formats"]:
            for t in cfg["threads"]:
                o, lc = find(res, "ours", f, t), find(res, "llama.cpp", f, t)
                if not (o and lc):
                    continue
                w("| %s | %d | %s | %.2fx |" % (FMT[f], t, " | ".join(
                    "%.2fx" % ratio(o["prefill"][p]["median"],
                                    lc["prefill"][p]["median"]) for p in pr),
                    ratio(o["decode"]["median"], lc["decode"]["median"])))
        w("")
    one = [r for r in res["core"] if r["threads"] == 1 and "decode_cpu" in r]
    if one:
        w("One thread, tokens per CPU-second of the process (load-robust):\n")
        w("| format | engine | " + " | ".join("prefill %s" % p for p in pr)
          + " | decode | of bandwidth |")
        w("|---|---|" + "---|" * (len(pr) + 2))
        bw1 = cpu_bandwidth(res)[1]
        for r in one:
            w("| %s | %s | %s | %s | %.0f%% |" % (
                FMT[r["format"]], r["engine"],
                " | ".join(cell(r["prefill_cpu"][p]) for p in pr),
                cell(r["decode_cpu"]),
                100.0 * r["decode_weight_bytes"] * r["decode_cpu"]["median"]
                / 1e9 / bw1))
        w("")
    for p in ("bench_decode_threads.png", "bench_prefill_prompt.png"):
        if p in pngs:
            w("![%s](docs/%s)\n" % (p[:-4], p))

    tk = res["tokenizer"]
    w("## Tokenizer\n")
    w("| tokenizer | MB/s, median (min-max) | tokens |\n|---|---|---|")
    for name, k in (("ours (gpt_tokenize, bench/tokbench.c)", "ours"),
                    ("tiktoken (npm, WASM), encode_ordinary", "tiktoken")):
        if k in tk:
            x = tk[k]
            w("| %s | %.1f (%.1f-%.1f) | %d |" % (name, x["median_mb_s"],
                                                  x["min_mb_s"], x["best_mb_s"],
                                                  x["tokens"]))
    w("\nThe shared corpus (`shared/data/tokenizer/make_corpus.sh`, %d bytes) "
      "in one call, single-threaded.%s\n" % (tk["ours"]["bytes"],
        (" Both produce the same number of tokens." if "tiktoken" in tk and
         tk["ours"]["tokens"] == tk["tiktoken"]["tokens"] else "")))

    mem = res.get("memory")
    if mem:
        w("## Memory\n")
        w("A process with %s open and a session that evaluated a 64-token "
          "prompt and 8 tokens (bench/rss.c, /proc/self/smaps_rollup): "
          "resident %.1f MB, of which %.1f MB are the file's mapped pages "
          "(shared with every process mapping it) and %.1f MB anonymous "
          "memory added by the model and session (KV cache grown to the "
          "tokens used, scratch buffers). A KV cache of the full %d-token "
          "context would be %.1f MB.\n"
          % (mem["model"], mem["after"]["rss_kb"] / 1024,
             (mem["after"]["private_clean_kb"] + mem["after"]["shared_clean_kb"]
              - mem["before"]["private_clean_kb"]
              - mem["before"]["shared_clean_kb"]) / 1024,
             mem["anon_added_kb"] / 1024, mem["n_ctx"],
             kv_cache_bytes(mem) / 2**20))

    if llama:
        w("## llama.cpp compatibility\n")
        w("| file | loads in llama.cpp %s |\n|---|---|" % llama["llama_cpp"])
        for x in llama["load"]:
            w("| %s | %s |" % (os.path.basename(x["model"]), "yes" if x["ok"]
                               else "no: `%s`" % x["error"].replace("|", "\\|")))
        gr = llama["greedy"]
        w("\nGreedy continuation of \"%s\" (32 tokens, %s): %s.\n" % (
            gr["prompt"], os.path.basename(gr["model"]),
            "identical to ours" if gr["same"] else
            "**differs**: ours `%r`, llama.cpp `%r`" % (gr["ours"], gr["llama_cpp"])))

    return L


def main(argv):
    path = argv[0] if argv else os.path.join(ROOT, "build", "bench",
                                             "results.json")
    with open(path) as fh:
        res = json.load(fh)
    cfg = res["config"]
    RUNS[0] = cfg["runs"]
    m = res["machine"]
    llama = res.get("llama_cpp")
    out = res.get("report", {"md": "BENCHMARKS.md", "docs": "docs"})
    md_path = os.path.join(ROOT, out["md"])
    pngs = report_plots.plots(res, os.path.join(ROOT, out["docs"]))
    L = []
    w = L.append
    w("# Benchmarks\n")
    if cfg.get("quick") or len(cfg.get("parts", [])) < 5:
        w("> **A %s run** (%s): a check of the harness, not figures to quote.\n"
          % ("quick" if cfg.get("quick") else "partial", ", ".join(cfg.get("parts", []))))
    w("Generated by `make bench` (bench/run.sh: bench/run.py measures into "
      "build/bench/results.json, then bench/report.py writes this file and "
      "the plots in docs/). Every figure is the median of %d runs (the "
      "database part: at least 2; enrichment: at most 2), with the range (min-max or [min, max]) "
      "beside it; all figures come from one run of the benchmark, so ours, "
      "llama.cpp's and the ceilings share the machine's state. The models "
      "are the 124M-parameter GPT-2 shapes with random weights "
      "(`tests/gen_models.py --big`; speed does not depend on the values), "
      "and the bundled `models/default.gguf` for part of the enrichment.\n"
      % cfg["runs"])
    w("Contents: [targets](#targets), [ceilings](#ceilings), [prefill and "
      "decode](#prefill-and-decode-tokenss), [tokenizer](#tokenizer), "
      "[memory](#memory), [batched decoding](#batched-decoding), [context "
      "position](#decode-against-context-position), [shared-prefix "
      "reuse](#shared-prefix-kv-reuse), [databases](#databases) (SQL "
      "overhead, attach cost, memory per backend, pgbench, enrichment), "
      "[reproducing](#reproducing).\n")
    w("## Machine and run\n")
    w("| | |\n|---|---|")
    w("| CPU | %s (family %s, model %s), %d cores, %s GiB |"
      % (m["cpu"], m.get("lscpu_cpu_family", "?"), m.get("lscpu_model", "?"),
         m["cores"], m["mem_gib"]))
    w("| CPU flags | %s |" % " ".join(m["flags"]))
    w("| kernel | %s |" % m["kernel"])
    g = res["git"]
    w("| commit | `%s`%s |" % (g["commit"][:12],
                               " (with uncommitted changes)" if g["dirty"] else ""))
    w("| date (UTC) | %s, %.0f s |" % (res["date_utc"], res["seconds"]))
    w("| command | `%s` |" % res["command"].replace(" BENCH_ARGS=''", ""))
    if res.get("part_seconds"):
        w("| time per part | %s |" % ", ".join(
            "%s %.0f s" % kv for kv in res["part_seconds"].items()))
    w("| load average (1 min) | %.2f at start, %.2f at end |"
      % (res["loadavg_start"], res["loadavg_end"]))
    if llama:
        w("| peer | llama.cpp %s, CPU build from npm `node-llama-cpp@%s` + "
          "`@node-llama-cpp/linux-x64` (bench/llamacpp_bench.mjs) |"
          % (llama["llama_cpp"], llama["node_llama_cpp"]))
    w("")
    if res["loadavg_start"] > m["cores"] * 0.5:
        w("> The machine was shared with other work during this run (load "
          "average above), so absolute figures are noisy, two-thread figures "
          "most of all; ours and llama.cpp's alternate per configuration so "
          "both see the same conditions.\n")

    w("## Targets\n")
    w("Every target of issues 2 (speed against llama.cpp and the machine), 6 "
      "(batching, prefix reuse) and 8 (the databases) that this run measured, "
      "judged on its worst case: the worst format, thread count or path, "
      "each figure the median of its runs.\n")
    w("| issue | target | met | measured (worst case) |")
    w("|---|---|---|---|")
    for row in targets(res) + report_gen.targets(res) + report_sql.targets(res):
        w("| %s | %s | %s | %s |" % row)
    w("\nRatios are ours / llama.cpp's medians. \"Per CPU-second\" divides by "
      "the CPU time the process actually got instead of the wall clock, "
      "which on a shared machine is much closer to what an idle one gives "
      "(one thread only: with more, CPU time includes the thread pools' "
      "spinning).\n")
    if res.get("core"):
        L += core_sections(res, pngs)
    L += report_gen.sections(res, pngs)
    L += report_sql.sections(res)
    w("## Reproducing\n")
    w("`make bench` (this run took %.1f minutes). It installs what is "
      "missing: the models (tests/gen_models.py --big), the corpus, "
      "node-llama-cpp 3.14.2 and tiktoken 1.0.22 from npm into build/npm, "
      "gnuplot-nox; the database part installs the extension (make "
      "install-pg) and runs on a throwaway cluster. `make bench BENCH_SQL=0` "
      "leaves the databases out; `make bench BENCH_ARGS='--quick'` is a "
      "smoke test of every part (a few minutes, report under "
      "build/bench/quick/); `--runs N`, `--formats q8_0`, `--threads 1`, "
      "`--only batch,context` and more: `/usr/bin/python3 bench/run.py "
      "--help`. Raw figures, every run: build/bench/results.json.\n"
      % (res["seconds"] / 60))
    os.makedirs(os.path.dirname(md_path), exist_ok=True)
    with open(md_path, "w") as fh:
        fh.write("\n".join(L))
    print("report: wrote %s%s" % (out["md"], "".join(
        ", %s/%s" % (out["docs"], p) for p in pngs)), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
