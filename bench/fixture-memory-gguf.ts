/**
 * The memory bench's q4_0 MoE GGUF written directly (for `--memory --commands generate`):
 * the 4-expert top-2 Mixtral a merge of four `spec` donors gives, with random weights drawn
 * straight in q4_0 (f32 norms and routers), one tensor at a time through loadHfWeightsLazy's
 * LazyTensors and exportGguf. Same shapes and bytes per tensor as the merged-then-exported
 * file, without the donors (4 × 2.2 GB) and the 6.8 GB merge on disk at TinyLlama dims.
 */
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { nodeFileSink } from '../src/cli/node-io.ts';
import { exportGguf } from '../src/core/model/gguf-model.ts';
import { hfTensorEntries } from '../src/core/model/hf-tensors.ts';
import { loadHfWeightsLazy } from '../src/core/model/load-hf.ts';
import { nameTableFor } from '../src/core/model/names.ts';
import type { ModelSpec } from '../src/core/model/spec.ts';
import { tensorByteLength } from '../src/core/quant/dtype-traits.ts';
import type { DType } from '../src/core/tensor.ts';
import { benchTokenizerJson } from './fixture-gguf.ts';

/** f16 bits of 2^-8: q4_0 weights in ±8 · 2^-8, about a trained model's spread. */
const Q4_SCALE_BITS = 0x1c00;
const Q4_BLOCK_BYTES = 18;
const Q8_BLOCK_BYTES = 34;
/** f16 bits of 2^-10: q8_0 weights in ±128 · 2^-10, the same spread as the q4_0 ones. */
const Q8_SCALE_BITS = 0x1400;

/** xorshift32 words over `bytes` (the values do not matter for memory; the fill is cheap). */
function fillRandom(bytes: Uint8Array, seed: number): void {
  const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

function randomTensor(dtype: DType, shape: number[], seed: number): Uint8Array {
  const bytes = new Uint8Array(tensorByteLength(dtype, shape));
  if (dtype === 'f32') {
    const values = new Float32Array(bytes.buffer);
    for (let i = 0; i < values.length; i++) values[i] = shape.length === 1 ? 1 : Math.sin(seed + i) * 0.02;
    return bytes;
  }
  fillRandom(bytes, seed);
  const [blockBytes, scaleBits] = dtype === 'q8_0' ? [Q8_BLOCK_BYTES, Q8_SCALE_BITS] : [Q4_BLOCK_BYTES, Q4_SCALE_BITS];
  for (let at = 0; at < bytes.byteLength; at += blockBytes) {
    bytes[at] = scaleBits & 0xff;
    bytes[at + 1] = scaleBits >> 8;
  }
  return bytes;
}

/** The MoE of four `donor`s, as `moe-studio merge` (gate_mode random, experts_per_token 2) builds it. */
export function memoryMoeSpec(donor: ModelSpec, experts: number): ModelSpec {
  return {
    ...donor,
    arch: 'mixtral',
    moe: { experts, expertsPerToken: 2, normTopK: true, expertIntermediate: donor.intermediate },
  };
}

/** Writes the q4_0 (or q8_0) GGUF of `spec` to `path`, one tensor resident at a time. */
export async function writeMemoryGguf(path: string, spec: ModelSpec, quant: 'q4_0' | 'q8_0' = 'q4_0'): Promise<void> {
  const entries = hfTensorEntries(spec, nameTableFor(spec));
  const infos = new Map(
    entries.map((e) => {
      // Matrices in `quant`; norms, and routers as exportGguf writes them, in f32.
      const dtype: DType = e.shape.length >= 2 && e.role.kind !== 'router' ? quant : 'f32';
      return [e.name, { dtype, shape: e.shape, byteLength: tensorByteLength(dtype, e.shape) }];
    }),
  );
  const names = entries.map((e) => e.name);
  const { weights } = loadHfWeightsLazy(spec, {
    names: () => names,
    info: (name) => infos.get(name),
    readTensor: async (name) => {
      const info = infos.get(name)!;
      return {
        name,
        dtype: info.dtype,
        shape: info.shape,
        data: randomTensor(info.dtype, info.shape, names.indexOf(name) + 1),
      };
    },
  });
  await exportGguf(
    await nodeFileSink(path),
    weights,
    {
      tokenizerJson: benchTokenizerJson(spec.vocab),
      tokenizerConfig: { bos_token: '<s>', eos_token: '</s>', add_bos_token: false },
    },
    quant,
  );
}

/** `path` holding writeMemoryGguf's file (written through `.partial` when it is missing); `log` says when. */
export async function ensureMemoryGguf(
  path: string,
  spec: ModelSpec,
  quant: 'q4_0' | 'q8_0',
  log: (line: string) => void,
): Promise<string> {
  if (existsSync(path)) return path;
  log(`fixture: writing ${path} (random ${quant} weights drawn directly, tensor by tensor)`);
  mkdirSync(dirname(path), { recursive: true });
  await writeMemoryGguf(`${path}.partial`, spec, quant);
  renameSync(`${path}.partial`, path);
  return path;
}
