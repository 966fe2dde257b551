/**
 * `import { createEngine } from 'moe-studio'` in Node: the model is an HF folder, a .gguf
 * file or a llama2.c .bin checkpoint (read through src/cli's node:fs adapters), run by an
 * EngineHost in this thread on the WASM backend's worker_threads pool (or cpu, or webgpu
 * through Dawn).
 */
import { basename, resolve } from 'node:path';
import { modelArgFiles } from '../cli/load-model.ts';
import { nodePlatform } from '../cli/node-platform.ts';
import { nodeTokenizerGuard } from '../cli/tokenizer-sandbox.ts';
import type { PlatformOptions } from '../core/runtime/backends.ts';
import { EngineHost } from '../../workers/engine/engine-host.ts';
import type { BackendChoice } from '../../workers/engine/api.ts';
import { engineOver, inThreadHandle } from './engine.ts';
import type { Engine, EngineOptionsBase } from './types.ts';

export type * from './types.ts';
export {
  BackendError,
  CancelledError,
  ConfigError,
  ContextFullError,
  FormatError,
  HubError,
  MissingFileError,
  StoreError,
  StudioError,
} from '../core/errors.ts';

export interface NodeEngineOptions extends EngineOptionsBase {
  /** An HF-layout folder (config.json + safetensors + tokenizer.json), a .gguf file, or a llama2.c .bin checkpoint. */
  model: string;
  /** llama2.c only: its tokenizer .bin (default: tok*.bin beside the checkpoint). */
  tokenizer?: string;
}

/** Node's platform for a backend choice: the WASM pool always (the fallback), Dawn only when webgpu is asked for. */
async function platformFor(choice: BackendChoice, threads: number | undefined): Promise<PlatformOptions> {
  const platform = await nodePlatform('wasm', threads);
  if (choice !== 'webgpu') return platform;
  // Without the optional `webgpu` package or an adapter, the webgpu session fails and the
  // engine falls back to wasm; engine.backend.reason says what failed.
  return { ...platform, ...(await nodePlatform('webgpu').catch(() => ({}))) };
}

export async function createEngine(options: NodeEngineOptions): Promise<Engine> {
  const choice = options.backend ?? 'auto';
  const host = new EngineHost({ platform: (threads) => platformFor(choice, threads) });
  const { files, load } = await modelArgFiles(options.model, {
    tokenizer: options.tokenizer,
    guardTokenizer: nodeTokenizerGuard(options.encodeDeadlineMs),
  });
  const loaded = await host.loadFiles(files, { id: options.model, title: basename(resolve(options.model)) }, choice, {
    threads: options.threads,
    contextLength: options.contextLength,
    model: load,
  });
  return engineOver(inThreadHandle(host), loaded);
}
