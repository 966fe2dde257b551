/**
 * checkTensorValues: a weight tensor's numbers are checked where they enter (every loader
 * calls it on each tensor it reads), so a file with NaN, Inf or absurd weights fails at load
 * naming the file and the tensor, instead of tripping an internal assertion (softmax over
 * NaN scores) at the first forward pass. One linear pass over the bytes; quantized blocks
 * are checked by their f16 scale (a q8_0 weight is at most 128 × scale, q4_0 8 × scale).
 */
import { FormatError } from '../errors.ts';
import { bf16ToF32, f16Table, f16ToF32, HOST_IS_LITTLE_ENDIAN } from '../quant/float-bits.ts';
import type { RawTensor } from '../tensor.ts';

export const WEIGHT_LIMITS = {
  /**
   * The f16 maximum. Checkpoints are trained and stored within f16/bf16 ranges and published
   * weights stay orders of magnitude below it; beyond it the f32 forward pass can overflow.
   */
  maxMagnitude: 65_504,
} as const;

function fail(where: string, t: RawTensor, index: number, value: number): never {
  const what = Number.isFinite(value)
    ? `${value} (beyond ±${WEIGHT_LIMITS.maxMagnitude}, WEIGHT_LIMITS.maxMagnitude)`
    : String(value);
  throw new FormatError(`${where}: tensor '${t.name}' holds ${what} at element ${index}; the file is corrupt`);
}

const bad = (v: number) => !(Math.abs(v) <= WEIGHT_LIMITS.maxMagnitude); // NaN fails too

/**
 * The largest bf16 magnitude (sign bit cleared) within the limit: a bf16 is the top half of an
 * f32, so truncating the limit's f32 bits gives it (0x477f for 65 504). A bf16 is bad exactly
 * when its magnitude bits exceed this, Inf and NaN included: one integer compare per weight.
 */
const BF16_MAX_GOOD_BITS = new Uint32Array(Float32Array.of(WEIGHT_LIMITS.maxMagnitude).buffer)[0]! >>> 16;
const F16_EXPONENT_ALL_ONES = 0x7c00; // Inf or NaN; a finite f16 is always within the limit

/** Throws a FormatError (prefixed by `where`, e.g. the file) at the first non-finite or absurd weight. */
export function checkTensorValues(t: RawTensor, where: string): void {
  const { data } = t;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (t.dtype) {
    case 'f32': {
      if (HOST_IS_LITTLE_ENDIAN && data.byteOffset % 4 === 0) {
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
    case 'bf16': {
      // Checked on the bits (see BF16_MAX_GOOD_BITS), two plain loops (a per-element closure
      // cost 3× as much); the value is only made for the message.
      const halves =
        HOST_IS_LITTLE_ENDIAN && data.byteOffset % 2 === 0
          ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength >> 1)
          : Uint16Array.from({ length: data.byteLength >> 1 }, (_, i) => view.getUint16(i * 2, true));
      if (t.dtype === 'f16') {
        for (let i = 0; i < halves.length; i++)
          if ((halves[i]! & F16_EXPONENT_ALL_ONES) === F16_EXPONENT_ALL_ONES) fail(where, t, i, f16ToF32(halves[i]!));
      } else {
        for (let i = 0; i < halves.length; i++)
          if ((halves[i]! & 0x7fff) > BF16_MAX_GOOD_BITS) fail(where, t, i, bf16ToF32(halves[i]!));
      }
      return;
    }
    case 'q8_0':
    case 'q4_0': {
      const [blockBytes, maxQuant] = t.dtype === 'q8_0' ? [34, 128] : [18, 8];
      const halfToFloat = f16Table(); // one lookup per block scale, millions per model
      for (let b = 0; b + blockBytes <= data.byteLength; b += blockBytes) {
        const scale = halfToFloat[data[b]! | (data[b + 1]! << 8)]!;
        if (bad(scale * maxQuant)) fail(where, t, (b / blockBytes) * 32, scale * maxQuant);
      }
      return;
    }
    default:
      return; // integer tensors carry no weights (the loaders refuse them where a weight is expected)
  }
}
