;; MoE Studio WASM SIMD kernels (area F). Assembled by build-kernels.ts with wabt into
;; kernels-wasm.ts (base64, committed); kernels.test.ts checks the committed binary is a
;; fresh build of this file.
;;
;; Every pointer is a byte offset into the one imported linear memory. The memory line below
;; carries a `__SHARED__` marker: build-kernels.ts emits two binaries, one with a shared
;; memory (threads, cross-origin isolated pages and Node workers) and one without.
;;
;; Weight banks (models past wasm32's 4 GiB): every load of a weight carries the W macro
;; (W in double braces, right after the opcode). build-kernels.ts also emits a "bank" build that
;; imports a second memory, env.weights, expands W to that memory's name so those loads read
;; from it, and exports only the three matmuls; in the main build W and the WEIGHTS_IMPORT
;; line expand to nothing, so its code is unchanged. A bank instance runs the matmuls of the
;; matrices packed into its memory, activations and outputs staying in the main one. The first
;; operand of $dot_f32 is marked as a weight: the bank build's attention (which calls it on two
;; activations) is not exported, so it cannot be called.
;;
;; Weight layouts (repacked on session creation by layout.ts, never ggml's interleaved blocks):
;;   q8_0 : quants  i8[n, k]       scales f32[n, k/32]   (weight = scale[b] * q)
;;   q4_0 : nibbles u8[n, k/2]     scales f32[n, k/32]   block b of a row holds ggml's 16 bytes
;;          as stored: byte j has element j in its low nibble and element j+16 in its high one,
;;          each the weight + 8 (0..15, unsigned).
;;   f32  : f32[n, k]              (f16 / bf16 are widened to f32 exactly on repack)
;; Quantized rows come in groups of four, interleaved block by block: group g (rows 4g..4g+3)
;; holds block 0 of its four rows, then block 1 of the four, …, in the bytes its rows would
;; hold in row order, and its scales likewise ([block][row], so one v128.load is the four
;; rows' scales of a block). A 4-row kernel then reads one sequential stream of weights and
;; one of scales instead of eight (decode streams every weight from DRAM once: fewer streams
;; keep more loads in flight). The last n % 4 rows follow in plain row order.
;; Activations for the q8_0 kernels are "q16": per 32-block i16 quants and an f32 scale
;; (xq i16[m, k], xs f32[m, k/32]); 15-bit precision keeps results within f32 noise of the
;; f32 reference while letting i32x4.dot_i16x8_s do the multiply-adds.
;; Activations for the q4_0 kernels are "q8x", 8-bit as llama.cpp's q8_0 ones for q4_0 weights:
;; xq i8[m, k] and per 32-block xs {f32 scale, i32 8·Σq} ([m, k/32] pairs). A block's integer
;; sum Σ nibble·q - 8·Σq is exact. The block dot is written as macros ({{U4PREP}}, {{U4DOTP}},
;; {{XWIDEN}}, {{U4CONST}}) that build-kernels.ts expands twice: on relaxed SIMD
;; (i16x8.relaxed_dot_i8x16_i7x16_s with the nibbles as its 7-bit operand, one pmaddubsw on
;; x64: 8 ops a row-block where q16 needed 15) and on plain SIMD (nibbles and activations
;; widened to i16, i32x4.dot_i16x8_s) for engines without relaxed SIMD (Node 20). Both give the
;; same integers, hence the same bits (flavours.browser.test.ts).
;;
;; Matmul kernels compute y[t, row] = W[row, :] · x[t, :] for rows [rowStart, rowEnd) (four rows
;; at a time where possible) and tokens t < m; y is [m, n] f32. Decode is m = 1. Rows are the
;; unit of thread splitting.
(module
  (import "env" "memory" (memory $mem 1 65536 __SHARED__))
  {{WEIGHTS_IMPORT}}

  ;; ------------------------------------------------------------------------------------
  ;; Activation quantization: x f32[nBlocks*32] -> xq i16[nBlocks*32], xs f32[nBlocks]
  (func $quantize_q16 (export "quantize_q16")
    (param $x i32) (param $xq i32) (param $xs i32) (param $nBlocks i32)
    (local $b i32) (local $i i32) (local $amax v128) (local $m f32) (local $inv v128)
    (local $lo v128) (local $hi v128)
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $b) (local.get $nBlocks)))
      ;; amax over the 32 values
      (local.set $amax (v128.const f32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (loop $scan
        (local.set $amax (f32x4.max (local.get $amax)
          (f32x4.abs (v128.load (i32.add (local.get $x) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $scan (i32.lt_u (local.get $i) (i32.const 128))))
      (local.set $m (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $amax)) (f32x4.extract_lane 1 (local.get $amax)))
        (f32.max (f32x4.extract_lane 2 (local.get $amax)) (f32x4.extract_lane 3 (local.get $amax)))))
      (f32.store (local.get $xs) (f32.div (local.get $m) (f32.const 32767)))
      (local.set $inv (f32x4.splat (select (f32.div (f32.const 32767) (local.get $m)) (f32.const 0)
        (f32.gt (local.get $m) (f32.const 0)))))
      ;; 8 values (two f32x4) -> one i16x8 per step
      (local.set $i (i32.const 0))
      (loop $pack
        (local.set $lo (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $inv)
          (v128.load (i32.add (local.get $x) (local.get $i)))))))
        (local.set $hi (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $inv)
          (v128.load offset=16 (i32.add (local.get $x) (local.get $i)))))))
        (v128.store (i32.add (local.get $xq) (i32.shr_u (local.get $i) (i32.const 1)))
          (i16x8.narrow_i32x4_s (local.get $lo) (local.get $hi)))
        (local.set $i (i32.add (local.get $i) (i32.const 32)))
        (br_if $pack (i32.lt_u (local.get $i) (i32.const 128))))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $xq (i32.add (local.get $xq) (i32.const 64)))
      (local.set $xs (i32.add (local.get $xs) (i32.const 4)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $blocks))))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  (func $isum (param $v v128) (result i32)
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $v)) (i32x4.extract_lane 1 (local.get $v)))
      (i32.add (i32x4.extract_lane 2 (local.get $v)) (i32x4.extract_lane 3 (local.get $v)))))

  ;; q8x activations for the q4_0 kernels: x f32[nBlocks*32] -> xq i8[nBlocks*32] and per block
  ;; xs {f32 scale = amax/127, i32 8·Σq} (8 bytes). Σq is what the unsigned nibbles' +8 adds.
  (func $quantize_q8x (export "quantize_q8x")
    (param $x i32) (param $xq i32) (param $xs i32) (param $nBlocks i32)
    (local $b i32) (local $i i32) (local $amax v128) (local $m f32) (local $inv v128) (local $sum v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128)
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $b) (local.get $nBlocks)))
      (local.set $amax (v128.const f32x4 0 0 0 0))
      (local.set $i (i32.const 0))
      (loop $scan
        (local.set $amax (f32x4.max (local.get $amax)
          (f32x4.abs (v128.load (i32.add (local.get $x) (local.get $i))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $scan (i32.lt_u (local.get $i) (i32.const 128))))
      (local.set $m (f32.max
        (f32.max (f32x4.extract_lane 0 (local.get $amax)) (f32x4.extract_lane 1 (local.get $amax)))
        (f32.max (f32x4.extract_lane 2 (local.get $amax)) (f32x4.extract_lane 3 (local.get $amax)))))
      (f32.store (local.get $xs) (f32.div (local.get $m) (f32.const 127)))
      (local.set $inv (f32x4.splat (select (f32.div (f32.const 127) (local.get $m)) (f32.const 0)
        (f32.gt (local.get $m) (f32.const 0)))))
      (local.set $sum (v128.const i32x4 0 0 0 0))
      ;; 16 values (four f32x4) -> one i8x16 per step
      (local.set $i (i32.const 0))
      (loop $pack
        (local.set $q0 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $inv)
          (v128.load (i32.add (local.get $x) (local.get $i)))))))
        (local.set $q1 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $inv)
          (v128.load offset=16 (i32.add (local.get $x) (local.get $i)))))))
        (local.set $q2 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $inv)
          (v128.load offset=32 (i32.add (local.get $x) (local.get $i)))))))
        (local.set $q3 (i32x4.trunc_sat_f32x4_s (f32x4.nearest (f32x4.mul (local.get $inv)
          (v128.load offset=48 (i32.add (local.get $x) (local.get $i)))))))
        (local.set $sum (i32x4.add (local.get $sum)
          (i32x4.add (i32x4.add (local.get $q0) (local.get $q1)) (i32x4.add (local.get $q2) (local.get $q3)))))
        (v128.store (i32.add (local.get $xq) (i32.shr_u (local.get $i) (i32.const 2)))
          (i8x16.narrow_i16x8_s (i16x8.narrow_i32x4_s (local.get $q0) (local.get $q1))
                                (i16x8.narrow_i32x4_s (local.get $q2) (local.get $q3))))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br_if $pack (i32.lt_u (local.get $i) (i32.const 128))))
      (i32.store offset=4 (local.get $xs) (i32.shl (call $isum (local.get $sum)) (i32.const 3)))
      (local.set $x (i32.add (local.get $x) (i32.const 128)))
      (local.set $xq (i32.add (local.get $xq) (i32.const 32)))
      (local.set $xs (i32.add (local.get $xs) (i32.const 8)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $blocks))))

  ;; ------------------------------------------------------------------------------------
  ;; Dot products of one weight row with one q16 activation row: a matrix's last n % 4 rows.
  ;; Per block: the exact i32 sum S, then acc += f32(S) · (xs · d), the same float operations
  ;; in the same order as one lane of dot4_*, so a row's value never depends on whether it ran
  ;; in a 4-row group (and so on the thread count). A row's blocks are wStep bytes apart and its
  ;; scales sStep (a row of a 4-row group: 4 blocks and 16 bytes; a tail row: 1 block and 4).

  ;; w i8 blocks of 32, ws f32 scales, xq i16[nBlocks*32], xs f32[nBlocks]
  (func $dot_q8 (param $w i32) (param $ws i32) (param $xq i32) (param $xs i32) (param $nBlocks i32)
    (param $wStep i32) (param $sStep i32) (result f32)
    (local $acc f32) (local $s v128) (local $w0 v128) (local $w1 v128) (local $end i32)
    (local.set $end (i32.add (local.get $xs) (i32.shl (local.get $nBlocks) (i32.const 2))))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $xs) (local.get $end)))
      (local.set $w0 (v128.load{{W}} (local.get $w)))
      (local.set $w1 (v128.load{{W}} offset=16 (local.get $w)))
      (local.set $s (i32x4.add
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $w0)) (v128.load (local.get $xq)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $w0)) (v128.load offset=16 (local.get $xq))))
        (i32x4.add
          (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $w1)) (v128.load offset=32 (local.get $xq)))
          (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $w1)) (v128.load offset=48 (local.get $xq))))))
      (local.set $acc (f32.add (local.get $acc) (f32.mul (f32.convert_i32_s (call $isum (local.get $s)))
        (f32.mul (f32.load (local.get $xs)) (f32.load{{W}} (local.get $ws))))))
      (local.set $w (i32.add (local.get $w) (local.get $wStep)))
      (local.set $xq (i32.add (local.get $xq) (i32.const 64)))
      (local.set $ws (i32.add (local.get $ws) (local.get $sStep)))
      (local.set $xs (i32.add (local.get $xs) (i32.const 4)))
      (br $blocks)))
    (local.get $acc))

  ;; w u8 blocks of 16 ggml nibble bytes (see header), ws f32 scales, xq i8[nBlocks*32],
  ;; xs [nBlocks] × {f32 scale, i32 8·Σq} (q8x activations)
  (func $dot_q4 (param $w i32) (param $ws i32) (param $xq i32) (param $xs i32) (param $nBlocks i32)
    (param $wStep i32) (param $sStep i32) (result f32)
    (local $acc f32) (local $raw v128) (local $end i32) (local $u v128) (local $mask v128) (local $ones v128)
    (local $x_lo v128) (local $x_hi v128) (local $x_0 v128) (local $x_1 v128) (local $x_2 v128) (local $x_3 v128)
    (local $w_lo v128) (local $w_hi v128) (local $w_0 v128) (local $w_1 v128) (local $w_2 v128) (local $w_3 v128)
    {{U4CONST}}
    (local.set $end (i32.add (local.get $xs) (i32.shl (local.get $nBlocks) (i32.const 3))))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $xs) (local.get $end)))
      (local.set $x_lo (v128.load (local.get $xq)))
      (local.set $x_hi (v128.load offset=16 (local.get $xq)))
      {{XWIDEN $x}}
      (local.set $raw (v128.load{{W}} (local.get $w)))
      {{U4PREP $raw $w}}
      (local.set $acc (f32.add (local.get $acc) (f32.mul
        (f32.convert_i32_s (i32.sub (call $isum {{U4DOTP $w $x}}) (i32.load offset=4 (local.get $xs))))
        (f32.mul (f32.load (local.get $xs)) (f32.load{{W}} (local.get $ws))))))
      (local.set $w (i32.add (local.get $w) (local.get $wStep)))
      (local.set $xq (i32.add (local.get $xq) (i32.const 32)))
      (local.set $ws (i32.add (local.get $ws) (local.get $sStep)))
      (local.set $xs (i32.add (local.get $xs) (i32.const 8)))
      (br $blocks)))
    (local.get $acc))

  ;; a f32[k], b f32[k]; any k (scalar tail)
  (func $dot_f32 (param $a i32) (param $b i32) (param $k i32) (result f32)
    (local $acc0 v128) (local $acc1 v128) (local $end8 i32) (local $end i32) (local $tail f32)
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $end8 (i32.add (local.get $a) (i32.shl (i32.and (local.get $k) (i32.const -8)) (i32.const 2))))
    (block $done (loop $vec
      (br_if $done (i32.ge_u (local.get $a) (local.get $end8)))
      (local.set $acc0 (f32x4.add (local.get $acc0)
        (f32x4.mul (v128.load{{W}} (local.get $a)) (v128.load (local.get $b)))))
      (local.set $acc1 (f32x4.add (local.get $acc1)
        (f32x4.mul (v128.load{{W}} offset=16 (local.get $a)) (v128.load offset=16 (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (i32.const 32)))
      (local.set $b (i32.add (local.get $b) (i32.const 32)))
      (br $vec)))
    (block $tdone (loop $scalar
      (br_if $tdone (i32.ge_u (local.get $a) (local.get $end)))
      (local.set $tail (f32.add (local.get $tail) (f32.mul (f32.load{{W}} (local.get $a)) (f32.load (local.get $b)))))
      (local.set $a (i32.add (local.get $a) (i32.const 4)))
      (local.set $b (i32.add (local.get $b) (i32.const 4)))
      (br $scalar)))
    (f32.add (call $hsum (f32x4.add (local.get $acc0) (local.get $acc1))) (local.get $tail)))

  ;; Four consecutive rows against one activation row: x is loaded once per block for all
  ;; four (the 1-row loop spent most of its time on x loads and loop overhead).
  ;; w0 = the group's quants (4 rows interleaved by block, see the header); s0 = its scales;
  ;; y receives 4 f32 (rows r..r+3 are adjacent in the output).
  (func $dot4_q8 (param $w0 i32) (param $s0 i32) (param $xq i32) (param $xs i32)
    (param $nBlocks i32) (param $y i32)
    (local $sStride i32)
    (local $end i32) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $lo v128) (local $hi v128) (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $acc v128)
    (local.set $sStride (i32.shl (local.get $nBlocks) (i32.const 2)))
    (local.set $end (i32.add (local.get $xs) (local.get $sStride)))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $xs) (local.get $end)))
      (local.set $x0 (v128.load (local.get $xq)))
      (local.set $x1 (v128.load offset=16 (local.get $xq)))
      (local.set $x2 (v128.load offset=32 (local.get $xq)))
      (local.set $x3 (v128.load offset=48 (local.get $xq)))
      (local.set $lo (v128.load{{W}} offset=0 (local.get $w0)))
      (local.set $hi (v128.load{{W}} offset=16 (local.get $w0)))
      (local.set $d0 (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $lo)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $lo)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $hi)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $hi)) (local.get $x3)))))
      (local.set $lo (v128.load{{W}} offset=32 (local.get $w0)))
      (local.set $hi (v128.load{{W}} offset=48 (local.get $w0)))
      (local.set $d1 (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $lo)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $lo)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $hi)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $hi)) (local.get $x3)))))
      (local.set $lo (v128.load{{W}} offset=64 (local.get $w0)))
      (local.set $hi (v128.load{{W}} offset=80 (local.get $w0)))
      (local.set $d2 (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $lo)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $lo)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $hi)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $hi)) (local.get $x3)))))
      (local.set $lo (v128.load{{W}} offset=96 (local.get $w0)))
      (local.set $hi (v128.load{{W}} offset=112 (local.get $w0)))
      (local.set $d3 (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $lo)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $lo)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.extend_low_i8x16_s (local.get $hi)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.extend_high_i8x16_s (local.get $hi)) (local.get $x3)))))
      ;; Four rows reduced into one vector and scaled together, as in $dot4_q4.
      (local.set $d0 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d1)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d1))))
      (local.set $d2 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d2) (local.get $d3)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d2) (local.get $d3))))
      (local.set $d0 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d2)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d2))))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.convert_i32x4_s (local.get $d0))
        (f32x4.mul (v128.load32_splat (local.get $xs)) (v128.load{{W}} (local.get $s0))))))
      (local.set $w0 (i32.add (local.get $w0) (i32.const 128)))
      (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
      (local.set $xq (i32.add (local.get $xq) (i32.const 64)))
      (local.set $xs (i32.add (local.get $xs) (i32.const 4)))
      (br $blocks)))
    (v128.store (local.get $y) (local.get $acc)))

  ;; Four consecutive rows against one activation row: x is loaded once per block for all
  ;; four (the 1-row loop spent most of its time on x loads and loop overhead).
  ;; w0 = the group's nibbles (4 rows interleaved by block, see the header); s0 = its scales;
  ;; y receives 4 f32 (rows r..r+3 are adjacent in the output).
  (func $dot4_q4 (param $w0 i32) (param $s0 i32) (param $xq i32) (param $xs i32)
    (param $nBlocks i32) (param $y i32)
    (local $end i32) (local $raw v128) (local $u v128) (local $mask v128) (local $ones v128)
    (local $x_lo v128) (local $x_hi v128) (local $x_0 v128) (local $x_1 v128) (local $x_2 v128) (local $x_3 v128)
    (local $w_lo v128) (local $w_hi v128) (local $w_0 v128) (local $w_1 v128) (local $w_2 v128) (local $w_3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128) (local $acc v128)
    {{U4CONST}}
    (local.set $end (i32.add (local.get $xs) (i32.shl (local.get $nBlocks) (i32.const 3))))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $xs) (local.get $end)))
      (local.set $x_lo (v128.load (local.get $xq)))
      (local.set $x_hi (v128.load offset=16 (local.get $xq)))
      {{XWIDEN $x}}
      (local.set $raw (v128.load{{W}} offset=0 (local.get $w0)))
      {{U4PREP $raw $w}}
      (local.set $d0 {{U4DOTP $w $x}})
      (local.set $raw (v128.load{{W}} offset=16 (local.get $w0)))
      {{U4PREP $raw $w}}
      (local.set $d1 {{U4DOTP $w $x}})
      (local.set $raw (v128.load{{W}} offset=32 (local.get $w0)))
      {{U4PREP $raw $w}}
      (local.set $d2 {{U4DOTP $w $x}})
      (local.set $raw (v128.load{{W}} offset=48 (local.get $w0)))
      {{U4PREP $raw $w}}
      (local.set $d3 {{U4DOTP $w $x}})
      ;; The four rows' i32 lane sums reduced into one vector [Σd0, Σd1, Σd2, Σd3] (six shuffles,
      ;; three adds) less 8·Σq (the nibbles are the weights + 8), so converting, scaling and
      ;; accumulating happen once for four rows; every block's integer sum is exact, and acc
      ;; ends holding y[r..r+3].
      (local.set $d0 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d1)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d1))))
      (local.set $d2 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d2) (local.get $d3)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d2) (local.get $d3))))
      (local.set $d0 (i32x4.sub (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d2)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d2)))
        (v128.load32_splat offset=4 (local.get $xs))))
      (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.convert_i32x4_s (local.get $d0))
        (f32x4.mul (v128.load32_splat (local.get $xs)) (v128.load{{W}} (local.get $s0))))))
      (local.set $w0 (i32.add (local.get $w0) (i32.const 64)))
      (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
      (local.set $xq (i32.add (local.get $xq) (i32.const 32)))
      (local.set $xs (i32.add (local.get $xs) (i32.const 8)))
      (br $blocks)))
    (v128.store (local.get $y) (local.get $acc)))

  ;; Four consecutive rows against m activation rows (prefill, m >= 2): each block's 4 rows are
  ;; unpacked once (U4PREP) and reused for every token, where dot4_q4 unpacks them per token.
  ;; y[t, r..r+3] accumulates in memory with the same float operations in the same order as
  ;; dot4_q4's acc (zero, then + f32(S) * (xs * d) block by block), so prefill and decode give
  ;; the same bits. Arguments as dot4_q4, plus m tokens whose q8x rows are k bytes (and nb
  ;; {scale, sum} pairs) apart and y rows n floats apart.
  (func $tile4_q4 (param $w0 i32) (param $s0 i32) (param $xq i32) (param $xs i32)
    (param $nBlocks i32) (param $y i32) (param $m i32) (param $k i32) (param $n i32)
    (local $b i32) (local $t i32) (local $wr i32) (local $sStride i32) (local $sv v128)
    (local $xqt i32) (local $xst i32) (local $yt i32) (local $raw v128) (local $u v128) (local $mask v128) (local $ones v128)
    (local $r0_lo v128) (local $r0_hi v128) (local $r0_0 v128) (local $r0_1 v128) (local $r0_2 v128) (local $r0_3 v128)
    (local $r1_lo v128) (local $r1_hi v128) (local $r1_0 v128) (local $r1_1 v128) (local $r1_2 v128) (local $r1_3 v128)
    (local $r2_lo v128) (local $r2_hi v128) (local $r2_0 v128) (local $r2_1 v128) (local $r2_2 v128) (local $r2_3 v128)
    (local $r3_lo v128) (local $r3_hi v128) (local $r3_0 v128) (local $r3_1 v128) (local $r3_2 v128) (local $r3_3 v128)
    (local $x_lo v128) (local $x_hi v128) (local $x_0 v128) (local $x_1 v128) (local $x_2 v128) (local $x_3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    {{U4CONST}}
    (local.set $sStride (i32.shl (local.get $nBlocks) (i32.const 3)))
    (local.set $t (i32.const 0))
    (local.set $yt (local.get $y))
    (loop $zero
      (v128.store (local.get $yt) (v128.const i32x4 0 0 0 0))
      (local.set $yt (i32.add (local.get $yt) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br_if $zero (i32.lt_u (local.get $t) (local.get $m))))
    (local.set $b (i32.const 0))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $b) (local.get $nBlocks)))
      (local.set $wr (i32.add (local.get $w0) (i32.shl (local.get $b) (i32.const 6))))
      (local.set $raw (v128.load{{W}} offset=0 (local.get $wr)))
      {{U4PREP $raw $r0}}
      (local.set $raw (v128.load{{W}} offset=16 (local.get $wr)))
      {{U4PREP $raw $r1}}
      (local.set $raw (v128.load{{W}} offset=32 (local.get $wr)))
      {{U4PREP $raw $r2}}
      (local.set $raw (v128.load{{W}} offset=48 (local.get $wr)))
      {{U4PREP $raw $r3}}
      (local.set $sv (v128.load{{W}} (i32.add (local.get $s0) (i32.shl (local.get $b) (i32.const 4)))))
      (local.set $xqt (i32.add (local.get $xq) (i32.shl (local.get $b) (i32.const 5))))
      (local.set $xst (i32.add (local.get $xs) (i32.shl (local.get $b) (i32.const 3))))
      (local.set $yt (local.get $y))
      (local.set $t (i32.const 0))
      (loop $tokens
        (local.set $x_lo (v128.load (local.get $xqt)))
        (local.set $x_hi (v128.load offset=16 (local.get $xqt)))
        {{XWIDEN $x}}
        (local.set $d0 {{U4DOTP $r0 $x}})
        (local.set $d1 {{U4DOTP $r1 $x}})
        (local.set $d2 {{U4DOTP $r2 $x}})
        (local.set $d3 {{U4DOTP $r3 $x}})
        ;; [Σd0, Σd1, Σd2, Σd3] - 8·Σq by dot4_q4's shuffles
        (local.set $d0 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d1)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d1))))
        (local.set $d2 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d2) (local.get $d3)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d2) (local.get $d3))))
        (local.set $d0 (i32x4.sub (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d2)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d2)))
          (v128.load32_splat offset=4 (local.get $xst))))
        (v128.store (local.get $yt) (f32x4.add (v128.load (local.get $yt))
          (f32x4.mul (f32x4.convert_i32x4_s (local.get $d0)) (f32x4.mul (v128.load32_splat (local.get $xst)) (local.get $sv)))))
        (local.set $xqt (i32.add (local.get $xqt) (local.get $k)))
        (local.set $xst (i32.add (local.get $xst) (local.get $sStride)))
        (local.set $yt (i32.add (local.get $yt) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br_if $tokens (i32.lt_u (local.get $t) (local.get $m))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $blocks))))

  ;; $tile4_q8 for q8_0 weights: each block's 4 rows are widened to i16 once for all m tokens
  ;; (dot4_q8 widens them per token); the same float operations in the same order as dot4_q8.
  (func $tile4_q8 (param $w0 i32) (param $s0 i32) (param $xq i32) (param $xs i32)
    (param $nBlocks i32) (param $y i32) (param $m i32) (param $k i32) (param $n i32)
    (local $b i32) (local $t i32) (local $wr i32) (local $sStride i32) (local $sv v128)
    (local $xqt i32) (local $xst i32) (local $yt i32) (local $raw v128)
    (local $w00 v128) (local $w01 v128) (local $w02 v128) (local $w03 v128)
    (local $w10 v128) (local $w11 v128) (local $w12 v128) (local $w13 v128)
    (local $w20 v128) (local $w21 v128) (local $w22 v128) (local $w23 v128)
    (local $w30 v128) (local $w31 v128) (local $w32 v128) (local $w33 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (local.set $sStride (i32.shl (local.get $nBlocks) (i32.const 2)))
    (local.set $t (i32.const 0))
    (local.set $yt (local.get $y))
    (loop $zero
      (v128.store (local.get $yt) (v128.const i32x4 0 0 0 0))
      (local.set $yt (i32.add (local.get $yt) (i32.shl (local.get $n) (i32.const 2))))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br_if $zero (i32.lt_u (local.get $t) (local.get $m))))
    (local.set $b (i32.const 0))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $b) (local.get $nBlocks)))
      (local.set $wr (i32.add (local.get $w0) (i32.shl (local.get $b) (i32.const 7))))
      (local.set $raw (v128.load{{W}} (local.get $wr)))
      (local.set $w00 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w01 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $raw (v128.load{{W}} offset=16 (local.get $wr)))
      (local.set $w02 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w03 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $wr (i32.add (local.get $wr) (i32.const 32)))
      (local.set $raw (v128.load{{W}} (local.get $wr)))
      (local.set $w10 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w11 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $raw (v128.load{{W}} offset=16 (local.get $wr)))
      (local.set $w12 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w13 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $wr (i32.add (local.get $wr) (i32.const 32)))
      (local.set $raw (v128.load{{W}} (local.get $wr)))
      (local.set $w20 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w21 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $raw (v128.load{{W}} offset=16 (local.get $wr)))
      (local.set $w22 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w23 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $wr (i32.add (local.get $wr) (i32.const 32)))
      (local.set $raw (v128.load{{W}} (local.get $wr)))
      (local.set $w30 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w31 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $raw (v128.load{{W}} offset=16 (local.get $wr)))
      (local.set $w32 (i16x8.extend_low_i8x16_s (local.get $raw)))
      (local.set $w33 (i16x8.extend_high_i8x16_s (local.get $raw)))
      (local.set $sv (v128.load{{W}} (i32.add (local.get $s0) (i32.shl (local.get $b) (i32.const 4)))))
      (local.set $xqt (i32.add (local.get $xq) (i32.shl (local.get $b) (i32.const 6))))
      (local.set $xst (i32.add (local.get $xs) (i32.shl (local.get $b) (i32.const 2))))
      (local.set $yt (local.get $y))
      (local.set $t (i32.const 0))
      (loop $tokens
        (local.set $x0 (v128.load (local.get $xqt)))
        (local.set $x1 (v128.load offset=16 (local.get $xqt)))
        (local.set $x2 (v128.load offset=32 (local.get $xqt)))
        (local.set $x3 (v128.load offset=48 (local.get $xqt)))
        (local.set $d0 (i32x4.add
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w00) (local.get $x0)) (i32x4.dot_i16x8_s (local.get $w01) (local.get $x1)))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w02) (local.get $x2)) (i32x4.dot_i16x8_s (local.get $w03) (local.get $x3)))))
        (local.set $d1 (i32x4.add
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w10) (local.get $x0)) (i32x4.dot_i16x8_s (local.get $w11) (local.get $x1)))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w12) (local.get $x2)) (i32x4.dot_i16x8_s (local.get $w13) (local.get $x3)))))
        (local.set $d2 (i32x4.add
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w20) (local.get $x0)) (i32x4.dot_i16x8_s (local.get $w21) (local.get $x1)))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w22) (local.get $x2)) (i32x4.dot_i16x8_s (local.get $w23) (local.get $x3)))))
        (local.set $d3 (i32x4.add
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w30) (local.get $x0)) (i32x4.dot_i16x8_s (local.get $w31) (local.get $x1)))
          (i32x4.add (i32x4.dot_i16x8_s (local.get $w32) (local.get $x2)) (i32x4.dot_i16x8_s (local.get $w33) (local.get $x3)))))
        ;; [Σd0, Σd1, Σd2, Σd3] by dot4_q8's shuffles
        (local.set $d0 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d1)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d1))))
        (local.set $d2 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d2) (local.get $d3)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d2) (local.get $d3))))
        (local.set $d0 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d2)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d2))))
        (v128.store (local.get $yt) (f32x4.add (v128.load (local.get $yt))
          (f32x4.mul (f32x4.convert_i32x4_s (local.get $d0)) (f32x4.mul (v128.load32_splat (local.get $xst)) (local.get $sv)))))
        (local.set $xqt (i32.add (local.get $xqt) (i32.shl (local.get $k) (i32.const 1))))
        (local.set $xst (i32.add (local.get $xst) (local.get $sStride)))
        (local.set $yt (i32.add (local.get $yt) (i32.shl (local.get $n) (i32.const 2))))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br_if $tokens (i32.lt_u (local.get $t) (local.get $m))))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $blocks))))

  ;; ------------------------------------------------------------------------------------
  ;; Matmuls: y[t*n + row] = W[row] · x[t] for row in [rowStart, rowEnd), t < m.
  ;; The row stays in L1 while the m activation rows stream past it (prefill reuse).

  (func (export "matmul_q8")
    (param $w i32) (param $ws i32) (param $xq i32) (param $xs i32) (param $y i32)
    (param $k i32) (param $n i32) (param $m i32) (param $rowStart i32) (param $rowEnd i32)
    (local $row i32) (local $t i32) (local $nb i32) (local $rowBytes i32) (local $wr i32) (local $wsr i32)
    (local $wStep i32) (local $sStep i32)
    (local.set $nb (i32.shr_u (local.get $k) (i32.const 5)))
    (local.set $rowBytes (local.get $k))
    (local.set $row (local.get $rowStart))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $row) (local.get $rowEnd)))
      (if (i32.and (i32.eqz (i32.and (local.get $row) (i32.const 3))) (i32.le_u (i32.add (local.get $row) (i32.const 4)) (local.get $rowEnd)))
        (then
          ;; rows row..row+3, one interleaved group (it starts where its first row would)
          (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $row) (local.get $rowBytes))))
          (local.set $wsr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $row) (local.get $nb)) (i32.const 2))))
          (if (i32.ge_u (local.get $m) (i32.const 2))
            (then (call $tile4_q8 (local.get $wr) (local.get $wsr) (local.get $xq) (local.get $xs) (local.get $nb)
              (i32.add (local.get $y) (i32.shl (local.get $row) (i32.const 2))) (local.get $m) (local.get $k) (local.get $n)))
            (else (call $dot4_q8 (local.get $wr) (local.get $wsr) (local.get $xq) (local.get $xs) (local.get $nb)
              (i32.add (local.get $y) (i32.shl (local.get $row) (i32.const 2))))))
          (local.set $row (i32.add (local.get $row) (i32.const 4))))
        (else
          ;; one row: of a 4-row group (its blocks 4 apart in the group) or of the last n % 4 (plain)
          (if (i32.le_u (i32.add (i32.and (local.get $row) (i32.const -4)) (i32.const 4)) (local.get $n))
            (then
              (local.set $wr (i32.add (local.get $w) (i32.add (i32.mul (i32.and (local.get $row) (i32.const -4)) (local.get $rowBytes))
                (i32.mul (i32.and (local.get $row) (i32.const 3)) (i32.const 32)))))
              (local.set $wsr (i32.add (local.get $ws) (i32.shl (i32.add (i32.mul (i32.and (local.get $row) (i32.const -4)) (local.get $nb))
                (i32.and (local.get $row) (i32.const 3))) (i32.const 2))))
              (local.set $wStep (i32.const 128))
              (local.set $sStep (i32.const 16)))
            (else
              (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $row) (local.get $rowBytes))))
              (local.set $wsr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $row) (local.get $nb)) (i32.const 2))))
              (local.set $wStep (i32.const 32))
              (local.set $sStep (i32.const 4))))
          (local.set $t (i32.const 0))
          (loop $tokens
            (f32.store
              (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $n)) (local.get $row)) (i32.const 2)))
              (call $dot_q8 (local.get $wr) (local.get $wsr)
                (i32.add (local.get $xq) (i32.shl (i32.mul (local.get $t) (local.get $k)) (i32.const 1)))
                (i32.add (local.get $xs) (i32.shl (i32.mul (local.get $t) (local.get $nb)) (i32.const 2)))
                (local.get $nb) (local.get $wStep) (local.get $sStep)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br_if $tokens (i32.lt_u (local.get $t) (local.get $m))))
          (local.set $row (i32.add (local.get $row) (i32.const 1)))))
      (br $rows))))

  (func (export "matmul_q4")
    (param $w i32) (param $ws i32) (param $xq i32) (param $xs i32) (param $y i32)
    (param $k i32) (param $n i32) (param $m i32) (param $rowStart i32) (param $rowEnd i32)
    (local $row i32) (local $t i32) (local $nb i32) (local $rowBytes i32) (local $wr i32) (local $wsr i32)
    (local $wStep i32) (local $sStep i32)
    (local.set $nb (i32.shr_u (local.get $k) (i32.const 5)))
    (local.set $rowBytes (i32.shr_u (local.get $k) (i32.const 1)))
    (local.set $row (local.get $rowStart))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $row) (local.get $rowEnd)))
      (if (i32.and (i32.eqz (i32.and (local.get $row) (i32.const 3))) (i32.le_u (i32.add (local.get $row) (i32.const 4)) (local.get $rowEnd)))
        (then
          ;; rows row..row+3, one interleaved group (it starts where its first row would)
          (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $row) (local.get $rowBytes))))
          (local.set $wsr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $row) (local.get $nb)) (i32.const 2))))
          (if (i32.ge_u (local.get $m) (i32.const 2))
            (then (call $tile4_q4 (local.get $wr) (local.get $wsr) (local.get $xq) (local.get $xs) (local.get $nb)
              (i32.add (local.get $y) (i32.shl (local.get $row) (i32.const 2))) (local.get $m) (local.get $k) (local.get $n)))
            (else (call $dot4_q4 (local.get $wr) (local.get $wsr) (local.get $xq) (local.get $xs) (local.get $nb)
              (i32.add (local.get $y) (i32.shl (local.get $row) (i32.const 2))))))
          (local.set $row (i32.add (local.get $row) (i32.const 4))))
        (else
          ;; one row: of a 4-row group (its blocks 4 apart in the group) or of the last n % 4 (plain)
          (if (i32.le_u (i32.add (i32.and (local.get $row) (i32.const -4)) (i32.const 4)) (local.get $n))
            (then
              (local.set $wr (i32.add (local.get $w) (i32.add (i32.mul (i32.and (local.get $row) (i32.const -4)) (local.get $rowBytes))
                (i32.mul (i32.and (local.get $row) (i32.const 3)) (i32.const 16)))))
              (local.set $wsr (i32.add (local.get $ws) (i32.shl (i32.add (i32.mul (i32.and (local.get $row) (i32.const -4)) (local.get $nb))
                (i32.and (local.get $row) (i32.const 3))) (i32.const 2))))
              (local.set $wStep (i32.const 64))
              (local.set $sStep (i32.const 16)))
            (else
              (local.set $wr (i32.add (local.get $w) (i32.mul (local.get $row) (local.get $rowBytes))))
              (local.set $wsr (i32.add (local.get $ws) (i32.shl (i32.mul (local.get $row) (local.get $nb)) (i32.const 2))))
              (local.set $wStep (i32.const 16))
              (local.set $sStep (i32.const 4))))
          (local.set $t (i32.const 0))
          (loop $tokens
            (f32.store
              (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $n)) (local.get $row)) (i32.const 2)))
              (call $dot_q4 (local.get $wr) (local.get $wsr)
                (i32.add (local.get $xq) (i32.mul (local.get $t) (local.get $k)))
                (i32.add (local.get $xs) (i32.shl (i32.mul (local.get $t) (local.get $nb)) (i32.const 3)))
                (local.get $nb) (local.get $wStep) (local.get $sStep)))
            (local.set $t (i32.add (local.get $t) (i32.const 1)))
            (br_if $tokens (i32.lt_u (local.get $t) (local.get $m))))
          (local.set $row (i32.add (local.get $row) (i32.const 1)))))
      (br $rows))))

  ;; Two W rows against four activation rows: y[t..t+3, r..r+1]. Per four k each W row and each
  ;; x row is loaded once for eight f32x4 products (0.75 loads a product, against 2 in dot_f32),
  ;; which is what bounds this loop. k % 4 columns are summed by scalar code.
  (func $tile_f32_2x4 (param $w0 i32) (param $x0 i32) (param $y i32) (param $k i32) (param $n i32)
    (local $w1 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $c i32) (local $k4 i32)
    (local $a v128) (local $b v128) (local $v v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $ra f32) (local $rb f32) (local $xi i32) (local $t i32) (local $wa f32) (local $wb f32) (local $xv f32)
    (local.set $w1 (i32.add (local.get $w0) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $x1 (i32.add (local.get $x0) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $x2 (i32.add (local.get $x1) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $x3 (i32.add (local.get $x2) (i32.shl (local.get $k) (i32.const 2))))
    (local.set $k4 (i32.shl (i32.and (local.get $k) (i32.const -4)) (i32.const 2)))
    (block $done (loop $cols
      (br_if $done (i32.ge_u (local.get $c) (local.get $k4)))
      (local.set $a (v128.load{{W}} (i32.add (local.get $w0) (local.get $c))))
      (local.set $b (v128.load{{W}} (i32.add (local.get $w1) (local.get $c))))
      (local.set $v (v128.load (i32.add (local.get $x0) (local.get $c))))
      (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $a) (local.get $v))))
      (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $b) (local.get $v))))
      (local.set $v (v128.load (i32.add (local.get $x1) (local.get $c))))
      (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $a) (local.get $v))))
      (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $b) (local.get $v))))
      (local.set $v (v128.load (i32.add (local.get $x2) (local.get $c))))
      (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $a) (local.get $v))))
      (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $b) (local.get $v))))
      (local.set $v (v128.load (i32.add (local.get $x3) (local.get $c))))
      (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $a) (local.get $v))))
      (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $b) (local.get $v))))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br $cols)))
    ;; token t: the vector sums, then its scalar tail, stored at y[t, r] and y[t, r+1]
    (block $tdone (loop $tokens
      (br_if $tdone (i32.ge_u (local.get $t) (i32.const 4)))
      (if (i32.eq (local.get $t) (i32.const 0)) (then
        (local.set $ra (call $hsum (local.get $a0))) (local.set $rb (call $hsum (local.get $b0)))))
      (if (i32.eq (local.get $t) (i32.const 1)) (then
        (local.set $ra (call $hsum (local.get $a1))) (local.set $rb (call $hsum (local.get $b1)))))
      (if (i32.eq (local.get $t) (i32.const 2)) (then
        (local.set $ra (call $hsum (local.get $a2))) (local.set $rb (call $hsum (local.get $b2)))))
      (if (i32.eq (local.get $t) (i32.const 3)) (then
        (local.set $ra (call $hsum (local.get $a3))) (local.set $rb (call $hsum (local.get $b3)))))
      (local.set $xi (i32.add (local.get $x0) (i32.shl (i32.mul (local.get $t) (local.get $k)) (i32.const 2))))
      (local.set $c (local.get $k4))
      (block $sdone (loop $scalar
        (br_if $sdone (i32.ge_u (local.get $c) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $xv (f32.load (i32.add (local.get $xi) (local.get $c))))
        (local.set $ra (f32.add (local.get $ra) (f32.mul (f32.load{{W}} (i32.add (local.get $w0) (local.get $c))) (local.get $xv))))
        (local.set $rb (f32.add (local.get $rb) (f32.mul (f32.load{{W}} (i32.add (local.get $w1) (local.get $c))) (local.get $xv))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $scalar)))
      (f32.store (i32.add (local.get $y) (i32.shl (i32.mul (local.get $t) (local.get $n)) (i32.const 2))) (local.get $ra))
      (f32.store offset=4 (i32.add (local.get $y) (i32.shl (i32.mul (local.get $t) (local.get $n)) (i32.const 2))) (local.get $rb))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $tokens))))

  ;; y [m, n] = W [n, k] · x [m, k]ᵀ for W rows [rowStart, rowEnd): 2×4 tiles where rows and
  ;; tokens allow, dot_f32 for the odd row and the last m % 4 tokens.
  (func (export "matmul_f32")
    (param $w i32) (param $x i32) (param $y i32)
    (param $k i32) (param $n i32) (param $m i32) (param $rowStart i32) (param $rowEnd i32)
    (local $row i32) (local $t i32) (local $wr i32) (local $m4 i32)
    (local.set $m4 (i32.and (local.get $m) (i32.const -4)))
    (local.set $row (local.get $rowStart))
    (block $done (loop $rows
      (br_if $done (i32.ge_u (local.get $row) (local.get $rowEnd)))
      (local.set $wr (i32.add (local.get $w) (i32.shl (i32.mul (local.get $row) (local.get $k)) (i32.const 2))))
      (local.set $t (i32.const 0))
      (if (i32.lt_u (i32.add (local.get $row) (i32.const 1)) (local.get $rowEnd)) (then
        ;; rows row, row+1: tiles of four tokens, then the rest one token at a time
        (block $tiled (loop $quads
          (br_if $tiled (i32.ge_u (local.get $t) (local.get $m4)))
          (call $tile_f32_2x4 (local.get $wr)
            (i32.add (local.get $x) (i32.shl (i32.mul (local.get $t) (local.get $k)) (i32.const 2)))
            (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $n)) (local.get $row)) (i32.const 2)))
            (local.get $k) (local.get $n))
          (local.set $t (i32.add (local.get $t) (i32.const 4)))
          (br $quads)))
        (block $rest (loop $singles
          (br_if $rest (i32.ge_u (local.get $t) (local.get $m)))
          (f32.store
            (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $n)) (local.get $row)) (i32.const 2)))
            (call $dot_f32 (local.get $wr)
              (i32.add (local.get $x) (i32.shl (i32.mul (local.get $t) (local.get $k)) (i32.const 2))) (local.get $k)))
          (f32.store offset=4
            (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $n)) (local.get $row)) (i32.const 2)))
            (call $dot_f32 (i32.add (local.get $wr) (i32.shl (local.get $k) (i32.const 2)))
              (i32.add (local.get $x) (i32.shl (i32.mul (local.get $t) (local.get $k)) (i32.const 2))) (local.get $k)))
          (local.set $t (i32.add (local.get $t) (i32.const 1)))
          (br $singles)))
        (local.set $row (i32.add (local.get $row) (i32.const 2)))
        (br $rows)))
      ;; the last, odd row
      (block $odd (loop $tokens
        (br_if $odd (i32.ge_u (local.get $t) (local.get $m)))
        (f32.store
          (i32.add (local.get $y) (i32.shl (i32.add (i32.mul (local.get $t) (local.get $n)) (local.get $row)) (i32.const 2)))
          (call $dot_f32 (local.get $wr)
            (i32.add (local.get $x) (i32.shl (i32.mul (local.get $t) (local.get $k)) (i32.const 2)))
            (local.get $k)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $tokens)))
      (local.set $row (i32.add (local.get $row) (i32.const 1)))
      (br $rows))))

  ;; ------------------------------------------------------------------------------------
  ;; Attention pieces for one query head (softmax runs in JS between them).

  ;; scores[t] = scale * q · key[t]   q f32[headDim], key rows every kvStride bytes, t < nPos.
  ;; Four positions at a time when headDim is a multiple of 8: q is loaded once for the four,
  ;; each position keeps $dot_f32's two accumulators and the four sums are reduced together
  ;; (a transpose, then (l0 + l1) + (l2 + l3) as $hsum), so every score has $dot_f32's bits.
  (func $attn_scores (export "attn_scores")
    (param $q i32) (param $key i32) (param $kvStride i32) (param $headDim i32) (param $nPos i32)
    (param $scores i32) (param $scale f32)
    (local $t i32) (local $i i32) (local $end i32) (local $k1 i32) (local $k2 i32) (local $k3 i32)
    (local $q0 v128) (local $q1 v128)
    (local $a0 v128) (local $b0 v128) (local $a1 v128) (local $b1 v128)
    (local $a2 v128) (local $b2 v128) (local $a3 v128) (local $b3 v128)
    (local $lo v128) (local $hi v128)
    (if (i32.eqz (i32.and (local.get $headDim) (i32.const 7)))
      (then
        (local.set $end (i32.shl (local.get $headDim) (i32.const 2)))
        (block $done4 (loop $pos4
          (br_if $done4 (i32.gt_u (i32.add (local.get $t) (i32.const 4)) (local.get $nPos)))
          (local.set $k1 (i32.add (local.get $key) (local.get $kvStride)))
          (local.set $k2 (i32.add (local.get $k1) (local.get $kvStride)))
          (local.set $k3 (i32.add (local.get $k2) (local.get $kvStride)))
          (local.set $a0 (v128.const i64x2 0 0)) (local.set $b0 (v128.const i64x2 0 0))
          (local.set $a1 (v128.const i64x2 0 0)) (local.set $b1 (v128.const i64x2 0 0))
          (local.set $a2 (v128.const i64x2 0 0)) (local.set $b2 (v128.const i64x2 0 0))
          (local.set $a3 (v128.const i64x2 0 0)) (local.set $b3 (v128.const i64x2 0 0))
          (local.set $i (i32.const 0))
          (block $vdone (loop $vec
            (br_if $vdone (i32.ge_u (local.get $i) (local.get $end)))
            (local.set $q0 (v128.load (i32.add (local.get $q) (local.get $i))))
            (local.set $q1 (v128.load offset=16 (i32.add (local.get $q) (local.get $i))))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $q0) (v128.load (i32.add (local.get $key) (local.get $i))))))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $q1) (v128.load offset=16 (i32.add (local.get $key) (local.get $i))))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $q0) (v128.load (i32.add (local.get $k1) (local.get $i))))))
            (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $q1) (v128.load offset=16 (i32.add (local.get $k1) (local.get $i))))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $q0) (v128.load (i32.add (local.get $k2) (local.get $i))))))
            (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $q1) (v128.load offset=16 (i32.add (local.get $k2) (local.get $i))))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $q0) (v128.load (i32.add (local.get $k3) (local.get $i))))))
            (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $q1) (v128.load offset=16 (i32.add (local.get $k3) (local.get $i))))))
            (local.set $i (i32.add (local.get $i) (i32.const 32)))
            (br $vec)))
          ;; per position s = a + b, then [s0_l, s1_l, s2_l, s3_l] for each lane l by a transpose
          (local.set $a0 (f32x4.add (local.get $a0) (local.get $b0)))
          (local.set $a1 (f32x4.add (local.get $a1) (local.get $b1)))
          (local.set $a2 (f32x4.add (local.get $a2) (local.get $b2)))
          (local.set $a3 (f32x4.add (local.get $a3) (local.get $b3)))
          ;; b0 = [s0.0 s1.0 s0.1 s1.1]  b1 = [s2.0 s3.0 s2.1 s3.1]  b2 = [s0.2 s1.2 s0.3 s1.3]  b3 = [s2.2 s3.2 s2.3 s3.3]
          (local.set $b0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a0) (local.get $a1)))
          (local.set $b1 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a2) (local.get $a3)))
          (local.set $b2 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a0) (local.get $a1)))
          (local.set $b3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a2) (local.get $a3)))
          ;; lo = lane 0 + lane 1 of each position, hi = lane 2 + lane 3
          (local.set $lo (f32x4.add
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $b0) (local.get $b1))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $b0) (local.get $b1))))
          (local.set $hi (f32x4.add
            (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $b2) (local.get $b3))
            (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $b2) (local.get $b3))))
          ;; + 0 as $dot_f32 adds its (empty) scalar tail, then the scale
          (v128.store (i32.add (local.get $scores) (i32.shl (local.get $t) (i32.const 2)))
            (f32x4.mul (f32x4.splat (local.get $scale))
              (f32x4.add (f32x4.add (local.get $lo) (local.get $hi)) (v128.const i64x2 0 0))))
          (local.set $key (i32.add (local.get $k3) (local.get $kvStride)))
          (local.set $t (i32.add (local.get $t) (i32.const 4)))
          (br $pos4)))))
    (block $done (loop $pos
      (br_if $done (i32.ge_u (local.get $t) (local.get $nPos)))
      (f32.store (i32.add (local.get $scores) (i32.shl (local.get $t) (i32.const 2)))
        (f32.mul (local.get $scale) (call $dot_f32 (local.get $q) (local.get $key) (local.get $headDim))))
      (local.set $key (i32.add (local.get $key) (local.get $kvStride)))
      (local.set $t (i32.add (local.get $t) (i32.const 1)))
      (br $pos))))

  ;; out[i] = Σ_t probs[t] * value[t][i]   out f32[headDim] (overwritten). Each 16-float slice
  ;; of out stays in four registers over every t (then 4-float slices, then single floats),
  ;; where a loop over t outside stored and reloaded all of out per position; every out[i] is
  ;; still 0 + p0·v0[i] + p1·v1[i] + … in t order, so the bits are the same.
  (func $attn_mix (export "attn_mix")
    (param $probs i32) (param $value i32) (param $kvStride i32) (param $headDim i32) (param $nPos i32)
    (param $out i32)
    (local $t i32) (local $c i32) (local $v i32) (local $pv v128) (local $end16 i32) (local $end4 i32) (local $end i32)
    (local $o0 v128) (local $o1 v128) (local $o2 v128) (local $o3 v128) (local $s f32)
    (local.set $end16 (i32.shl (i32.and (local.get $headDim) (i32.const -16)) (i32.const 2)))
    (local.set $end4 (i32.shl (i32.and (local.get $headDim) (i32.const -4)) (i32.const 2)))
    (local.set $end (i32.shl (local.get $headDim) (i32.const 2)))
    (block $d16 (loop $c16
      (br_if $d16 (i32.ge_u (local.get $c) (local.get $end16)))
      (local.set $o0 (v128.const i64x2 0 0)) (local.set $o1 (v128.const i64x2 0 0))
      (local.set $o2 (v128.const i64x2 0 0)) (local.set $o3 (v128.const i64x2 0 0))
      (local.set $v (i32.add (local.get $value) (local.get $c)))
      (local.set $t (i32.const 0))
      (block $tdone (loop $pos
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $nPos)))
        (local.set $pv (v128.load32_splat (i32.add (local.get $probs) (i32.shl (local.get $t) (i32.const 2)))))
        (local.set $o0 (f32x4.add (local.get $o0) (f32x4.mul (local.get $pv) (v128.load (local.get $v)))))
        (local.set $o1 (f32x4.add (local.get $o1) (f32x4.mul (local.get $pv) (v128.load offset=16 (local.get $v)))))
        (local.set $o2 (f32x4.add (local.get $o2) (f32x4.mul (local.get $pv) (v128.load offset=32 (local.get $v)))))
        (local.set $o3 (f32x4.add (local.get $o3) (f32x4.mul (local.get $pv) (v128.load offset=48 (local.get $v)))))
        (local.set $v (i32.add (local.get $v) (local.get $kvStride)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $pos)))
      (v128.store (i32.add (local.get $out) (local.get $c)) (local.get $o0))
      (v128.store offset=16 (i32.add (local.get $out) (local.get $c)) (local.get $o1))
      (v128.store offset=32 (i32.add (local.get $out) (local.get $c)) (local.get $o2))
      (v128.store offset=48 (i32.add (local.get $out) (local.get $c)) (local.get $o3))
      (local.set $c (i32.add (local.get $c) (i32.const 64)))
      (br $c16)))
    (block $d4 (loop $c4
      (br_if $d4 (i32.ge_u (local.get $c) (local.get $end4)))
      (local.set $o0 (v128.const i64x2 0 0))
      (local.set $v (i32.add (local.get $value) (local.get $c)))
      (local.set $t (i32.const 0))
      (block $tdone (loop $pos
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $nPos)))
        (local.set $o0 (f32x4.add (local.get $o0) (f32x4.mul
          (v128.load32_splat (i32.add (local.get $probs) (i32.shl (local.get $t) (i32.const 2))))
          (v128.load (local.get $v)))))
        (local.set $v (i32.add (local.get $v) (local.get $kvStride)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $pos)))
      (v128.store (i32.add (local.get $out) (local.get $c)) (local.get $o0))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br $c4)))
    (block $d1 (loop $c1
      (br_if $d1 (i32.ge_u (local.get $c) (local.get $end)))
      (local.set $s (f32.const 0))
      (local.set $v (i32.add (local.get $value) (local.get $c)))
      (local.set $t (i32.const 0))
      (block $tdone (loop $pos
        (br_if $tdone (i32.ge_u (local.get $t) (local.get $nPos)))
        (local.set $s (f32.add (local.get $s) (f32.mul
          (f32.load (i32.add (local.get $probs) (i32.shl (local.get $t) (i32.const 2))))
          (f32.load (local.get $v)))))
        (local.set $v (i32.add (local.get $v) (local.get $kvStride)))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $pos)))
      (f32.store (i32.add (local.get $out) (local.get $c)) (local.get $s))
      (local.set $c (i32.add (local.get $c) (i32.const 4)))
      (br $c1))))

  ;; ------------------------------------------------------------------------------------
  ;; SwiGLU: out[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + exp(-g)); any n (tail lanes
  ;; one at a time through the same vector code). exp is Cephes' expf: x = n·ln2 + r with
  ;; |r| ≤ ln2/2, a degree-6 polynomial for e^r, 2^n through the exponent bits. Relative
  ;; error ≤ 2 ulp of f32 over the clamped range [-87.3, 88.3] (kernels.test.ts measures it
  ;; against Math.exp); beyond it silu is x or 0 to within f32.

  (func $exp4 (param $x v128) (result v128)
    (local $fx v128) (local $z v128) (local $y v128)
    (local.set $x (f32x4.min (f32x4.max (local.get $x) (f32x4.splat (f32.const -87.3))) (f32x4.splat (f32.const 88.3))))
    (local.set $fx (f32x4.nearest (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504088896341)))))
    (local.set $x (f32x4.sub (f32x4.sub (local.get $x)
      (f32x4.mul (local.get $fx) (f32x4.splat (f32.const 0.693359375))))
      (f32x4.mul (local.get $fx) (f32x4.splat (f32.const -2.12194440e-4)))))
    (local.set $z (f32x4.mul (local.get $x) (local.get $x)))
    (local.set $y (f32x4.splat (f32.const 1.9875691500e-4)))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $x)) (f32x4.splat (f32.const 1.3981999507e-3))))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $x)) (f32x4.splat (f32.const 8.3334519073e-3))))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $x)) (f32x4.splat (f32.const 4.1665795894e-2))))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $x)) (f32x4.splat (f32.const 1.6666665459e-1))))
    (local.set $y (f32x4.add (f32x4.mul (local.get $y) (local.get $x)) (f32x4.splat (f32.const 5.0000001201e-1))))
    (local.set $y (f32x4.add (f32x4.add (f32x4.mul (local.get $y) (local.get $z)) (local.get $x)) (f32x4.splat (f32.const 1))))
    ;; y · 2^fx: fx is an integer in [-126, 127], so (fx + 127) << 23 is a normal float's bits
    (f32x4.mul (local.get $y)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $fx)) (i32x4.splat (i32.const 127))) (i32.const 23))))

  (func $swiglu4 (param $g v128) (param $u v128) (result v128)
    (f32x4.mul
      (f32x4.div (local.get $g) (f32x4.add (f32x4.splat (f32.const 1)) (call $exp4 (f32x4.neg (local.get $g)))))
      (local.get $u)))

  ;; out f32[n] = silu(gate f32[n]) * up f32[n]; out may alias gate.
  (func (export "swiglu") (param $gate i32) (param $up i32) (param $out i32) (param $n i32)
    (local $i i32) (local $end4 i32)
    (local.set $end4 (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2)))
    (local.set $n (i32.shl (local.get $n) (i32.const 2)))
    (block $vdone (loop $vec
      (br_if $vdone (i32.ge_u (local.get $i) (local.get $end4)))
      (v128.store (i32.add (local.get $out) (local.get $i))
        (call $swiglu4 (v128.load (i32.add (local.get $gate) (local.get $i))) (v128.load (i32.add (local.get $up) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $vec)))
    (block $sdone (loop $scalar
      (br_if $sdone (i32.ge_u (local.get $i) (local.get $n)))
      (f32.store (i32.add (local.get $out) (local.get $i))
        (f32x4.extract_lane 0 (call $swiglu4
          (f32x4.splat (f32.load (i32.add (local.get $gate) (local.get $i))))
          (f32x4.splat (f32.load (i32.add (local.get $up) (local.get $i)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $scalar))))

  ;; ------------------------------------------------------------------------------------
  ;; Attention of one token for query heads [hStart, hEnd): scores → softmax → mix per head,
  ;; a row kernel so the thread pool splits heads. Head h's scratch is the row
  ;; scores + h * scoreStride bytes (fixed per head, whatever nPos is: a head always goes to the
  ;; same thread, so the tokens of a batch never share a scratch row across threads).
  ;;   q f32[heads * headDim] (rotated)   key/value: the layer's cache, rows of kvHeads*headDim
  ;;   out f32[heads * headDim]           dims = headDim | headsPerKv << 12 | kvHeads << 22
  ;; scale = 1/sqrt(headDim) rounded from f64, as the JS caller computed it.

  (func $softmax (param $x i32) (param $n i32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $max f32) (local $maxv v128) (local $sum f32) (local $e v128) (local $sumv v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $end4 (i32.add (local.get $x) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $max (f32.const -inf))
    (local.set $i (local.get $x))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $max (f32.max (local.get $max) (f32.load (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l1)))
    (local.set $maxv (f32x4.splat (local.get $max)))
    (local.set $i (local.get $x))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $i) (local.get $end4)))
      (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $i)) (local.get $maxv))))
      (v128.store (local.get $i) (local.get $e))
      (local.set $sum (f32.add (local.get $sum) (call $hsum (local.get $e))))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l2)))
    (block $d3 (loop $l3
      (br_if $d3 (i32.ge_u (local.get $i) (local.get $end)))
      (local.set $e (call $exp4 (f32x4.splat (f32.sub (f32.load (local.get $i)) (local.get $max)))))
      (f32.store (local.get $i) (f32x4.extract_lane 0 (local.get $e)))
      (local.set $sum (f32.add (local.get $sum) (f32x4.extract_lane 0 (local.get $e))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l3)))
    ;; ÷ sum, four lanes at a time (the same division per lane), then the tail
    (local.set $sumv (f32x4.splat (local.get $sum)))
    (local.set $i (local.get $x))
    (block $d4v (loop $l4v
      (br_if $d4v (i32.ge_u (local.get $i) (local.get $end4)))
      (v128.store (local.get $i) (f32x4.div (v128.load (local.get $i)) (local.get $sumv)))
      (local.set $i (i32.add (local.get $i) (i32.const 16)))
      (br $l4v)))
    (block $d4 (loop $l4
      (br_if $d4 (i32.ge_u (local.get $i) (local.get $end)))
      (f32.store (local.get $i) (f32.div (f32.load (local.get $i)) (local.get $sum)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l4))))

  (func (export "attn_heads")
    (param $q i32) (param $key i32) (param $value i32) (param $out i32) (param $scores i32)
    (param $dims i32) (param $nPos i32) (param $scoreStride i32) (param $hStart i32) (param $hEnd i32)
    (local $h i32) (local $headDim i32) (local $headsPerKv i32) (local $kvHeads i32) (local $kvStride i32) (local $kvCol i32)
    (local $headBytes i32) (local $scale f32) (local $sc i32)
    (local.set $headDim (i32.and (local.get $dims) (i32.const 0xfff)))
    (local.set $headsPerKv (i32.and (i32.shr_u (local.get $dims) (i32.const 12)) (i32.const 0x3ff)))
    (local.set $kvHeads (i32.shr_u (local.get $dims) (i32.const 22)))
    (local.set $headBytes (i32.shl (local.get $headDim) (i32.const 2)))
    (local.set $kvStride (i32.mul (local.get $kvHeads) (local.get $headBytes)))
    (local.set $scale (f32.demote_f64 (f64.div (f64.const 1) (f64.sqrt (f64.convert_i32_u (local.get $headDim))))))
    (local.set $h (local.get $hStart))
    (block $done (loop $heads
      (br_if $done (i32.ge_u (local.get $h) (local.get $hEnd)))
      (local.set $kvCol (i32.mul (i32.div_u (local.get $h) (local.get $headsPerKv)) (local.get $headBytes)))
      (local.set $sc (i32.add (local.get $scores) (i32.mul (local.get $h) (local.get $scoreStride))))
      (call $attn_scores (i32.add (local.get $q) (i32.mul (local.get $h) (local.get $headBytes)))
        (i32.add (local.get $key) (local.get $kvCol)) (local.get $kvStride) (local.get $headDim) (local.get $nPos)
        (local.get $sc) (local.get $scale))
      (call $softmax (local.get $sc) (local.get $nPos))
      (call $attn_mix (local.get $sc) (i32.add (local.get $value) (local.get $kvCol)) (local.get $kvStride)
        (local.get $headDim) (local.get $nPos) (i32.add (local.get $out) (i32.mul (local.get $h) (local.get $headBytes))))
      (local.set $h (i32.add (local.get $h) (i32.const 1)))
      (br $heads))))
)
