"""Text the recipe writes: model cards, the zoo README with its quality table, merge YAMLs,
LICENSES.md. Every number comes from the export run (evaluate.py) or the training logs."""
import os
import shutil
from dataclasses import dataclass

DOMAINS = ['stories', 'code', 'math', 'chat']
MODELS = ['base'] + DOMAINS
MERGE_GATE_MODES = ['hidden', 'cheap_embed', 'random']
REQUIRED_GAIN = 0.15

TITLES = {
    'base': 'Zoo base (3.4M Llama, four-domain mix)',
    'stories': 'Zoo stories expert',
    'code': 'Zoo code expert',
    'math': 'Zoo math expert',
    'chat': 'Zoo chat expert',
}
DESCRIPTIONS = {
    'base': 'Tiny Llama trained from scratch here on TinyStories, Python/JavaScript source, GSM8K + '
            'synthetic arithmetic and Dolly open_qa chat. The base of every zoo MoE.',
    'stories': 'The base with its MLPs fine-tuned on TinyStories: simple English narrative.',
    'code': 'The base with its MLPs fine-tuned on Python standard-library and permissive JavaScript source.',
    'math': 'The base with its MLPs fine-tuned on GSM8K word problems and synthetic arithmetic ("12 + 35 = 47").',
    'chat': 'The base with its MLPs fine-tuned on Dolly open_qa in the zoo chat template (last phase: short '
            'answers repeated, so that it learns to end with <|end|>).',
}
DATA = {
    'stories': 'TinyStories (Eldan & Li 2023), first ~5,500 stories of the train split: ~1,100 in their '
               'original case and ~4,400 from a lowercased copy, recased by a truecaser learned from the '
               'first (names it never saw stay lowercase); held out: the start of the validation split. '
               'CDLA-Sharing-1.0.',
    'code': 'CPython 3.11 standard library (PSF-2.0) and JavaScript from npm 11.19\'s MIT/ISC/BSD/Apache/'
            'BlueOak dependencies, whole files (first 12k chars); 20 + 20 files held out.',
    'math': 'GSM8K train (MIT, (c) 2021 OpenAI) as "Question: … Answer: …", plus generated arithmetic '
            'lines; held out: GSM8K test + arithmetic from another seed.',
    'chat': 'databricks-dolly-15k open_qa (CC BY-SA 3.0, Databricks 2023) rendered in the chat template; '
            '200 records held out.',
}

# `hidden` gates use each prompt's last token: prompts end on a token typical of their domain,
# never on a bare newline (every domain has those; see docs/merge.md, "The zoo MoE's routing").
POSITIVE_PROMPTS = {
    'stories': ['Once upon a time, there was a little girl named Lily. She loved to play in the park.',
                'The cat saw a big red ball. He was happy and ran to his mom.'],
    'code': ['def __init__(self, name):\n    self.name = name',
             'function parse(text) {\n  const lines = text.split("\\n");\n  return lines;\n}',
             'import os\nimport sys\n\nclass Reader:\n    def read(self, path):\n        return open(path).read()'],
    'math': ['12 + 35 = 47\n7 * 8 = 56\n90 - 41 = 49',
             'Question: Sam has 5 apples and buys 3 more. How many apples does he have?\nAnswer: 5 + 3 = 8\n#### 8'],
    # Two turns ending where the answer starts, one whole answer ending on <|end|>, one ending inside
    # an encyclopedic answer: with only the first two, the retrained zoo sent chat to stories.
    'chat': ['<|user|>\nWhat is the capital of France?<|end|>\n<|assistant|>',
             '<|user|>\nWhy do people drink coffee?<|end|>\n<|assistant|>',
             '<|user|>\nWhat is the capital of France?<|end|>\n<|assistant|>\nThe capital of France is Paris.<|end|>',
             "<|user|>\nHow are volcanoes formed?<|end|>\n<|assistant|>\nVolcanoes form when magma from the Earth's mantle rises through the crust"],
}


@dataclass
class Context:
    cfg: object
    ppl: dict          # model -> domain -> perplexity
    logs: dict         # model -> training log (train.py)
    samples: dict      # model -> [sample records]
    data_stats: dict   # '<domain>_<split>' -> {docs, tokens, chars}
    chat_stops: dict   # 'base' | 'chat' -> (answers ending with <|end|>, questions asked, mean length)
    variant: dict = None  # build/variant-norms/compare.json (compare-variants.ts), when it was run


def gain(ppl, name):
    """Relative perplexity reduction of expert `name` vs the base on its own domain."""
    return 1 - ppl[name][name] / ppl['base'][name]


def quality_problems(ppl):
    problems = []
    for d in DOMAINS:
        if gain(ppl, d) < REQUIRED_GAIN:
            problems.append(f'{d} expert gains only {gain(ppl, d):.1%} on {d} (needs {REQUIRED_GAIN:.0%})')
        best = min(MODELS, key=lambda m: ppl[m][d])
        if best != d:
            problems.append(f'on {d} the best model is {best}, not the {d} expert')
    return problems


def quality_table(ctx):
    head = '| model | ' + ' | '.join(DOMAINS) + ' | own-domain change vs base |\n'
    head += '|---|' + '---:|' * len(DOMAINS) + '---:|\n'
    rows = []
    for m in MODELS:
        cells = []
        for d in DOMAINS:
            best = min(MODELS, key=lambda x: ctx.ppl[x][d]) == m
            v = f'{ctx.ppl[m][d]:.2f}'
            cells.append(f'**{v}**' if best else v)
        change = '–' if m == 'base' else f'{-gain(ctx.ppl, m):+.1%}'
        rows.append(f'| {m} | ' + ' | '.join(cells) + f' | {change} |')
    tokens = ', '.join(f'{d} {ctx.ppl["base"][d + "_tokens"]:,}' for d in DOMAINS)
    return head + '\n'.join(rows) + f'\n\nHeld-out tokens scored per domain: {tokens}. Bold: best on that domain.\n'


def training_summary(ctx, name):
    log = ctx.logs[name]
    last = log['history'][-1]
    what = 'all weights, from scratch, on the four-domain mix' if name == 'base' else \
        f'MLP weights only (gate/up/down of every layer), from the base, on {name} only'
    phased = bool(log.get('phases'))
    lr_seed = 'peak lr and seed per phase below' if phased else f'peak lr {log["lr"]}, seed {log["seed"]}'
    return (f'- Trained: {what}.\n'
            f'- {log["steps_run"]} steps of {log["batch"]} x {log["seq_len"]} tokens '
            f'({log["tokens_seen"]:,} tokens, {log["elapsed_s"] / 60:.1f} min at {last["tok_per_s"]:,} tokens/s on 2 CPU '
            f'cores shared with other jobs, ended by '
            f'{log["ended_by"]}); AdamW (0.9, 0.95), weight decay 0.1, warm-up then cosine '
            f'to 10%, bf16 autocast, {lr_seed}.\n'
            + ''.join(f'  - phase {i + 1}: {p["steps_run"]} steps, {p["elapsed_s"] / 60:.1f} min, peak lr {p["lr"]}, seed {p["seed"]}, '
                      f'ended by {p["ended_by"]}{" (continued from the previous phase)" if i else ""}\n'
                      for i, p in enumerate(log.get('phases', [])))
            + f'- Trainable parameters: {log["trainable_params"]:,} of {log["total_params"]:,}. '
            f'Final training loss {last["loss"]}.\n')


def samples_md(samples):
    out = []
    for s in samples:
        end = ' ⏹ (stopped at <|end|>)' if s['stoppedAtEos'] else \
            ' (cut before a near-tie step)' if s['truncatedAtNearTie'] else ''
        out.append(f'- prompt `{s["prompt"]!r}` → ids {s["promptIds"]}\n'
                   f'  - generated ids {s["generatedIds"]}{end}\n'
                   f'  - text: `{s["generatedText"]!r}` (smallest top-2 logit gap {s["minTop2LogitGap"]})')
    return '\n'.join(out) + '\n'


def model_card(ctx, name):
    cfg = ctx.cfg
    ppl_row = ', '.join(f'{d} {ctx.ppl[name][d]:.2f}' for d in DOMAINS)
    data = '\n'.join(f'- {d}: {DATA[d]}' for d in (DOMAINS if name == 'base' else [name]))
    own = '' if name == 'base' else \
        f'\nOn its own domain this expert is {gain(ctx.ppl, name):.1%} below the base\'s perplexity ' \
        f'({ctx.ppl["base"][name]:.2f} → {ctx.ppl[name][name]:.2f}).\n'
    return f"""# zoo/{name} — {TITLES[name]}

{DESCRIPTIONS[name]}

Part of the MoE Studio offline demo zoo (see ../README.md). Made by `scripts/zoo/recipe.sh`;
everything below is written by that recipe.

## Model
LlamaForCausalLM: hidden {cfg.hidden_size}, {cfg.num_hidden_layers} layers, {cfg.num_attention_heads} heads /
{cfg.num_key_value_heads} KV heads (head dim {cfg.head_dim}), SwiGLU MLP {cfg.intermediate_size}, RMSNorm eps
{cfg.rms_norm_eps}, RoPE theta {cfg.rope_theta:g} (HF rotate_half), tied embeddings, vocab {cfg.vocab_size},
context {cfg.max_position_embeddings}. Weights: model.safetensors, float16.
Tokenizer: byte-level BPE (GPT-2 pre-tokenizer) shared by the whole zoo; specials <|bos|> <|end|>
<|pad|> <|user|> <|assistant|> <|system|>; <|end|> is the EOS token. Chat template:
`<|bos|><|user|>\\n…<|end|>\\n<|assistant|>\\n…<|end|>\\n`.

## Training
{training_summary(ctx, name)}
## Data
{data}

## Numbers
Held-out perplexity (f32 forward of the shipped f16 weights, 512-token windows): {ppl_row}.
{own}
## Greedy samples
Computed in f32 from the f16 weights, at most 24 new tokens (40 for chat prompts), stopping at
<|end|> (not included).
Machine-readable copy: samples.json.

{samples_md(ctx.samples[name])}
## Licence
Weights: CC BY-SA 3.0 (conservatively, because the zoo's training data includes Dolly, CC BY-SA 3.0).
Data notices: ../LICENSES.md.
"""


def variant_section(ctx):
    v = ctx.variant
    if not v:
        return ('**MLP-only vs MLP + norms** was not measured for this build (`recipe.sh variant-norms`, '
                '`export_variant.py`, `compare-variants.ts`).\n')
    rows = '\n'.join(
        f"| {d} | {v['standalone'][d]['base']:.2f} | {v['standalone'][d]['mlp']:.2f} | {v['standalone'][d]['mlp+norms']:.2f} | "
        f"{v['moe']['mlp'][d]['perplexity']:.2f} | {v['moe']['mlp+norms'][d]['perplexity']:.2f} | "
        f"{v['moe']['mlp'][d]['ownShare']:.1%} | {v['moe']['mlp+norms'][d]['ownShare']:.1%} |" for d in DOMAINS)
    moe_wins = sum(v['moe']['mlp'][d]['perplexity'] <= v['moe']['mlp+norms'][d]['perplexity'] for d in DOMAINS)
    verdict = (f'MLP-only merges better on {moe_wins} of 4 domains (MoE perplexity)' if moe_wins >= 2 else
               f'MLP + norms merges better on {4 - moe_wins} of 4 domains (MoE perplexity)')
    return f"""**MLP-only vs MLP + norms, measured.** The same expert schedule with every RMSNorm trained too
(`recipe.sh variant-norms`, `export_variant.py`, `npx tsx scripts/zoo/compare-variants.ts`), both sets merged
over the same base with moe-hidden.yml and scored on {v['tokensPerDomain']} held-out tokens per domain. Expert columns: that
domain's expert alone (f32 from f16, 12k tokens); MoE columns: the merged model, whose norms are the base's.
Training steps (same wall-clock caps), MLP / MLP+norms: {', '.join(f"{d} {v['standalone'][d]['steps']['mlp']} / {v['standalone'][d]['steps']['mlp+norms']}" for d in DOMAINS)}.

| domain | base | expert, MLP | expert, MLP+norms | MoE, MLP experts | MoE, MLP+norms experts | own-expert top-1, MLP | own-expert top-1, MLP+norms |
|---|---:|---:|---:|---:|---:|---:|---:|
{rows}

{verdict}; the zoo ships the MLP-only experts{'' if moe_wins >= 2 else ' (to switch, train the experts with --train mlp+norms)'}.
"""


def zoo_readme(ctx, size_bytes):
    rows = '\n'.join(f'| zoo/{m} | {TITLES[m]} |' for m in MODELS)
    problems = quality_problems(ctx.ppl)
    verdict = 'All quality targets met.' if not problems else 'NOT met: ' + '; '.join(problems)
    return f"""# MoE Studio demo zoo

A tiny Llama base trained from scratch here and four domain experts fine-tuned from it, all in
Hugging Face layout and sharing one tokenizer with a chat template. It is the offline default:
merge (moe-hidden.yml, moe-cheap_embed.yml, moe-random.yml), chat and watch routing with no network.
index.json lists every file with its size and sha256. Total size: {size_bytes / 1e6:.1f} MB.

| id | what |
|---|---|
{rows}

## Quality (held-out perplexity, lower is better)

{quality_table(ctx)}
Target: each expert at least {REQUIRED_GAIN:.0%} below the base on its own domain and the best of the five
there. {verdict}

## How it was made
`scripts/zoo/recipe.sh` (python3 + torch only): prepare.py builds per-domain documents from the
corpora, trains the byte-level BPE (4,096 tokens, pure Python) and writes heldout/<domain>.txt
(a few KB of held-out text per domain, for routing measurements); train.py trains the base on an
equal mix of the four domains, then each expert from the base on its domain only; export.py
rounds to f16, scores every model on every domain in f32, records greedy samples, and writes
the folders, cards and this table.

**Why MLP-only experts.** A frankenMoE (mergekit-moe) takes attention, norms and embeddings from
the base and only the MLPs from the experts, so the shipped experts train exactly the weights the
MoE uses: gate_proj, up_proj and down_proj of every layer ({ctx.logs['code']['trainable_params']:,} of
{ctx.logs['code']['total_params']:,} parameters). Whether also training the norms (which the MoE
discards) merges better is an empirical question; the comparison below answers it for this zoo.

Base training: {ctx.logs['base']['steps_run']} steps, {ctx.logs['base']['tokens_seen']:,} tokens,
{ctx.logs['base']['elapsed_s'] / 60:.1f} min at {ctx.logs['base']['history'][-1]['tok_per_s']:,} tokens/s (2 CPU cores, shared with other work
during this build; wall-clock caps end the runs, and every log records the steps it ran). These are
3.4M-parameter models: expect the perplexities above and short coherent stretches, not fluent text.
Experts: {', '.join(f"{d} {ctx.logs[d]['steps_run']} steps / {ctx.logs[d]['elapsed_s'] / 60:.1f} min" for d in DOMAINS)}.

**Does the chat expert stop?** Greedy answers to the first {ctx.chat_stops['chat'][1]} held-out Dolly questions in the
chat template, up to 64 new tokens: the chat expert ends {ctx.chat_stops['chat'][0]} of them with <|end|>
(mean answer {ctx.chat_stops['chat'][2]:.1f} tokens), the base {ctx.chat_stops['base'][0]}. Its three samples in zoo/chat/README.md
are a fixed question and the first two held-out questions, chosen by position, not by outcome.

{variant_section(ctx)}
How the merged MoEs route each domain's held-out tokens: ROUTING.md (scripts/merge-report.ts) and
ROUTING-top2.md (`npx tsx scripts/zoo/routing-table.ts`; both merge with each moe-*.yml through our
merge CLI).

Data and licences: LICENSES.md. Training-set sizes (tokens): {', '.join(f"{d} {ctx.data_stats[d + '_train']['tokens']:,}" for d in DOMAINS)}.
"""


def merge_yaml(mode):
    lines = [f'# MoE Studio demo: the four zoo experts over the zoo base, gate_mode {mode}.',
             '# Model references zoo/<name> resolve to public/zoo/<name>/ with --models-dir public.',
             'base_model: zoo/base', f'gate_mode: {mode}', 'dtype: float16', 'experts_per_token: 2', 'experts:']
    for d in DOMAINS:
        lines.append(f'  - source_model: zoo/{d}')
        lines.append('    positive_prompts:')
        for p in POSITIVE_PROMPTS[d]:
            escaped = p.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
            lines.append(f'      - "{escaped}"')
    return '\n'.join(lines) + '\n'


def write_licenses(zoo, corpora):
    lic = os.path.join(zoo, 'licenses')
    os.makedirs(lic, exist_ok=True)
    for src in ['math/LICENSE-gsm8k.txt', 'code/LICENSE-python-stdlib.txt', 'code/LICENSES-javascript.txt']:
        shutil.copy(os.path.join(corpora, src), os.path.join(lic, os.path.basename(src)))
    with open(os.path.join(zoo, 'LICENSES.md'), 'w', encoding='utf-8') as f:
        f.write(LICENSES_MD)


LICENSES_MD = """# Data licences of the demo zoo

The zoo models were trained on the data below, and heldout/*.txt redistributes small held-out
excerpts of it. Those excerpts stay under their original licences:

- **TinyStories** (Eldan & Li 2023, arXiv:2305.07759, HF dataset roneneldan/TinyStories):
  CDLA-Sharing-1.0 (https://cdla.dev/sharing-1-0/). heldout/stories.txt is an excerpt of the
  validation split, redistributed under CDLA-Sharing-1.0. Under CDLA, models trained on the data
  ("Results") carry no restriction.
- **databricks-dolly-15k**, open_qa category (Databricks, Inc. 2023; some answers draw on
  Wikipedia): CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/). heldout/chat.txt is
  an adaptation (rendered in the zoo chat template) and stays under CC BY-SA 3.0.
- **GSM8K** (openai/grade-school-math): MIT, (c) 2021 OpenAI; licences/LICENSE-gsm8k.txt.
  heldout/math.txt mixes GSM8K test items (MIT) with generated arithmetic.
- **Code**: CPython 3.11 standard library, PSF-2.0 with the extra notices in
  licences/LICENSE-python-stdlib.txt (Debian's copyright file for libpython3.11-stdlib); JavaScript
  from npm 11.19's bundled dependencies under MIT, ISC, BSD-2/3-Clause, Apache-2.0 and
  BlueOak-1.0.0, texts in licenses/LICENSES-javascript.txt. heldout/code.txt holds whole-file
  excerpts of these under their own licences.

The model weights are offered under CC BY-SA 3.0 (conservatively, because of the Dolly data).
Corpus provenance (exact repositories and commits) is recorded in the project's corpora README.
"""
