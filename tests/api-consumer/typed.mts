// Type-checked by package.test.ts with NodeNext resolution: the package's `exports` types
// resolve by name, and they are real types (the @ts-expect-error lines fail if they were `any`).
import { type ChatCompletion, type ChatCompletionChunk, ConfigError, createEngine } from 'moe-studio';

const engine = await createEngine({ model: 'public/zoo/chat', backend: 'cpu', contextLength: 64 });
const answer: ChatCompletion = await engine.chat.completions.create({ messages: [{ role: 'user', content: 'hi' }] });
const cached: number = answer.usage.prompt_tokens_details.cached_tokens;
// @ts-expect-error: total_tokens is a number
const wrong: string = answer.usage.total_tokens;
for await (const chunk of await engine.chat.completions.create({ messages: [], stream: true })) {
  const c: ChatCompletionChunk = chunk;
  const ids: number[] | undefined = c.moe.tokens[0]?.layers[0]?.expert_ids;
  console.log(ids);
}
// @ts-expect-error: moe.experts_per_token is a number or a list of numbers
await engine.chat.completions.create({ messages: [], moe: { experts_per_token: 'two' } });
console.log(cached, wrong, new ConfigError('x').name);
