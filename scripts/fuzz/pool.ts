/**
 * The fuzz runner: a small pool of child processes (child.ts), each under a V8 heap cap,
 * an RSS cap and a per-case deadline. Cases are interleaved across targets so a time budget
 * cuts every target evenly. A child that misses the deadline is killed (hang); one that dies
 * of heap exhaustion or passes the RSS cap is killed (out-of-memory); any other death is an
 * untyped crash. Dead children are replaced.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CaseReply, CaseRequest } from './child.ts';

export type Outcome = 'parsed' | 'typed' | 'untyped' | 'hang' | 'oom';

export interface FuzzOptions {
  targets: readonly string[];
  /** Cases per target. */
  cases: number;
  seed: number;
  workers: number;
  deadlineMs: number;
  /** --max-old-space-size of each child; RSS above memoryMb + RSS_OVERHEAD_MB also counts as out-of-memory. */
  memoryMb: number;
  /** Stop starting new cases after this long. */
  budgetMs: number;
  onProgress?: (done: number, total: number) => void;
}

/** Node + tsx + the module graph take ~150 MB of RSS before a case allocates anything. */
export const RSS_OVERHEAD_MB = 256;

export interface TargetStats {
  cases: number;
  parsed: number;
  typed: number;
  /** Typed errors whose message names none of the target's files. */
  typedUnnamed: number;
  untyped: number;
  hang: number;
  oom: number;
  examples: { index: number; outcome: Outcome | 'typed-unnamed'; error: string }[];
  /** outcome per case index (for the determinism check). */
  outcomes: Outcome[];
}

export interface FuzzResult {
  stats: Map<string, TargetStats>;
  elapsedMs: number;
  budgetExhausted: boolean;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** One child process and the case it is running. */
class Worker {
  private proc!: ChildProcess;
  private stderr = '';
  private ready!: Promise<void>;
  private pending?: {
    resolve: (r: { outcome: Outcome; named?: boolean; error?: string }) => void;
    timer: NodeJS.Timeout;
  };
  private rssTimer?: NodeJS.Timeout;
  private killedFor?: 'hang' | 'oom';

  constructor(private readonly options: FuzzOptions) {
    this.spawn();
  }

  private spawn(): void {
    this.stderr = '';
    this.killedFor = undefined;
    this.proc = fork(CHILD, [], {
      execArgv: ['--import', 'tsx', `--max-old-space-size=${this.options.memoryMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    this.ready = new Promise((resolve, reject) => {
      const onReady = (m: CaseReply) => {
        if (m.index === -1 && m.error === 'ready') {
          this.proc.off('message', onReady);
          resolve();
        }
      };
      this.proc.on('message', onReady);
      this.proc.once('exit', (code) =>
        reject(new Error(`fuzz child exited (${code}) before it was ready: ${this.stderr}`)),
      );
    });
    this.ready.catch(() => {});
    this.proc.on('message', (m: CaseReply) => {
      if (m.error === 'ready' || !this.pending) return;
      const { resolve, timer } = this.pending;
      clearTimeout(timer);
      this.pending = undefined;
      resolve({ outcome: m.outcome, named: m.named, error: m.error });
    });
    this.proc.on('exit', (code, signal) => {
      clearInterval(this.rssTimer);
      if (!this.pending) return;
      const { resolve, timer } = this.pending;
      clearTimeout(timer);
      this.pending = undefined;
      const heap = /heap out of memory|Allocation failed/i.test(this.stderr) || signal === 'SIGABRT' || code === 134;
      const outcome: Outcome = this.killedFor ?? (heap ? 'oom' : 'untyped');
      const last = this.stderr.trim().split('\n').slice(-3).join(' | ');
      resolve({ outcome, error: `child exited (code ${code}, signal ${signal}) ${last}`.slice(0, 400) });
    });
    this.rssTimer = setInterval(() => {
      if (this.pending && rssMb(this.proc.pid!) > this.options.memoryMb + RSS_OVERHEAD_MB) this.kill('oom');
    }, 50);
  }

  private kill(reason: 'hang' | 'oom'): void {
    this.killedFor = reason;
    this.proc.kill('SIGKILL');
  }

  async run(req: CaseRequest): Promise<{ outcome: Outcome; named?: boolean; error?: string }> {
    await this.ready;
    const result = await new Promise<{ outcome: Outcome; named?: boolean; error?: string }>((resolve) => {
      const timer = setTimeout(() => this.kill('hang'), this.options.deadlineMs);
      this.pending = { resolve, timer };
      this.proc.send(req);
    });
    if (this.proc.exitCode !== null || this.proc.signalCode !== null || this.killedFor) {
      // wait for the old process to be gone, then start a fresh one for the next case
      this.spawn();
    }
    return result;
  }

  close(): void {
    clearInterval(this.rssTimer);
    this.proc.kill('SIGKILL');
  }
}

function emptyStats(): TargetStats {
  return { cases: 0, parsed: 0, typed: 0, typedUnnamed: 0, untyped: 0, hang: 0, oom: 0, examples: [], outcomes: [] };
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const started = performance.now();
  const stats = new Map(options.targets.map((t) => [t, emptyStats()]));
  const queue: CaseRequest[] = [];
  for (let index = 0; index < options.cases; index++)
    for (const target of options.targets) queue.push({ target, seed: options.seed, index });
  const total = queue.length;
  let next = 0;
  let done = 0;
  let budgetExhausted = false;
  const workers = Array.from({ length: options.workers }, () => new Worker(options));
  const drain = async (worker: Worker) => {
    for (;;) {
      if (performance.now() - started > options.budgetMs) {
        budgetExhausted = next < total;
        return;
      }
      const req = queue[next++];
      if (!req) return;
      const result = await worker.run(req);
      const s = stats.get(req.target)!;
      s.cases++;
      s.outcomes[req.index] = result.outcome;
      s[result.outcome]++;
      if (result.outcome === 'typed' && result.named === false) {
        s.typedUnnamed++;
        if (s.examples.filter((e) => e.outcome === 'typed-unnamed').length < 3)
          s.examples.push({ index: req.index, outcome: 'typed-unnamed', error: result.error ?? '' });
      }
      if (result.outcome !== 'parsed' && result.outcome !== 'typed' && s.examples.length < 12)
        s.examples.push({ index: req.index, outcome: result.outcome, error: result.error ?? '' });
      options.onProgress?.(++done, total);
    }
  };
  try {
    await Promise.all(workers.map(drain));
  } finally {
    for (const w of workers) w.close();
  }
  return { stats, elapsedMs: performance.now() - started, budgetExhausted };
}

/** The outcome table as Markdown. */
export function formatTable(result: FuzzResult): string {
  const rows = [
    '| target | cases | parsed | typed error | (typed, message names no file) | untyped crash | hang | out-of-memory |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [target, s] of result.stats) {
    rows.push(
      `| ${target} | ${s.cases} | ${s.parsed} | ${s.typed} | ${s.typedUnnamed} | ${s.untyped} | ${s.hang} | ${s.oom} |`,
    );
  }
  return rows.join('\n');
}
