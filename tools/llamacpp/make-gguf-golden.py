#!/usr/bin/env python3
"""Golden GGUF files written by ggml itself (gguf_write_to_file in node-llama-cpp's
libggml-base.so), so our reader/writer are checked against the outside implementation:
tests/fixtures/gguf/ggml-all-types.gguf   every metadata value type incl. arrays; F32, F16,
                                          BF16, Q8_0, Q4_0, I8, I32 tensors (1-D to 4-D)
(ggml's writer keeps using its context's alignment when `general.alignment` is set through
the API, so a non-default alignment is covered by our own writer's tests instead.)

Usage: npm --prefix tools/llamacpp install && python3 tools/llamacpp/make-gguf-golden.py
"""
import ctypes, pathlib, random, struct

ROOT = pathlib.Path(__file__).resolve().parents[2]
LIB = ROOT / 'tools/llamacpp/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so'
OUT = ROOT / 'tests/fixtures/gguf'

GGML = {'F32': 0, 'F16': 1, 'Q4_0': 2, 'Q8_0': 8, 'I8': 24, 'I32': 26, 'BF16': 30}
GGUF = {'u8': 0, 'i8': 1, 'u16': 2, 'i16': 3, 'u32': 4, 'i32': 5, 'f32': 6, 'bool': 7, 'string': 8, 'u64': 10, 'i64': 11, 'f64': 12}

class InitParams(ctypes.Structure):
    _fields_ = [('mem_size', ctypes.c_size_t), ('mem_buffer', ctypes.c_void_p), ('no_alloc', ctypes.c_bool)]

def load():
    g = ctypes.CDLL(str(LIB))
    g.ggml_init.restype = ctypes.c_void_p
    g.ggml_init.argtypes = [InitParams]
    g.gguf_init_empty.restype = ctypes.c_void_p
    g.ggml_new_tensor.restype = ctypes.c_void_p
    g.ggml_new_tensor.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int64)]
    g.ggml_set_name.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    g.ggml_get_data.restype = ctypes.c_void_p
    g.ggml_get_data.argtypes = [ctypes.c_void_p]
    g.gguf_add_tensor.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    g.gguf_write_to_file.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_bool]
    g.gguf_write_to_file.restype = ctypes.c_bool
    for name, ctype in [('u8', ctypes.c_uint8), ('i8', ctypes.c_int8), ('u16', ctypes.c_uint16), ('i16', ctypes.c_int16),
                        ('u32', ctypes.c_uint32), ('i32', ctypes.c_int32), ('f32', ctypes.c_float), ('u64', ctypes.c_uint64),
                        ('i64', ctypes.c_int64), ('f64', ctypes.c_double), ('bool', ctypes.c_bool), ('str', ctypes.c_char_p)]:
        getattr(g, f'gguf_set_val_{name}').argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctype]
    g.gguf_set_arr_data.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    g.gguf_set_arr_str.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t]
    return g

def bytes_per(type_name, ne):
    n = 1
    for d in ne: n *= d
    return {'F32': 4 * n, 'F16': 2 * n, 'BF16': 2 * n, 'I8': n, 'I32': 4 * n, 'Q8_0': n // 32 * 34, 'Q4_0': n // 32 * 18}[type_name]

def add_tensor(g, ctx, gguf, rng, name, type_name, ne):
    arr = (ctypes.c_int64 * len(ne))(*ne)
    t = g.ggml_new_tensor(ctx, GGML[type_name], len(ne), arr)
    g.ggml_set_name(t, name.encode())
    size = bytes_per(type_name, ne)
    data = bytes(rng.randrange(256) for _ in range(size))
    if type_name in ('Q8_0', 'Q4_0'):  # keep the f16 scales finite: 0x3C00 = 1.0
        stride = 34 if type_name == 'Q8_0' else 18
        data = b''.join(b'\x00\x3c' + data[i + 2:i + stride] for i in range(0, size, stride))
    ctypes.memmove(g.ggml_get_data(t), data, size)
    g.gguf_add_tensor(gguf, t)

def set_arrays(g, gguf):
    def arr(key, type_name, fmt, values):
        buf = ctypes.create_string_buffer(struct.pack('<' + fmt * len(values), *values))
        g.gguf_set_arr_data(gguf, key.encode(), GGUF[type_name], buf, len(values))
    arr('test.arr_u8', 'u8', 'B', [0, 1, 255])
    arr('test.arr_i16', 'i16', 'h', [-32768, 7, 32767])
    arr('test.arr_i32', 'i32', 'i', [-1, 0, 2_000_000_000])
    arr('test.arr_f32', 'f32', 'f', [0.5, -1.25, 3.0e38])
    arr('test.arr_u64', 'u64', 'Q', [0, 2**63 + 5])
    arr('test.arr_f64', 'f64', 'd', [1e-300, -2.5])
    arr('test.arr_bool', 'bool', '?', [True, False, True])
    words = ['▁hello', '<0x0A>', '', 'ünïcödé', '"quoted"\n']
    g.gguf_set_arr_str(gguf, b'test.arr_str', (ctypes.c_char_p * len(words))(*[w.encode() for w in words]), len(words))

def write_all_types(g):
    ctx = g.ggml_init(InitParams(16 << 20, None, False))
    gguf = g.gguf_init_empty()
    g.gguf_set_val_str(gguf, b'general.architecture', b'llama')
    g.gguf_set_val_str(gguf, b'general.name', 'golden ✓'.encode())
    for name, value in [('u8', 200), ('i8', -100), ('u16', 60000), ('i16', -30000), ('u32', 4_000_000_000), ('i32', -2_000_000_000),
                        ('f32', 0.1), ('u64', 2**64 - 1), ('i64', -2**63), ('f64', 3.141592653589793), ('bool', True)]:
        getattr(g, f'gguf_set_val_{name}')(gguf, f'test.{name}'.encode(), value)
    set_arrays(g, gguf)
    rng = random.Random(11)
    add_tensor(g, ctx, gguf, rng, 'token_embd.weight', 'F16', [64, 5])
    add_tensor(g, ctx, gguf, rng, 'blk.0.attn_norm.weight', 'F32', [64])
    add_tensor(g, ctx, gguf, rng, 'blk.0.attn_q.weight', 'Q8_0', [64, 3])
    add_tensor(g, ctx, gguf, rng, 'blk.0.ffn_gate_exps.weight', 'Q4_0', [32, 3, 2])
    add_tensor(g, ctx, gguf, rng, 'blk.0.bf16.weight', 'BF16', [7, 3])
    add_tensor(g, ctx, gguf, rng, 'blk.0.i8', 'I8', [5])
    add_tensor(g, ctx, gguf, rng, 'blk.0.i32_4d', 'I32', [2, 1, 3, 2])
    assert g.gguf_write_to_file(gguf, str(OUT / 'ggml-all-types.gguf').encode(), False)

if __name__ == '__main__':
    ggml = load()
    write_all_types(ggml)
    for f in ('ggml-all-types.gguf',):
        print(f, (OUT / f).stat().st_size, 'bytes')
