// A consumer of the built package, imported by its name through package.json `exports` (Node
// resolves a package's own name from inside it): streams one greedy answer from the model
// folder given as argv[2] and prints {backend, model, chunks} as one JSON line.
import { createEngine } from 'moe-studio';

const engine = await createEngine({ model: process.argv[2], backend: 'wasm', threads: 2 });
const stream = await engine.chat.completions.create({
  messages: [{ role: 'user', content: 'What is the capital of France?' }],
  temperature: 0,
  max_tokens: 8,
  stream: true,
});
const chunks = [];
for await (const chunk of stream) chunks.push(chunk);
process.stdout.write(`${JSON.stringify({ backend: engine.backend, model: engine.model, chunks })}\n`);
await engine.dispose();
