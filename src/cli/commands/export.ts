/**
 * `moe-studio export <model> --format gguf|safetensors --quant f32|f16|q8_0|q4_0 --out PATH`
 *
 * safetensors: PATH is a folder (config.json, generation_config.json, model.safetensors or
 * shards, the source's tokenizer files, and the README.md model card the Export page writes); f32/f16/bf16 only, as safetensors cannot hold ggml blocks.
 * gguf: PATH is a file (exportGguf), with the HF tokenizer embedded.
 */
import { basename, resolve } from 'node:path';
import { ConfigError } from '../../core/errors.ts';
import { readText } from '../../core/io/byte-source.ts';
import { MERGE_CONFIG_FILE } from '../../core/merge/expert-labels.ts';
import { hfModelCard, yamlModelCardFacts } from '../../core/merge/model-card.ts';
import { exportHfFolder } from '../../core/model/export-hf.ts';
import { exportGguf } from '../../core/model/gguf-model.ts';
import type { ExportableModel } from '../../core/model/load.ts';
import { HfTokenizer } from '../../core/tokenizer/hf.ts';
import { enumFlag, numberFlag, onePositional, parseFlags, stringFlag, UsageError, type FlagSpec } from '../args.ts';
import { loadModelArgLazy, terminalProgress } from '../load-model.ts';
import { nodeDirSinkOpener, nodeFileSink, pathExists } from '../node-io.ts';
import type { GgufExportQuant } from '../../core/model/gguf-names.ts';

const MODEL_CARD_FILE = 'README.md';

export const EXPORT_USAGE = `moe-studio export <model> --format gguf|safetensors --quant f32|f16|bf16|q8_0|q4_0 --out PATH [options]
  --format FORMAT      gguf (PATH is a file) or safetensors (PATH is an HF folder)
  --quant TYPE         f32 | f16 | q8_0 | q4_0 for gguf; f32 | f16 | bf16 for safetensors
  --out PATH           output file (gguf) or folder (safetensors)
  --layout L           Mixtral safetensors layout: classic (default) | fused (transformers v5)
  --shard-size BYTES   safetensors shard budget (default 5000000000)
  --tokenizer FILE     llama2.c only: tokenizer .bin
  --force              overwrite an existing output`;

const FLAGS: FlagSpec = {
  format: { type: 'string' },
  quant: { type: 'string' },
  out: { type: 'string' },
  layout: { type: 'string' },
  'shard-size': { type: 'string' },
  tokenizer: { type: 'string' },
  force: { type: 'boolean' },
  verbose: { type: 'boolean' },
};

const FORMATS = ['gguf', 'safetensors'] as const;
const QUANTS = ['f32', 'f16', 'bf16', 'q8_0', 'q4_0'] as const;

function required<T>(flag: string, value: T | undefined): T {
  if (value === undefined) throw new UsageError(`export: --${flag} is required`);
  return value;
}

async function exportSafetensors(
  model: ExportableModel,
  out: string,
  values: Record<string, string | boolean | undefined>,
  quant: string,
): Promise<string[]> {
  if (quant !== 'f32' && quant !== 'f16' && quant !== 'bf16') {
    throw new UsageError(`export: safetensors cannot store ${quant}; use --format gguf or --quant f32|f16|bf16`);
  }
  const layout = enumFlag('layout', values.layout, ['classic', 'fused'] as const);
  if (layout && model.spec.arch !== 'mixtral')
    throw new UsageError(`export: --layout applies to Mixtral models only (this is ${model.spec.arch})`);
  const isHf = model.config && typeof model.config === 'object' && 'model_type' in model.config;
  const { files } = await exportHfFolder(model.weights, nodeDirSinkOpener(out), {
    dtype: quant,
    mixtralLayout: layout ?? model.mixtralLayout ?? 'classic',
    maxShardBytes: numberFlag('shard-size', values['shard-size'], { integer: true, min: 1 }),
    baseConfig: isHf ? model.config : undefined,
    sidecarFiles: isHf ? model.files : undefined,
    extraFiles: { [MODEL_CARD_FILE]: await exportModelCard(model, out) },
  });
  return files;
}

/** The output architecture names the merge gives these model_types (the card says what the model is). */
const MOE_ARCH_LABEL: Partial<Record<ExportableModel['spec']['arch'], string>> = {
  mixtral: 'Mixtral',
  qwen2_moe: 'Qwen MoE',
};

/** README.md as the Export page writes it (hfModelCard): a merged source's card comes from its mergekit YAML. */
async function exportModelCard(model: ExportableModel, out: string): Promise<string> {
  const title = basename(resolve(out));
  const arch = MOE_ARCH_LABEL[model.spec.arch];
  const hasYaml = model.files && (await model.files.list()).includes(MERGE_CONFIG_FILE);
  const yaml = hasYaml ? await readText(await model.files!.open(MERGE_CONFIG_FILE)) : undefined;
  return hfModelCard((yaml && yamlModelCardFacts(title, yaml, arch)) || { title, arch, experts: [], yaml });
}

async function exportGgufFile(model: ExportableModel, out: string, quant: GgufExportQuant): Promise<string[]> {
  if (!(model.tokenizer instanceof HfTokenizer)) {
    throw new ConfigError('export: GGUF export needs an HF tokenizer (tokenizer.json); this model has none');
  }
  const sink = await nodeFileSink(out);
  await exportGguf(
    sink,
    model.weights,
    { tokenizerJson: model.tokenizer.tokenizerJson, tokenizerConfig: model.tokenizer.tokenizerConfig },
    quant,
  );
  return [out];
}

export async function runExportCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags('export', argv, FLAGS);
  const modelArg = onePositional('export', positionals, 'model');
  const format = required('format', enumFlag('format', values.format, FORMATS));
  const quant = required('quant', enumFlag('quant', values.quant, QUANTS));
  const out = required('out', stringFlag(values.out));
  if (format === 'gguf' && quant === 'bf16')
    throw new UsageError('export: gguf export supports f32, f16, q8_0 and q4_0');
  if (!values.force && (await pathExists(out)))
    throw new UsageError(`export: ${out} exists; pass --force to overwrite`);
  // Lazy: each tensor is read when the exporter writes it, so memory does not grow with the model.
  const model = await loadModelArgLazy(modelArg, {
    tokenizer: stringFlag(values.tokenizer),
    onProgress: terminalProgress(),
  });
  const started = performance.now();
  const files =
    format === 'gguf'
      ? await exportGgufFile(model, out, quant as GgufExportQuant)
      : await exportSafetensors(model, out, values, quant);
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(
    `wrote ${files.length} file${files.length > 1 ? 's' : ''} to ${out} in ${seconds.toFixed(2)} s\n`,
  );
  for (const file of files) process.stdout.write(`${file}\n`);
  return 0;
}
