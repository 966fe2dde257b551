/**
 * The sandbox thread of nodeTokenizerGuard (tokenizer-sandbox.ts): builds the HfTokenizer
 * from the files it is handed, says 'ready' on parentPort, then answers each call on its
 * port and sets the shared signal the caller waits on to that call's seq.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HfTokenizer } from '../core/tokenizer/hf.ts';
import type { SandboxAnswer, SandboxCall, SandboxInit, SandboxReply } from './tokenizer-sandbox.ts';

function errorReply(error: unknown): SandboxReply {
  const e = error as Error | undefined;
  return { error: { name: e?.name ?? 'Error', message: e?.message ?? String(error) } };
}

const init = workerData as SandboxInit;
let tokenizer: HfTokenizer | undefined;
try {
  tokenizer = new HfTokenizer(init.tokenizerJson, init.tokenizerConfig, init.file);
  parentPort!.postMessage({ value: 'ready' } satisfies SandboxReply);
} catch (error) {
  parentPort!.postMessage(errorReply(error));
}

if (tokenizer) {
  const calls = tokenizer;
  init.port.on('message', ({ seq, call, args }: SandboxCall) => {
    let reply: SandboxReply;
    try {
      reply = { value: Reflect.apply(calls[call], calls, args) };
    } catch (error) {
      reply = errorReply(error);
    }
    init.port.postMessage({ ...reply, seq } satisfies SandboxAnswer);
    Atomics.store(init.signal, 0, seq);
    Atomics.notify(init.signal, 0);
  });
}
