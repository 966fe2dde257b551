/**
 * Compose's worker side: live checks (parse → validate → plan, headers only), the routing
 * preview (gates recomputed from the base model; experts not needed), and the build (
 * runMerge into an HF folder that goes straight into the model store).
 */
import { CancelledError } from '../../src/core/errors.ts';
import { parseMergeYaml, type MoeMergeConfig } from '../../src/core/formats/mergekit-yaml.ts';
import { memoryFolder, type FileSet } from '../../src/core/io/byte-source.ts';
import { lazyHfFolder } from '../../src/core/model/export-hf.ts';
import { createMergeRuntime } from '../../src/core/merge/default-runtime.ts';
import { planMerge } from '../../src/core/merge/plan.ts';
import { runMerge } from '../../src/core/merge/run.ts';
import { openMergeInputs, type MergeInputs, type ModelResolver } from '../../src/core/merge/sources.ts';
import { folderWriter } from '../../src/core/merge/writer.ts';
import { idbKvStore } from '../../src/core/store/kv.ts';
import { modelStoreImportFileSet } from '../../src/core/store/import-files.ts';
import { type ModelRef, openModelRef } from '../model-ref.ts';
import { QUANTIZED_FILE, loadModel } from '../../src/core/model/load.ts';
import { previewRouting } from './preview.ts';
import type {
  MergeApi,
  MergeBuildProgress,
  MergeBuildRequest,
  MergeBuildResult,
  MergeCheck,
  ModelSources,
} from './api.ts';

interface OpenedSource {
  files: FileSet;
  /** Said with every check and build that reads this source. */
  warning?: string;
}

async function openRef(ref: ModelRef): Promise<OpenedSource> {
  const { files, manifest } = await openModelRef(ref);
  if (!manifest) return { files };
  const list = await files.list();
  if (!list.includes(QUANTIZED_FILE) || list.some((f) => f.endsWith('.safetensors'))) return { files };
  return {
    files: await dequantizedFolder(files),
    warning: `'${manifest.title}' is stored quantized (${manifest.importQuant ?? 'gguf'}): it is merged from its dequantized weights, which carry that quantization's rounding`,
  };
}

/**
 * A quantized import (model.gguf + the original config and tokenizer files) as the HF folder
 * mergekit expects: q8_0/q4_0 dequantized to f32 (exact; f16 could not hold every q4_0 value),
 * tensor by tensor as the merge reads them, so the donor costs its quantized size in memory.
 */
async function dequantizedFolder(files: FileSet): Promise<FileSet> {
  const { weights, config } = await loadModel(files);
  // Every tensor f32 (a GGUF keeps some in f16) and torch_dtype float32 over the original
  // config's: as a base, it yields an f32 merge rather than rounding the dequantized values again.
  return lazyHfFolder(weights, files.name, {
    baseConfig: config as Record<string, unknown>,
    sidecarFiles: files,
    dtype: 'f32',
  });
}

export class MergeHost implements MergeApi {
  private folders = new Map<string, Promise<OpenedSource>>();
  private abort?: AbortController;

  /** Cached per source (fetch FileSets keep their bytes; the zoo is small). Source warnings go to `warnings`. */
  private resolver(sources: ModelSources, warnings: string[]): ModelResolver {
    // Keep only the folders of the current composition: a quantized donor holds its weights in
    // memory, and a person trying donors one after another must not pin them all.
    const current = new Set(Object.values(sources).map((source) => JSON.stringify(source)));
    for (const key of [...this.folders.keys()]) if (!current.has(key)) this.folders.delete(key);
    return async (ref) => {
      const source = sources[ref.path];
      if (!source)
        throw Object.assign(new Error(`merge: model '${ref.path}' is not in the library`), { name: 'ConfigError' });
      const key = JSON.stringify(source);
      let folder = this.folders.get(key);
      if (!folder) {
        folder = openRef(source);
        this.folders.set(key, folder);
        folder.catch(() => this.folders.delete(key));
      }
      const opened = await folder;
      if (opened.warning && !warnings.includes(opened.warning)) warnings.push(opened.warning);
      return opened.files;
    };
  }

  private async parseAndOpen(
    yaml: string,
    sources: ModelSources,
  ): Promise<{ config: MoeMergeConfig; inputs: MergeInputs; sourceWarnings: string[] } | MergeCheck> {
    const parsed = parseMergeYaml(yaml);
    if (!parsed.ok) return { ok: false, issues: parsed.issues, warnings: [] };
    const sourceWarnings: string[] = [];
    try {
      return {
        config: parsed.config,
        inputs: await openMergeInputs(parsed.config, this.resolver(sources, sourceWarnings)),
        sourceWarnings,
      };
    } catch (e) {
      return { ok: false, issues: [{ field: '', message: (e as Error).message, severity: 'error' }], warnings: [] };
    }
  }

  async check(yaml: string, sources: ModelSources): Promise<MergeCheck> {
    const opened = await this.parseAndOpen(yaml, sources);
    if ('ok' in opened) return opened;
    const planned = planMerge(opened.config, opened.inputs, {});
    if (!planned.ok) return { ok: false, issues: planned.issues, warnings: [] };
    return {
      ok: true,
      issues: [],
      arch: planned.plan.arch,
      totalBytes: planned.plan.totalBytes,
      warnings: [...opened.sourceWarnings, ...planned.plan.warnings],
    };
  }

  async preview(yaml: string, sources: ModelSources, text: string) {
    const opened = await this.parseAndOpen(yaml, sources);
    if ('ok' in opened)
      throw Object.assign(new Error(opened.issues.map((i) => i.message).join('; ')), { name: 'ConfigError' });
    return previewRouting(opened.config, opened.inputs, text);
  }

  async build(request: MergeBuildRequest, onProgress: (p: MergeBuildProgress) => void): Promise<MergeBuildResult> {
    this.abort?.abort();
    const abort = new AbortController();
    this.abort = abort;
    const opened = await this.parseAndOpen(request.yaml, request.sources);
    if ('ok' in opened)
      throw Object.assign(new Error(opened.issues.map((i) => `${i.field}: ${i.message}`).join('; ')), {
        name: 'ConfigError',
      });
    const planned = planMerge(opened.config, opened.inputs, { layout: request.layout });
    if (!planned.ok)
      throw Object.assign(new Error(planned.issues.map((i) => i.message).join('; ')), { name: 'ConfigError' });
    const folder = memoryFolder();
    const writer = folderWriter(folder.open);
    const result = await runMerge(planned.plan, opened.inputs, writer, {
      runtime: createMergeRuntime(),
      signal: abort.signal,
      onProgress: (p) =>
        onProgress({
          phase: p.phase === 'done' ? 'files' : p.phase,
          bytesDone: p.bytesDone,
          bytesTotal: p.bytesTotal,
          tensor: p.tensor,
        }),
    });
    if (abort.signal.aborted) throw new CancelledError('merge: cancelled');
    const files = folder.files(request.title);
    await modelStoreImportFileSet(idbKvStore(request.dbName), {
      id: request.outputId,
      title: request.title,
      source: { kind: 'merge', yaml: request.yaml },
      files,
      signal: abort.signal,
      notes: { ...request.notes, arch: planned.plan.arch, warnings: [...opened.sourceWarnings, ...result.warnings] },
      onProgress: (store) => onProgress({ phase: 'storing', store }),
    });
    if (this.abort === abort) this.abort = undefined;
    return { id: request.outputId, warnings: [...opened.sourceWarnings, ...result.warnings], files: result.files };
  }

  cancel(): void {
    this.abort?.abort();
  }
}
