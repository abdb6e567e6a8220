// llama.cpp (node-llama-cpp 3.21.1, prebuilt CPU binaries) as a same-run
// baseline for the kernels benchmark: prefill tokens/s at P prompt tokens
// and greedy decode tokens/s at batch 1 and 4, on a random-weight GGUF
// written by make_gguf.py. Never builds or downloads anything (build:
// "never"); threads are set explicitly (its default is 4 even on 2 cores).
//
// Decode is timed two ways:
//  - "decode": the library's public generator (sequence.evaluate). It returns
//    to JS once per token through node-llama-cpp's batching scheduler,
//    sampler locks and checkpoint bookkeeping: about 0.4 ms per token here
//    (tiny model, 1 thread: 1475 tokens/s against 4106 native).
//  - "decode-native": the same native calls that scheduler makes, in a tight
//    loop: per step initBatch, addToBatch (one token per sequence, logits
//    for it), await decodeBatch (llama_decode on the addon's worker thread)
//    and greedy sampleToken. What is left per token is one await and the
//    argmax over the vocabulary (which ours pays too). These are internal
//    members of node-llama-cpp 3.21.1 (context._ctx, the AddonSampler
//    binding); the pin keeps them stable. This is the figure to compare.
// The much larger per-token cost seen before (44-220 ms even on a 2-layer
// model) is not JS: ggml's threads spin at every graph barrier, and with
// other processes on the same 2 cores a descheduled worker stalls each
// barrier (tiny model, load 7: 5.7 tokens/s with 2 threads, 4106 with 1).
// Only rounds on a quiet machine give a llama.cpp decode figure.
//
// Usage: node bench.mjs MODEL.gguf [--threads=2] [--prompt=128] [--gen=32] [--batches=1,4]
// Prints one line per figure: "llama.cpp <what> <tokens/s> tokens/s".
import {getLlama} from "node-llama-cpp";

const args = Object.fromEntries(process.argv.slice(3).map((a) => a.replace(/^--/, "").split("=")));
const modelPath = process.argv[2];
const threads = Number(args.threads ?? 2);
const prompt = Number(args.prompt ?? 128);
const gen = Number(args.gen ?? 32);
const batches = (args.batches ?? "1,4").split(",").map(Number);

const llama = await getLlama({build: "never", gpu: false, maxThreads: threads, logLevel: "error"});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const vocab = Math.min(Number(model.fileInfo.metadata?.llama?.vocab_size ?? 512), 30000);
// Seeded synthetic prompt tokens above the special and byte tokens.
let seed = 12345;
const nextToken = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return 259 + (seed % (vocab - 259));
};
const promptTokens = (n) => Array.from({length: n}, nextToken);
const now = () => Number(process.hrtime.bigint()) / 1e9;

// Prefill: one sequence of `prompt` tokens, batch size >= prompt.
{
  const context = await model.createContext({contextSize: prompt + 16, batchSize: prompt, threads, sequences: 1});
  const seq = context.getSequence();
  await seq.evaluateWithoutGeneratingNewTokens(promptTokens(8));  // warm-up
  await seq.clearHistory();
  const t0 = now();
  await seq.evaluateWithoutGeneratingNewTokens(promptTokens(prompt));
  const dt = now() - t0;
  console.log(`llama.cpp prefill P=${prompt} ${(prompt / dt).toFixed(2)} tokens/s`);
  await context.dispose();
}

// Decode: `b` sequences generating `gen` tokens each, greedily, in one
// context (llama.cpp batches the sequences' tokens together).
for (const b of batches) {
  const context = await model.createContext({contextSize: b * (16 + gen + 8), batchSize: 512, threads, sequences: b});
  const seqs = Array.from({length: b}, () => context.getSequence());
  await Promise.all(seqs.map((s) => s.evaluateWithoutGeneratingNewTokens(promptTokens(16))));
  const run = async (s) => {
    let count = 0;
    for await (const token of s.evaluate([nextToken()], {temperature: 0})) {
      void token;
      if (++count >= gen) break;
    }
    return count;
  };
  const t0 = now();
  const counts = await Promise.all(seqs.map(run));
  const dt = now() - t0;
  const total = counts.reduce((x, y) => x + y, 0);
  console.log(`llama.cpp decode batch=${b} ${(total / dt).toFixed(2)} tokens/s`);
  await context.dispose();
}

// Decode without the per-token JS machinery (see the file comment): the
// context's native batch API, driven directly, greedy sampling in C++.
for (const b of batches) {
  const context = await model.createContext({contextSize: b * (16 + gen + 8), batchSize: 512, threads, sequences: b});
  const seqs = Array.from({length: b}, () => context.getSequence());
  await Promise.all(seqs.map((s) => s.evaluateWithoutGeneratingNewTokens(promptTokens(16))));
  const ctx = context._ctx;
  const sampler = new llama._bindings.AddonSampler(model._model);
  sampler.applyConfig(seqs[0]._resolveSamplerConfig({temperature: 0}));
  const pos = seqs.map((s) => s.nextTokenIndex);
  const tokens = seqs.map(() => nextToken());
  const step = async () => {
    ctx.initBatch(b);
    const logitIndexes = seqs.map((s, i) =>
      ctx.addToBatch(s._sequenceId, pos[i], Uint32Array.of(tokens[i]), Uint32Array.of(0)));
    await ctx.decodeBatch();
    for (let i = 0; i < b; ++i) {
      const r = await ctx.sampleToken(logitIndexes[i][0], sampler);
      tokens[i] = Array.isArray(r) ? r[0] : r;
      if (tokens[i] < 0) throw new Error("llama.cpp could not sample a token");
      pos[i] += 1;
    }
  };
  await step();  // warm-up
  const steps = gen - 1;
  const t0 = now();
  for (let g = 0; g < steps; ++g) await step();
  const dt = now() - t0;
  console.log(`llama.cpp decode-native batch=${b} ${((b * steps) / dt).toFixed(2)} tokens/s`);
  sampler.dispose();
  await context.dispose();
}
await model.dispose();
await llama.dispose();
