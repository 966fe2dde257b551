/**
 * generation_config.json as transformers' save_pretrained writes it beside config.json for a
 * model whose generation settings come from its config (`GenerationConfig.from_model_config`):
 * `_from_model_config: true`, the special token ids, `transformers_version`, keys sorted
 * (`to_json_string(sort_keys=True)`), two-space indent, a newline at the end.
 *
 * The ids come from the source's generation_config.json where it has them, else from
 * config.json: chat models list their end-of-turn token only there (eos as a list), and the
 * loader reads that file with the same precedence (addGenerationEos in load.ts).
 */
import { ConfigError } from '../errors.ts';
import { readJsonFile, type FileSet } from '../io/byte-source.ts';
import { HF_CONFIG_TABLE_TRANSFORMERS_VERSION } from './hf-config-types.ts';

export const GENERATION_CONFIG_FILE = 'generation_config.json';

const TOKEN_ID_KEYS = ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const;

function checkedTokenId(key: string, value: unknown, file: string): number | number[] | undefined {
  if (value === undefined || value === null) return undefined;
  const ok = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (ok(value)) return value as number;
  if (key === 'eos_token_id' && Array.isArray(value) && value.length > 0 && value.every(ok)) return value as number[];
  throw new ConfigError(
    `${file}: ${key} must be a token id${key === 'eos_token_id' ? ' or a list of them' : ''}, got ${JSON.stringify(value)}`,
  );
}

/**
 * The text of generation_config.json for a model with `config` (the config.json object
 * written), `sourceGeneration` being the source's own generation_config.json object if any.
 */
export function generationConfigText(
  config: Record<string, unknown>,
  sourceGeneration?: Record<string, unknown>,
): string {
  const out: Record<string, unknown> = { _from_model_config: true };
  for (const key of TOKEN_ID_KEYS) {
    const id =
      checkedTokenId(key, sourceGeneration?.[key], GENERATION_CONFIG_FILE) ??
      checkedTokenId(key, config[key], 'config.json');
    if (id !== undefined) out[key] = id;
  }
  out.transformers_version = HF_CONFIG_TABLE_TRANSFORMERS_VERSION;
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** The source folder's generation_config.json object, when it has one. */
export async function readSourceGeneration(files: FileSet | undefined): Promise<Record<string, unknown> | undefined> {
  if (!files || !(await files.list()).includes(GENERATION_CONFIG_FILE)) return undefined;
  const json: unknown = await readJsonFile(files, GENERATION_CONFIG_FILE);
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new ConfigError(`${files.name}/${GENERATION_CONFIG_FILE}: not a JSON object`);
  return json as Record<string, unknown>;
}
