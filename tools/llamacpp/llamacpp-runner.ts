/**
 * llama.cpp (through node-llama-cpp's prebuilt CPU binary) as an outside oracle: load a GGUF,
 * then greedy-decode token ids with llama.cpp's own sampler, keeping the raw logits of every
 * step. KV cache in F32 and flash attention off (llama.cpp's CPU flash-attention path works
 * in f16 and moved f32 logits by ~1e-3 relative; without it they match ours to ~1e-7), so the
 * only differences from our engine are in the arithmetic of the quantized matmuls.
 */
import { readFile } from 'node:fs/promises';
import { getLlama, type Llama, type LlamaModel } from 'node-llama-cpp';
import { bytesSource } from '../../src/core/io/byte-source.ts';
import { readGguf } from '../../src/core/formats/gguf.ts';
import { validateForLlamaCpp } from '../../src/core/model/gguf-validate.ts';

export interface LlamaCppGreedy {
  ids: number[]; // [steps]   tokens chosen by llama.cpp's greedy sampler
  logits: Float32Array[]; // [steps] × [vocab]  raw logits before each choice
}

let llamaPromise: Promise<Llama> | undefined;
export function loadLlamaCpp(): Promise<Llama> {
  llamaPromise ??= getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
  return llamaPromise;
}

function logitsArray(map: Map<number, number> | undefined, vocab: number): Float32Array {
  if (!map) throw new Error('llama.cpp returned no logits');
  const out = new Float32Array(vocab).fill(-Infinity);
  for (const [token, value] of map) out[token] = value;
  return out;
}

/** A missing required key makes llama.cpp abort the whole process (GGML_ASSERT): check first. */
async function loadCheckedModel(modelPath: string): Promise<LlamaModel> {
  validateForLlamaCpp(await readGguf(bytesSource(new Uint8Array(await readFile(modelPath)), modelPath)));
  const llama = await loadLlamaCpp();
  return llama.loadModel({ modelPath, gpuLayers: 0 });
}

export async function llamaCppGreedy(
  modelPath: string,
  promptIds: number[],
  steps: number,
  vocab: number,
): Promise<LlamaCppGreedy> {
  const model = await loadCheckedModel(modelPath);
  const context = await model.createContext({
    contextSize: 256,
    threads: 2,
    batchSize: 64,
    flashAttention: false,
    experimentalKvCacheKeyType: 'F32',
    experimentalKvCacheValueType: 'F32',
  });
  try {
    const sequence = context.getSequence();
    const ids: number[] = [];
    const logits: Float32Array[] = [];
    let input = promptIds;
    for (let step = 0; step < steps; step++) {
      const request = { generateNext: { token: true, logits: true, options: { temperature: 0 } } } as const;
      const items = [...input.slice(0, -1), [input[input.length - 1]!, request] as [number, typeof request]];
      const results = await sequence.controlledEvaluate(items as never);
      const next = results[items.length - 1]?.next;
      if (next?.token === undefined || next.token === null)
        throw new Error(`llama.cpp produced no token at step ${step}`);
      ids.push(next.token);
      logits.push(logitsArray(next.logits as Map<number, number> | undefined, vocab));
      input = [next.token];
    }
    return { ids, logits };
  } finally {
    await context.dispose();
    await model.dispose();
  }
}

/** llama.cpp's tokenization of `texts` with the vocabulary stored in the GGUF (no BOS; special tokens parsed). */
export async function llamaCppTokenize(modelPath: string, texts: string[]): Promise<number[][]> {
  const model = await loadCheckedModel(modelPath);
  try {
    return texts.map((text) => [...model.tokenize(text, true)]); // true: parse special tokens, as HF does
  } finally {
    await model.dispose();
  }
}
