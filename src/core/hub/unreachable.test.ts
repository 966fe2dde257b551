/**
 * A hub that does not answer at all (offline, DNS, refused) is one failed request and one
 * HubUnreachableError naming the host, never a cascade of probes that fail the same way. An
 * HTTP answer (a static mirror's 404) still falls back to probing file names.
 */
import { describe, expect, it } from 'vitest';
import { checkedFetch, HubUnreachableError, type FetchFn } from './checked-fetch.ts';
import { hubListFiles, hubParseRepoRef } from './hub.ts';

const ref = hubParseRepoRef('org/tiny', 'http://hub.example:8080');

function countingFetch(answer: () => Promise<Response>): { fetchFn: FetchFn; urls: string[] } {
  const urls: string[] = [];
  const fetchFn: FetchFn = (url) => {
    urls.push(url);
    return answer();
  };
  return { urls, fetchFn };
}

describe('an unreachable hub', () => {
  it('checkedFetch turns a rejected fetch into HubUnreachableError with the host, kind HubError', async () => {
    const { fetchFn } = countingFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    const error = await checkedFetch(fetchFn, 'http://hub.example:8080/api/x').catch((e: Error) => e);
    expect(error).toBeInstanceOf(HubUnreachableError);
    expect(error).toMatchObject({ name: 'HubError', host: 'hub.example:8080' });
  });

  it('hubListFiles stops after the first request that got no answer', async () => {
    const { fetchFn, urls } = countingFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(hubListFiles(fetchFn, ref)).rejects.toBeInstanceOf(HubUnreachableError);
    expect(urls).toEqual(['http://hub.example:8080/api/models/org/tiny/tree/main']);
  });

  it('an HTTP answer without a tree API still probes the standard file names', async () => {
    const { fetchFn, urls } = countingFetch(async () => new Response('no', { status: 404 }));
    await expect(hubListFiles(fetchFn, ref)).rejects.toThrow(/answered HTTP 404/);
    expect(urls.length).toBeGreaterThan(5);
  });
});
