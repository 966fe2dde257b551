import { checkedFetch } from '../core/hub/checked-fetch.ts';
import { parseZooIndex, type ZooIndex } from '../core/hub/zoo-index.ts';

export { parseZooIndex, type ZooIndex, type ZooModel } from '../core/hub/zoo-index.ts';

/** Absolute URL of a zoo model's folder (workers need absolute URLs). */
export function zooFolderUrl(path: string): string {
  return new URL(`${import.meta.env.BASE_URL}zoo/${path}`, location.href).href;
}

export async function fetchZooIndex(): Promise<ZooIndex> {
  const url = new URL(`${import.meta.env.BASE_URL}zoo/index.json`, location.href).href;
  const res = await checkedFetch(fetch, url, { cache: 'no-store' });
  return parseZooIndex(await res.json());
}
