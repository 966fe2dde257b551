// Run from the repository after `npm run build:lib`:
//   node docs/examples/node-chat.mjs public/zoo/chat
// (any HF folder or .gguf works; a merged MoE shows routing: see docs/api.md)
import { createEngine } from 'moe-studio';

const engine = await createEngine({ model: process.argv[2] ?? 'public/zoo/chat' });
console.log(`model ${engine.model.id} on ${engine.backend.name} (${engine.backend.reason})`);

const messages = [{ role: 'user', content: 'What is the capital of France?' }];
const answer = await engine.chat.completions.create({ messages, max_tokens: 32, temperature: 0 });
console.log(answer.choices[0].message.content, answer.usage);

// A second turn that extends the first: its prefix comes from the KV cache.
messages.push(answer.choices[0].message, { role: 'user', content: 'And of Spain?' });
const stream = await engine.chat.completions.create({ messages, max_tokens: 32, temperature: 0, stream: true });
for await (const chunk of stream) {
  process.stdout.write(chunk.choices[0].delta.content ?? '');
  if (chunk.usage) console.log(`\ncached_tokens: ${chunk.usage.prompt_tokens_details.cached_tokens}`);
}
await engine.dispose();
