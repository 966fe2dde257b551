/**
 * HF tokenizers (tokenizer.json + tokenizer_config.json) from in-memory files: no fetch, no fs.
 *
 * Import path chosen: `@huggingface/tokenizers` (Tokenizer) and `@huggingface/jinja`
 * (Template) directly: the two packages @huggingface/transformers 4.3.1 itself depends on.
 * transformers' PreTrainedTokenizer is a thin wrapper over exactly these
 * (`new Tokenizer(tokenizerJSON, tokenizerConfig)`, `encode(...).ids`, `decode(ids, …)`,
 * `new Template(chat_template).render({messages, add_generation_prompt, bos_token, …})`), so
 * results are identical (hf.test.ts checks this against transformers in Node), while the
 * browser bundle avoids transformers' top-level onnxruntime-web import and Node avoids
 * onnxruntime-node. Both packages are pure JS and work in Node, browsers and workers.
 */
import { Tokenizer as HfTokenizerCore } from '@huggingface/tokenizers';
import { ConfigError, FormatError } from '../errors.ts';
import type { FileSet } from '../io/byte-source.ts';
import { readJsonFile, readText } from '../io/byte-source.ts';
import type { ChatMessage, Tokenizer, TokenizerJson } from './types.ts';
import { ChatTemplate } from './chat-template.ts';
import { checkTokenizerSections } from './tokenizer-limits.ts';

/** tokenizer_config.json keys we read (all optional). */
export interface HfTokenizerConfig {
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  chat_template?: string | { name: string; template: string }[] | null;
  clean_up_tokenization_spaces?: boolean;
  [key: string]: unknown;
}

/** Special-token attributes exposed to chat templates (as transformers does). */
const TEMPLATE_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

function tokenContent(config: HfTokenizerConfig, key: string): string | undefined {
  const value = config[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  throw new ConfigError(
    `tokenizer_config.json: key '${key}' must be a string or an AddedToken object, got ${JSON.stringify(value)}`,
  );
}

/** A list of named templates (transformers' format) → the 'default' one. */
function pickChatTemplate(value: HfTokenizerConfig['chat_template']): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => t.name === 'default');
    if (!named)
      throw new ConfigError(
        `tokenizer_config.json: chat_template lists no 'default' template (names: ${value.map((t) => t.name).join(', ')})`,
      );
    return named.template;
  }
  throw new ConfigError(`tokenizer_config.json: chat_template must be a string or a list of {name, template}`);
}

/** The Tokenizer contract over an HF tokenizer.json object and its tokenizer_config.json. */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId?: number;
  readonly bosToken?: string;
  readonly eosTokenIds: number[];
  readonly eosToken?: string;
  /** The raw Jinja chat template, if any (exported to GGUF as tokenizer.chat_template). */
  readonly chatTemplate?: string;
  private readonly core: HfTokenizerCore;
  private compiledTemplate?: ChatTemplate;

  /**
   * `file` names where tokenizerJson came from in every error (tokenizer.json, or the GGUF
   * it was rebuilt from).
   */
  constructor(
    readonly tokenizerJson: TokenizerJson,
    readonly tokenizerConfig: HfTokenizerConfig = {},
    readonly file = 'tokenizer.json',
  ) {
    if (typeof tokenizerJson !== 'object' || tokenizerJson === null || typeof tokenizerJson.model !== 'object') {
      throw new FormatError(`${file}: expected an object with a 'model' section`);
    }
    if (typeof tokenizerConfig !== 'object' || tokenizerConfig === null || Array.isArray(tokenizerConfig)) {
      throw new FormatError('tokenizer_config.json: expected a JSON object');
    }
    checkTokenizerSections(tokenizerJson, file);
    try {
      this.core = new HfTokenizerCore(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw new FormatError(`${file}: ${(error as Error)?.message ?? String(error)}`);
    }
    let maxId = -1;
    for (const id of this.guard('get_vocab', () => this.core.get_vocab(true).values())) {
      if (!Number.isSafeInteger(id) || id < 0)
        throw new FormatError(`${file}: token id ${JSON.stringify(id)} is not a non-negative integer`);
      maxId = Math.max(maxId, id);
    }
    this.vocabSize = maxId + 1;
    const bos = tokenContent(tokenizerConfig, 'bos_token');
    const bosId = bos === undefined ? undefined : this.tokenToId(bos);
    if (bos !== undefined && bosId !== undefined) {
      this.bosToken = bos;
      this.bosTokenId = bosId;
    }
    const eos = tokenContent(tokenizerConfig, 'eos_token');
    const eosId = eos === undefined ? undefined : this.tokenToId(eos);
    this.eosTokenIds = eosId === undefined ? [] : [eosId];
    if (eos !== undefined && eosId !== undefined) this.eosToken = eos;
    const template = pickChatTemplate(tokenizerConfig.chat_template);
    if (template !== undefined) this.chatTemplate = template;
  }

  /** Untyped errors of the tokenizer library (a broken vocab, a bad id) become a FormatError naming the file. */
  private guard<T>(what: string, run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof FormatError || error instanceof ConfigError) throw error;
      throw new FormatError(`${this.file}: ${what} failed: ${(error as Error)?.message ?? String(error)}`);
    }
  }

  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.guard('encode', () => {
      const ids = this.core.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0) throw new FormatError(`${this.file}: encode produced token id ${id}`);
      }
      return ids;
    });
  }

  decode(ids: number[], options: { skipSpecialTokens?: boolean } = {}): string {
    return this.guard('decode', () =>
      this.core.decode(ids, { skip_special_tokens: options.skipSpecialTokens ?? false }),
    );
  }

  idToToken(id: number): string | undefined {
    return this.guard('id_to_token', () => this.core.id_to_token(id));
  }

  tokenToId(token: string): number | undefined {
    return this.guard('token_to_id', () => this.core.token_to_id(token));
  }

  hasChatTemplate(): boolean {
    if (this.chatTemplate === undefined) return false;
    try {
      this.compiledTemplate ??= new ChatTemplate(this.chatTemplate, this.templateFile);
      return true;
    } catch {
      return false;
    }
  }

  applyChatTemplate(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (this.chatTemplate === undefined) {
      throw new ConfigError('tokenizer_config.json: no chat_template (the model has no chat format)');
    }
    this.compiledTemplate ??= new ChatTemplate(this.chatTemplate, this.templateFile);
    const specialTokens: Record<string, string> = {};
    for (const key of TEMPLATE_TOKEN_KEYS) {
      const value = tokenContent(this.tokenizerConfig, key);
      if (value !== undefined) specialTokens[key] = value;
    }
    return this.compiledTemplate.render({
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      ...specialTokens,
    });
  }

  /** Where the chat template came from, for its errors. */
  get templateFile(): string {
    return this.file === 'tokenizer.json' ? 'tokenizer_config.json' : this.file;
  }
}

/**
 * Loads tokenizer.json (required) and tokenizer_config.json (optional) from a folder. A
 * separate `chat_template.jinja` (newer transformers) supplies the template when the config
 * has none, else a `chat_template.json` ({"chat_template": …}).
 */
export async function loadHfTokenizer(files: FileSet): Promise<HfTokenizer> {
  const list = await files.list();
  if (!list.includes('tokenizer.json')) throw new ConfigError(`${files.name}: no tokenizer.json`);
  // Both files are read at once (each a request or a cache read); tokenizer.json's error comes first.
  const configRead: Promise<HfTokenizerConfig> = list.includes('tokenizer_config.json')
    ? readJsonFile(files, 'tokenizer_config.json')
    : Promise.resolve({});
  configRead.catch(() => {}); // thrown where awaited, after tokenizer.json's own
  const tokenizerJson = await readJsonFile(files, 'tokenizer.json');
  const config = await configRead;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new FormatError('tokenizer_config.json: expected a JSON object');
  }
  if (config.chat_template == null && list.includes('chat_template.jinja')) {
    config.chat_template = await readText(await files.open('chat_template.jinja'));
  } else if (config.chat_template == null && list.includes('chat_template.json')) {
    const template = (await readJsonFile(files, 'chat_template.json'))?.chat_template;
    if (typeof template !== 'string')
      throw new FormatError(`chat_template.json: expected {"chat_template": "<jinja>"}`);
    config.chat_template = template;
  }
  return new HfTokenizer(tokenizerJson, config);
}
