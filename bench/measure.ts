/**
 * One measurement of one engine: a fresh headless Chromium per browser engine (so the
 * renderer's peak RSS is that engine's alone), or a child process for native llama.cpp.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../chromium.config.ts';
import type { EngineRun, PageRequest } from './page/engines.ts';

export type EngineName = 'wasm' | 'wllama' | 'wllama-compat' | 'wllama-2.3' | 'webgpu' | 'native';

const PAGE_TIMEOUT_MS = 30 * 60_000;

/** Descendant pids of `root` (from /proc/<pid>/stat ppid). */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* exited */
    }
  }
  const found: number[] = [];
  const frontier = [root];
  while (frontier.length) {
    const pid = frontier.pop()!;
    for (const [child, parent] of parentOf)
      if (parent === pid) {
        found.push(child);
        frontier.push(child);
      }
  }
  return found;
}

/** Peak RSS (VmHWM) summed over Chromium's renderer and GPU processes. */
function chromiumPeakRss(browserPid: number): number {
  let total = 0;
  for (const pid of descendants(browserPid)) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes('--type=renderer') && !cmdline.includes('--type=gpu-process')) continue;
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) total += Number(match[1]) * 1024;
    } catch {
      /* exited */
    }
  }
  return total;
}

/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on Linux). */
const USER_HZ = 100;

/** CPU seconds (user + system) used so far by Chromium's renderer processes (pages and their workers). */
export function chromiumRendererCpuSeconds(browserPid: number): number {
  let ticks = 0;
  for (const pid of descendants(browserPid)) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer')) continue;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is stat field 3
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime: stat fields 14 and 15
    } catch {
      /* exited */
    }
  }
  return ticks / USER_HZ;
}

export async function measureInBrowser(
  pageUrl: string,
  engine: Exclude<EngineName, 'native'>,
  request: PageRequest,
  log: (line: string) => void,
): Promise<EngineRun> {
  const server = await chromium.launchServer({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const browser = await chromium.connect(server.wsEndpoint());
    const page = await browser.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') log(`  [${engine} console] ${message.text()}`);
    });
    page.on('pageerror', (error) => log(`  [${engine} pageerror] ${error.message}`));
    page.setDefaultTimeout(PAGE_TIMEOUT_MS);
    // The page brackets its timed part with benchCpuMark('start'|'end'): renderer CPU-seconds
    // over wall-seconds between them is how many cores the engine kept busy (2 = both threads).
    const marks = new Map<string, { cpu: number; wall: number }>();
    await page.exposeFunction('benchCpuMark', (name: string) => {
      marks.set(name, { cpu: chromiumRendererCpuSeconds(server.process().pid!), wall: performance.now() / 1000 });
    });
    await page.goto(pageUrl);
    await page.waitForFunction(() => window.benchReady === true, undefined, { timeout: 120_000 });
    const run = await page.evaluate(([name, req]) => window.bench[name]!(req), [engine, request] as const);
    run.peakRssBytes = chromiumPeakRss(server.process().pid!);
    const [start, end] = [marks.get('start'), marks.get('end')];
    if (start && end) run.coresBusy = (end.cpu - start.cpu) / (end.wall - start.wall);
    await browser.close();
    return run;
  } finally {
    await server.close();
  }
}

export function measureNative(ggufPath: string, request: PageRequest): Promise<EngineRun> {
  const script = fileURLToPath(new URL('./native-llamacpp.ts', import.meta.url));
  const args = [
    '--import',
    'tsx',
    script,
    ggufPath,
    request.promptIds.join(','),
    String(request.decodeTokens),
    String(request.threads),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0 || !line.startsWith('{')) {
        reject(new Error(`native llama.cpp exited ${code}: ${stderr.slice(-2000)}`));
        return;
      }
      const parsed = JSON.parse(line) as {
        ttftMs: number;
        decodeMs: number[];
        peakRssBytes: number;
        threads: number;
        coresBusy: number;
      };
      resolve({ engine: 'llama.cpp native', loadMs: NaN, ...parsed });
    });
  });
}

/** VmRSS in MiB of Chromium's renderer + GPU processes (`tab`) and of its browser process. */
export function chromiumRssMb(): { tab: number; browser: number } {
  const kb = { tab: 0, browser: 0 };
  for (const pid of descendants(process.pid)) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmdline.includes('chrom')) continue;
      const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      if (cmdline.includes('--type=renderer') || cmdline.includes('--type=gpu-process')) kb.tab += rss;
      else if (!cmdline.includes('--type=')) kb.browser += rss;
    } catch {
      /* exited */
    }
  }
  return { tab: kb.tab / 1024, browser: kb.browser / 1024 };
}
