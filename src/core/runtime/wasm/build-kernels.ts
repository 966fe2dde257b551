/**
 * Assembles kernels.wat into the committed binaries with wabt (a devDependency; never
 * loaded by the runtime): shared memory (threads) or plain memory, each with the q4_0 block
 * dot on relaxed SIMD or on plain SIMD; and the same four as "bank" builds, whose matmuls read
 * their weights from a second imported memory (multi-memory; kernels.wat's header). The WAT writes that dot as macros ({{U4CONST}},
 * {{XWIDEN $x}}, {{U4PREP $raw $w}}, {{U4DOTP $w $x}}, expanded here into each flavour's
 * instructions, inline, so the hot loops never depend on wasm inlining). Both flavours sum the
 * same exact integers, so they give the same bits. Pure: the caller supplies the WAT text.
 * `build-kernels.node.ts` writes kernels-wasm.ts; kernels.test.ts checks the committed base64
 * equals a fresh build.
 */
import wabtFactory from 'wabt';
import type { U4Flavour } from './kernels.ts';

export const WABT_FEATURES = {
  simd: true,
  relaxed_simd: true,
  threads: true,
  bulk_memory: true,
  sat_float_to_int: true,
  multi_memory: true,
} as const;

/** The exports a bank build keeps: only the matmuls read weights (kernels.wat's header). */
export const BANK_EXPORTS = ['matmul_q8', 'matmul_q4', 'matmul_f32'] as const;

export interface KernelBinaries {
  shared: Uint8Array; // memory imported as `shared` (SharedArrayBuffer, threads)
  unshared: Uint8Array; // plain memory (not cross-origin isolated)
  relaxedShared: Uint8Array; // the same with the q4_0 dot on relaxed SIMD
  relaxedUnshared: Uint8Array;
}

const U4_MACROS: Record<U4Flavour, Record<string, (a: string, b: string) => string>> = {
  // i16x8.relaxed_dot_i8x16_i7x16_s is one pmaddubsw on x64; the nibbles (0..15) are its
  // 7-bit operand, so the result is the same on every engine. Pair sums ≤ 2·15·127 fit i16.
  relaxed: {
    U4CONST: () =>
      '(local.set $mask (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15)) (local.set $ones (v128.const i16x8 1 1 1 1 1 1 1 1))',
    XWIDEN: () => '',
    U4PREP: (raw, w) =>
      `(local.set ${w}_lo (v128.and (local.get ${raw}) (local.get $mask))) (local.set ${w}_hi (v128.and (i16x8.shr_u (local.get ${raw}) (i32.const 4)) (local.get $mask)))`,
    U4DOTP: (w, x) =>
      `(i32x4.dot_i16x8_s (i16x8.add (i16x8.relaxed_dot_i8x16_i7x16_s (local.get ${x}_lo) (local.get ${w}_lo)) (i16x8.relaxed_dot_i8x16_i7x16_s (local.get ${x}_hi) (local.get ${w}_hi))) (local.get $ones))`,
  },
  // Plain SIMD: nibbles and activations widened to i16, then i32x4.dot_i16x8_s.
  plain: {
    U4CONST: () => '(local.set $mask (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))',
    XWIDEN: (x) =>
      [0, 1, 2, 3]
        .map(
          (i) =>
            `(local.set ${x}_${i} (i16x8.extend_${i % 2 ? 'high' : 'low'}_i8x16_s (local.get ${x}_${i < 2 ? 'lo' : 'hi'})))`,
        )
        .join(' '),
    U4PREP: (raw, w) =>
      `(local.set $u (v128.and (local.get ${raw}) (local.get $mask))) (local.set ${w}_0 (i16x8.extend_low_i8x16_u (local.get $u))) (local.set ${w}_1 (i16x8.extend_high_i8x16_u (local.get $u))) ` +
      `(local.set $u (v128.and (i16x8.shr_u (local.get ${raw}) (i32.const 4)) (local.get $mask))) (local.set ${w}_2 (i16x8.extend_low_i8x16_u (local.get $u))) (local.set ${w}_3 (i16x8.extend_high_i8x16_u (local.get $u)))`,
    U4DOTP: (w, x) =>
      `(i32x4.add (i32x4.add (i32x4.dot_i16x8_s (local.get ${w}_0) (local.get ${x}_0)) (i32x4.dot_i16x8_s (local.get ${w}_1) (local.get ${x}_1))) (i32x4.add (i32x4.dot_i16x8_s (local.get ${w}_2) (local.get ${x}_2)) (i32x4.dot_i16x8_s (local.get ${w}_3) (local.get ${x}_3))))`,
  },
};

/** The weight-memory macros: empty in the main build, the second memory in a bank build. */
const BANK_MACROS: Record<'main' | 'bank', Record<string, () => string>> = {
  main: { W: () => '', WEIGHTS_IMPORT: () => '' },
  bank: {
    W: () => ' $weights',
    WEIGHTS_IMPORT: () => '(import "env" "weights" (memory $weights 1 65536 __SHARED__))',
  },
};

/** kernels.wat with its {{MACRO a b}} lines expanded for one flavour of the q4_0 dot and one memory layout. */
export function expandU4Macros(watText: string, flavour: U4Flavour, memories: 'main' | 'bank' = 'main'): string {
  const expanded = watText.replace(/\{\{(\w+)((?: \$\w+)*)\}\}/g, (_, name: string, args: string) => {
    const bankMacro = BANK_MACROS[memories][name];
    if (bankMacro) return bankMacro();
    const macro = U4_MACROS[flavour][name];
    if (!macro) throw new Error(`kernels.wat: unknown macro {{${name}}}`);
    const [a = '', b = ''] = args.trim().split(/\s+/);
    return macro(a, b);
  });
  if (memories === 'main') return expanded;
  // A bank instance serves the matmuls alone: its other functions would read activations from
  // the weight memory, so they are not exported.
  return expanded.replace(/ \(export "(\w+)"\)/g, (whole, name: string) =>
    (BANK_EXPORTS as readonly string[]).includes(name) ? whole : '',
  );
}

/** WAT text → a wasm binary with the kernels' features (bench/bandwidth.ts assembles its stream kernels with it too). */
export async function assembleWat(watText: string, fileName: string): Promise<Uint8Array> {
  const wabt = await wabtFactory();
  const module = wabt.parseWat(fileName, watText, WABT_FEATURES);
  try {
    module.resolveNames();
    // wabt.d.ts omits validate()'s features argument; without it shared memory fails validation.
    (module.validate as (features: typeof WABT_FEATURES) => void)(WABT_FEATURES);
    const { buffer } = module.toBinary({ log: false, write_debug_names: false });
    return new Uint8Array(buffer);
  } finally {
    module.destroy();
  }
}

export async function buildKernels(watText: string, memories: 'main' | 'bank' = 'main'): Promise<KernelBinaries> {
  if (!watText.includes('__SHARED__')) throw new Error('kernels.wat: the memory import lost its __SHARED__ marker');
  const [plain, relaxed] = [expandU4Macros(watText, 'plain', memories), expandU4Macros(watText, 'relaxed', memories)];
  return {
    shared: await assembleWat(plain.replaceAll('__SHARED__', 'shared'), 'kernels.wat'),
    unshared: await assembleWat(plain.replaceAll('__SHARED__', ''), 'kernels.wat'),
    relaxedShared: await assembleWat(relaxed.replaceAll('__SHARED__', 'shared'), 'kernels.wat'),
    relaxedUnshared: await assembleWat(relaxed.replaceAll('__SHARED__', ''), 'kernels.wat'),
  };
}

function toBase64(bytes: Uint8Array): string {
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]!);
  return btoa(text);
}

/**
 * The generated module's source text (deterministic: same WAT → same text). The bank builds go
 * to their own module (prefix BANK_), loaded only by a session past one memory.
 */
export function kernelsModuleText(binaries: KernelBinaries, prefix: '' | 'BANK_' = ''): string {
  return [
    '// GENERATED by src/core/runtime/wasm/build-kernels.node.ts from kernels.wat — do not edit.',
    '// kernels.test.ts checks this file matches a fresh build (wabt 1.0.39).',
    `export const ${prefix}KERNELS_WASM_SHARED_BASE64 = '${toBase64(binaries.shared)}';`,
    `export const ${prefix}KERNELS_WASM_BASE64 = '${toBase64(binaries.unshared)}';`,
    `export const ${prefix}KERNELS_WASM_RELAXED_SHARED_BASE64 = '${toBase64(binaries.relaxedShared)}';`,
    `export const ${prefix}KERNELS_WASM_RELAXED_BASE64 = '${toBase64(binaries.relaxedUnshared)}';`,
    '',
  ].join('\n');
}
