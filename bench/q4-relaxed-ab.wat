;; bench/q4-relaxed-ab.ts's two q4_0 decode kernels over 4-row groups (one thread, no pool):
;;   old: the engine's kernels.wat dot4_q4 until 2026-12-07 (q16 activations, eight u16 lanes of four signed
;;        nibbles, 3 shl + 4 shr_s + 4 dot_i16x8_s a row-block);
;;   new: 8-bit activations and unsigned nibbles in ggml's order (byte j = elements j, j+16), two
;;        i16x8.relaxed_dot_i8x16_i7x16_s a row-block (x64: one pmaddubsw each; the nibble is
;;        the 7-bit operand, so the result is deterministic) and 8·Σx subtracted per block.
;; Both: y[4g..4g+3] for `groups` groups of rows; weights 64 bytes and scales 16 a group-block.
(module
  (memory (export "memory") 4096)
  ;; old: current layout, dot4_q4 over one 4-row group: w0 (64 bytes per block), s0 (16 bytes per block), xq i16, xs f32
  (func $hsum4 (param $d0 v128) (param $d1 v128) (param $d2 v128) (param $d3 v128) (result v128)
    (local.set $d0 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d1)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d1))))
    (local.set $d2 (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d2) (local.get $d3)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d2) (local.get $d3))))
    (i32x4.add (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $d0) (local.get $d2)) (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $d0) (local.get $d2))))
  (func $blk_old (param $raw v128) (param $x0 v128) (param $x1 v128) (param $x2 v128) (param $x3 v128) (result v128)
    (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 12)) (i32.const 12)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 8)) (i32.const 12)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 4)) (i32.const 12)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $raw) (i32.const 12)) (local.get $x3)))))
  (func (export "old") (param $w i32) (param $s i32) (param $xq0 i32) (param $xs0 i32) (param $nBlocks i32) (param $groups i32) (param $y i32)
    (local $xq i32) (local $xs i32) (local $end i32) (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $acc v128) (local $g i32) (local $raw v128)
    (loop $grp
      (local.set $xq (local.get $xq0)) (local.set $xs (local.get $xs0))
      (local.set $end (i32.add (local.get $xs0) (i32.shl (local.get $nBlocks) (i32.const 2))))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (block $done (loop $blocks
        (br_if $done (i32.ge_u (local.get $xs) (local.get $end)))
        (local.set $x0 (v128.load (local.get $xq)))
        (local.set $x1 (v128.load offset=16 (local.get $xq)))
        (local.set $x2 (v128.load offset=32 (local.get $xq)))
        (local.set $x3 (v128.load offset=48 (local.get $xq)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.convert_i32x4_s
          (call $hsum4
            (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.tee $raw (v128.load offset=0 (local.get $w))) (i32.const 12)) (i32.const 12)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 8)) (i32.const 12)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 4)) (i32.const 12)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $raw) (i32.const 12)) (local.get $x3))))
            (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.tee $raw (v128.load offset=16 (local.get $w))) (i32.const 12)) (i32.const 12)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 8)) (i32.const 12)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 4)) (i32.const 12)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $raw) (i32.const 12)) (local.get $x3))))
            (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.tee $raw (v128.load offset=32 (local.get $w))) (i32.const 12)) (i32.const 12)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 8)) (i32.const 12)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 4)) (i32.const 12)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $raw) (i32.const 12)) (local.get $x3))))
            (i32x4.add
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.tee $raw (v128.load offset=48 (local.get $w))) (i32.const 12)) (i32.const 12)) (local.get $x0))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 8)) (i32.const 12)) (local.get $x1)))
        (i32x4.add (i32x4.dot_i16x8_s (i16x8.shr_s (i16x8.shl (local.get $raw) (i32.const 4)) (i32.const 12)) (local.get $x2))
                   (i32x4.dot_i16x8_s (i16x8.shr_s (local.get $raw) (i32.const 12)) (local.get $x3))))))
          (f32x4.mul (v128.load32_splat (local.get $xs)) (v128.load (local.get $s))))))
        (local.set $w (i32.add (local.get $w) (i32.const 64)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (local.set $xq (i32.add (local.get $xq) (i32.const 64)))
        (local.set $xs (i32.add (local.get $xs) (i32.const 4)))
        (br $blocks)))
      (v128.store (local.get $y) (local.get $acc))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br_if $grp (i32.lt_u (local.get $g) (local.get $groups)))))

  ;; new: unsigned nibbles, byte j = elem j | elem j+16 << 4; x i8 [32 per block], xs f32, xsum8 i32 (8·Σx per block)
  (func $blk_new (param $raw v128) (param $xlo v128) (param $xhi v128) (result v128)
    (i32x4.dot_i16x8_s
      (i16x8.add
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xlo) (v128.and (local.get $raw) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)))
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xhi) (v128.and (i16x8.shr_u (local.get $raw) (i32.const 4)) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))))
      (v128.const i16x8 1 1 1 1 1 1 1 1)))
  (func (export "new") (param $w i32) (param $s i32) (param $xq0 i32) (param $xs0 i32) (param $nBlocks i32) (param $groups i32) (param $y i32) (param $xsum0 i32)
    (local $xq i32) (local $xs i32) (local $xsum i32) (local $end i32) (local $xlo v128) (local $xhi v128) (local $acc v128) (local $g i32) (local $raw v128) (local $mask v128) (local $ones v128)
    (local.set $mask (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)) (local.set $ones (v128.const i16x8 1 1 1 1 1 1 1 1))
    (loop $grp
      (local.set $xq (local.get $xq0)) (local.set $xs (local.get $xs0)) (local.set $xsum (local.get $xsum0))
      (local.set $end (i32.add (local.get $xs0) (i32.shl (local.get $nBlocks) (i32.const 2))))
      (local.set $acc (v128.const i32x4 0 0 0 0))
      (block $done (loop $blocks
        (br_if $done (i32.ge_u (local.get $xs) (local.get $end)))
        (local.set $xlo (v128.load (local.get $xq)))
        (local.set $xhi (v128.load offset=16 (local.get $xq)))
        (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (f32x4.convert_i32x4_s
          (i32x4.sub (call $hsum4
            (i32x4.dot_i16x8_s
      (i16x8.add
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xlo) (v128.and (local.tee $raw (v128.load offset=0 (local.get $w))) (local.get $mask)))
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xhi) (v128.and (i16x8.shr_u (local.get $raw) (i32.const 4)) (local.get $mask))))
      (local.get $ones))
            (i32x4.dot_i16x8_s
      (i16x8.add
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xlo) (v128.and (local.tee $raw (v128.load offset=16 (local.get $w))) (local.get $mask)))
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xhi) (v128.and (i16x8.shr_u (local.get $raw) (i32.const 4)) (local.get $mask))))
      (local.get $ones))
            (i32x4.dot_i16x8_s
      (i16x8.add
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xlo) (v128.and (local.tee $raw (v128.load offset=32 (local.get $w))) (local.get $mask)))
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xhi) (v128.and (i16x8.shr_u (local.get $raw) (i32.const 4)) (local.get $mask))))
      (local.get $ones))
            (i32x4.dot_i16x8_s
      (i16x8.add
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xlo) (v128.and (local.tee $raw (v128.load offset=48 (local.get $w))) (local.get $mask)))
        (i16x8.relaxed_dot_i8x16_i7x16_s (local.get $xhi) (v128.and (i16x8.shr_u (local.get $raw) (i32.const 4)) (local.get $mask))))
      (local.get $ones)))
            (v128.load32_splat (local.get $xsum))))
          (f32x4.mul (v128.load32_splat (local.get $xs)) (v128.load (local.get $s))))))
        (local.set $w (i32.add (local.get $w) (i32.const 64)))
        (local.set $s (i32.add (local.get $s) (i32.const 16)))
        (local.set $xq (i32.add (local.get $xq) (i32.const 32)))
        (local.set $xs (i32.add (local.get $xs) (i32.const 4)))
        (local.set $xsum (i32.add (local.get $xsum) (i32.const 4)))
        (br $blocks)))
      (v128.store (local.get $y) (local.get $acc))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br_if $grp (i32.lt_u (local.get $g) (local.get $groups)))))
)
