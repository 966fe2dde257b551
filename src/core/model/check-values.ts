/**
 * checkTensorValues: a weight tensor's numbers are checked where they enter (every loader
 * calls it on each tensor it reads), so a file with NaN, Inf or absurd weights fails at load
 * naming the file and the tensor, instead of tripping an internal assertion (softmax over
 * NaN scores) at the first forward pass. One linear pass over the bytes; quantized blocks
 * are checked by their f16 scale (a q8_0 weight is at most 128 × scale, q4_0 8 × scale).
 */
import { FormatError } from '../errors.ts';
import { bf16ToF32, f16ToF32 } from '../quant/float-bits.ts';
import type { RawTensor } from '../tensor.ts';

export const WEIGHT_LIMITS = {
  /**
   * The f16 maximum. Checkpoints are trained and stored within f16/bf16 ranges and published
   * weights stay orders of magnitude below it; beyond it the f32 forward pass can overflow.
   */
  maxMagnitude: 65_504,
} as const;

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(where: string, t: RawTensor, index: number, value: number): never {
  const what = Number.isFinite(value)
    ? `${value} (beyond ±${WEIGHT_LIMITS.maxMagnitude}, WEIGHT_LIMITS.maxMagnitude)`
    : String(value);
  throw new FormatError(`${where}: tensor '${t.name}' holds ${what} at element ${index}; the file is corrupt`);
}

const bad = (v: number) => !(Math.abs(v) <= WEIGHT_LIMITS.maxMagnitude); // NaN fails too

/** Throws a FormatError (prefixed by `where`, e.g. the file) at the first non-finite or absurd weight. */
export function checkTensorValues(t: RawTensor, where: string): void {
  const { data } = t;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (t.dtype) {
    case 'f32': {
      if (LITTLE_ENDIAN && data.byteOffset % 4 === 0) {
        const f = new Float32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
        for (let i = 0; i < f.length; i++) if (bad(f[i]!)) fail(where, t, i, f[i]!);
      } else {
        for (let i = 0; i + 4 <= data.byteLength; i += 4) {
          const v = view.getFloat32(i, true);
          if (bad(v)) fail(where, t, i >> 2, v);
        }
      }
      return;
    }
    case 'f16':
      // f16 cannot exceed the limit; only the all-ones exponent (Inf/NaN) is refused.
      for (let i = 0; i + 2 <= data.byteLength; i += 2) {
        const bits = view.getUint16(i, true);
        if ((bits & 0x7c00) === 0x7c00) fail(where, t, i >> 1, f16ToF32(bits));
      }
      return;
    case 'bf16':
      for (let i = 0; i + 2 <= data.byteLength; i += 2) {
        const bits = view.getUint16(i, true);
        const v = bf16ToF32(bits);
        if ((bits & 0x7f80) === 0x7f80 || bad(v)) fail(where, t, i >> 1, v);
      }
      return;
    case 'q8_0':
    case 'q4_0': {
      const [blockBytes, maxQuant] = t.dtype === 'q8_0' ? [34, 128] : [18, 8];
      for (let b = 0; b + blockBytes <= data.byteLength; b += blockBytes) {
        const scale = f16ToF32(view.getUint16(b, true));
        if (bad(scale * maxQuant)) fail(where, t, (b / blockBytes) * 32, scale * maxQuant);
      }
      return;
    }
    default:
      return; // integer tensors carry no weights (the loaders refuse them where a weight is expected)
  }
}
