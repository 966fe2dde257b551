/**
 * Pure statistics over routing traces (TokenRouting[] = [nTokens] × [layers]), for the
 * Routing page and the exports. No React, no state: unit-tested in routing-stats.test.ts.
 */
import type { TokenRouting } from '../core/runtime/types.ts';

/** [experts] fraction of top-k slots at `layer` that went to each expert (sums to 1). */
export function expertLoad(trace: TokenRouting[], layer: number, experts: number): number[] {
  const counts = new Array<number>(experts).fill(0);
  let slots = 0;
  for (const t of trace)
    for (const e of t.layers[layer]?.expertIds ?? []) {
      counts[e] += 1;
      slots += 1;
    }
  return counts.map((c) => (slots ? c / slots : 0));
}

/** Mean Shannon entropy (bits) of the router softmax at `layer`; log2(experts) = uniform. */
export function routerEntropy(trace: TokenRouting[], layer: number): number {
  let sum = 0;
  let n = 0;
  for (const t of trace) {
    const probs = t.layers[layer]?.moeProbs;
    if (!probs?.length) continue;
    let h = 0;
    for (const p of probs) if (p > 0) h -= p * Math.log2(p);
    sum += h;
    n += 1;
  }
  return n ? sum / n : 0;
}

/**
 * Consecutive-token stickiness (Mixtral paper §5, "repeated assignments"): the fraction of
 * adjacent token pairs whose first-choice expert is the same (`top1`), and whose chosen
 * sets share at least one expert (`anyOverlap`). Chance for top1 is 1/experts under uniform routing.
 */
export function stickiness(trace: TokenRouting[], layer: number): { top1: number; anyOverlap: number; pairs: number } {
  let same = 0;
  let overlap = 0;
  let pairs = 0;
  for (let i = 1; i < trace.length; i++) {
    const a = trace[i - 1].layers[layer]?.expertIds;
    const b = trace[i].layers[layer]?.expertIds;
    if (!a?.length || !b?.length) continue;
    pairs += 1;
    if (a[0] === b[0]) same += 1;
    if (a.some((e) => b.includes(e))) overlap += 1;
  }
  return { top1: pairs ? same / pairs : 0, anyOverlap: pairs ? overlap / pairs : 0, pairs };
}

/** [experts][experts] how often two experts were chosen for the same token; diagonal = times chosen. */
export function coActivation(trace: TokenRouting[], layer: number, experts: number): number[][] {
  const m = Array.from({ length: experts }, () => new Array<number>(experts).fill(0));
  for (const t of trace) {
    const ids = t.layers[layer]?.expertIds ?? [];
    for (const a of ids) for (const b of ids) m[a][b] += 1;
  }
  return m;
}

/**
 * Routing trace as CSV: token, piece, layer, rank, expert, weight, donor (the expert's donor
 * model when `expertNames` knows it, else empty).
 */
export function routingTraceCsv(pieces: string[], trace: TokenRouting[], expertNames: readonly string[] = []): string {
  const rows = ['token,piece,layer,rank,expert,weight,donor'];
  // Pieces are model output: a cell a spreadsheet would read as a formula (=, +, -, @, tab, CR) gets a leading '.
  const quote = (s: string) => `"${(/^[=+\-@\t\r]/.test(s) ? `'${s}` : s).replace(/"/g, '""')}"`;
  trace.forEach((t, i) =>
    t.layers.forEach((l, layer) =>
      l.expertIds.forEach((e, rank) => {
        rows.push(
          `${i},${quote(pieces[i] ?? '')},${layer},${rank},${e},${l.expertWeights[rank]},${quote(expertNames[e] ?? '')}`,
        );
      }),
    ),
  );
  return `${rows.join('\n')}\n`;
}

/** How two traces of the same model differ, per layer (the Routing page's A/B comparison). */
export interface TraceComparison {
  /** [layers] share of tokens whose top-1 expert is the same in A and B; undefined when the texts differ in length. */
  top1Agreement?: number[];
  /** [layers] total-variation distance of the expert loads: ½ Σₑ |loadA(e) − loadB(e)|, 0 (same) … 1 (disjoint). */
  loadDifference: number[];
}

export function compareTraces(a: TokenRouting[], b: TokenRouting[], layers: number, experts: number): TraceComparison {
  const loadDifference = Array.from({ length: layers }, (_, l) => {
    const la = expertLoad(a, l, experts);
    const lb = expertLoad(b, l, experts);
    return la.reduce((sum, x, e) => sum + Math.abs(x - lb[e]!), 0) / 2;
  });
  if (a.length !== b.length || a.length === 0) return { loadDifference };
  const top1Agreement = Array.from({ length: layers }, (_, l) => {
    let same = 0;
    for (let t = 0; t < a.length; t++) if (a[t]!.layers[l]?.expertIds[0] === b[t]!.layers[l]?.expertIds[0]) same++;
    return same / a.length;
  });
  return { top1Agreement, loadDifference };
}

/**
 * A token's first-choice expert most layers agree on, and the share of its MoE layers that
 * chose it (1 = every layer the same; 1/layers = all different). Ties go to the lower expert id.
 * `expert` is -1 for a token with no routing (dense model).
 */
export function majorityTop1(routing: TokenRouting | undefined): { expert: number; share: number } {
  const counts = new Map<number, number>();
  let n = 0;
  for (const l of routing?.layers ?? []) {
    const e = l.expertIds[0];
    if (e === undefined) continue;
    counts.set(e, (counts.get(e) ?? 0) + 1);
    n += 1;
  }
  let expert = -1;
  let best = 0;
  for (const [e, c] of counts) if (c > best || (c === best && e < expert)) [expert, best] = [e, c];
  return { expert, share: n ? best / n : 0 };
}

/** Routing of one labelled text set (the texts of one expert's domain), as ROUTING.md reports it. */
export interface DomainShare {
  expert: number; // the label: the expert whose domain the texts are
  tokens: number;
  /** [layers] share of the tokens whose top-1 expert at that layer is `expert`. */
  ownShare: number[];
  /** ownShare averaged over layers: ROUTING.md's own-domain top-1 share. */
  ownShareMean: number;
  /** [experts] share of top-1 choices that went to each expert, over tokens and layers (a row of the confusion matrix). */
  top1: number[];
}

/**
 * Per label, in label order: own-expert top-1 share per layer and its mean, and where the
 * top-1 choices went. Tokens without routing (a dense model) count as routed to no expert.
 */
export function domainShares(
  labelled: { expert: number; trace: TokenRouting[] }[],
  layers: number,
  experts: number,
): DomainShare[] {
  const labels = [...new Set(labelled.map((t) => t.expert))].sort((a, b) => a - b);
  return labels.map((expert) => {
    const own = new Array<number>(layers).fill(0);
    const top1 = new Array<number>(experts).fill(0);
    let tokens = 0;
    for (const { trace } of labelled.filter((t) => t.expert === expert))
      for (const token of trace) {
        tokens += 1;
        for (let l = 0; l < layers; l++) {
          const first = token.layers[l]?.expertIds[0];
          if (first === undefined) continue;
          if (first === expert) own[l]! += 1;
          if (first < experts) top1[first]! += 1;
        }
      }
    const ownShare = own.map((c) => (tokens ? c / tokens : 0));
    return {
      expert,
      tokens,
      ownShare,
      ownShareMean: layers ? ownShare.reduce((s, x) => s + x, 0) / layers : 0,
      top1: top1.map((c) => (tokens && layers ? c / (tokens * layers) : 0)),
    };
  });
}
