/**
 * Upstream's two non-fatal warnings, with its wording (specs/mergekit-moe.md §4.8, §6.1).
 */

/** Eigenvalues of a symmetric n×n matrix (row-major), cyclic Jacobi. n is small (≤ experts+1). */
export function symmetricEigenvalues(a: Float64Array, n: number): number[] {
  const m = Float64Array.from(a);
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // rotate columns p, q
          const akp = m[k * n + p]!,
            akq = m[k * n + q]!;
          m[k * n + p] = c * akp - s * akq;
          m[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          // rotate rows p, q
          const apk = m[p * n + k]!,
            aqk = m[q * n + k]!;
          m[p * n + k] = c * apk - s * aqk;
          m[q * n + k] = s * apk + c * aqk;
        }
      }
    }
  }
  return Array.from({ length: n }, (_, i) => m[i * n + i]!);
}

/** torch.linalg.cond(G) in the 2-norm: σmax / σmin of an [rows, cols] matrix. */
export function conditionNumber(g: Float32Array, rows: number, cols: number): number {
  const transpose = rows > cols; // work with the smaller Gram matrix
  const n = transpose ? cols : rows;
  const gram = new Float64Array(n * n); // G Gᵀ [rows, rows] or Gᵀ G [cols, cols]
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let dot = 0;
      const len = transpose ? rows : cols;
      for (let k = 0; k < len; k++) {
        dot += transpose ? g[k * cols + i]! * g[k * cols + j]! : g[i * cols + k]! * g[j * cols + k]!;
      }
      gram[i * n + j] = dot;
      gram[j * n + i] = dot;
    }
  }
  const eig = symmetricEigenvalues(gram, n);
  const max = Math.max(...eig);
  const min = Math.min(...eig);
  if (!(min > 0)) return Infinity;
  return Math.sqrt(max / min);
}

export const DEGENERATE_COND_LIMIT = 5.0;

/** `layer 3`, `layers 3 and 7`, `ALL layers`, `layers 1, 2, and 5` (upstream's wording). */
export function describeLayers(layers: number[], totalLayers: number): string {
  // Upstream tests one, then two, then all: a 2-layer model with both bad says "layers 0 and 1".
  if (layers.length === 1) return `layer ${layers[0]}`;
  if (layers.length === 2) return `layers ${layers[0]} and ${layers[1]}`;
  if (layers.length >= totalLayers) return 'ALL layers';
  return `layers ${layers.slice(0, -1).join(', ')}, and ${layers[layers.length - 1]}`;
}

/** The degenerate-gate warning lines when cond₂(G_l) > 5 for some layer (never an error). */
export function degenerateGateWarnings(gates: Float32Array[], rows: number, hidden: number): string[] {
  const bad: number[] = [];
  gates.forEach((g, l) => {
    if (conditionNumber(g, rows, hidden) > DEGENERATE_COND_LIMIT) bad.push(l);
  });
  if (bad.length === 0) return [];
  const verb = bad.length === 1 ? 'has' : 'have';
  return [
    `${describeLayers(bad, gates.length)} ${verb} degenerate routing parameters - your prompts may be too similar.`,
    'One or more experts will be underutilized in your model.',
  ];
}

/** From the Mixtral, Qwen and Qwen3 writers (not DeepSeek). */
export function powerOfTwoWarning(experts: number): string | undefined {
  if (experts > 0 && (experts & (experts - 1)) === 0) return undefined;
  return `Your model has ${experts} experts, which is not a power of two. The model will not be usable in llama.cpp.`;
}
