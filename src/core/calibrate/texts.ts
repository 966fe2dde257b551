/**
 * Calibration texts: example texts labelled by the expert they belong to, as JSONL lines
 * `{"expert": <0-based index in the YAML's experts list>, "text": "..."}` (the CLI's
 * --calibrate file and the Compose step), checked against named limits before anything is
 * sized, then tokenized into windows (one label per window).
 */
import { ConfigError } from '../errors.ts';
import { sha256Hex } from '../io/sha256.ts';
import type { Tokenizer } from '../tokenizer/types.ts';

export interface CalibrationText {
  expert: number; // 0-based index into the merge config's experts list
  text: string;
}

/** One tokenized window of a calibration text: the unit the forward pass runs over. */
export interface CalibrationSequence {
  expert: number;
  tokens: number[]; // [≤ windowTokens]
}

/** A user's calibration set is at most this many texts: 4 × 60–200 texts is the useful range, 4096 leaves room for 16+ experts. */
export const MAX_CALIBRATION_TEXTS = 4096;
/** One text is at most this many characters (a long source file); longer text is a user mistake (a whole book pasted). */
export const MAX_CALIBRATION_TEXT_CHARS = 200_000;
/** A JSONL file is at most this many bytes: MAX_CALIBRATION_TEXTS short texts, checked before parsing. */
export const MAX_CALIBRATION_FILE_BYTES = 64 * 1024 * 1024;
/** All windows together are at most this many tokens: the fit keeps [tokens, hidden] f32 states per layer. */
export const MAX_CALIBRATION_TOKENS = 262_144;

/**
 * Parses a calibration JSONL file; every bad line is a ConfigError naming the file, the line and
 * the field. Whether every expert has texts is checked on the whole set (checkCalibrationTexts).
 */
export function parseCalibrationJsonl(source: string, fileName: string, experts: number): CalibrationText[] {
  if (source.length > MAX_CALIBRATION_FILE_BYTES)
    throw new ConfigError(
      `calibrate: ${fileName} has ${source.length} characters, more than ${MAX_CALIBRATION_FILE_BYTES}`,
    );
  const texts: CalibrationText[] = [];
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    const where = `${fileName}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new ConfigError(`calibrate: ${where} is not JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new ConfigError(`calibrate: ${where} must be an object {"expert": int, "text": string}`);
    const { expert, text } = value as Record<string, unknown>;
    texts.push({
      expert: checkExpert(expert, experts, `${where} field 'expert'`),
      text: checkText(text, `${where} field 'text'`),
    });
    if (texts.length > MAX_CALIBRATION_TEXTS)
      throw new ConfigError(`calibrate: ${fileName} has more than ${MAX_CALIBRATION_TEXTS} texts`);
  }
  if (texts.length === 0) throw new ConfigError(`calibrate: ${fileName} holds no texts`);
  return texts;
}

function checkExpert(expert: unknown, experts: number, field: string): number {
  if (typeof expert !== 'number' || !Number.isInteger(expert))
    throw new ConfigError(`calibrate: ${field} must be an integer, got ${JSON.stringify(expert)}`);
  if (expert < 0 || expert >= experts)
    throw new ConfigError(
      `calibrate: ${field} is ${expert}, outside [0, ${experts}) (the config has ${experts} experts)`,
    );
  return expert;
}

function checkText(text: unknown, field: string): string {
  if (typeof text !== 'string') throw new ConfigError(`calibrate: ${field} must be a string, got ${typeof text}`);
  if (text.trim() === '') throw new ConfigError(`calibrate: ${field} is empty`);
  if (text.length > MAX_CALIBRATION_TEXT_CHARS)
    throw new ConfigError(`calibrate: ${field} has ${text.length} characters, more than ${MAX_CALIBRATION_TEXT_CHARS}`);
  return text;
}

/**
 * Checks texts from any host (pasted in Compose, parsed from JSONL): limits, indices, and that
 * every expert has at least one text (a router row with no examples cannot be fitted).
 */
export function checkCalibrationTexts(
  texts: CalibrationText[],
  experts: number,
  source = 'calibration texts',
): CalibrationText[] {
  if (texts.length === 0) throw new ConfigError(`calibrate: ${source} holds no texts`);
  if (texts.length > MAX_CALIBRATION_TEXTS)
    throw new ConfigError(`calibrate: ${source} has ${texts.length} texts, more than ${MAX_CALIBRATION_TEXTS}`);
  texts.forEach((t, i) => {
    checkExpert(t.expert, experts, `${source} text ${i} expert`);
    checkText(t.text, `${source} text ${i}`);
  });
  const missing = Array.from({ length: experts }, (_, e) => e).filter((e) => !texts.some((t) => t.expert === e));
  if (missing.length > 0)
    throw new ConfigError(
      `calibrate: ${source} has no text for expert${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
    );
  return texts;
}

export interface WindowOptions {
  /** Tokens per window (the forward pass's context); default 128. */
  windowTokens?: number;
  /** Windows taken from one long text, spread evenly over it (the first always); default 2. */
  windowsPerText?: number;
  /**
   * Packed windows: each expert's texts joined by a blank line into one stream and cut at fixed
   * strides, so windows start mid-text and cross from one text into the next, as text reaches a
   * model in use (and as the held-out texts are scored), instead of always starting fresh at a
   * text's first token. `tokensPerExpert` caps each expert's stream (windows spread over it).
   * `share: 'sqrt'` keeps the total (tokensPerExpert × experts) but gives each expert a budget
   * ∝ √(its stream's tokens), capped by its stream, the rest handed on to the others: an expert
   * with 4× the text gets 2× the windows, so a large, varied domain (source code) is sampled
   * more widely than a small, uniform one.
   */
  packed?: { tokensPerExpert: number; share?: 'equal' | 'sqrt' };
}

/**
 * Each text as `bos + text` (unless it already starts with the BOS token, as a rendered chat
 * template does), tokenized without special tokens, cut into windows. Checks MAX_CALIBRATION_TOKENS.
 */
export function tokenizeCalibrationTexts(
  tokenizer: Tokenizer,
  texts: CalibrationText[],
  options: WindowOptions = {},
): CalibrationSequence[] {
  const windowTokens = options.windowTokens ?? 128;
  const windowsPerText = options.windowsPerText ?? 2;
  if (!Number.isInteger(windowTokens) || windowTokens < 2 || windowTokens > 4096)
    throw new ConfigError(`calibrate: windowTokens ${windowTokens} is outside [2, 4096]`);
  if (!Number.isInteger(windowsPerText) || windowsPerText < 1 || windowsPerText > 64)
    throw new ConfigError(`calibrate: windowsPerText ${windowsPerText} is outside [1, 64]`);
  if (options.packed)
    return packedWindows(tokenizer, texts, windowTokens, options.packed.tokensPerExpert, options.packed.share);
  const bos = tokenizer.bosToken ?? '';
  const sequences: CalibrationSequence[] = [];
  let total = 0;
  for (const { expert, text } of texts) {
    const ids = tokenizer.encode(bos && !text.startsWith(bos) ? bos + text : text, { addSpecialTokens: false });
    const available = Math.ceil(ids.length / windowTokens);
    const count = Math.min(windowsPerText, available);
    total = pushSpreadWindows(sequences, expert, ids, windowTokens, available, count, total);
  }
  return sequences;
}

/**
 * Appends `count` windows spread evenly over the `available` windows of ids (the first always)
 * and returns the new token total, checked against MAX_CALIBRATION_TOKENS.
 */
function pushSpreadWindows(
  sequences: CalibrationSequence[],
  expert: number,
  ids: number[],
  windowTokens: number,
  available: number,
  count: number,
  total: number,
): number {
  for (let w = 0; w < count; w++) {
    const window = count === 1 ? 0 : Math.round((w * (available - 1)) / (count - 1));
    const tokens = ids.slice(window * windowTokens, (window + 1) * windowTokens);
    if (tokens.length < 2) continue;
    total += tokens.length;
    if (total > MAX_CALIBRATION_TOKENS)
      throw new ConfigError(
        `calibrate: the texts make more than ${MAX_CALIBRATION_TOKENS} tokens; use fewer or shorter texts`,
      );
    sequences.push({ expert, tokens });
  }
  return total;
}

/** Packed windows (WindowOptions.packed): per expert, a token budget's worth of windows spread over its stream. */
function packedWindows(
  tokenizer: Tokenizer,
  texts: CalibrationText[],
  windowTokens: number,
  tokensPerExpert: number,
  share: 'equal' | 'sqrt' = 'equal',
): CalibrationSequence[] {
  if (!Number.isInteger(tokensPerExpert) || tokensPerExpert < windowTokens || tokensPerExpert > MAX_CALIBRATION_TOKENS)
    throw new ConfigError(
      `calibrate: tokensPerExpert ${tokensPerExpert} is outside [${windowTokens}, ${MAX_CALIBRATION_TOKENS}]`,
    );
  const experts = [...new Set(texts.map((t) => t.expert))].sort((a, b) => a - b);
  const streams = experts.map((expert) =>
    tokenizer.encode(
      texts
        .filter((t) => t.expert === expert)
        .map((t) => t.text.trim())
        .join('\n\n'),
      { addSpecialTokens: false },
    ),
  );
  const budgets =
    share === 'sqrt'
      ? sqrtBudgets(
          streams.map((ids) => ids.length),
          tokensPerExpert * experts.length,
        )
      : streams.map(() => tokensPerExpert);
  const sequences: CalibrationSequence[] = [];
  let total = 0;
  for (const [i, expert] of experts.entries()) {
    const ids = streams[i]!;
    const available = Math.floor(ids.length / windowTokens) || 1;
    const count = Math.min(available, Math.max(1, Math.floor(budgets[i]! / windowTokens)));
    total = pushSpreadWindows(sequences, expert, ids, windowTokens, available, count, total);
  }
  return sequences;
}

/**
 * Splits `total` tokens over streams of `lengths` tokens ∝ √length, none above its length: a
 * stream that cannot use its share keeps its length and the rest is split again among the others.
 */
export function sqrtBudgets(lengths: number[], total: number): number[] {
  const budgets = new Array<number>(lengths.length).fill(0);
  let open = lengths.map((_, i) => i).filter((i) => lengths[i]! > 0);
  let left = total;
  while (open.length > 0 && left > 0) {
    const weight = open.reduce((s, i) => s + Math.sqrt(lengths[i]!), 0);
    const full = open.filter((i) => (left * Math.sqrt(lengths[i]!)) / weight >= lengths[i]!);
    if (full.length === 0) {
      for (const i of open) budgets[i] = Math.floor((left * Math.sqrt(lengths[i]!)) / weight);
      break;
    }
    for (const i of full) {
      budgets[i] = lengths[i]!;
      left -= lengths[i]!;
    }
    open = open.filter((i) => !full.includes(i));
  }
  return budgets;
}

/** sha256 of the texts in canonical JSONL (one `{"expert","text"}` object a line): the data hash the model card records. */
export function calibrationDataSha256(texts: CalibrationText[]): string {
  const canonical = `${texts.map((t) => JSON.stringify({ expert: t.expert, text: t.text })).join('\n')}\n`;
  return sha256Hex(new TextEncoder().encode(canonical));
}
