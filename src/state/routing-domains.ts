/**
 * Routing by domain: a text set labelled by expert (a `{"expert", "text"}` JSONL file, or the
 * zoo's held-out texts for zoo donors) routed through the loaded model, giving the own-expert
 * top-1 share table that public/zoo/ROUTING.md reports. Texts are routed in pieces from an
 * empty cache (the engine's analyze), so a long text never meets the context limit.
 */
import { create } from 'zustand';
import { parseCalibrationJsonl, type CalibrationText } from '../core/calibrate/texts.ts';
import { checkedFetch } from '../core/hub/checked-fetch.ts';
import type { RoutingOverrides, TokenRouting } from '../core/runtime/types.ts';
import { domainShares, type DomainShare } from './routing-stats.ts';
import { engineCallback, engineClient, engineTokenizerDeadline } from './workers.ts';

/** A piece of text routed in one analyze call: at most this many characters (≈ 250–350 zoo tokens, under any context). */
export const DOMAIN_PIECE_CHARS = 1000;

export interface RoutingDomainsState {
  status: 'idle' | 'running' | 'done' | 'failed';
  /** Where the texts came from, for the card's caption. */
  source?: string;
  progress?: { done: number; total: number };
  shares?: DomainShare[];
  /** Whether Chat's routing controls were applied. */
  overridden?: boolean;
  error?: string;
}

export const useRoutingDomains = create<RoutingDomainsState>()(() => ({ status: 'idle' }));
let cancelled = false;

/**
 * Cuts a text into pieces of at most maxChars, at a line break where there is one in the
 * second half of the piece (else at a space, else anywhere), so pieces keep whole lines.
 */
export function textPieces(text: string, maxChars = DOMAIN_PIECE_CHARS): string[] {
  const pieces: string[] = [];
  let rest = text.trim();
  while (rest.length > maxChars) {
    const head = rest.slice(0, maxChars);
    let cut = head.lastIndexOf('\n');
    if (cut < maxChars / 2) cut = head.lastIndexOf(' ');
    if (cut < maxChars / 2) cut = maxChars;
    pieces.push(rest.slice(0, cut).trimEnd());
    rest = rest.slice(cut).trimStart();
  }
  if (rest) pieces.push(rest);
  return pieces;
}

/** Routes every text (in pieces) and fills the table; `overrides` are Chat's routing controls. */
export async function routingDomainsRun(
  texts: CalibrationText[],
  source: string,
  overrides?: RoutingOverrides,
): Promise<void> {
  const pieces = texts.flatMap((t) => textPieces(t.text).map((text) => ({ expert: t.expert, text })));
  cancelled = false;
  useRoutingDomains.setState(
    { status: 'running', source, overridden: !!overrides, progress: { done: 0, total: pieces.length } },
    true,
  );
  const deadline = engineTokenizerDeadline('the texts', 'Load the model again; a different text set may encode.');
  try {
    const labelled: { expert: number; trace: TokenRouting[] }[] = [];
    for (const [i, piece] of pieces.entries()) {
      if (cancelled) {
        useRoutingDomains.setState({ status: 'idle', progress: undefined });
        return;
      }
      const result = await Promise.race([
        engineClient().analyze(piece.text, overrides, engineCallback(deadline.onCall)),
        deadline.missed,
      ]);
      labelled.push({ expert: piece.expert, trace: result.routing });
      useRoutingDomains.setState({ progress: { done: i + 1, total: pieces.length } });
    }
    const first = labelled.flatMap((t) => t.trace).find((r) => r.layers.length > 0);
    if (!first) throw new Error('the loaded model has no routers: load a MoE model to route text by domain');
    const layers = first.layers.length;
    const experts = first.layers[0]!.moeProbs.length;
    useRoutingDomains.setState({ status: 'done', shares: domainShares(labelled, layers, experts) });
  } catch (e) {
    useRoutingDomains.setState({ status: 'failed', error: `${(e as Error).name}: ${(e as Error).message}` });
  } finally {
    deadline.met();
  }
}

export function routingDomainsCancel(): void {
  cancelled = true;
}

/** A `{"expert", "text"}` JSONL file (the calibration format), checked against the model's expert count. */
export async function routingDomainsFile(
  file: Blob & { name: string },
  experts: number,
  overrides?: RoutingOverrides,
): Promise<void> {
  try {
    const texts = parseCalibrationJsonl(await file.text(), file.name, experts);
    await routingDomainsRun(texts, file.name, overrides);
  } catch (e) {
    useRoutingDomains.setState(
      { status: 'failed', source: file.name, error: `${(e as Error).name}: ${(e as Error).message}` },
      true,
    );
  }
}

/**
 * The zoo's held-out texts (public/zoo/heldout/<domain>.txt, which no zoo model and no built-in
 * calibration set was made from) for each expert whose donor is a zoo expert: `domains[e]`.
 */
export async function routingDomainsZoo(domains: (string | undefined)[], overrides?: RoutingOverrides): Promise<void> {
  try {
    const texts: CalibrationText[] = [];
    for (const [expert, domain] of domains.entries()) {
      if (!domain) continue;
      const url = new URL(`${import.meta.env.BASE_URL}zoo/heldout/${domain}.txt`, location.href).href;
      texts.push({ expert, text: await (await checkedFetch(fetch, url)).text() });
    }
    await routingDomainsRun(texts, 'zoo held-out texts', overrides);
  } catch (e) {
    useRoutingDomains.setState(
      { status: 'failed', source: 'zoo held-out texts', error: `${(e as Error).name}: ${(e as Error).message}` },
      true,
    );
  }
}
