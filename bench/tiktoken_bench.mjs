// tiktoken_bench.mjs - tiktoken (npm, WASM) "gpt2" encode_ordinary over a
// whole file in one call, beside bench/tokbench.c: JSON with the token
// count and best/median MB/s (1e6 bytes) of several runs.
//
//   NPM_DIR=build/npm node tiktoken_bench.mjs CORPUS [RUNS]
import {createRequire} from "node:module";
import {readFileSync} from "node:fs";
import path from "node:path";

const dir = process.env.NPM_DIR || "build/npm";
const require = createRequire(path.resolve(dir, "node_modules") + "/");
const {get_encoding} = require("tiktoken");
const [, , corpus, runsS] = process.argv;
const runs = Number(runsS || 5);
const text = readFileSync(corpus, "utf8");
const bytes = Buffer.byteLength(text, "utf8");
const enc = get_encoding("gpt2");
const mb = [];
let tokens = 0;
for (let r = -1; r < runs; r++) {  // r = -1: warm-up
  const t0 = process.hrtime.bigint();
  tokens = enc.encode_ordinary(text).length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r >= 0) mb.push(bytes / s / 1e6);
}
mb.sort((a, b) => a - b);
const f = x => +x.toFixed(2);
console.log(JSON.stringify({bytes, tokens, best_mb_s: f(mb[runs - 1]),
                            median_mb_s: f(mb[runs >> 1]), min_mb_s: f(mb[0])}));
enc.free();
