import { describe, expect, it } from 'vitest';
import { fillNormal, mulberry32, randomModelWeights, tinyMoeSpec } from '../model/random.ts';
import { dequantizeModel } from '../runtime/cpu/model-f32.ts';
import { matmulRowsBackward } from './backward.ts';
import { withRouters } from './evaluate.ts';
import { routerLossAndGradients, trainRouters } from './train.ts';

/**
 * The forward runs in f32 (loss ≈ 4.6, f32 rounding ≈ 5e-7 absolute); a central difference with
 * step 1e-2 along a unit-norm direction then carries ≈ 1e-4 of noise plus O(h²) truncation:
 * directional derivatives must agree to 2% of their size or 5e-4, whichever is larger.
 */
const FD_STEP = 1e-2;
const FD_RELATIVE_TOLERANCE = 0.02;
const FD_ABSOLUTE_TOLERANCE = 5e-4;

/** Same products, summed in a different order (f32 stores): rounding only. */
const BACKWARD_MATMUL_ATOL = 1e-5;

describe('matmulRowsBackward', () => {
  it.each([1, 2, 5])('adds dyᵀ-weighted rows of W for %s rows (the transpose of matmulRows)', (nRows) => {
    const uniform = mulberry32(nRows);
    const [n, k] = [7, 5];
    const W = fillNormal(new Float32Array(n * k), uniform, 1);
    const dy = fillNormal(new Float32Array(nRows * n), uniform, 1);
    const dx = fillNormal(new Float32Array(nRows * k), uniform, 1);
    const expected = Float64Array.from(dx);
    for (let t = 0; t < nRows; t++)
      for (let c = 0; c < k; c++) for (let r = 0; r < n; r++) expected[t * k + c] += dy[t * n + r] * W[r * k + c];
    matmulRowsBackward(dx, dy, W, nRows, n, k);
    for (let i = 0; i < dx.length; i++) expect(Math.abs(dx[i] - expected[i])).toBeLessThan(BACKWARD_MATMUL_ATOL);
  });
});

describe('routerLossAndGradients', () => {
  const model = dequantizeModel(randomModelWeights(tinyMoeSpec({ layers: 3 }), 21));
  const uniform = mulberry32(4);
  const window = { expert: 1, tokens: Array.from({ length: 10 }, () => Math.floor(uniform() * model.spec.vocab)) };
  const routers = model.layers.map((l) => l.moe!.router);

  it.each([0, 0.3])('matches central finite differences along random directions (labelWeight %s)', (labelWeight) => {
    const { grads } = routerLossAndGradients(model, window, labelWeight);
    for (let layer = 0; layer < routers.length; layer++) {
      for (let trial = 0; trial < 3; trial++) {
        const direction = fillNormal(new Float32Array(routers[layer].length), uniform, 1);
        const norm = Math.hypot(...direction);
        for (let i = 0; i < direction.length; i++) direction[i] /= norm;
        const lossAt = (h: number) => {
          const moved = routers[layer].map((w, i) => w + h * direction[i]);
          return routerLossAndGradients(withRouters(model, { [layer]: moved }), window, labelWeight).loss;
        };
        const numeric = (lossAt(FD_STEP) - lossAt(-FD_STEP)) / (2 * FD_STEP);
        const analytic = grads[layer].reduce((s, g, i) => s + g * direction[i], 0);
        expect(Math.abs(numeric - analytic), `layer ${layer}: numeric ${numeric}, analytic ${analytic}`).toBeLessThan(
          Math.max(FD_ABSOLUTE_TOLERANCE, FD_RELATIVE_TOLERANCE * Math.abs(analytic)),
        );
      }
    }
  });

  it('training lowers the loss of the windows it sees', async () => {
    const windows = [window, { expert: 0, tokens: window.tokens.slice().reverse() }];
    const before = windows.reduce((s, w) => s + routerLossAndGradients(model, w, 0.3).loss, 0);
    const trained = await trainRouters(model, windows, routers, { steps: 20, learningRate: 3e-2 });
    const after = windows.reduce((s, w) => s + routerLossAndGradients(withRouters(model, trained), w, 0.3).loss, 0);
    expect(after).toBeLessThan(before);
  });
});
