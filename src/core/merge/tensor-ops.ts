/**
 * Producing one output tensor's bytes from its recipe (plan-tensors.ts): copy with optional
 * noise / residual scale (in the source dtype) and the cast to the output dtype.
 * A plain copy whose dtype does not change is passed through byte for byte.
 */
import { dequantize, quantize } from '../quant/convert.ts';
import { fillNormal, hashString, mulberry32 } from '../model/random.ts';
import type { RawTensor } from '../tensor.ts';
import { numel } from '../tensor.ts';
import { tensorByteLength } from '../quant/dtype-traits.ts';
import type { PlannedTensor, SourceTensor } from './plan-tensors.ts';

export type ReadSource = (source: SourceTensor) => Promise<RawTensor>;

/** Rounds f32 values to `dtype` and back (PyTorch ops on a bf16/f16 tensor round each result). */
function roundTo(t: RawTensor, values: Float32Array): Float32Array {
  if (t.dtype === 'f32') return values;
  return dequantize(quantize(t.name, values, t.shape, t.dtype));
}

/**
 * W + N(0,1)·noise_scale, then W·residual_scale, each rounded to the source dtype (§6.1).
 * The noise stream is seeded per output tensor (seed, tensor name), so it does not depend on
 * write order; upstream draws from torch's global generator instead (not reproducible here).
 */
export function applyTransform(t: RawTensor, source: SourceTensor, seed: number, outName: string): Float32Array {
  let values = dequantize(t);
  const transform = source.transform;
  if (!transform) return values;
  if (transform.noiseScale !== null) {
    const noise = fillNormal(
      new Float32Array(values.length),
      mulberry32((seed ^ hashString(`noise:${outName}:${source.name}`)) >>> 0),
      1,
    );
    for (let i = 0; i < values.length; i++) values[i] = values[i]! + noise[i]! * transform.noiseScale;
    values = roundTo(t, values);
  }
  if (transform.residualScale !== null) {
    for (let i = 0; i < values.length; i++) values[i] = values[i]! * transform.residualScale;
    values = roundTo(t, values);
  }
  return values;
}

/** One source tensor in the output dtype. */
async function sourceBytes(
  source: SourceTensor,
  out: PlannedTensor,
  read: ReadSource,
  seed: number,
): Promise<Uint8Array> {
  const t = await read(source);
  if (!source.transform && t.dtype === out.dtype) return t.data;
  return quantize(out.name, applyTransform(t, source, seed, out.name), t.shape, out.dtype).data;
}

/** The output tensor's bytes; `gates` = G, one [rows, hidden] Float32Array per layer. */
export async function produceTensor(
  t: PlannedTensor,
  read: ReadSource,
  gates: Float32Array[],
  hidden: number,
  seed: number,
): Promise<RawTensor> {
  const recipe = t.recipe;
  switch (recipe.kind) {
    case 'copy':
      return { name: t.name, dtype: t.dtype, shape: t.shape, data: await sourceBytes(recipe.source, t, read, seed) };
    case 'concat': {
      const data = new Uint8Array(tensorByteLength(t.dtype, t.shape));
      let at = 0;
      for (const source of recipe.sources) {
        const bytes = await sourceBytes(source, t, read, seed);
        data.set(bytes, at);
        at += bytes.byteLength;
      }
      return { name: t.name, dtype: t.dtype, shape: t.shape, data };
    }
    case 'router': {
      const rows = gates[recipe.layer]!.subarray(
        recipe.rowStart * hidden,
        (recipe.rowStart + recipe.rowCount) * hidden,
      );
      return quantize(t.name, Float32Array.from(rows), t.shape, t.dtype);
    }
    case 'zeros':
      return { name: t.name, dtype: t.dtype, shape: t.shape, data: new Uint8Array(tensorByteLength(t.dtype, t.shape)) };
  }
}

export function tensorElements(t: PlannedTensor): number {
  return numel(t.shape);
}
