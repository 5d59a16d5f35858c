// llamacpp_bench.mjs - llama.cpp (CPU build shipped in the npm package
// node-llama-cpp) as the peer of `gpt bench`: the same GGUF file, the same
// token ids, the same thread count.  Prints one JSON object per line.
//
//   node llamacpp_bench.mjs bench MODEL THREADS PROMPTS GEN_TOKENS RUNS
//       prefill: each length in the comma list PROMPTS, its ids evaluated
//       in one call on an empty cache; decode: GEN_TOKENS greedy tokens
//       after the first prompt, one per step.
//   node llamacpp_bench.mjs batch MODEL THREADS PROMPT GEN RUNS B1,B2,...
//       total generated tokens/s of B sequences decoded together (one
//       context with B sequences; node-llama-cpp puts the steps of
//       concurrently evaluating sequences into one llama_decode batch),
//       prompts of PROMPT ids, GEN greedy tokens each, prefill included
//       (as genbench's gpt_generate_batch timing).
//   node llamacpp_bench.mjs context MODEL THREADS POSITIONS GEN RUNS
//       decode tokens/s at each context position in the comma list
//       POSITIONS: a prompt of that many ids is cached, then GEN tokens
//       are timed.
//   node llamacpp_bench.mjs load MODEL...          does each file load?
//   node llamacpp_bench.mjs generate MODEL N TEXT  greedy continuation
//
// NPM_DIR names the folder where node-llama-cpp was installed (its
// node_modules/ is inside); bench/run.sh sets it to build/npm.
import {pathToFileURL} from "node:url";
import path from "node:path";

const dir = process.env.NPM_DIR || "build/npm";
const {getLlama} = await import(pathToFileURL(path.resolve(
    dir, "node_modules", "node-llama-cpp", "dist", "index.js")).href);
// maxThreads 0: a context's `threads` is then exactly the count used,
// never lowered by node-llama-cpp's own scheduling.
const llama = await getLlama({gpu: false, build: "never", logLevel: "error",
                              maxThreads: 0});
const N_VOCAB = 50257;  // GPT-2's; the benchmark models all have it
const now = () => Number(process.hrtime.bigint()) / 1e9;
// CPU seconds of the whole process (node plus llama.cpp's threads): at one
// thread, tokens per CPU-second is robust to other load on the machine
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const [, , cmd, ...args] = process.argv;

// the ids `gpt bench` uses (tools/cli/gpt_cli.c), so both see equal work
function benchIds(n, nVocab) {
  const ids = [];
  for (let i = 0; i < n; i++) ids.push((i * 7919 + 13) % 50000 % nVocab);
  return ids;
}

if (cmd === "load") {
  for (const modelPath of args) {
    try {
      const model = await llama.loadModel({modelPath});
      console.log(JSON.stringify({model: modelPath, ok: true,
                                  train_ctx: model.trainContextSize}));
      await model.dispose();
    } catch (e) {
      console.log(JSON.stringify({model: modelPath, ok: false,
                                  error: String(e && e.message || e)}));
    }
  }
} else if (cmd === "generate") {
  const [modelPath, n, text] = args;
  const model = await llama.loadModel({modelPath});
  const ctx = await model.createContext({contextSize: 256, threads: 1});
  const ids = model.tokenize(text, false);
  const out = [];
  for await (const t of ctx.getSequence().evaluate(ids,
      {temperature: 0, yieldEogToken: true})) {
    out.push(t);
    if (out.length >= Number(n)) break;
  }
  console.log(JSON.stringify({model: modelPath, prompt_ids: ids, ids: out,
                              text: model.detokenize(out)}));
} else if (cmd === "bench") {
  // PROMPTS is a comma list; the first length also carries the decode run
  // (one process for all lengths: loading the addon and model takes seconds)
  const [modelPath, threadsS, promptsS, genS, runsS] = args;
  const threads = Number(threadsS), prompts = promptsS.split(",").map(Number),
        runs = Number(runsS);
  const maxPrompt = Math.max(...prompts);
  const model = await llama.loadModel({modelPath});
  const ctx = await model.createContext({
    contextSize: Math.max(maxPrompt + Number(genS) + 8, 256),
    batchSize: Math.max(maxPrompt, 32), threads});
  const seq = ctx.getSequence();
  const results = [];
  // On a machine shared with other work, llama.cpp's threads spin at each
  // op's barrier while a peer is descheduled, and a 2-thread run can drop
  // to under 1 token/s: past BUDGET_S seconds for this process, each
  // prompt length gets one run only (the count is in the output).
  const budget = Number(process.env.LLAMA_BUDGET_S || 240), start = now();
  for (const [pi, nPrompt] of prompts.entries()) {
    const nGen = pi === 0 ? Number(genS) : 0;
    const ids = benchIds(nPrompt, N_VOCAB);
    const res = [];
    for (let r = 0; r < runs; r++) {
      if (r > 0 && now() - start > budget) break;
      ids[0] = (ids[0] + 1) % N_VOCAB;  // a new prompt each run, as gpt bench
      await seq.clearHistory();
      const t0 = now(), c0 = cpu();
      await seq.evaluateWithoutGeneratingNewTokens(ids);
      const t1 = now(), c1 = cpu();
      const prefill = +(nPrompt / (t1 - t0)).toFixed(2);
      const prefillCpu = +(nPrompt / (c1 - c0)).toFixed(2);
      if (nGen === 0) {
        res.push({prefill_tok_s: prefill, decode_tok_s: 0,
                  prefill_tok_cpu_s: prefillCpu, decode_tok_cpu_s: 0});
        continue;
      }
      // decode: the prompt minus its last id is cached again, then each
      // step evaluates one token (the last prompt id, then greedy ones).
      await seq.clearHistory();
      await seq.evaluateWithoutGeneratingNewTokens(ids.slice(0, -1));
      let got = 0;
      const t2 = now(), c2 = cpu();
      for await (const t of seq.evaluate(ids.slice(-1),
          {temperature: 0, yieldEogToken: true})) {
        if (++got >= nGen) break;
      }
      const t3 = now(), c3 = cpu();
      res.push({prefill_tok_s: prefill,
                decode_tok_s: +(nGen / (t3 - t2)).toFixed(2),
                prefill_tok_cpu_s: prefillCpu,
                decode_tok_cpu_s: +(nGen / (c3 - c2)).toFixed(2)});
    }
    results.push({prompt_tokens: nPrompt, gen_tokens: nGen, runs: res});
  }
  console.log(JSON.stringify({model: modelPath, threads, results}));
} else if (cmd === "batch") {
  const [modelPath, threadsS, promptS, genS, runsS, sizesS] = args;
  const threads = Number(threadsS), nPrompt = Number(promptS),
        nGen = Number(genS), runs = Number(runsS),
        sizes = sizesS.split(",").map(Number), bmax = Math.max(...sizes);
  const model = await llama.loadModel({modelPath});
  // contextSize is per sequence in node-llama-cpp
  const ctx = await model.createContext({
    contextSize: Math.max(nPrompt + nGen + 8, 64), sequences: bmax,
    batchSize: Math.max(bmax * nPrompt, 32), threads});
  const seqs = [];
  for (let i = 0; i < bmax; i++) seqs.push(ctx.getSequence());
  let counter = 0;
  async function one(seq, ids) {
    await seq.clearHistory();
    let got = 0;
    for await (const t of seq.evaluate(ids, {temperature: 0, yieldEogToken: true})) {
      if (++got >= nGen) break;
    }
    return got;
  }
  {  // warm-up: the first evaluation pays page faults and thread start
    const ids = benchIds(nPrompt, N_VOCAB);
    ids[0] = (ids[0] + 7) % N_VOCAB;
    await one(seqs[0], ids);
  }
  // the same time budget as bench: past it, no further runs
  const budget = Number(process.env.LLAMA_BUDGET_S || 240), start = now();
  const res = [];
  for (let r = 0; r < runs; r++) {
    if (r > 0 && now() - start > budget) break;
    const row = {};
    for (const n of sizes) {
      const jobs = [];
      const t0 = now();
      for (let i = 0; i < n; i++) {
        const ids = benchIds(nPrompt, N_VOCAB);
        ids[0] = (ids[0] + 1 + counter++) % N_VOCAB;  // a new prompt each time
        jobs.push(one(seqs[i], ids));
      }
      const got = await Promise.all(jobs);
      const t1 = now();
      row["batch_" + n + "_tok_s"] = +(got.reduce((a, b) => a + b, 0) / (t1 - t0)).toFixed(2);
    }
    res.push(row);
  }
  console.log(JSON.stringify({model: modelPath, threads, prompt_tokens: nPrompt,
                              gen_tokens: nGen, sizes, runs: res}));
} else if (cmd === "context") {
  const [modelPath, threadsS, posS, genS, runsS] = args;
  const threads = Number(threadsS), positions = posS.split(",").map(Number),
        nGen = Number(genS), runs = Number(runsS);
  const model = await llama.loadModel({modelPath});
  const maxPos = Math.max(...positions);
  const ctx = await model.createContext({
    contextSize: Math.max(maxPos + nGen + 8, 256),
    batchSize: Math.max(maxPos, 32), threads});
  const seq = ctx.getSequence();
  const results = [];
  const budget = Number(process.env.LLAMA_BUDGET_S || 240), start = now();
  for (const p of positions) {
    const ids = benchIds(p, N_VOCAB), res = [];
    for (let r = 0; r < runs; r++) {
      if (r > 0 && now() - start > budget) break;
      ids[0] = (ids[0] + 1) % N_VOCAB;
      await seq.clearHistory();
      if (p > 1) await seq.evaluateWithoutGeneratingNewTokens(ids.slice(0, -1));
      let got = 0;
      const t0 = now(), c0 = cpu();
      for await (const t of seq.evaluate(ids.slice(-1),
          {temperature: 0, yieldEogToken: true})) {
        if (++got >= nGen) break;
      }
      const t1 = now(), c1 = cpu();
      res.push({decode_tok_s: +(nGen / (t1 - t0)).toFixed(2),
                decode_tok_cpu_s: +(nGen / (c1 - c0)).toFixed(2)});
    }
    results.push({position: p, gen_tokens: nGen, runs: res});
  }
  console.log(JSON.stringify({model: modelPath, threads, results}));
} else {
  console.error("usage: llamacpp_bench.mjs bench|batch|context|load|generate ...");
  process.exit(2);
}
process.exit(0);
