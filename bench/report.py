"""report.py - turns build/bench/results.json (bench/run.py) into
BENCHMARKS.md and the plots docs/bench_decode_threads.png and
docs/bench_prefill_prompt.png (gnuplot).

    /usr/bin/python3 bench/report.py [build/bench/results.json]
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FMT = {"f32": "F32", "f16": "F16", "q8_0": "Q8_0"}


RUNS = [0]  # the configured number of runs (set in main)


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
    """[(target, wall-clock verdict, 1-thread CPU-time verdict)]."""
    out = []
    bw_best = {x["threads"]: x["best_gb_s"]
               for x in res["ceilings"]["bandwidth"]["threads"]}
    wall = _worst(res, "decode", "prefill", res["config"]["threads"], bw_best)
    cpu = _worst(res, "decode_cpu", "prefill_cpu", [1], cpu_bandwidth(res))

    def verdict(ok, text):
        return ("yes: " if ok else "**no**: ") + text

    def dec(w):
        return "-" if not w else verdict(w[0] >= 1.0, "worst %.2fx (%s, %d thr)"
                                         % w)

    def pre(w):
        return "-" if not w else verdict(
            w[0] >= 1.0, "worst %.2fx (%s, %d thr, %s tokens)" % w)

    def bw(w):
        return "-" if not w else verdict(w[0] >= 80, "worst %.0f%% (%s, %d thr)"
                                         % w)
    out.append(("decode >= llama.cpp, every format and thread count",
                dec(wall[0]), dec(cpu[0])))
    out.append(("decode >= 80% of the read-bandwidth ceiling", bw(wall[2]),
                bw(cpu[2])))
    out.append(("prefill >= llama.cpp", pre(wall[1]), pre(cpu[1])))
    tk = res["tokenizer"]
    if "tiktoken" in tk:
        q = ratio(tk["ours"]["median_mb_s"], tk["tiktoken"]["median_mb_s"])
        out.append(("tokenizer >= tiktoken", verdict(q >= 1.0,
                    "%.2fx of tiktoken" % q), "(single-threaded both)"))
    mem = res.get("memory")
    if mem:
        extra = mem["anon_added_kb"] * 1024 - mem["kv_cache_f32_bytes"]
        out.append(("private memory <= KV cache + a few MB (Q8_0)",
                    verdict(extra <= 10 * 2**20,
                            "%.1f MB anonymous memory added; a full-context "
                            "KV cache is %.1f MB" % (
                                mem["anon_added_kb"] / 1024,
                                mem["kv_cache_f32_bytes"] / 2**20)), ""))
    return out


def plots(res, docs):
    """gnuplot PNGs; returns the file names written (none without gnuplot)."""
    if not shutil.which("gnuplot"):
        return []
    cfg = res["config"]
    engines = sorted({r["engine"] for r in res["core"]},
                     key=lambda e: e != "ours")
    tmp = os.path.join(ROOT, "build", "bench")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(docs, exist_ok=True)
    series = []  # (datafile, title, style index)
    for ei, e in enumerate(engines):
        for fi, f in enumerate(cfg["formats"]):
            name = "%s_%s" % (e.replace(".", ""), f)
            with open(os.path.join(tmp, "decode_%s.dat" % name), "w") as fh:
                for t in cfg["threads"]:
                    d = find(res, e, f, t)["decode"]
                    fh.write("%d %g %g %g\n" % (t, d["median"], d["min"], d["max"]))
            for t in cfg["threads"]:
                with open(os.path.join(tmp, "prefill%d_%s.dat" % (t, name)),
                          "w") as fh:
                    for p in cfg["prompts"]:
                        d = find(res, e, f, t)["prefill"][str(p)]
                        fh.write("%d %g %g %g\n" % (p, d["median"], d["min"],
                                                     d["max"]))
            series.append((name, "%s %s" % (e, FMT[f]), ei, fi))
    colors = ["#1f77b4", "#d62728", "#2ca02c"]

    def plot_cmd(kind):
        parts = []
        for name, title, ei, fi in series:
            parts.append("'%s/%s_%s.dat' using 1:2:3:4 with yerrorlines "
                         "lw 2 dt %d pt %d lc rgb '%s' title '%s'"
                         % (tmp, kind, name, 1 if ei == 0 else 2, 7 if ei == 0
                            else 6, colors[fi % 3], title))
        return "plot " + ", \\\n     ".join(parts) + "\n"

    head = ("set terminal pngcairo noenhanced size 900,560 font 'sans,11'\n"
            "set grid\nset key outside right top\nset yrange [0:*]\n")
    script = head + (
        "set output '%s/bench_decode_threads.png'\n"
        "set title \"Decode tokens/s vs threads (124M, %d tokens after %d)\\n"
        "solid: ours, dashed: llama.cpp; bars: min-max of %d runs\"\n"
        "set xlabel 'threads'\nset ylabel 'tokens/s'\nset xtics 1\n"
        "set xrange [%g:%g]\n" % (docs, cfg["gen_tokens"], cfg["prompts"][0],
                                  cfg["runs"], min(cfg["threads"]) - 0.3,
                                  max(cfg["threads"]) + 0.3)) + plot_cmd("decode")
    # prefill: one panel per thread count, side by side
    nt = len(cfg["threads"])
    script += (
        "set terminal pngcairo noenhanced size %d,560 font 'sans,11'\n"
        "set output '%s/bench_prefill_prompt.png'\n"
        "set multiplot layout 1,%d title \"Prefill tokens/s vs prompt length "
        "(124M; solid: ours, dashed: llama.cpp; bars: min-max of %d runs)\"\n"
        "set key below horizontal maxrows 2\n"
        "unset xlabel\nset ylabel 'tokens/s'\n"
        "set logscale x 2\nset xtics (%s)\nset xrange [%g:%g]\n"
        % (120 + 520 * nt, docs, nt, cfg["runs"],
           ", ".join(str(p) for p in cfg["prompts"]),
           min(cfg["prompts"]) / 1.4, max(cfg["prompts"]) * 1.4))
    for t in cfg["threads"]:
        script += "set title '%d thread%s; x: prompt tokens'\n" % (
            t, "s" if t > 1 else "")
        script += plot_cmd("prefill%d" % t)
    script += "unset multiplot\n"
    with open(os.path.join(tmp, "plots.gp"), "w") as fh:
        fh.write(script)
    r = subprocess.run(["gnuplot", os.path.join(tmp, "plots.gp")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr, file=sys.stderr)
        return []
    return ["bench_decode_threads.png", "bench_prefill_prompt.png"]


def main(argv):
    path = argv[0] if argv else os.path.join(ROOT, "build", "bench",
                                             "results.json")
    with open(path) as fh:
        res = json.load(fh)
    cfg = res["config"]
    RUNS[0] = cfg["runs"]
    m = res["machine"]
    llama = res.get("llama_cpp")
    pngs = plots(res, os.path.join(ROOT, "docs"))
    L = []
    w = L.append
    w("# Benchmarks\n")
    w("Generated by `make bench` (bench/run.sh: measures into "
      "build/bench/results.json, then bench/report.py writes this file and "
      "the plots). Every figure is the median of %d runs, with the range "
      "(min-max) in parentheses; all figures come from one run of the "
      "benchmark, so ours, llama.cpp's and the ceilings share the machine's "
      "state. The models are the 124M-parameter GPT-2 shapes with random "
      "weights (`tests/gen_models.py --big`): speed does not depend on the "
      "values.\n" % cfg["runs"])
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
    w("| target | wall clock (the issue's measure) | 1 thread, per CPU-second |")
    w("|---|---|---|")
    for name, a_, b_ in targets(res):
        w("| %s | %s | %s |" % (name, a_, b_))
    w("\nRatios are ours / llama.cpp's medians; the worst configuration is "
      "shown. The last column divides by the CPU time the process actually "
      "got instead of the wall clock, which on a shared machine is much "
      "closer to what an idle one gives (one thread only: with more, CPU "
      "time includes the thread pools' spinning).\n")

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
    w("\nBandwidth: sum of a %d MiB float buffer with %s loads (bench/bandwidth.c). "
      "sgemm: OpenBLAS cblas_sgemm, 512 x {3072x768, 768x3072, 2304x768} "
      "(bench/sgemm.c; %s). Per CPU-second: bytes / the reading thread's CPU "
      "time, the bandwidth while it actually ran (the ceiling for the "
      "one-thread per-CPU-second figures below).\n" % (c["bandwidth"]["buffer_mib"],
                                   c["bandwidth"]["isa"].upper(), c["sgemm"]["config"]))

    w("## Prefill and decode (tokens/s)\n")
    pr = [str(p) for p in cfg["prompts"]]
    hdr = "| format | threads | engine | " + " | ".join(
        "prefill %s" % p for p in pr) + " | decode %d | decode GB/s | of bandwidth |" % cfg["gen_tokens"]
    w(hdr)
    w("|" + "---|" * (hdr.count("|") - 1))
    for f in cfg["formats"]:
        for t in cfg["threads"]:
            for e in ("ours", "llama.cpp"):
                r = find(res, e, f, t)
                if not r:
                    continue
                w("| %s | %d | %s | %s | %s | %.2f | %.0f%% |" % (
                    FMT[f], t, e, " | ".join(cell(r["prefill"][p]) for p in pr),
                    cell(r["decode"]), r["decode_gb_s"],
                    r["bandwidth_efficiency_pct"]))
    w("\nDecode: %d tokens, one per forward pass, after a %s-token prompt. "
      "Decode GB/s = weight bytes read per token (every blk.* tensor, the "
      "final norm, and the tied LM head = token_embd in full: %s) x tokens/s; "
      "of bandwidth = that / the best measured read bandwidth at the same "
      "thread count. Prefill: the whole prompt in one call on an empty cache.\n"
      % (cfg["gen_tokens"], pr[0], ", ".join(
          "%s %.1f MB" % (FMT[f], find(res, "ours", f, cfg["threads"][0])
                          ["decode_weight_bytes"] / 1e6) for f in cfg["formats"])))
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
    for p in pngs:
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
             mem["kv_cache_f32_bytes"] / 2**20))

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

    w("## Reproducing\n")
    w("`make bench` (this run took %.0f minutes on a loaded 2-core machine; "
      "`make bench BENCH_ARGS='--formats q8_0'` measures one format, "
      "`--runs N` sets the run count). It installs what is missing: the models "
      "(tests/gen_models.py --big), the corpus, node-llama-cpp 3.14.2 and "
      "tiktoken 1.0.22 from npm into build/npm, and gnuplot-nox. Raw "
      "figures, every run: build/bench/results.json.\n" % (res["seconds"] / 60))
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as fh:
        fh.write("\n".join(L))
    print("report: wrote BENCHMARKS.md%s" % "".join(
        ", docs/" + p for p in pngs), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
