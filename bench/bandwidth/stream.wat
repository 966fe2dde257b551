;; STREAM-style memory bandwidth kernels for the decode roofline (bench/bandwidth.ts; never
;; part of the app). Decode reads every active weight once per token, so `read` (load and
;; add, nothing stored) is the roofline's bandwidth; `copy` (load and store) is STREAM's
;; classic figure, beside it. Both move 64 bytes a step in four v128 lanes, as the matmul
;; kernels read their four weight rows. Each thread runs its own slice [p, p + bytes).
(module
  (import "env" "memory" (memory 1 16384 shared))

  ;; Σ of the i32 lanes of [p, p + bytes) (bytes a multiple of 64): returned so no load is dead.
  (func (export "read") (param $p i32) (param $bytes i32) (result i32)
    (local $end i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128)
    (local.set $end (i32.add (local.get $p) (local.get $bytes)))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $a (i32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
        (local.set $b (i32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
        (local.set $c (i32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
        (local.set $d (i32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 64)))
        (br $step)))
    (local.set $a (i32x4.add (i32x4.add (local.get $a) (local.get $b)) (i32x4.add (local.get $c) (local.get $d))))
    (i32.add
      (i32.add (i32x4.extract_lane 0 (local.get $a)) (i32x4.extract_lane 1 (local.get $a)))
      (i32.add (i32x4.extract_lane 2 (local.get $a)) (i32x4.extract_lane 3 (local.get $a)))))

  ;; [dst, dst + bytes) = [src, src + bytes) (bytes a multiple of 64, no overlap).
  (func (export "copy") (param $dst i32) (param $src i32) (param $bytes i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $src) (local.get $bytes)))
    (block $done
      (loop $step
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (v128.store offset=0 (local.get $dst) (v128.load offset=0 (local.get $src)))
        (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $src)))
        (v128.store offset=32 (local.get $dst) (v128.load offset=32 (local.get $src)))
        (v128.store offset=48 (local.get $dst) (v128.load offset=48 (local.get $src)))
        (local.set $src (i32.add (local.get $src) (i32.const 64)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 64)))
        (br $step)))))
