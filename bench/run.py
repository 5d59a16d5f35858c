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
             tokens/s / best measured bandwidth at that thread count
  tokenizer  MB/s on the shared corpus, ours (build/bench/tokbench) and
             tiktoken's (bench/tiktoken_bench.mjs)
  memory     anonymous (private) memory of a process with the 124M Q8_0
             model open and a session used (build/bench/rss)
  llama.cpp  compatibility: does each GGUF load, and is the greedy
             continuation of the tiny model the same as ours

The order alternates ours and llama.cpp per configuration so that slow
drifts in the machine's load hit both alike.
"""

import argparse
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


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--formats", default="f32,f16,q8_0")
    ap.add_argument("--prompts", default="128,512")
    ap.add_argument("--gen", type=int, default=128)
    ap.add_argument("--models", default="build/models")
    ap.add_argument("--corpus", default="build/corpus.txt")
    ap.add_argument("--bw-mib", type=int, default=1024)
    ap.add_argument("--no-llama", action="store_true",
                    help="skip llama.cpp and tiktoken (no node)")
    ap.add_argument("--out", default="build/bench/results.json")
    a = ap.parse_args(argv)
    threads = [int(t) for t in a.threads.split(",")]
    formats = a.formats.split(",")
    prompts = [int(p) for p in a.prompts.split(",")]
    gpt, bb = "build/gpt", "build/bench"
    node = ["node"]
    t_start = time.time()

    res = {"machine": machine(), "git": commit(),
           "command": "make bench BENCH_ARGS='%s'" % " ".join(
               argv if argv is not None else sys.argv[1:]),
           "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
           "loadavg_start": os.getloadavg()[0],
           "config": {"runs": a.runs, "threads": threads, "formats": formats,
                      "prompts": prompts, "gen_tokens": a.gen},
           "llama_cpp": None, "ceilings": {}, "core": [], "tokenizer": {}}

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
    log("read bandwidth (%d MiB buffer)" % a.bw_mib)
    bw = run_json([bb + "/bandwidth", str(a.bw_mib), str(max(a.runs, 5))]
                  + [str(t) for t in threads])
    log("sgemm")
    sg = run_json([bb + "/sgemm", str(max(a.runs, 5))] + [str(t) for t in threads])
    res["ceilings"] = {"bandwidth": bw, "sgemm": sg}
    bw_best = {x["threads"]: x["best_gb_s"] for x in bw["threads"]}

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
    for f in formats:
        wb = weight_bytes.decode_bytes(models[f])
        for t in threads:
            for name, fn in engines:
                log("%s %s threads=%d" % (name, f, t))
                row = {"engine": name, "format": f, "threads": t,
                       "decode_weight_bytes": wb["decode_weight_bytes"],
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
                row["bandwidth_efficiency_pct"] = round(
                    100.0 * row["decode_gb_s"] / bw_best[t], 1)
                res["core"].append(row)

    # ---- tokenizer
    log("tokenizer")
    tr = max(a.runs, 3)
    res["tokenizer"]["ours"] = run_json([bb + "/tokbench", tiny, a.corpus, str(tr)])
    if not a.no_llama:
        res["tokenizer"]["tiktoken"] = run_json(
            node + ["bench/tiktoken_bench.mjs", a.corpus, str(tr)])

    # ---- memory of a process with the Q8_0 model loaded and used
    q8 = os.path.join(a.models, "gpt2-124m-q8_0.gguf")
    if os.path.exists(q8):
        log("memory")
        res["memory"] = run_json([bb + "/rss", q8])

    res["loadavg_end"] = os.getloadavg()[0]
    res["seconds"] = round(time.time() - t_start, 1)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    log("wrote %s (%.0f s)" % (a.out, res["seconds"]))


if __name__ == "__main__":
    main()
