#!/usr/bin/env python3
"""Golden Q8_0 / Q4_0 / F16 vectors from ggml itself (the outside implementation).

Calls ggml's reference quantizers (quantize_row_q8_0_ref, quantize_row_q4_0_ref) and
ggml_fp32_to_fp16_row from the libggml-base.so that node-llama-cpp ships, on seeded random
rows plus hand-picked edge cases (zeros, ties at .5, negative maxima, huge/tiny/subnormal
values), and writes tests/fixtures/gguf/quant-golden.bin:

  magic "QGLD" | u32 version=2 | u32 nBlocks
  f32[nBlocks*32] inputs | Q8_0 bytes (34*nBlocks) | Q4_0 bytes (18*nBlocks) | u16[nBlocks*32] f16
  u32 nDots | f32[nDots] q8_0·q8_0 | f32[nDots] q4_0·q8_0
    dot d (ggml_vec_dot_*_q8_0_generic from libggml-cpu-x64.so): weights = row d+1 and
    activations = Q8_0 of row (d+2) mod 4, rows being 32 consecutive blocks (row 0 holds the
    edge cases and is skipped: its infinite scales make NaN dots).

Usage: npm --prefix tools/llamacpp install && python3 tools/llamacpp/make-quant-golden.py
"""
import ctypes, pathlib, random, struct, sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINS = ROOT / 'tools/llamacpp/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64'
LIB = BINS / 'libggml-base.so'
CPU_LIB = BINS / 'libggml-cpu-x64.so'
ROW_BLOCKS = 32
OUT = ROOT / 'tests/fixtures/gguf/quant-golden.bin'

def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]

def edge_blocks():
    blocks = [[0.0] * 32, [1.0] * 32, [-1.0] * 32]
    blocks.append([(j - 16) * 0.5 for j in range(32)])           # x*id lands on .5 ties
    blocks.append([(j - 15.5) / 7.0 for j in range(32)])
    blocks.append([-3.0] + [1.5] * 31)                          # negative maximum
    blocks.append([3.0] + [-1.5] * 31)
    blocks.append([2.0, -2.0] + [0.25 * j for j in range(30)])   # tie between +max and -max
    blocks.append([1e-30 * (j - 16) for j in range(32)])         # d underflows to f16 zero
    blocks.append([1e-6 * (j - 16) for j in range(32)])          # f16 subnormal scales
    blocks.append([60000.0 * ((j % 7) - 3) / 3 for j in range(32)])
    blocks.append([1e5 * (j - 16) for j in range(32)])           # d overflows f16 range
    return blocks

def random_blocks(rng, n):
    out = []
    for i in range(n):
        scale = 10 ** rng.uniform(-4, 2)
        out.append([rng.gauss(0, scale) for _ in range(32)])
    return out

def ggml_dots(q8, q4, blocks):
    cpu = ctypes.CDLL(str(CPU_LIB))
    cpu.ggml_cpu_init()  # fills ggml's f16 → f32 table used by the dot products
    rows = blocks // ROW_BLOCKS
    n = ROW_BLOCKS * 32
    results = {'q8': [], 'q4': []}
    for d in range(rows - 1):
        w, a = d + 1, (d + 2) % rows
        if a == 0: a = 1
        act = q8[a * ROW_BLOCKS * 34:(a + 1) * ROW_BLOCKS * 34]
        for name, weights, fn in (('q8', q8[w * ROW_BLOCKS * 34:(w + 1) * ROW_BLOCKS * 34], cpu.ggml_vec_dot_q8_0_q8_0_generic),
                                  ('q4', q4[w * ROW_BLOCKS * 18:(w + 1) * ROW_BLOCKS * 18], cpu.ggml_vec_dot_q4_0_q8_0_generic)):
            out = ctypes.c_float(0)
            fn(ctypes.c_int(n), ctypes.byref(out), ctypes.c_size_t(0), ctypes.c_char_p(weights), ctypes.c_size_t(0),
               ctypes.c_char_p(act), ctypes.c_size_t(0), ctypes.c_int(1))
            results[name].append(out.value)
    count = len(results['q8'])
    return struct.pack('<I', count) + struct.pack(f'<{count}f', *results['q8']) + struct.pack(f'<{count}f', *results['q4'])

def main():
    ggml = ctypes.CDLL(str(LIB))
    rng = random.Random(20261122)
    blocks = edge_blocks() + random_blocks(rng, 116)
    values = [f32(v) for b in blocks for v in b]
    n = len(values)
    FloatArr = ctypes.c_float * n
    inputs = FloatArr(*values)
    q8 = (ctypes.c_uint8 * (34 * n // 32))()
    q4 = (ctypes.c_uint8 * (18 * n // 32))()
    f16 = (ctypes.c_uint16 * n)()
    ggml.quantize_row_q8_0_ref(inputs, q8, ctypes.c_int64(n))
    ggml.quantize_row_q4_0_ref(inputs, q4, ctypes.c_int64(n))
    ggml.ggml_fp32_to_fp16_row(inputs, f16, ctypes.c_int64(n))
    dots = ggml_dots(bytes(q8), bytes(q4), n // 32)
    data = b'QGLD' + struct.pack('<II', 2, n // 32) + struct.pack(f'<{n}f', *values) + bytes(q8) + bytes(q4) + struct.pack(f'<{n}H', *f16) + dots
    OUT.write_bytes(data)
    print(f'wrote {OUT} ({len(data)} bytes, {n // 32} blocks)')

if __name__ == '__main__':
    sys.exit(main())
