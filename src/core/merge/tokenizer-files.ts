/**
 * The base tokenizer's files as mergekit saves them (§1, §6.1): it loads the base tokenizer,
 * sets padding_side = "left" and pad = BOS (EOS when there is no BOS), and save_pretrained()s
 * it. We copy the base's tokenizer files and apply the same two edits to
 * tokenizer_config.json and special_tokens_map.json.
 */
import type { FileSet } from '../io/byte-source.ts';
import { readText } from '../io/byte-source.ts';

import { TOKENIZER_FILES } from '../tokenizer/files.ts';

type Json = Record<string, unknown>;

function withPadToken(json: Json, pad: unknown, padding: boolean): Json {
  const out: Json = { ...json };
  if (pad !== undefined && pad !== null) out.pad_token = pad;
  if (padding) out.padding_side = 'left';
  return out;
}

function encodeJson(json: Json): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(json, null, 2)}\n`);
}

/** [fileName, bytes] of every tokenizer file the base has, with mergekit's modifications. */
export async function mergedTokenizerFiles(base: FileSet): Promise<[string, Uint8Array][]> {
  const present = new Set(await base.list());
  const out: [string, Uint8Array][] = [];
  let config: Json | undefined;
  if (present.has('tokenizer_config.json'))
    config = JSON.parse(await readText(await base.open('tokenizer_config.json'))) as Json;
  const pad = config ? (config.bos_token ?? config.eos_token) : undefined;
  for (const file of TOKENIZER_FILES) {
    if (!present.has(file)) continue;
    const src = await base.open(file);
    if (file === 'tokenizer_config.json' && config) out.push([file, encodeJson(withPadToken(config, pad, true))]);
    else if (file === 'special_tokens_map.json') {
      const map = JSON.parse(await readText(src)) as Json;
      out.push([file, encodeJson(withPadToken(map, map.bos_token ?? map.eos_token ?? pad, false))]);
    } else out.push([file, (await src.read(0, src.size)).slice()]);
  }
  return out;
}
