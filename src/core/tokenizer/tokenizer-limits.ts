/**
 * tokenizer.json is untrusted input whose sections configure loops and regexes that
 * @huggingface/tokenizers runs on every encode. checkTokenizerSections screens the values
 * that would make an encode hang or exhaust memory, before the library sees them:
 *
 *   - a `{"Regex": …}` pattern (normalizer / pre_tokenizer / decoder Replace and Split) with
 *     a nested unbounded quantifier or a quantified alternation — `(a+)+`, `(a|a)*` — which
 *     backtracks exponentially in JavaScript's engine; with more than maxUnboundedInSequence
 *     unbounded quantifiers one after another in one alternative — `.*.*.*=`, `\s*\s*\s*x` —
 *     which backtracks as a power of the text length; or one longer than maxPatternChars;
 *   - a FixedLength pre-tokenizer whose `length` is not a positive integer (0 loops forever);
 *   - a WordPiece `max_input_chars_per_word` beyond maxWordChars (the search is quadratic in it);
 *   - Sequence nesting deeper than maxSectionDepth.
 *
 * The screen is conservative: the published tokenizers' patterns (GPT-2, Llama 3, Qwen2,
 * DeepSeek-V3, o200k) quantify only single atoms or character classes, and pass. It is not
 * complete (two overlapping `\s*` before a tail that fails are still cubic in the text), so
 * every host also bounds each encode by a deadline (ENCODE_DEADLINE_MS, tokenizer/guard.ts).
 */
import { FormatError } from '../errors.ts';
import type { TokenizerJson } from './types.ts';

export const TOKENIZER_LIMITS = {
  /** The longest published pre-tokenizer pattern (DeepSeek-V3) is under 400 characters. */
  maxPatternChars: 10_000,
  /** BERT's default is 100. */
  maxWordChars: 1_000,
  /**
   * Unbounded quantifiers in a row within one alternative (a bounded repeat counts its body
   * that many times): GPT-2, Llama 3, Qwen2 and o200k use at most 2 (`[^\s\p{L}\p{N}]+[\r\n]*`,
   * `\s*[\r\n]+`); each more multiplies the backtracking of a failed match by the text length.
   */
  maxUnboundedInSequence: 2,
  /** Published tokenizers nest Sequences at most two deep. */
  maxSectionDepth: 32,
  /**
   * Token ids index arrays the library sizes by the largest id (an added token with id 2^31
   * makes every vocabulary walk take 2^31 steps). Gemma 3 has 262,144 tokens; 16 × that.
   */
  maxTokenId: 4_194_304,
} as const;

const SECTIONS = ['normalizer', 'pre_tokenizer', 'decoder', 'post_processor'] as const;
/** The keys whose value is a list of child sections in a Sequence. */
const CHILD_LISTS = ['normalizers', 'pretokenizers', 'decoders', 'processors'] as const;

export function checkTokenizerSections(json: TokenizerJson, file: string): void {
  for (const section of SECTIONS) walk(json[section], `${section}`, 0, file);
  checkTokenIds(json, file);
  const model = json.model as Record<string, unknown> | undefined;
  const wordChars = model?.max_input_chars_per_word;
  if (wordChars !== undefined && wordChars !== null) {
    if (
      typeof wordChars !== 'number' ||
      !Number.isInteger(wordChars) ||
      wordChars < 1 ||
      wordChars > TOKENIZER_LIMITS.maxWordChars
    ) {
      throw new FormatError(
        `${file}: model.max_input_chars_per_word ${JSON.stringify(wordChars)} is outside [1, ${TOKENIZER_LIMITS.maxWordChars}] (TOKENIZER_LIMITS.maxWordChars)`,
      );
    }
  }
}

function checkTokenId(id: unknown, where: string, file: string): void {
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= TOKENIZER_LIMITS.maxTokenId) {
    throw new FormatError(
      `${file}: ${where} id ${JSON.stringify(id)} is not an integer in [0, ${TOKENIZER_LIMITS.maxTokenId}) (TOKENIZER_LIMITS.maxTokenId)`,
    );
  }
}

/** added_tokens[].id and model.vocab ids (BPE/WordPiece objects; Unigram lists carry none). */
function checkTokenIds(json: TokenizerJson, file: string): void {
  const added = json.added_tokens;
  if (added !== undefined && added !== null) {
    if (!Array.isArray(added)) throw new FormatError(`${file}: added_tokens must be a list`);
    added.forEach((t, i) => {
      if (typeof t !== 'object' || t === null) throw new FormatError(`${file}: added_tokens[${i}] must be an object`);
      checkTokenId((t as { id?: unknown }).id, `added_tokens[${i}]`, file);
      if (typeof (t as { content?: unknown }).content !== 'string')
        throw new FormatError(`${file}: added_tokens[${i}].content must be a string`);
    });
  }
  const vocab = (json.model as { vocab?: unknown } | undefined)?.vocab;
  if (vocab && typeof vocab === 'object' && !Array.isArray(vocab)) {
    for (const [piece, id] of Object.entries(vocab))
      checkTokenId(id, `model.vocab[${JSON.stringify(piece.slice(0, 40))}]`, file);
  } else if (Array.isArray(vocab)) {
    if (vocab.length > TOKENIZER_LIMITS.maxTokenId)
      throw new FormatError(
        `${file}: model.vocab has ${vocab.length} pieces, more than ${TOKENIZER_LIMITS.maxTokenId}`,
      );
  } else if (vocab !== undefined) {
    throw new FormatError(
      `${file}: model.vocab must be an object (BPE, WordPiece) or a list (Unigram), got ${typeof vocab}`,
    );
  }
}

function walk(node: unknown, path: string, depth: number, file: string): void {
  if (node === null || node === undefined) return;
  if (depth > TOKENIZER_LIMITS.maxSectionDepth) {
    throw new FormatError(
      `${file}: ${path} nests deeper than ${TOKENIZER_LIMITS.maxSectionDepth} (TOKENIZER_LIMITS.maxSectionDepth)`,
    );
  }
  if (typeof node !== 'object' || Array.isArray(node)) {
    throw new FormatError(
      `${file}: ${path} must be an object or null, got ${Array.isArray(node) ? 'an array' : typeof node}`,
    );
  }
  const section = node as Record<string, unknown>;
  if (typeof section.type !== 'string' && section.type !== undefined) {
    throw new FormatError(
      `${file}: ${path}.type must be a string, got ${Array.isArray(section.type) ? 'a list' : typeof section.type}`,
    );
  }
  const pattern = section.pattern as { Regex?: unknown } | undefined;
  if (pattern && typeof pattern === 'object' && pattern.Regex !== undefined) {
    checkPattern(pattern.Regex, `${path}.pattern.Regex`, file);
  }
  if (section.type === 'FixedLength') {
    const length = section.length;
    if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 1) {
      throw new FormatError(`${file}: ${path}.length ${JSON.stringify(length)} must be a positive integer`);
    }
  }
  for (const key of CHILD_LISTS) {
    const children = section[key];
    if (children === undefined || children === null) continue;
    if (!Array.isArray(children)) throw new FormatError(`${file}: ${path}.${key} must be a list`);
    children.forEach((child, i) => walk(child, `${path}.${key}[${i}]`, depth + 1, file));
  }
}

function checkPattern(regex: unknown, where: string, file: string): void {
  if (typeof regex !== 'string') throw new FormatError(`${file}: ${where} must be a string`);
  if (regex.length > TOKENIZER_LIMITS.maxPatternChars) {
    throw new FormatError(
      `${file}: ${where} has ${regex.length} characters, more than ${TOKENIZER_LIMITS.maxPatternChars} (TOKENIZER_LIMITS.maxPatternChars)`,
    );
  }
  const problem = backtrackingRisk(regex);
  if (problem) throw new FormatError(`${file}: ${where} ${JSON.stringify(regex.slice(0, 80))} ${problem}`);
}

interface GroupFrame {
  /** The group's body contains an unbounded quantifier. */
  unbounded: boolean;
  /** The group's body contains a top-level `|`. */
  alternation: boolean;
  /** Unbounded quantifiers in a row in the current alternative, and the most in a finished one. */
  inSequence: number;
  mostInSequence: number;
}

/**
 * Reads the length of the quantifier at `i`, whether it is unbounded (`*`, `+`, `{n,}`,
 * `{n,m}` with m > 16), and the most repeats of a bounded one (1 without a quantifier);
 * length 0 when there is none. A lazy/possessive suffix is included.
 */
function quantifierAt(re: string, i: number): { length: number; unbounded: boolean; most: number } {
  const c = re[i];
  let length = 0;
  let unbounded = false;
  let most = 1;
  if (c === '*' || c === '+') [length, unbounded] = [1, true];
  else if (c === '?') length = 1;
  else if (c === '{') {
    const m = /^\{(\d*)(,?)(\d*)\}/.exec(re.slice(i, i + 32));
    if (!m) return { length: 0, unbounded: false, most: 1 };
    length = m[0].length;
    unbounded = m[2] === ',' && (m[3] === '' || Number(m[3]) > 16);
    most = Math.max(1, Number(m[2] === ',' ? m[3] : m[1]) || 1);
  }
  if (length > 0 && (re[i + length] === '?' || re[i + length] === '+')) length++;
  return { length, unbounded, most };
}

const newFrame = (): GroupFrame => ({ unbounded: false, alternation: false, inSequence: 0, mostInSequence: 0 });

/** Why `re` may backtrack exponentially or as a high power of the text length, or undefined. */
export function backtrackingRisk(re: string): string | undefined {
  const stack: GroupFrame[] = [newFrame()];
  let i = 0;
  while (i < re.length) {
    const c = re[i]!;
    let atomEnd = i + 1;
    let closed: GroupFrame | undefined;
    if (c === '\\') {
      atomEnd = i + 2;
      if ((re[i + 1] === 'p' || re[i + 1] === 'P') && re[i + 2] === '{') atomEnd = re.indexOf('}', i) + 1 || re.length;
    } else if (c === '[') {
      let j = i + 1;
      if (re[j] === '^') j++;
      if (re[j] === ']') j++;
      while (j < re.length && re[j] !== ']') j += re[j] === '\\' ? 2 : 1;
      atomEnd = j + 1;
    } else if (c === '(') {
      stack.push(newFrame());
      i++;
      continue;
    } else if (c === ')') {
      if (stack.length === 1) return 'has an unbalanced ")"';
      closed = stack.pop();
    } else if (c === '|') {
      const frame = stack[stack.length - 1]!;
      frame.alternation = true;
      frame.mostInSequence = Math.max(frame.mostInSequence, frame.inSequence);
      frame.inSequence = 0;
      i++;
      continue;
    }
    const q = quantifierAt(re, atomEnd);
    const top = stack[stack.length - 1]!;
    if (closed) {
      if (q.unbounded && closed.unbounded)
        return 'nests an unbounded quantifier inside another (exponential backtracking)';
      if (q.unbounded && closed.alternation)
        return 'repeats an alternation with an unbounded quantifier (exponential backtracking)';
      top.unbounded ||= closed.unbounded || q.unbounded;
      top.inSequence += q.unbounded ? 1 : Math.max(closed.mostInSequence, closed.inSequence) * q.most;
    } else if (q.unbounded) {
      top.unbounded = true;
      top.inSequence++;
    }
    if (top.inSequence > TOKENIZER_LIMITS.maxUnboundedInSequence)
      return `has more than ${TOKENIZER_LIMITS.maxUnboundedInSequence} unbounded quantifiers in a row (TOKENIZER_LIMITS.maxUnboundedInSequence: polynomial backtracking)`;
    i = atomEnd + q.length;
  }
  if (stack.length !== 1) return 'has an unclosed "("';
  return undefined;
}
