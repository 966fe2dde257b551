/**
 * The merge worker (comlink), thin by design: sources in, a result handle out.
 *   build(yaml, sources, options, onProgress) → { id, arch, warnings, files, totalBytes }
 *   weights(id) → ModelWeights (chat without exporting)   file(id, name) → bytes   release(id)
 *   cancel() → the running build rejects with CancelledError (name survives comlink)
 */
import * as Comlink from 'comlink';
import { buildMergeInMemory, type BuiltMerge } from '../src/core/merge/build.ts';
import { httpFileSet } from '../src/core/merge/http-files.ts';
import type { MergeProgress } from '../src/core/merge/run.ts';
import type { PlanOptions } from '../src/core/merge/plan.ts';
import { memoryFileSet, type FileSet } from '../src/core/io/byte-source.ts';
import type { ModelWeights } from '../src/core/model/weights.ts';

/** Where each model reference of the YAML (by path) comes from. */
export type MergeSource =
  | { kind: 'files'; files: Record<string, Uint8Array> }
  | { kind: 'hub'; hub: string; revision?: string };

export interface MergeHandle {
  id: number;
  arch: string;
  warnings: string[];
  files: string[];
  totalBytes: number;
  /** Whether weights(id) can hand the model to the engine (Mixtral, Qwen MoE). */
  runnable: boolean;
}

function sourceFileSet(path: string, source: MergeSource): FileSet {
  return source.kind === 'files' ? memoryFileSet(source.files, path) : httpFileSet(source.hub, path, source.revision ?? 'main');
}

export class MergeWorkerApi {
  private builds = new Map<number, BuiltMerge>();
  private nextId = 1;
  private abort?: AbortController;

  async build(yaml: string, sources: Record<string, MergeSource>, options: PlanOptions, onProgress?: (p: MergeProgress) => void): Promise<MergeHandle> {
    this.abort?.abort();
    const abort = (this.abort = new AbortController());
    const built = await buildMergeInMemory(yaml, async (ref) => {
      const source = sources[ref.path];
      if (!source) throw Object.assign(new Error(`merge: no source given for model '${ref.path}'`), { name: 'ConfigError' });
      return sourceFileSet(ref.path, source);
    }, { ...options, signal: abort.signal, onProgress });
    const id = this.nextId++;
    this.builds.set(id, built);
    return {
      id, arch: built.plan.arch, warnings: built.result.warnings, totalBytes: built.plan.totalBytes,
      files: [...built.output.tensors.keys(), ...built.output.files.keys()], runnable: built.model !== undefined,
    };
  }

  weights(id: number): ModelWeights {
    const model = this.builds.get(id)?.model;
    if (!model) throw Object.assign(new Error(`merge: build ${id} has no engine-runnable model`), { name: 'ConfigError' });
    return model.weights;
  }

  file(id: number, name: string): Uint8Array {
    const bytes = this.builds.get(id)?.output.files.get(name);
    if (!bytes) throw Object.assign(new Error(`merge: build ${id} has no file '${name}'`), { name: 'ConfigError' });
    return bytes;
  }

  release(id: number): void {
    this.builds.delete(id);
  }

  cancel(): void {
    this.abort?.abort();
  }
}

Comlink.expose(new MergeWorkerApi());
