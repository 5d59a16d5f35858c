// llamacpp_check.mjs - runs a GGUF in llama.cpp (through the npm package
// node-llama-cpp, CPU build) and prints JSON: llama.cpp's tokenization of
// a text, the greedy next token and top-5 probabilities after every prompt
// position, and N greedily generated tokens.
//
//   LLAMA_NODE_DIR=/tmp/llamajs node llamacpp_check.mjs MODEL.gguf IDS N [TEXT]
//
// LLAMA_NODE_DIR is a folder where `npm install node-llama-cpp` was run.
import {pathToFileURL} from "node:url";
import path from "node:path";

const dir = process.env.LLAMA_NODE_DIR;
if (!dir) { console.error("set LLAMA_NODE_DIR"); process.exit(2); }
const {getLlama} = await import(pathToFileURL(
    path.join(dir, "node_modules", "node-llama-cpp", "dist", "index.js")).href);
const [,, modelPath, idsStr, nGreedy, text] = process.argv;
const ids = idsStr.split(",").map(Number);
const llama = await getLlama({gpu: false, build: "never", logLevel: "error"});
const model = await llama.loadModel({modelPath});
const n_ctx = Math.max(64, ids.length + Number(nGreedy) + 8);

const res = {positions: [], greedy: []};
if (text !== undefined) res.tokenize = model.tokenize(text, true);

// every prompt position: the argmax next token and the 5 most probable
let ctx = await model.createContext({contextSize: n_ctx, batchSize: n_ctx});
const out = await ctx.getSequence().controlledEvaluate(
    ids.map(t => [t, {generateNext: {probabilities: true, token: true}}]));
for (let i = 0; i < ids.length; i++) {
  const next = out[i]?.next;
  const top = next?.probabilities
      ? [...next.probabilities.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5)
      : null;
  res.positions.push({token: next?.token ?? null, top});
}
await ctx.dispose();

// greedy continuation
ctx = await model.createContext({contextSize: n_ctx});
for await (const t of ctx.getSequence().evaluate(ids, {temperature: 0})) {
  res.greedy.push(t);
  if (res.greedy.length >= Number(nGreedy)) break;
}
await ctx.dispose();
console.log(JSON.stringify(res));
process.exit(0);
