import { readFileSync } from 'node:fs';
import { PreTrainedTokenizer } from '@huggingface/transformers';
import { describe, expect, it } from 'vitest';
import { ConfigError, FormatError } from '../errors.ts';
import { memoryFileSet } from '../io/byte-source.ts';
import { HfTokenizer, loadHfTokenizer } from './hf.ts';
import { buildTestingBpeTokenizer, TESTING_SPECIAL_TOKENS } from './bpe.testing.ts';
import { RUNAWAY_TEMPLATE } from './hanging.testing.ts';

const FIXTURE = new URL('../../../tests/fixtures/tokenizers/mistral-32k/', import.meta.url);
const mistralJson = JSON.parse(readFileSync(new URL('tokenizer.json', FIXTURE), 'utf8'));
const mistralConfig = JSON.parse(readFileSync(new URL('tokenizer_config.json', FIXTURE), 'utf8'));

/** Mistral-7B-Instruct v0.1's chat template (as in transformers.js' apply_chat_template docs). */
const MISTRAL_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}" +
  "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

const ROUND_TRIP_TEXTS = [
  'def add(a, b):\n    return a + b\n\n\tif x:\n        pass  # two-level indent',
  'Digits: 0 1 12 123 1234567890 3.14159 -42 1e-5',
  'Unicode: café naïve 日本語 中文 Ελληνικά 🙂🚀 עברית',
  'Trailing spaces   and  double  spaces',
];

const encoder = new TextEncoder();
const asFile = (value: unknown) => encoder.encode(typeof value === 'string' ? value : JSON.stringify(value));

describe('HfTokenizer over a real vocabulary (Mistral v0.1, 32000 pieces)', () => {
  const tokenizer = new HfTokenizer(mistralJson, { ...mistralConfig, chat_template: MISTRAL_TEMPLATE });

  it('knows its size and special tokens', () => {
    expect(tokenizer.vocabSize).toBe(32000);
    expect([tokenizer.bosToken, tokenizer.bosTokenId, tokenizer.eosToken, tokenizer.eosTokenIds]).toEqual([
      '<s>',
      1,
      '</s>',
      [2],
    ]);
    expect(tokenizer.idToToken(1)).toBe('<s>');
    expect(tokenizer.idToToken(28705)).toBe('▁');
  });

  it('matches the published ids of "<s>[INST] Hello, how are you? [/INST]"', () => {
    // transformers.js apply_chat_template docs (Xenova/mistral-tokenizer-v1, same vocabulary).
    expect(tokenizer.encode('<s>[INST] Hello, how are you? [/INST]', { addSpecialTokens: false })).toEqual([
      1, 733, 16289, 28793, 22557, 28725, 910, 460, 368, 28804, 733, 28748, 16289, 28793,
    ]);
  });

  it('adds BOS only when asked', () => {
    expect(tokenizer.encode('Hello')[0]).toBe(1);
    expect(tokenizer.encode('Hello', { addSpecialTokens: false })[0]).not.toBe(1);
  });

  it.each(ROUND_TRIP_TEXTS)('round-trips %j', (text) => {
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    expect(tokenizer.decode(ids)).toBe(text);
  });

  it('renders the chat template (published example)', () => {
    const text = tokenizer.applyChatTemplate([
      { role: 'user', content: 'Hello, how are you?' },
      { role: 'assistant', content: "I'm doing great. How can I help you today?" },
      { role: 'user', content: "I'd like to show off how chat templating works!" },
    ]);
    expect(text).toBe(
      "<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s> [INST] I'd like to show off how chat templating works! [/INST]",
    );
  });

  it('turns template exceptions into ConfigError', () => {
    expect(() => tokenizer.applyChatTemplate([{ role: 'assistant', content: 'x' }])).toThrow(ConfigError);
  });

  it('agrees with @huggingface/transformers PreTrainedTokenizer on encode and decode', () => {
    const reference = new PreTrainedTokenizer(mistralJson, mistralConfig);
    for (const text of [...ROUND_TRIP_TEXTS, '<s>hi</s> there', ' leading space']) {
      const ids = tokenizer.encode(text);
      expect(ids).toEqual(reference.encode(text));
      expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe(
        reference.decode(ids, { skip_special_tokens: true }),
      );
    }
  });
});

describe('HfTokenizer over a tiny byte-level BPE', () => {
  const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();
  const tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig);

  it('learned real merges (fewer ids than bytes)', () => {
    const text = 'Once upon a time there was a little dog.';
    expect(tokenizer.encode(text).length).toBeLessThan(encoder.encode(text).length);
  });

  it.each([...ROUND_TRIP_TEXTS, ' leading and trailing ', '\n\n\n'])('round-trips %j exactly', (text) => {
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('splits special tokens out as single ids and can skip them when decoding', () => {
    const ids = tokenizer.encode('<|im_start|>user\nhi 42<|im_end|>');
    const start = tokenizer.encode('<|im_start|>');
    expect(start).toHaveLength(1);
    expect(ids[0]).toBe(start[0]);
    expect(ids[ids.length - 1]).toBe(tokenizer.eosTokenIds[0]);
    expect(tokenizer.decode(ids)).toBe('<|im_start|>user\nhi 42<|im_end|>');
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi 42');
    expect(TESTING_SPECIAL_TOKENS.map((t) => tokenizer.idToToken(tokenizer.encode(t)[0]!))).toEqual([
      ...TESTING_SPECIAL_TOKENS,
    ]);
  });

  it('renders ChatML with a generation prompt', () => {
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'hi' }], { addGenerationPrompt: true })).toBe(
      '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    );
  });

  it('has no BOS and the ChatML end as EOS', () => {
    expect(tokenizer.bosTokenId).toBeUndefined();
    expect(tokenizer.eosToken).toBe('<|im_end|>');
  });

  it('agrees with @huggingface/transformers on a chat round', () => {
    const reference = new PreTrainedTokenizer(tokenizerJson, tokenizerConfig);
    const messages = [{ role: 'user' as const, content: 'def f(x):\n    return 2*x' }];
    const rendered = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    expect(rendered).toBe(reference.apply_chat_template(messages, { tokenize: false, add_generation_prompt: true }));
    expect(tokenizer.encode(rendered, { addSpecialTokens: false })).toEqual(
      reference.encode(rendered, { add_special_tokens: false }),
    );
  });
});

describe('loadHfTokenizer', () => {
  const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();

  it('loads from in-memory files and reads chat_template.jinja when the config has none', async () => {
    const { chat_template: template, ...configWithout } = tokenizerConfig;
    const tokenizer = await loadHfTokenizer(
      memoryFileSet({
        'tokenizer.json': asFile(tokenizerJson),
        'tokenizer_config.json': asFile(configWithout),
        'chat_template.jinja': asFile(template),
      }),
    );
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('<|im_start|>user\nx<|im_end|>\n');
  });

  it('reads chat_template.json when neither the config nor chat_template.jinja has a template', async () => {
    const { chat_template: template, ...configWithout } = tokenizerConfig;
    const tokenizer = await loadHfTokenizer(
      memoryFileSet({
        'tokenizer.json': asFile(tokenizerJson),
        'tokenizer_config.json': asFile(configWithout),
        'chat_template.json': asFile({ chat_template: template }),
      }),
    );
    expect(tokenizer.applyChatTemplate([{ role: 'user', content: 'y' }])).toBe('<|im_start|>user\ny<|im_end|>\n');
    await expect(
      loadHfTokenizer(
        memoryFileSet({ 'tokenizer.json': asFile(tokenizerJson), 'chat_template.json': asFile({ x: 1 }) }),
      ),
    ).rejects.toThrow('chat_template.json: expected {"chat_template": "<jinja>"}');
  });

  it('works without tokenizer_config.json, but then has no chat template', async () => {
    const tokenizer = await loadHfTokenizer(memoryFileSet({ 'tokenizer.json': asFile(tokenizerJson) }));
    expect(tokenizer.decode(tokenizer.encode('ok'))).toBe('ok');
    expect(() => tokenizer.applyChatTemplate([{ role: 'user', content: 'x' }])).toThrow(
      'tokenizer_config.json: no chat_template (the model has no chat format)',
    );
  });

  it('rejects a folder without tokenizer.json, invalid JSON and a non-tokenizer object', async () => {
    await expect(loadHfTokenizer(memoryFileSet({}, 'm'))).rejects.toThrow('m: no tokenizer.json');
    await expect(loadHfTokenizer(memoryFileSet({ 'tokenizer.json': asFile('{') }))).rejects.toThrow(
      /^tokenizer\.json: invalid JSON/,
    );
    await expect(loadHfTokenizer(memoryFileSet({ 'tokenizer.json': asFile({ hello: 1 }) }))).rejects.toThrow(
      "tokenizer.json: expected an object with a 'model' section",
    );
  });
});

describe('untrusted tokenizers and chat templates end in typed errors, in bounded time and memory', () => {
  const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();
  const user = [{ role: 'user' as const, content: 'hi' }];
  const withTemplate = (chat_template: string) => new HfTokenizer(tokenizerJson, { ...tokenizerConfig, chat_template });
  const renderError = (template: string): string => {
    try {
      withTemplate(template).applyChatTemplate(user);
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it.each([
    ['a template that does not compile', '{% for %}', /^tokenizer_config\.json: chat_template does not compile: /],
    ['an unclosed block', '{% if x %}', /^tokenizer_config\.json: chat_template does not compile: /],
    ['a call of a non-function', '{{ messages() }}', /^tokenizer_config\.json: chat_template failed: /],
    ['range(100000000)', '{% for i in range(100000000) %}x{% endfor %}', /chat_template exceeds a limit: /],
    ['range(1000000)', '{% for i in range(1000000) %}x{% endfor %}', /more than 100000 items \(maxRangeItems\)/],
    [
      'nested loops',
      '{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}',
      /more than 200000 steps \(maxSteps\)/,
    ],
    [
      'a string that doubles each step',
      "{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
      /characters exceeds 1048576 \(maxOutputChars\)/,
    ],
    ['a huge indent width', "{{ 'a\\nb' | indent(500000000) }}", /the integer 500000000 exceeds 16777216 \(maxInt\)/],
    ['raise_exception', "{{ raise_exception('no system role') }}", /failed: raise_exception\("no system role"\)/],
  ])('refuses %s with a ConfigError naming the file', (_, template, pattern) => {
    expect(renderError(template)).toMatch(pattern);
  });

  it.each([
    ['a nested quantifier', '(a+)+$'],
    ['a repeated alternation', '(a|a)*b'],
  ])('refuses a pre-tokenizer regex with %s (it would hang encoding)', (_, regex) => {
    const json = {
      ...tokenizerJson,
      pre_tokenizer: { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated' },
    };
    expect(() => new HfTokenizer(json, tokenizerConfig)).toThrow(
      /^tokenizer\.json: pre_tokenizer\.pattern\.Regex .*exponential/,
    );
  });

  it.each([
    ['four `.*` in a row', '.*.*.*=.*'],
    ['three overlapping `\\s*`', '\\s*\\s*\\s*x'],
    ['a bounded repeat of an unbounded group', '(?:\\s*){6}x'],
  ])('refuses a pre-tokenizer regex with %s (it backtracks as a power of the text length)', (_, regex) => {
    const json = {
      ...tokenizerJson,
      pre_tokenizer: { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated' },
    };
    expect(() => new HfTokenizer(json, tokenizerConfig)).toThrow(
      /^tokenizer\.json: pre_tokenizer\.pattern\.Regex .* has more than 2 unbounded quantifiers in a row \(TOKENIZER_LIMITS\.maxUnboundedInSequence/,
    );
  });

  // The published pre-tokenizer patterns (tokenizer.json Split) must pass the screen and encode.
  it.each([
    ['GPT-2', "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"],
    [
      'Llama 3',
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ],
    [
      'Qwen2',
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ],
    [
      'o200k',
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
    ],
  ])('accepts the %s pre-tokenizer pattern and encodes with it', (_, regex) => {
    const json = {
      ...tokenizerJson,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [
          { type: 'Split', pattern: { Regex: regex }, behavior: 'Isolated', invert: false },
          tokenizerJson.pre_tokenizer,
        ],
      },
    };
    const tokenizer = new HfTokenizer(json, tokenizerConfig);
    const text = "Hello, it's 2026!\n\n  def f(x):  return x";
    expect(tokenizer.decode(tokenizer.encode(text, { addSpecialTokens: false }))).toBe(text);
  });

  it('refuses a FixedLength pre-tokenizer of length 0 (it loops forever) and a nested normalizer regex', () => {
    const fixed = { ...tokenizerJson, pre_tokenizer: { type: 'FixedLength', length: 0 } };
    expect(() => new HfTokenizer(fixed, tokenizerConfig)).toThrow(FormatError);
    const nested = {
      ...tokenizerJson,
      normalizer: { type: 'Sequence', normalizers: [{ type: 'Replace', pattern: { Regex: '(\\s*)*x' }, content: '' }] },
    };
    expect(() => new HfTokenizer(nested, tokenizerConfig)).toThrow(/normalizer\.normalizers\[0\]\.pattern\.Regex/);
  });

  it('wraps the library errors of construction, encode and decode in FormatErrors naming the file', () => {
    const badModel = { ...tokenizerJson, model: { ...tokenizerJson.model, type: 'Nope', vocab: undefined } };
    expect(() => new HfTokenizer(badModel, tokenizerConfig, 'x.gguf')).toThrow(/^x\.gguf: /);
    const tokenizer = new HfTokenizer(tokenizerJson, tokenizerConfig);
    expect(() => tokenizer.decode([])).toThrow(FormatError);
    expect(() => tokenizer.decode([])).toThrow(/^tokenizer\.json: decode failed: /);
  });
});

describe('hasChatTemplate compiles the template and runs none of it (a model load renders nothing untrusted)', () => {
  const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();
  const withTemplate = (chat_template: string | null) =>
    new HfTokenizer(tokenizerJson, { ...tokenizerConfig, chat_template });

  it('answers a template that would run for a minute at once', () => {
    const started = performance.now();
    expect(withTemplate(RUNAWAY_TEMPLATE).hasChatTemplate()).toBe(true);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('says false for no template and for one that does not compile', () => {
    expect(withTemplate(null).hasChatTemplate()).toBe(false);
    expect(withTemplate('{% for %}').hasChatTemplate()).toBe(false);
    expect(withTemplate('{{ messages[0].content }}').hasChatTemplate()).toBe(true);
  });
});

describe('token ids are bounded before the library sizes arrays by them (TOKENIZER_LIMITS.maxTokenId)', () => {
  const { tokenizerJson, tokenizerConfig } = buildTestingBpeTokenizer();
  it('refuses an added token with id 2^31 (every vocabulary walk would take 2^31 steps)', () => {
    const json = structuredClone(tokenizerJson);
    json.added_tokens[0].id = 2 ** 31 - 1;
    expect(() => new HfTokenizer(json, tokenizerConfig)).toThrow(
      /^tokenizer\.json: added_tokens\[0\] id 2147483647 is not an integer in \[0, 4194304\)/,
    );
  });
  it('refuses a vocabulary id that is not an integer', () => {
    const json = structuredClone(tokenizerJson);
    json.model.vocab.a = 'zero';
    expect(() => new HfTokenizer(json, tokenizerConfig)).toThrow(/model\.vocab\["a"\] id "zero"/);
  });
});
