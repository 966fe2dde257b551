/**
 * What a hub listing will be, before anything big is downloaded: config.json alone (a few
 * KB, at most HUB_CONFIG_MAX_BYTES) gives the spec, hence the parameters, and the
 * checkpoint's dtype; with the import's quantization setting the page can say where
 * the model fits (runtime/where-it-fits.ts), or why the studio cannot use it, before the
 * user spends gigabytes on it. The parse is the importer's own (parseHfConfig), so what it
 * refuses here the import would refuse after the download.
 */
import { HubError } from '../errors.ts';
import { parseHfConfig } from '../model/hf-config.ts';
import { hfTensorEntries } from '../model/hf-tensors.ts';
import { nameTableFor } from '../model/names.ts';
import type { ModelSpec } from '../model/spec.ts';
import { checkedFetch, type FetchFn } from './checked-fetch.ts';
import { hubFileUrl, type HubFileInfo, type HubRepoRef } from './hub.ts';

/** A config.json past this is not a model config (real ones are 1–10 KB). */
export const HUB_CONFIG_MAX_BYTES = 1 << 20;

export interface HubModelPreview {
  spec: ModelSpec;
  /** Elements of every tensor the spec implies. */
  params: number;
  /** The checkpoint's weight dtype (config.json's torch_dtype, else its bytes per parameter). */
  dtype: string;
}

/** config.json `torch_dtype` (or transformers v5 `dtype`) → our dtype names. */
const TORCH_DTYPES: Record<string, string> = { bfloat16: 'bf16', float16: 'f16', float32: 'f32' };

/**
 * Reads the listing's config.json and returns the preview; a config the importer would refuse
 * throws its ConfigError (naming the key), a missing or oversized one a HubError.
 */
export async function hubPreviewModel(
  fetchFn: FetchFn,
  ref: HubRepoRef,
  files: HubFileInfo[],
): Promise<HubModelPreview> {
  const entry = files.find((f) => f.name === 'config.json');
  if (!entry) throw new HubError(`hub: ${ref.repo} has no config.json`);
  if (entry.size > HUB_CONFIG_MAX_BYTES)
    throw new HubError(
      `hub: config.json of ${ref.repo} is ${entry.size} bytes, past HUB_CONFIG_MAX_BYTES ${HUB_CONFIG_MAX_BYTES}`,
    );
  const res = await checkedFetch(fetchFn, hubFileUrl(ref, 'config.json'), { cache: 'no-store' });
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.byteLength > HUB_CONFIG_MAX_BYTES)
    throw new HubError(
      `hub: config.json of ${ref.repo} is ${bytes.byteLength} bytes, past HUB_CONFIG_MAX_BYTES ${HUB_CONFIG_MAX_BYTES}`,
    );
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new HubError(`hub: config.json of ${ref.repo} is not JSON: ${(e as Error).message}`);
  }
  const spec = parseHfConfig(json);
  const params = hfTensorEntries(spec, nameTableFor(spec)).reduce(
    (sum, t) => sum + t.shape.reduce((a, b) => a * b, 1),
    0,
  );
  const named = TORCH_DTYPES[String(json.torch_dtype ?? json.dtype)];
  // no dtype key: the safetensors' bytes per parameter tell f32 (4) from 16-bit (2)
  const weightBytes = files.filter((f) => f.name.endsWith('.safetensors')).reduce((s, f) => s + f.size, 0);
  return { spec, params, dtype: named ?? (weightBytes / params > 3 ? 'f32' : 'bf16') };
}
