/**
 * allclose for tests that compare a fast path (or a second route through the reference)
 * with the CPU reference: |actual − expected| ≤ atol + rtol·|expected| element-wise, with
 * the worst mismatch named in the failure message (STYLE habit 12).
 */
export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface AllcloseReport {
  ok: boolean;
  worstIndex: number;
  worstError: number;
  message: string;
}

export function allclose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
  label = 'values',
): AllcloseReport {
  if (actual.length !== expected.length) {
    return {
      ok: false,
      worstIndex: -1,
      worstError: Infinity,
      message: `${label}: length ${actual.length} != ${expected.length}`,
    };
  }
  let worstIndex = -1;
  let worstExcess = -Infinity;
  let worstError = 0;
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    const excess = Number.isNaN(error) ? Infinity : error - (tolerance.atol + tolerance.rtol * Math.abs(expected[i]));
    if (excess > worstExcess) {
      worstExcess = excess;
      worstIndex = i;
      worstError = error;
    }
  }
  const ok = actual.length === 0 || worstExcess <= 0;
  const where = worstIndex >= 0 ? ` at [${worstIndex}]: ${actual[worstIndex]} vs ${expected[worstIndex]}` : '';
  return {
    ok,
    worstIndex,
    worstError,
    message: `${label}: worst |error| ${worstError.toExponential(3)}${where} (atol ${tolerance.atol}, rtol ${tolerance.rtol})`,
  };
}

/** Throws (with the worst mismatch) unless allclose. For use inside `it(...)`. */
export function assertAllclose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance: Tolerance,
  label = 'values',
): void {
  const report = allclose(actual, expected, tolerance, label);
  if (!report.ok) throw new Error(`not allclose: ${report.message}`);
}
