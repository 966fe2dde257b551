/**
 * The one checked fetch every HTTP reader uses (hub downloads, the zoo, the merge's Range
 * reads, fetched folders): `fetch` is injected, `res.ok` and the content-type are always
 * checked, and every failure is a HubError that names the URL, in one message style.
 * A page served as HTML where a model file was asked for (a dev server's or a CDN's
 * fallback page) is an error, never bytes.
 */
import { CancelledError, HubError } from '../errors.ts';

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/**
 * fetch itself rejected (offline, DNS, connection refused, CORS): there was no HTTP answer, so
 * asking the same host for anything else is pointless. Still a HubError (`name`), with the host.
 */
export class HubUnreachableError extends HubError {
  readonly host: string;
  constructor(url: string, reason: string) {
    super(`hub: fetching ${url} failed: ${reason}`);
    this.host = URL.canParse(url) ? new URL(url).host : url;
  }
}

export async function checkedFetch(fetchFn: FetchFn, url: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetchFn(url, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw new CancelledError(`hub: download of ${url} paused`);
    throw new HubUnreachableError(url, (e as Error).message);
  }
  if (!res.ok)
    throw new HubError(`hub: ${url} answered HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
  const type = res.headers.get('content-type') ?? '';
  if (/text\/html/i.test(type))
    throw new HubError(`hub: ${url} answered an HTML page (content-type ${type}), not a model file`);
  return res;
}
