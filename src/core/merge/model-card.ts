/**
 * README.md of an HF folder the studio writes: title, architecture, base, the experts' donors
 * and prompts, the mergekit YAML, the router calibration when there was one, and usage. One
 * writer for every path: the CLI's `merge` and `export --format safetensors` and the Export
 * page's HF folder all call hfModelCard, so the same model gets the same card.
 */
import { formatModelReference, parseMergeYaml, type MoeMergeConfig } from '../formats/mergekit-yaml.ts';

export interface ModelCardExpert {
  donor: string;
  positive: string[];
  negative: string[];
}

export interface ModelCardFacts {
  title: string;
  /** The output architecture (OutputArchName, e.g. "Mixtral"), when known. */
  arch?: string;
  base?: string;
  experts: ModelCardExpert[];
  /** The mergekit-moe YAML the model was built from. */
  yaml?: string;
  /** A Markdown section on the router calibration (calibrationModelCard), when the routers were fitted. */
  calibration?: string;
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

/** The card's facts of a merge: donors and prompts as the YAML names them (blank prompts dropped, as Compose does). */
export function mergeModelCardFacts(
  title: string,
  config: MoeMergeConfig,
  yaml: string,
  arch?: string,
  calibration?: string,
): ModelCardFacts {
  const prompts = (list: string[] | null | undefined) => (list ?? []).filter((p) => p.trim());
  return {
    title,
    arch,
    base: formatModelReference(config.baseModel),
    experts: config.experts.map((e) => ({
      donor: formatModelReference(e.sourceModel),
      positive: prompts(e.positivePrompts),
      negative: prompts(e.negativePrompts),
    })),
    yaml,
    calibration,
  };
}

/** The card's facts of a model built from `yaml`, or undefined when it does not parse as a mergekit-moe config. */
export function yamlModelCardFacts(
  title: string,
  yaml: string,
  arch?: string,
  calibration?: string,
): ModelCardFacts | undefined {
  const parsed = parseMergeYaml(yaml);
  return parsed.ok ? mergeModelCardFacts(title, parsed.config, yaml, arch, calibration) : undefined;
}

/** README.md text. */
export function hfModelCard(facts: ModelCardFacts): string {
  const lines = [
    '---',
    'library_name: transformers',
    'tags: [moe, frankenmoe, mergekit, moe-studio]',
    '---',
    '',
    `# ${facts.title}`,
    '',
    facts.arch || facts.experts.length
      ? `A Mixture-of-Experts model built in MoE Studio${facts.arch ? ` (${facts.arch} architecture)` : ''}.`
      : 'A model exported from MoE Studio.',
    '',
  ];
  if (facts.base) lines.push(`Base model: \`${facts.base}\``, '');
  if (facts.experts.length) {
    lines.push('## Experts', '', '| # | Donor model | Positive prompts | Negative prompts |', '|---|---|---|---|');
    const prompts = (list: string[]) => list.map(markdownCell).join('<br>') || '—';
    const donor = (d: string) => `\`${d.replace(/[`\r\n]/g, ' ').replace(/\|/g, '\\|')}\``;
    facts.experts.forEach((e, i) =>
      lines.push(`| ${i} | ${donor(e.donor)} | ${prompts(e.positive)} | ${prompts(e.negative)} |`),
    );
    lines.push('');
  }
  if (facts.yaml) lines.push('## mergekit-moe configuration', '', '```yaml', facts.yaml.trimEnd(), '```', '');
  if (facts.calibration) lines.push(facts.calibration.trimEnd(), '');
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
