/**
 * Export: mergekit YAML, HF folder files (with a model card listing donors, the YAML and
 * usage), GGUF through the engine, routing traces as JSON/CSV. Bytes go straight to a
 * download (or a picked folder), never into state.
 */
import { create } from 'zustand';
import { readText } from '../core/io/byte-source.ts';
import type { ModelManifest, StoredQuant } from '../core/store/manifest.ts';
import { modelStoreFileSet } from '../core/store/store-file-set.ts';
import { engineClient } from './workers.ts';
import { appKv } from './kv-instance.ts';
import { routingTraceCsv } from './routing-stats.ts';
import type { AnalyzedText } from '../../workers/engine/api.ts';

export interface ExportState {
  busy?: string;
  message?: { kind: 'error' | 'info'; text: string };
}
export const useExport = create<ExportState>()(() => ({}));
export function exportReset(): void {
  useExport.setState({}, true);
}

export function downloadBytes(name: string, bytes: Uint8Array | string, type = 'application/octet-stream'): void {
  const blob = new Blob([typeof bytes === 'string' ? bytes : new Uint8Array(bytes)], { type });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The browser resolves the blob URL when the download actually starts, which on a loaded
  // machine can be seconds after the click; revoking early loses the download silently.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function manifestYaml(m: ModelManifest): string | undefined {
  return m.source.kind === 'merge' ? m.source.yaml : (m.notes?.yaml as string | undefined);
}

interface ExpertNote {
  donor: string;
  positive: string[];
  negative: string[];
}

/** User text as one Markdown table cell: no cell breaks (|), no HTML (<, >, &), newlines as <br>. */
export function markdownCell(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/\r\n|\r|\n/g, '<br>');
}

/** README.md for the HF folder: donors, prompts, the YAML, and how to use the model. */
export function modelCard(m: ModelManifest): string {
  const experts = (m.notes?.experts as ExpertNote[] | undefined) ?? [];
  const yaml = manifestYaml(m);
  const lines = [
    '---',
    'library_name: transformers',
    'tags: [moe, frankenmoe, mergekit, moe-studio]',
    '---',
    '',
    `# ${m.title}`,
    '',
    `A Mixture-of-Experts model built in MoE Studio${m.notes?.arch ? ` (${String(m.notes.arch)} architecture)` : ''}.`,
    '',
  ];
  if (m.notes?.base) lines.push(`Base model: \`${String(m.notes.base)}\``, '');
  if (experts.length) {
    lines.push('## Experts', '', '| # | Donor model | Positive prompts | Negative prompts |', '|---|---|---|---|');
    const prompts = (list: string[]) => list.map(markdownCell).join('<br>') || '—';
    const donor = (d: string) => `\`${d.replace(/[`\r\n]/g, ' ').replace(/\|/g, '\\|')}\``;
    experts.forEach((e, i) =>
      lines.push(`| ${i} | ${donor(e.donor)} | ${prompts(e.positive)} | ${prompts(e.negative)} |`),
    );
    lines.push('');
  }
  if (yaml) lines.push('## mergekit-moe configuration', '', '```yaml', yaml.trimEnd(), '```', '');
  lines.push(
    '## Usage',
    '',
    '```python',
    'from transformers import AutoModelForCausalLM, AutoTokenizer',
    'tok = AutoTokenizer.from_pretrained("path/to/this/folder")',
    'model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")',
    'print(tok.decode(model.generate(**tok("Once upon a time", return_tensors="pt"), max_new_tokens=40)[0]))',
    '```',
    '',
    'With llama.cpp: export GGUF from MoE Studio and run `llama-cli -m model.gguf`.',
    '',
  );
  return lines.join('\n');
}

async function run(label: string, work: () => Promise<void>): Promise<void> {
  useExport.setState({ busy: label, message: undefined });
  try {
    await work();
    useExport.setState({ message: { kind: 'info', text: `${label}: done.` } });
  } catch (e) {
    useExport.setState({
      message: { kind: 'error', text: `${label} failed: ${(e as Error).name}: ${(e as Error).message}` },
    });
  } finally {
    useExport.setState({ busy: undefined });
  }
}

export function exportYaml(m: ModelManifest): Promise<void> {
  return run('mergekit YAML', async () => {
    const yaml = manifestYaml(m);
    if (!yaml) throw new Error(`'${m.title}' was not built from a mergekit YAML`);
    downloadBytes('mergekit_moe_config.yml', yaml, 'text/yaml');
  });
}

/** Every stored file plus README.md, into a picked folder when the browser can, else as downloads. */
export function exportHfFolder(m: ModelManifest): Promise<void> {
  return run('HF folder', async () => {
    const files = modelStoreFileSet(appKv(), m);
    const picker = (window as Window & { showDirectoryPicker?: (o?: object) => Promise<FileSystemDirectoryHandle> })
      .showDirectoryPicker;
    const dir = picker ? await picker({ mode: 'readwrite' }).catch(() => undefined) : undefined;
    const write = async (name: string, bytes: Uint8Array | string) => {
      if (!dir) return downloadBytes(name, bytes);
      const handle = await dir.getFileHandle(name, { create: true });
      const w = await handle.createWritable();
      await w.write(typeof bytes === 'string' ? bytes : new Uint8Array(bytes));
      await w.close();
    };
    for (const name of await files.list()) {
      if (name === 'README.md') continue;
      const src = await files.open(name);
      await write(name, await src.read(0, src.size));
    }
    await write('README.md', modelCard(m));
  });
}

export function exportGgufFile(m: { title: string }, quant: StoredQuant): Promise<void> {
  return run(`GGUF ${quant}`, async () => {
    const bytes = await engineClient().exportGguf(quant);
    downloadBytes(`${m.title.replace(/[^\w.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '') || 'model'}.${quant}.gguf`, bytes);
  });
}

export function exportTrace(trace: AnalyzedText, format: 'json' | 'csv'): Promise<void> {
  return run(`Trace ${format.toUpperCase()}`, async () => {
    if (format === 'csv') downloadBytes('routing-trace.csv', routingTraceCsv(trace.pieces, trace.routing), 'text/csv');
    else
      downloadBytes(
        'routing-trace.json',
        JSON.stringify(
          { schemaVersion: 1, tokens: trace.pieces.map((piece, i) => ({ piece, routing: trace.routing[i] })) },
          null,
          1,
        ),
        'application/json',
      );
  });
}

export async function readStoredText(m: ModelManifest, name: string): Promise<string | undefined> {
  if (!m.files.some((f) => f.name === name)) return undefined;
  return readText(await modelStoreFileSet(appKv(), m).open(name));
}
