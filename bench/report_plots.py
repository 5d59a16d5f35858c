"""report_plots.py - the PNG plots of BENCHMARKS.md (gnuplot, Debian
gnuplot-nox), ours and llama.cpp's on the same axes:

  bench_decode_threads.png   decode tokens/s against threads, each format
  bench_prefill_prompt.png   prefill tokens/s against prompt length
  bench_decode_batch.png     total generated tokens/s against batch size
  bench_decode_context.png   decode tokens/s against context position

Solid lines are ours, dashed llama.cpp's; error bars are min-max of the
runs.  Each plot is drawn only when its part of the benchmark ran.
"""
import os
import shutil
import subprocess
import sys

FMT = {"f32": "F32", "f16": "F16", "q8_0": "Q8_0"}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]
HEAD = ("set terminal pngcairo noenhanced size 900,560 font 'sans,11'\n"
        "set grid\nset key outside right top\nset yrange [0:*]\n")


def _find(res, engine, fmt, t):
    for r in res.get("core", []):
        if (r["engine"], r["format"], r["threads"]) == (engine, fmt, t):
            return r
    return None


def _dat(tmp, name, rows):
    """rows: (x, median, min, max); returns the file's path."""
    path = os.path.join(tmp, name + ".dat")
    with open(path, "w") as fh:
        for r in rows:
            fh.write("%g %g %g %g\n" % r)
    return path


def _line(path, title, ours, color):
    return ("'%s' using 1:2:3:4 with yerrorlines lw 2 dt %d pt %d lc rgb "
            "'%s' title '%s'" % (path, 1 if ours else 2, 7 if ours else 6,
                                 color, title))


def _mm(xs):
    xs = sorted(xs)
    n = len(xs)
    med = xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2
    return med, xs[0], xs[-1]


def _core(res, tmp, docs):
    cfg = res["config"]
    engines = sorted({r["engine"] for r in res["core"]}, key=lambda e: e != "ours")
    dec, pre = [], {t: [] for t in cfg["threads"]}
    for e in engines:
        for fi, f in enumerate(cfg["formats"]):
            name = "%s_%s" % (e.replace(".", ""), f)
            rows = []
            for t in cfg["threads"]:
                d = _find(res, e, f, t)["decode"]
                rows.append((t, d["median"], d["min"], d["max"]))
            dec.append(_line(_dat(tmp, "decode_" + name, rows),
                             "%s %s" % (e, FMT[f]), e == "ours", COLORS[fi % 4]))
            for t in cfg["threads"]:
                p = _find(res, e, f, t)["prefill"]
                rows = [(x, p[str(x)]["median"], p[str(x)]["min"], p[str(x)]["max"])
                        for x in cfg["prompts"]]
                pre[t].append(_line(_dat(tmp, "prefill%d_%s" % (t, name), rows),
                                    "%s %s" % (e, FMT[f]), e == "ours",
                                    COLORS[fi % 4]))
    s = HEAD + (
        "set output '%s/bench_decode_threads.png'\n"
        "set title \"Decode tokens/s vs threads (124M, %d tokens after %d)\\n"
        "solid: ours, dashed: llama.cpp; bars: min-max of %d runs\"\n"
        "set xlabel 'threads'\nset ylabel 'tokens/s'\nset xtics 1\n"
        "set xrange [%g:%g]\n" % (docs, cfg["gen_tokens"], cfg["prompts"][0],
                                  cfg["runs"], min(cfg["threads"]) - 0.3,
                                  max(cfg["threads"]) + 0.3))
    s += "plot " + ", \\\n     ".join(dec) + "\n"
    nt = len(cfg["threads"])
    s += ("set terminal pngcairo noenhanced size %d,560 font 'sans,11'\n"
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
        s += "set title '%d thread%s; x: prompt tokens'\n" % (t, "s" if t > 1 else "")
        s += "plot " + ", \\\n     ".join(pre[t]) + "\n"
    s += "unset multiplot\nunset logscale x\nset xtics autofreq\n"
    return s, ["bench_decode_threads.png", "bench_prefill_prompt.png"]


def _batch(res, tmp, docs):
    b = res["batch"]
    lines = []
    for ti, t in enumerate(sorted(b["ours"], key=int)):
        for e in ("ours", "llama.cpp"):
            r = b[e].get(t)
            if not r:
                continue
            rows = [(n,) + _mm([x["batch_%d_tok_s" % n] for x in r["runs"]])
                    for n in b["sizes"]]
            lines.append(_line(_dat(tmp, "batch_%s_%s" % (e.replace(".", ""), t), rows),
                               "%s, %s thread%s" % (e, t, "s" if t != "1" else ""),
                               e == "ours", COLORS[ti % 4]))
    s = HEAD + (
        "set output '%s/bench_decode_batch.png'\n"
        "set title \"Total generated tokens/s vs batch size (124M Q8_0, %d-token "
        "prompts, %d tokens each)\\nsolid: ours (gpt_generate_batch), dashed: "
        "llama.cpp (sequences of one context); bars: min-max\"\n"
        "set xlabel 'sequences decoded together'\nset ylabel 'tokens/s'\n"
        "set logscale x 2\nset xtics (%s)\nset xrange [%g:%g]\n"
        % (docs, b["prompt_tokens"], b["gen_tokens"],
           ", ".join(str(n) for n in b["sizes"]), min(b["sizes"]) / 1.4,
           max(b["sizes"]) * 1.4))
    s += "plot " + ", \\\n     ".join(lines) + "\nunset logscale x\nset xtics autofreq\n"
    return s, ["bench_decode_batch.png"]


def _context(res, tmp, docs):
    c = res["context"]
    lines = []
    for e in ("ours", "llama.cpp"):
        if not c.get(e):
            continue
        rows = [(x["position"], x["decode"]["median"], x["decode"]["min"],
                 x["decode"]["max"]) for x in c[e]]
        lines.append(_line(_dat(tmp, "context_" + e.replace(".", ""), rows), e,
                           e == "ours", COLORS[0]))
    s = HEAD + (
        "set output '%s/bench_decode_context.png'\n"
        "set title \"Decode tokens/s vs context position (124M Q8_0, 1 thread, "
        "%d tokens timed after a prompt of x tokens)\\nsolid: ours, dashed: "
        "llama.cpp; bars: min-max\"\n"
        "set xlabel 'context position (tokens already in the KV cache)'\n"
        "set ylabel 'tokens/s'\nset xrange [0:%d]\n"
        % (docs, c["gen_tokens"], max(x["position"] for x in c["ours"]) + c["gen_tokens"]))
    s += "plot " + ", \\\n     ".join(lines) + "\n"
    return s, ["bench_decode_context.png"]


def plots(res, docs):
    """Writes the PNGs into docs; returns their file names (none without
    gnuplot)."""
    if not shutil.which("gnuplot"):
        print("report: no gnuplot (Debian gnuplot-nox): no plots", file=sys.stderr)
        return []
    tmp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                       "bench", "plotdata")
    os.makedirs(tmp, exist_ok=True)
    os.makedirs(docs, exist_ok=True)
    script, names = "", []
    for key, fn in (("core", _core), ("batch", _batch), ("context", _context)):
        if res.get(key):
            s, n = fn(res, tmp, docs)
            script += s
            names += n
    if not script:
        return []
    gp = os.path.join(tmp, "plots.gp")
    with open(gp, "w") as fh:
        fh.write(script)
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
    if r.returncode != 0:
        print("report: gnuplot failed: " + r.stderr, file=sys.stderr)
        return []
    return names
