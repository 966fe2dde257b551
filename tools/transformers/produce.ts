/**
 * The Node half of `npm run test:transformers`: writes every kind of HF folder the studio
 * writes, with the real CLI commands (dense export, Mixtral classic and fused merges, a
 * Qwen2-MoE merge, a router-calibrated merge), and beside each our reference: greedy ids for
 * GREEDY_TOKENS tokens and the last-position logits from the CPU reference engine, and our
 * tokenizer's ids on a mixed text and on a chat rendered by the chat template. check.py loads each folder with transformers and compares.
 *
 *   npx tsx tools/transformers/produce.ts OUT_DIR [case ...]      (default: every case)
 *
 * OUT_DIR/<case>/ is the folder; OUT_DIR/<case>.reference.json the reference (REFERENCE_SCHEMA).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runExportCommand } from '../../src/cli/commands/export.ts';
import { runMergeCommand } from '../../src/cli/commands/merge.ts';
import { nodeDirFileSet } from '../../src/cli/node-io.ts';
import { loadModel } from '../../src/core/model/load.ts';
import { cpuBackend } from '../../src/core/runtime/cpu/backend.ts';
import type { ChatMessage } from '../../src/core/tokenizer/types.ts';

export const REFERENCE_SCHEMA = 'moe-studio-transformers-reference/1';
export const GREEDY_TOKENS = 32;
export const PROMPT = 'Once upon a time, there was a little girl named Lily. She';
/** Stories, code, arithmetic and chat-ish text with a multi-byte character: one string through both tokenizers. */
export const MIXED_TEXT =
  'Once upon a time, Lily saw a big red ball.\ndef add(a, b):\n    return a + b\n12 + 35 = 47\nUser: Hi! How are you? — café';

export const CHAT_MESSAGES: ChatMessage[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'What is 12 + 35?' },
];

const ZOO = 'public';
const QWEN_YAML = `${readFileSync('public/zoo/moe-random.yml', 'utf8').replace(/^shared_experts:[\s\S]*$/m, '')}
architecture: qwen
shared_experts:
  - source_model: zoo/base
    positive_prompts: ["Hello"]
`;

/** First `perExpert` lines of each expert's calibration file, as one JSONL. */
function calibrationSample(perExpert: number): string {
  return ['stories', 'code', 'math', 'chat']
    .flatMap((name) => readFileSync(`public/zoo/calibration/${name}.jsonl`, 'utf8').split('\n').slice(0, perExpert))
    .filter((l) => l.trim())
    .join('\n');
}

type Maker = (folder: string, work: string) => Promise<number>;

const merge =
  (yaml: string, ...flags: string[]): Maker =>
  async (folder, work) => {
    writeFileSync(join(work, 'config.yml'), yaml);
    return runMergeCommand([join(work, 'config.yml'), folder, '--models-dir', ZOO, '--force', ...flags]);
  };

export const CASES: Record<string, Maker> = {
  dense: (folder) =>
    runExportCommand(['public/zoo/base', '--format', 'safetensors', '--quant', 'f32', '--out', folder, '--force']),
  'mixtral-classic': merge(readFileSync('public/zoo/moe-hidden.yml', 'utf8'), '--layout', 'classic'),
  'mixtral-fused': merge(readFileSync('public/zoo/moe-hidden.yml', 'utf8'), '--layout', 'fused'),
  'qwen2-moe': merge(QWEN_YAML),
  calibrated: async (folder, work) => {
    writeFileSync(join(work, 'calibration.jsonl'), calibrationSample(4));
    return merge(
      readFileSync('public/zoo/moe-random.yml', 'utf8'),
      '--calibrate',
      join(work, 'calibration.jsonl'),
      '--calibrate-method',
      'mean',
    )(folder, work);
  },
};

export interface Reference {
  schema: typeof REFERENCE_SCHEMA;
  case: string;
  modelType: string;
  promptIds: number[];
  /** Argmax continuation of promptIds, GREEDY_TOKENS ids, not stopped at EOS (transformers' side loops the same way). */
  greedyIds: number[];
  /** Logits after the last prompt token, [vocab]. */
  lastLogits: number[];
  mixedText: string;
  /** Our tokenizer's ids of mixedText with special tokens (BOS), as AutoTokenizer(text) adds them. */
  mixedIds: number[];
  chatMessages: ChatMessage[];
  /** chatMessages rendered by our chat template with the generation prompt, and its ids (no added specials, as apply_chat_template). */
  chatText: string;
  chatIds: number[];
}

const argmax = (logits: Float32Array) => logits.reduce((best, v, i) => (v > logits[best]! ? i : best), 0);

/** Our reference for one folder: CPU engine, greedy. */
export async function referenceFor(name: string, folder: string): Promise<Reference> {
  const model = await loadModel(nodeDirFileSet(folder));
  if (!model.tokenizer) throw new Error(`${folder}: no tokenizer`);
  const promptIds = model.tokenizer.encode(PROMPT);
  const chatText = model.tokenizer.applyChatTemplate(CHAT_MESSAGES, { addGenerationPrompt: true });
  const session = await cpuBackend.createSession(model.weights, { maxContext: promptIds.length + GREEDY_TOKENS + 1 });
  try {
    let { logits } = await session.forward(promptIds);
    const lastLogits = Array.from(logits);
    const greedyIds: number[] = [];
    for (let i = 0; i < GREEDY_TOKENS; i++) {
      greedyIds.push(argmax(logits));
      if (i < GREEDY_TOKENS - 1) ({ logits } = await session.forward([greedyIds[i]!]));
    }
    return {
      schema: REFERENCE_SCHEMA,
      case: name,
      modelType: String((model.config as { model_type?: unknown }).model_type),
      promptIds,
      greedyIds,
      lastLogits,
      mixedText: MIXED_TEXT,
      mixedIds: model.tokenizer.encode(MIXED_TEXT),
      chatMessages: CHAT_MESSAGES,
      chatText,
      chatIds: model.tokenizer.encode(chatText, { addSpecialTokens: false }),
    };
  } finally {
    session.dispose();
  }
}

/** Writes OUT_DIR/<case>/ and OUT_DIR/<case>.reference.json for each case; returns the reference paths. */
export async function produce(outDir: string, names: string[] = Object.keys(CASES)): Promise<string[]> {
  const written: string[] = [];
  const work = join(outDir, '.work');
  mkdirSync(work, { recursive: true });
  for (const name of names) {
    const make = CASES[name];
    if (!make) throw new Error(`produce: no case '${name}' (cases: ${Object.keys(CASES).join(', ')})`);
    const folder = join(outDir, name);
    const code = await make(folder, work);
    if (code !== 0) throw new Error(`produce: case '${name}' exited ${code}`);
    const path = join(outDir, `${name}.reference.json`);
    writeFileSync(path, `${JSON.stringify(await referenceFor(name, folder))}\n`);
    written.push(path);
  }
  return written;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const [outDir, ...names] = process.argv.slice(2);
  if (!outDir) {
    process.stderr.write('usage: tsx tools/transformers/produce.ts OUT_DIR [case ...]\n');
    process.exit(2);
  }
  for (const path of await produce(outDir, names.length ? names : undefined)) process.stdout.write(`${path}\n`);
}
