// @ts-nocheck — AssemblyScript, not TypeScript (v128, @inline); the repo's tsc must skip it.
// AssemblyScript port of kernels.wat's quantized decode path (quantize_q16, matmul_q8,
// matmul_q4): same layouts, same algorithm (q16 activations, i32x4.dot_i16x8_s, four rows
// per pass with x loaded once per block). Pointers are byte offsets into the imported memory.
//   asc kernels.as.ts -O3 --enable simd --runtime stub --importMemory --use abort= -o kernels.as.wasm

@inline
function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

// Σ over one 32-block of i8 weights (lo = elements 0..15, hi = 16..31) times q16 x0..x3.
@inline
function dot32(lo: v128, hi: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return i32x4.add(
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(lo), x0), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(lo), x1)),
    i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(hi), x2), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(hi), x3)));
}

@inline
function scaled(acc: v128, s: v128, scale: f32): v128 {
  return f32x4.add(acc, f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.splat(scale)));
}

export function quantize_q16(x: usize, xq: usize, xs: usize, nBlocks: i32): void {
  for (let b = 0; b < nBlocks; b++) {
    let amax = f32x4.splat(0);
    for (let i: usize = 0; i < 128; i += 16) amax = f32x4.max(amax, f32x4.abs(v128.load(x + i)));
    const m = max(max(f32x4.extract_lane(amax, 0), f32x4.extract_lane(amax, 1)),
                  max(f32x4.extract_lane(amax, 2), f32x4.extract_lane(amax, 3)));
    store<f32>(xs, m / 32767);
    const inv = f32x4.splat(m > 0 ? <f32>32767 / m : <f32>0);
    for (let i: usize = 0; i < 128; i += 32) {
      const lo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(inv, v128.load(x + i))));
      const hi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(inv, v128.load(x + i, 16))));
      v128.store(xq + (i >> 1), i16x8.narrow_i32x4_s(lo, hi));
    }
    x += 128; xq += 64; xs += 4;
  }
}

function dot_q8(w: usize, ws: usize, xq: usize, xs: usize, nBlocks: i32): f32 {
  let acc = f32x4.splat(0);
  for (let b = 0; b < nBlocks; b++) {
    const s = dot32(v128.load(w), v128.load(w, 16), v128.load(xq), v128.load(xq, 16), v128.load(xq, 32), v128.load(xq, 48));
    acc = scaled(acc, s, load<f32>(ws) * load<f32>(xs));
    w += 32; xq += 64; ws += 4; xs += 4;
  }
  return hsum(acc);
}

function dot_q4(w: usize, ws: usize, xq: usize, xs: usize, nBlocks: i32): f32 {
  const mask = i8x16.splat(15), eight = i8x16.splat(8);
  let acc = f32x4.splat(0);
  for (let b = 0; b < nBlocks; b++) {
    const raw = v128.load(w);
    const lo = i8x16.sub(v128.and(raw, mask), eight);
    const hi = i8x16.sub(i8x16.shr_u(raw, 4), eight);
    const s = dot32(lo, hi, v128.load(xq), v128.load(xq, 16), v128.load(xq, 32), v128.load(xq, 48));
    acc = scaled(acc, s, load<f32>(ws) * load<f32>(xs));
    w += 16; xq += 64; ws += 4; xs += 4;
  }
  return hsum(acc);
}

// Rows r..r+3: quants every rowBytes, scales every nBlocks*4 bytes; y gets 4 adjacent f32.
function dot4_q8(w0: usize, rowBytes: usize, s0: usize, xq: usize, xs: usize, nBlocks: i32, y: usize): void {
  const w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
  const sStride = <usize>nBlocks << 2;
  const s1 = s0 + sStride, s2 = s1 + sStride, s3 = s2 + sStride;
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
  for (let o: usize = 0, so: usize = 0, end = sStride; so < end; o += 32, so += 4) {
    const x0 = v128.load(xq), x1 = v128.load(xq, 16), x2 = v128.load(xq, 32), x3 = v128.load(xq, 48);
    const xscale = load<f32>(xs + so);
    acc0 = scaled(acc0, dot32(v128.load(w0 + o), v128.load(w0 + o, 16), x0, x1, x2, x3), xscale * load<f32>(s0 + so));
    acc1 = scaled(acc1, dot32(v128.load(w1 + o), v128.load(w1 + o, 16), x0, x1, x2, x3), xscale * load<f32>(s1 + so));
    acc2 = scaled(acc2, dot32(v128.load(w2 + o), v128.load(w2 + o, 16), x0, x1, x2, x3), xscale * load<f32>(s2 + so));
    acc3 = scaled(acc3, dot32(v128.load(w3 + o), v128.load(w3 + o, 16), x0, x1, x2, x3), xscale * load<f32>(s3 + so));
    xq += 64;
  }
  store<f32>(y, hsum(acc0));
  store<f32>(y, hsum(acc1), 4);
  store<f32>(y, hsum(acc2), 8);
  store<f32>(y, hsum(acc3), 12);
}

@inline
function nibbleDot(raw: v128, mask: v128, eight: v128, x0: v128, x1: v128, x2: v128, x3: v128): v128 {
  return dot32(i8x16.sub(v128.and(raw, mask), eight), i8x16.sub(i8x16.shr_u(raw, 4), eight), x0, x1, x2, x3);
}

function dot4_q4(w0: usize, rowBytes: usize, s0: usize, xq: usize, xs: usize, nBlocks: i32, y: usize): void {
  const w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
  const sStride = <usize>nBlocks << 2;
  const s1 = s0 + sStride, s2 = s1 + sStride, s3 = s2 + sStride;
  const mask = i8x16.splat(15), eight = i8x16.splat(8);
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
  for (let o: usize = 0, so: usize = 0, end = sStride; so < end; o += 16, so += 4) {
    const x0 = v128.load(xq), x1 = v128.load(xq, 16), x2 = v128.load(xq, 32), x3 = v128.load(xq, 48);
    const xscale = load<f32>(xs + so);
    acc0 = scaled(acc0, nibbleDot(v128.load(w0 + o), mask, eight, x0, x1, x2, x3), xscale * load<f32>(s0 + so));
    acc1 = scaled(acc1, nibbleDot(v128.load(w1 + o), mask, eight, x0, x1, x2, x3), xscale * load<f32>(s1 + so));
    acc2 = scaled(acc2, nibbleDot(v128.load(w2 + o), mask, eight, x0, x1, x2, x3), xscale * load<f32>(s2 + so));
    acc3 = scaled(acc3, nibbleDot(v128.load(w3 + o), mask, eight, x0, x1, x2, x3), xscale * load<f32>(s3 + so));
    xq += 64;
  }
  store<f32>(y, hsum(acc0));
  store<f32>(y, hsum(acc1), 4);
  store<f32>(y, hsum(acc2), 8);
  store<f32>(y, hsum(acc3), 12);
}

// y[t*n + row] = W[row] · x[t] for row in [rowStart, rowEnd), t < m.
export function matmul_q8(w: usize, ws: usize, xq: usize, xs: usize, y: usize,
                          k: i32, n: i32, m: i32, rowStart: i32, rowEnd: i32): void {
  const nb = k >>> 5;
  const rowBytes = <usize>k;
  let row = rowStart;
  while (row < rowEnd) {
    const four = row + 4 <= rowEnd;
    const wr = w + <usize>row * rowBytes;
    const wsr = ws + ((<usize>row * nb) << 2);
    for (let t = 0; t < m; t++) {
      const xqt = xq + ((<usize>t * k) << 1);
      const xst = xs + ((<usize>t * nb) << 2);
      const yt = y + ((<usize>t * n + row) << 2);
      if (four) dot4_q8(wr, rowBytes, wsr, xqt, xst, nb, yt);
      else store<f32>(yt, dot_q8(wr, wsr, xqt, xst, nb));
    }
    row += four ? 4 : 1;
  }
}

export function matmul_q4(w: usize, ws: usize, xq: usize, xs: usize, y: usize,
                          k: i32, n: i32, m: i32, rowStart: i32, rowEnd: i32): void {
  const nb = k >>> 5;
  const rowBytes = <usize>(k >>> 1);
  let row = rowStart;
  while (row < rowEnd) {
    const four = row + 4 <= rowEnd;
    const wr = w + <usize>row * rowBytes;
    const wsr = ws + ((<usize>row * nb) << 2);
    for (let t = 0; t < m; t++) {
      const xqt = xq + ((<usize>t * k) << 1);
      const xst = xs + ((<usize>t * nb) << 2);
      const yt = y + ((<usize>t * n + row) << 2);
      if (four) dot4_q4(wr, rowBytes, wsr, xqt, xst, nb, yt);
      else store<f32>(yt, dot_q4(wr, wsr, xqt, xst, nb));
    }
    row += four ? 4 : 1;
  }
}
