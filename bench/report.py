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


def cell(s):
    """median (min-max) of a stats dict."""
    if not s:
        return "-"
    return "%s (%s-%s)" % (num(s["median"]), num(s["min"]), num(s["max"]))


def num(x):
    return "%.0f" % x if x >= 100 else "%.1f" % x


def ratio(a, b):
    return a / b if b else float("nan")


def find(res, engine, fmt, t):
    for r in res["core"]:
        if (r["engine"], r["format"], r["threads"]) == (engine, fmt, t):
            return r
    return None


def targets(res):
    """[(target, met?, detail)] for the issue's targets."""
    out = []
    cfg = res["config"]
    llama = any(r["engine"] == "llama.cpp" for r in res["core"])
    worst_dec, worst_pre, worst_bw = None, None, None
    for f in cfg["formats"]:
        for t in cfg["threads"]:
            o = find(res, "ours", f, t)
            if llama:
                lc = find(res, "llama.cpp", f, t)
                q = ratio(o["decode"]["median"], lc["decode"]["median"])
                if worst_dec is None or q < worst_dec[0]:
                    worst_dec = (q, f, t)
                for p in map(str, cfg["prompts"]):
                    q = ratio(o["prefill"][p]["median"],
                              lc["prefill"][p]["median"])
                    if worst_pre is None or q < worst_pre[0]:
                        worst_pre = (q, f, t, p)
            e = o["bandwidth_efficiency_pct"]
            if worst_bw is None or e < worst_bw[0]:
                worst_bw = (e, f, t)
    if worst_dec:
        out.append(("decode >= llama.cpp (every format, thread count)",
                    worst_dec[0] >= 1.0,
                    "worst %.2fx of llama.cpp (%s, %d threads)"
                    % (worst_dec[0], FMT[worst_dec[1]], worst_dec[2])))
    out.append(("decode >= 80% of the bandwidth ceiling", worst_bw[0] >= 80,
                "worst %.0f%% (%s, %d threads)"
                % (worst_bw[0], FMT[worst_bw[1]], worst_bw[2])))
    if worst_pre:
        out.append(("prefill >= llama.cpp", worst_pre[0] >= 1.0,
                    "worst %.2fx of llama.cpp (%s, %d threads, %s tokens)"
                    % (worst_pre[0], FMT[worst_pre[1]], worst_pre[2],
                       worst_pre[3])))
    tk = res["tokenizer"]
    if "tiktoken" in tk:
        q = ratio(tk["ours"]["median_mb_s"], tk["tiktoken"]["median_mb_s"])
        out.append(("tokenizer >= tiktoken", q >= 1.0, "%.2fx of tiktoken" % q))
    mem = res.get("memory")
    if mem:
        extra = mem["anon_added_kb"] * 1024 - mem["kv_cache_f32_bytes"]
        out.append(("private memory <= KV cache + a few MB (Q8_0)",
                    extra <= 10 * 2**20,
                    "%.1f MB anonymous memory added (full-context KV cache "
                    "would be %.1f MB)" % (mem["anon_added_kb"] / 1024,
                                           mem["kv_cache_f32_bytes"] / 2**20)))
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
        "set key inside left top\n"
        "set xlabel 'prompt tokens'\nset ylabel 'tokens/s'\n"
        "set logscale x 2\nset xtics (%s)\nset xrange [%g:%g]\n"
        % (120 + 520 * nt, docs, nt, cfg["runs"],
           ", ".join(str(p) for p in cfg["prompts"]),
           min(cfg["prompts"]) / 1.4, max(cfg["prompts"]) * 1.4))
    for t in cfg["threads"]:
        script += "set title '%d thread%s'\n" % (t, "s" if t > 1 else "")
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
    w("| target | met | detail |\n|---|---|---|")
    for name, ok, detail in targets(res):
        w("| %s | %s | %s |" % (name, "yes" if ok else "**no**", detail))
    w("")

    c = res["ceilings"]
    w("## Ceilings\n")
    w("| threads | read bandwidth GB/s, best (median) | sgemm GFLOP/s, best (median) |")
    w("|---|---|---|")
    sg = {x["threads"]: x for x in c["sgemm"]["threads"]}
    for b in c["bandwidth"]["threads"]:
        s = sg.get(b["threads"], {})
        w("| %d | %.1f (%.1f) | %.0f (%.0f) |" % (
            b["threads"], b["best_gb_s"], b["median_gb_s"],
            s.get("best_gflop_s", 0), s.get("median_gflop_s", 0)))
    w("\nBandwidth: sum of a %d MiB float buffer with %s loads (bench/bandwidth.c). "
      "sgemm: OpenBLAS cblas_sgemm, 512 x {3072x768, 768x3072, 2304x768} "
      "(bench/sgemm.c; %s).\n" % (c["bandwidth"]["buffer_mib"],
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
    w("`make bench` (a few minutes; `make bench BENCH_ARGS='--runs 3 --formats "
      "q8_0'` for a quick one). It installs what is missing: the models "
      "(tests/gen_models.py --big), the corpus, node-llama-cpp 3.14.2 and "
      "tiktoken 1.0.22 from npm into build/npm, and gnuplot-nox. Raw "
      "figures, every run: build/bench/results.json.\n")
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as fh:
        fh.write("\n".join(L))
    print("report: wrote BENCHMARKS.md%s" % "".join(
        ", docs/" + p for p in pngs), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
