/**
 * GGUF (v3; v2 reads too) — one reader/writer pair (STYLE habit 3).
 *
 * Byte layout, all little-endian:
 *
 *   u32   magic           0x46554747 ("GGUF")
 *   u32   version         3 (2 has the same layout)
 *   u64   tensor_count
 *   u64   metadata_kv_count
 *   metadata_kv[metadata_kv_count]:
 *     string  key         string = u64 byte length + UTF-8 bytes (no NUL)
 *     u32     value_type  GGUF_VALUE_TYPES id: u8 0, i8 1, u16 2, i16 3, u32 4, i32 5, f32 6,
 *                         bool 7 (1 byte), string 8, array 9, u64 10, i64 11, f64 12
 *     value               scalar | string | array = u32 item_type + u64 count + items
 *                         (arrays of arrays are rejected, as in ggml)
 *   tensor_info[tensor_count]:
 *     string  name
 *     u32     n_dims      1..4 (GGML_MAX_DIMS)
 *     u64     ne[n_dims]  ggml order: ne[0] is the contiguous row length (PyTorch shape reversed)
 *     u32     type        GGML_TYPE_IDS (F32 0, F16 1, Q4_0 2, Q8_0 8, BF16 30, ...)
 *     u64     offset      relative to the data section; a multiple of the alignment
 *   zero padding to the alignment (`general.alignment`, a u32 power of two; default 32)
 *   data section: tensors in tensor_info order, each zero-padded to the alignment; ggml
 *   requires offset[i] == sum of the padded sizes before it, and so does this reader.
 *
 * Shapes in this module's API are PyTorch order (slowest first), like the rest of the core.
 * The writer measures and writes the header with the same serialiser (gguf-write.ts) and
 * lays tensors out exactly as ggml/gguf-py do, so read → write is byte-identical.
 */

export { readGguf } from './gguf-read.ts';
export { writeGguf, encodeGgufHeader } from './gguf-write.ts';
export * from './gguf-types.ts';
