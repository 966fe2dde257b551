/**
 * Whole-tensor dequantize/quantize for every DType, plus the scalar float conversions
 * (re-exported from float-bits.ts: f16ToF32, f32ToF16, bf16ToF32, f32ToBf16, all RNE).
 */
import { FormatError } from '../errors.ts';
import type { DType, RawTensor } from '../tensor.ts';
import { numel } from '../tensor.ts';
import { DTYPE_TRAITS, tensorByteLength } from './dtype-traits.ts';
import { dequantizeQ8_0, quantizeQ8_0 } from './q8_0.ts';
import { dequantizeQ4_0, quantizeQ4_0 } from './q4_0.ts';
import { bf16ToF32, f16FromF32Bits, f16Table, f32ToBf16, HOST_IS_LITTLE_ENDIAN } from './float-bits.ts';

export { bf16ToF32, f32ToBf16, f32ToF16, f16ToF32, f32Bits, f32FromBits } from './float-bits.ts';

function viewOf(data: Uint8Array): DataView {
  return new DataView(data.buffer, data.byteOffset, data.byteLength);
}

function elementsToF32(dtype: DType, data: Uint8Array, count: number, into?: Float32Array): Float32Array {
  const aligned = (size: number) => HOST_IS_LITTLE_ENDIAN && data.byteOffset % size === 0;
  if (dtype === 'f32' && aligned(4)) {
    const values = new Float32Array(data.buffer, data.byteOffset, count);
    if (!into) return values.slice();
    into.set(values);
    return into;
  }
  if (into && (dtype === 'q8_0' || dtype === 'q4_0')) {
    into.set(elementsToF32(dtype, data, count));
    return into;
  }
  const out = into ?? new Float32Array(count);
  const view = viewOf(data);
  switch (dtype) {
    case 'f32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'f16': {
      const table = f16Table();
      if (aligned(2)) {
        const halves = new Uint16Array(data.buffer, data.byteOffset, count);
        for (let i = 0; i < count; i++) out[i] = table[halves[i]!]!;
      } else {
        for (let i = 0; i < count; i++) out[i] = table[view.getUint16(i * 2, true)]!;
      }
      break;
    }
    case 'bf16':
      if (aligned(2)) {
        // bf16 is the top half of an f32: a shift per element, no float conversion (8× faster)
        const halves = new Uint16Array(data.buffer, data.byteOffset, count);
        const bits = new Uint32Array(out.buffer, out.byteOffset, count);
        for (let i = 0; i < count; i++) bits[i] = halves[i]! << 16;
      } else {
        for (let i = 0; i < count; i++) out[i] = bf16ToF32(view.getUint16(i * 2, true));
      }
      break;
    case 'i8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    case 'u8':
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      break;
    case 'i32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case 'i64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case 'q8_0':
      return dequantizeQ8_0(data, count);
    case 'q4_0':
      return dequantizeQ4_0(data, count);
    default: {
      const never: never = dtype;
      throw new FormatError(`tensor: unknown dtype ${String(never)}`);
    }
  }
  return out;
}

/**
 * Any tensor → f32 values in the same (row-major) order; written into `into` ([numel] f32, e.g.
 * a view of wasm memory) when given, so a packed matrix needs no second, JS-heap copy.
 */
export function dequantize(t: RawTensor, into?: Float32Array): Float32Array {
  const expected = tensorByteLength(t.dtype, t.shape);
  if (t.data.byteLength !== expected) {
    throw new FormatError(
      `tensor '${t.name}': ${t.data.byteLength} bytes, but ${t.dtype} [${t.shape.join(', ')}] needs ${expected}`,
    );
  }
  const count = numel(t.shape);
  if (into && into.length !== count)
    throw new FormatError(`tensor '${t.name}': ${count} values do not fit an output of ${into.length}`);
  return elementsToF32(t.dtype, t.data, count, into);
}

function floatsToBytes(dtype: 'f32' | 'f16' | 'bf16', values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * DTYPE_TRAITS[dtype].bytesPerBlock);
  const view = viewOf(out);
  if (dtype === 'f32') {
    for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  } else if (dtype === 'f16') {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length); // the same f32s as bit patterns
    for (let i = 0; i < values.length; i++) view.setUint16(i * 2, f16FromF32Bits(bits[i]!), true);
  } else {
    for (let i = 0; i < values.length; i++) view.setUint16(i * 2, f32ToBf16(values[i]!), true);
  }
  return out;
}

/**
 * f32 values → a tensor of a float or quantized dtype (q8_0/q4_0 bit-exact with ggml's
 * reference quantizers). Quantized dtypes need the last dim to be a multiple of 32.
 */
export function quantize(name: string, values: Float32Array, shape: number[], dtype: DType): RawTensor {
  if (values.length !== numel(shape)) {
    throw new FormatError(`tensor '${name}': ${values.length} values do not fill shape [${shape.join(', ')}]`);
  }
  tensorByteLength(dtype, shape); // validates block alignment of the row length
  let data: Uint8Array;
  switch (dtype) {
    case 'f32':
    case 'f16':
    case 'bf16':
      data = floatsToBytes(dtype, values);
      break;
    case 'q8_0':
      data = quantizeQ8_0(values);
      break;
    case 'q4_0':
      data = quantizeQ4_0(values);
      break;
    case 'i8':
    case 'u8':
    case 'i32':
    case 'i64':
      throw new FormatError(`tensor '${name}': cannot quantize floats to integer dtype ${dtype}`);
    default: {
      const never: never = dtype;
      throw new FormatError(`tensor '${name}': unknown dtype ${String(never)}`);
    }
  }
  return { name, dtype, shape: [...shape], data };
}
