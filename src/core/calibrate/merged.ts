/**
 * Router calibration of a merged model, for hosts (the CLI's --calibrate, the merge worker's
 * Compose step): texts → windows → calibrateRouters on the f32 MoE → the calibrated gate rows
 * G that runMerge writes instead of the gate_mode's, plus the record the model card and the
 * YAML copy carry (method, data sha256), and before/after routing on the same windows.
 */
import { ConfigError } from '../errors.ts';
import type { ModelWeights } from '../model/weights.ts';
import { dequantizeModel } from '../runtime/cpu/model-f32.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import {
  calibrateRouters,
  DEFAULT_LM_LOSS_STEPS,
  type CalibrationMethod,
  type CalibrationProgress,
} from './calibrate.ts';
import { evaluateRouting, withRouters, type RoutingEvaluation } from './evaluate.ts';
import {
  calibrationDataSha256,
  checkCalibrationTexts,
  tokenizeCalibrationTexts,
  type CalibrationText,
  type WindowOptions,
} from './texts.ts';

/** The shipped default, chosen by measurement (docs/merge.md "Router calibration"). */
export const DEFAULT_CALIBRATION = {
  method: 'output-match' as CalibrationMethod,
  fitScale: false,
  logitScale: 1,
  windowTokens: 64,
  windowing: 'packed' as CalibrationWindowing,
  /** Packed: 60 windows of 64 an expert, the token count the per-text default had. */
  tokensPerExpert: 3840,
  /** Per-text: the first window of each text. */
  windowsPerText: 1,
};

/**
 * How texts become windows: 'packed' joins each expert's texts into one stream cut at fixed
 * strides (texts.ts WindowOptions.packed); 'per-text' starts a window at each text's BOS.
 */
export type CalibrationWindowing = 'packed' | 'per-text';
export const CALIBRATION_WINDOWINGS: readonly CalibrationWindowing[] = ['packed', 'per-text'];

export interface CalibrateMergeOptions {
  windowTokens?: number;
  windowing?: CalibrationWindowing;
  /** 'packed': tokens an expert (default DEFAULT_CALIBRATION.tokensPerExpert). */
  tokensPerExpert?: number;
  /** 'per-text': windows a text (default 1). */
  windowsPerText?: number;
  method?: CalibrationMethod;
  fitScale?: boolean;
  logitScale?: number;
  /** 'lm-loss' training steps (calibrateRouters' default when absent). */
  steps?: number;
  /** Also score routing before and after on the calibration windows (one more forward each). */
  evaluate?: boolean;
  onProgress?: (p: CalibrationProgress | { phase: 'evaluate'; done: number; total: number }) => void;
  signal?: AbortSignal;
}

/** What was done, for the model card, the YAML comment and the library's "router calibrated" badge. */
export interface CalibrationRecord {
  method: CalibrationMethod;
  fitScale: boolean;
  logitScale: number;
  /** 'lm-loss' training steps; absent for the other methods. */
  steps?: number;
  windowTokens: number;
  /** Absent in records written before packing existed: those were per-text. */
  windowing?: CalibrationWindowing;
  /** 'packed' only. */
  tokensPerExpert?: number;
  windowsPerText: number;
  texts: number;
  tokens: number;
  dataSha256: string; // calibrationDataSha256 of the texts
}

export interface CalibratedMerge {
  routers: Float32Array[]; // [layers] × [experts, hidden]
  record: CalibrationRecord;
  /** Routing on the calibration windows with the merged gates and with the calibrated ones (evaluate: true). */
  before?: RoutingEvaluation;
  after?: RoutingEvaluation;
}

/** Fits the routers of a merged MoE (weights as loaded) to labelled texts. */
export async function calibrateMergedModel(
  weights: ModelWeights,
  tokenizer: Tokenizer,
  texts: CalibrationText[],
  options: CalibrateMergeOptions = {},
): Promise<CalibratedMerge> {
  const experts = weights.spec.moe?.experts;
  if (experts === undefined) throw new ConfigError('calibrate: the merged model has no MoE layers');
  checkCalibrationTexts(texts, experts);
  const windowTokens = options.windowTokens ?? DEFAULT_CALIBRATION.windowTokens;
  const windowing = options.windowing ?? DEFAULT_CALIBRATION.windowing;
  const windowsPerText = options.windowsPerText ?? DEFAULT_CALIBRATION.windowsPerText;
  const tokensPerExpert =
    windowing === 'packed' ? (options.tokensPerExpert ?? DEFAULT_CALIBRATION.tokensPerExpert) : undefined;
  if (windowing === 'packed' && options.windowsPerText !== undefined)
    throw new ConfigError('calibrate: windowsPerText applies to per-text windows, not packed ones');
  if (windowing === 'per-text' && options.tokensPerExpert !== undefined)
    throw new ConfigError('calibrate: tokensPerExpert applies to packed windows, not per-text ones');
  const windows: WindowOptions = {
    windowTokens,
    windowsPerText,
    packed: tokensPerExpert ? { tokensPerExpert } : undefined,
  };
  const sequences = tokenizeCalibrationTexts(tokenizer, texts, windows);
  const model = dequantizeModel(weights);
  const method = options.method ?? DEFAULT_CALIBRATION.method;
  const fitScale = options.fitScale ?? DEFAULT_CALIBRATION.fitScale;
  const logitScale = options.logitScale ?? DEFAULT_CALIBRATION.logitScale;
  const onWindow = (done: number, total: number) => options.onProgress?.({ phase: 'evaluate', done, total });
  const before = options.evaluate ? await evaluateRouting(model, sequences, onWindow) : undefined;
  const fitted = await calibrateRouters(model, sequences, {
    method,
    fitScale,
    logitScale,
    steps: options.steps,
    onProgress: options.onProgress,
    signal: options.signal,
  });
  const after = options.evaluate
    ? await evaluateRouting(withRouters(model, fitted.routers), sequences, onWindow)
    : undefined;
  const record: CalibrationRecord = {
    method,
    fitScale,
    logitScale,
    windowTokens,
    windowing,
    ...(tokensPerExpert ? { tokensPerExpert } : {}),
    windowsPerText,
    texts: texts.length,
    tokens: fitted.tokens,
    dataSha256: calibrationDataSha256(texts),
  };
  if (method === 'lm-loss') record.steps = options.steps ?? DEFAULT_LM_LOSS_STEPS;
  return { routers: fitted.routers, record, before, after };
}

/** The window options a record's calibration ran with (the same windows score its before/after). */
export function recordWindowOptions(r: CalibrationRecord): WindowOptions {
  return {
    windowTokens: r.windowTokens,
    windowsPerText: r.windowsPerText,
    packed: r.windowing === 'packed' && r.tokensPerExpert ? { tokensPerExpert: r.tokensPerExpert } : undefined,
  };
}

function describeWindows(r: CalibrationRecord): string {
  return r.windowing === 'packed'
    ? `packed windows of ${r.windowTokens} (at most ${r.tokensPerExpert} tokens an expert)`
    : `windows of ${r.windowTokens}, ${r.windowsPerText} per text`;
}

/**
 * G with each layer's first `experts` rows replaced by the calibrated router (rows after them,
 * e.g. Qwen2-MoE's shared-expert gate, are kept). gates // [layers] × [gateRows, hidden]
 */
export function calibratedGates(gates: Float32Array[], routers: Float32Array[]): Float32Array[] {
  if (gates.length !== routers.length)
    throw new ConfigError(`calibrate: ${routers.length} calibrated routers for ${gates.length} gate layers`);
  return gates.map((g, l) => {
    if (routers[l].length > g.length)
      throw new ConfigError(`calibrate: layer ${l} router is larger than its gate rows`);
    const out = Float32Array.from(g);
    out.set(routers[l]);
    return out;
  });
}

/**
 * `weights` with every MoE layer's router replaced by the calibrated one (f32), for chatting with
 * the calibrated model without rebuilding it. routers // [layers] × [experts, hidden]
 */
export function withCalibratedRouters(weights: ModelWeights, routers: Float32Array[]): ModelWeights {
  const layers = weights.layers.map((layer, l) => {
    if (!layer.moe) return layer;
    const router = routers[l];
    const shape = layer.moe.router.shape;
    if (!router || router.length !== shape[0] * shape[1])
      throw new ConfigError(
        `calibrate: layer ${l} router has ${router?.length ?? 0} values, expected ${shape.join('×')}`,
      );
    const data = new Uint8Array(Float32Array.from(router).buffer);
    return {
      ...layer,
      moe: { ...layer.moe, router: { name: layer.moe.router.name, dtype: 'f32' as const, shape, data } },
    };
  });
  return { ...weights, layers };
}

/** One line for the YAML copy (a comment, so mergekit still loads the file unchanged). */
export function calibrationYamlComment(r: CalibrationRecord): string {
  return `# moe-studio: router calibrated (${describeCalibration(r)}); the gate tensors differ from what mergekit computes for this file\n`;
}

export function describeCalibration(r: CalibrationRecord): string {
  const scale = `${r.fitScale ? 'fitted logit scale' : 'no fitted scale'}${r.logitScale !== 1 ? ` ×${r.logitScale}` : ''}`;
  return `method ${r.method}${r.steps ? ` (${r.steps} steps)` : ''}, ${scale}, ${r.texts} texts, ${r.tokens} tokens in ${describeWindows(r)}, data sha256 ${r.dataSha256}`;
}

/** The model card section the merge writes into README.md. */
export function calibrationModelCard(r: CalibrationRecord): string {
  return [
    '## Router calibration',
    '',
    'The router (gate) weights of every MoE layer were fitted by MoE Studio to labelled example texts, layer by',
    "layer on the MoE's own forward pass (src/core/calibrate), replacing the gates mergekit would compute.",
    '',
    `- method: ${r.method}${r.steps ? ` (${r.steps} training steps)` : ''}${r.fitScale ? ', fitted logit scale' : ''}${r.logitScale !== 1 ? `, logit scale ×${r.logitScale}` : ''}`,
    `- data: ${r.texts} texts, ${r.tokens} tokens (${describeWindows(r)})`,
    `- data sha256 (canonical JSONL): ${r.dataSha256}`,
    '',
  ].join('\n');
}
