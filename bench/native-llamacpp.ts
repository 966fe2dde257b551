/**
 * Native llama.cpp peer (the ceiling), run as a child process so its peak RSS is its own:
 *   node --import tsx bench/native-llamacpp.ts <gguf> <promptIds,comma> <decodeTokens> <threads>
 * Prints one JSON line: { ttftMs, decodeMs[], peakRssBytes, threads, coresBusy }.
 * node-llama-cpp comes from the install under tools/llamacpp (never a second copy);
 * the prebuilt CPU binary (gpu: false, build: 'never').
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The slice of node-llama-cpp's API used here (its types live under tools/llamacpp). */
interface LlamaSequence {
  evaluate(tokens: number[], options: { temperature: number }): AsyncGenerator<number>;
}
interface LlamaContext {
  getSequence(): LlamaSequence;
  dispose(): Promise<void>;
}
interface LlamaModel {
  createContext(options: { contextSize: number; threads: number; batchSize: number }): Promise<LlamaContext>;
  dispose(): Promise<void>;
}
type GetLlama = (options: {
  gpu: false;
  build: 'never';
  logLevel?: string;
}) => Promise<{ loadModel(options: { modelPath: string }): Promise<LlamaModel> }>;

const toolsDir = fileURLToPath(new URL('../tools/llamacpp/', import.meta.url));

async function main(): Promise<void> {
  const [modelPath, promptArg, decodeArg, threadsArg] = process.argv.slice(2);
  if (!modelPath || !promptArg)
    throw new Error('usage: native-llamacpp.ts <gguf> <promptIds> <decodeTokens> <threads>');
  const entry = createRequire(`${toolsDir}package.json`).resolve('node-llama-cpp');
  const { getLlama } = (await import(pathToFileURL(entry).href)) as { getLlama: GetLlama };
  const promptIds = promptArg.split(',').map(Number);
  const decodeTokens = Number(decodeArg ?? 64);
  const threads = Number(threadsArg ?? 2);
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
  const model = await llama.loadModel({ modelPath });
  const context = await model.createContext({ contextSize: 512, threads, batchSize: 512 });
  const sequence = context.getSequence();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const decodeMs: number[] = [];
  let ttftMs = 0;
  let last = started;
  let produced = 0;
  for await (const _token of sequence.evaluate(promptIds, { temperature: 0 })) {
    const now = performance.now();
    if (produced === 0) ttftMs = now - started;
    else decodeMs.push(now - last);
    last = now;
    if (++produced >= decodeTokens + 1) break;
  }
  const cpu = process.cpuUsage(cpuBefore);
  const coresBusy = (cpu.user + cpu.system) / 1000 / (performance.now() - started);
  const result = { ttftMs, decodeMs, peakRssBytes: process.resourceUsage().maxRSS * 1024, threads, coresBusy };
  await context.dispose();
  await model.dispose();
  console.log(JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
