/**
 * Lets a long merge give the event loop a turn now and then, so a cancel message (worker) or
 * an abort from a UI handler can land even when every await resolves as a microtask
 * (in-memory sources). Yields at most every `budgetMs` of busy time.
 */
export function createYielder(budgetMs = 50): () => Promise<void> {
  let last = Date.now();
  return async () => {
    if (Date.now() - last < budgetMs) return;
    await yieldNow();
    last = Date.now();
  };
}

/** One macrotask turn, unconditionally: lets a pending cancel message be handled. */
export function yieldNow(): Promise<void> {
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
}
