/**
 * A tokenizer and a chat template that pass every static screen and still run for far longer
 * than ENCODE_DEADLINE_MS, for the tests of the deadlines (tokenizer/guard.ts).
 *
 * HANGING_REGEX passes checkTokenizerSections (no nested quantifier, two unbounded quantifiers
 * in a row, as Llama 3's own patterns have), but the two overlapping `\s*` before an `x` that
 * never comes backtrack as a cube of the run of spaces: in Node a split of 2000 spaces takes
 * seconds, and HANGING_TEXT's 20,000 would take hours.
 *
 * RUNAWAY_TEMPLATE stays within CHAT_TEMPLATE_LIMITS (a 1 MiB string, under 200,000 steps) and
 * upper-cases that string at every step of a 30,000-item loop: about 40 s of work in Node
 * before maxSteps stops it. The step cap bounds a render's steps, not each step's work.
 */
import type { TokenizerJson } from './types.ts';

export const HANGING_REGEX = '\\s*\\s*x';
export const HANGING_TEXT = `${' '.repeat(20_000)}!`;

/** `tokenizerJson` with a Split on HANGING_REGEX before its own pre-tokenizer (a copy). */
export function withHangingPreTokenizer(tokenizerJson: TokenizerJson): TokenizerJson {
  const json = structuredClone(tokenizerJson);
  json.pre_tokenizer = {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: HANGING_REGEX }, behavior: 'Isolated', invert: false },
      json.pre_tokenizer,
    ].filter(Boolean),
  };
  return json;
}

export const RUNAWAY_TEMPLATE =
  "{% set ns = namespace(s='ab') %}{% for j in range(19) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}" +
  '{% for i in range(30000) %}{% set t = ns.s.upper() %}{% endfor %}{{ messages[0].content }}';
