/**
 * One fuzz child: receives { target, seed, index } cases over IPC, regenerates the case from
 * its seed, runs it and answers with the outcome. The parent (pool.ts) runs it under
 * --max-old-space-size, watches its RSS and kills it at the deadline, so a hang or an
 * out-of-memory here is seen as exactly that, not as an error.
 */
import { FUZZ_TARGETS } from './targets.ts';
import { rngFor } from './mutators.ts';

/** The project's typed errors (src/core/errors.ts ErrorKind) and the CLI's usage error. */
const TYPED = new Set([
  'FormatError',
  'ConfigError',
  'MissingFileError',
  'StoreError',
  'HubError',
  'BackendError',
  'CancelledError',
]);

export interface CaseRequest {
  target: string;
  seed: number;
  index: number;
}

export interface CaseReply {
  index: number;
  outcome: 'parsed' | 'typed' | 'untyped';
  /** For 'typed': whether the message names one of the target's files. */
  named?: boolean;
  error?: string;
}

const targets = new Map(FUZZ_TARGETS.map((t) => [t.name, t]));

async function runCase(req: CaseRequest): Promise<CaseReply> {
  const target = targets.get(req.target);
  if (!target) return { index: req.index, outcome: 'untyped', error: `no target ${req.target}` };
  try {
    const result = await target.run(rngFor(req.seed, req.target, req.index));
    return { index: req.index, outcome: result };
  } catch (e) {
    const err = e as Error;
    const name = err?.name ?? typeof e;
    const message = String(err?.message ?? e).slice(0, 300);
    if (TYPED.has(name)) {
      const named = target.files.length === 0 || target.files.some((f) => message.includes(f));
      return { index: req.index, outcome: 'typed', named, error: `${name}: ${message}` };
    }
    const where = (err?.stack ?? '').split('\n').slice(1, 3).join(' | ').trim();
    return { index: req.index, outcome: 'untyped', error: `${name}: ${message} @ ${where}` };
  }
}

process.on('message', (req: CaseRequest) => {
  runCase(req).then(
    (reply) => process.send!(reply),
    (e) => process.send!({ index: req.index, outcome: 'untyped', error: `harness: ${String(e)}` }),
  );
});
// An error thrown outside the case's promise chain (a timer, a stream) is an untyped crash too.
process.on('uncaughtException', (e) => {
  process.send!({ index: -1, outcome: 'untyped', error: `uncaught ${e.name}: ${e.message}` });
  process.exit(70);
});
process.send!({ index: -1, outcome: 'parsed', error: 'ready' });
