/**
 * The demo zoo index (public/zoo/index.json), validated on read: the zoo is data,
 * not code (STYLE anti-pattern "data shipped as code"). Read by the Library (src/state/zoo.ts)
 * and by the library API in a page (src/api/browser.ts).
 */
export interface ZooModel {
  id: string;
  path: string;
  role: 'base' | 'expert';
  domain?: 'stories' | 'code' | 'math' | 'chat';
  title: string;
  description: string;
  files: { name: string; size: number; sha256: string }[];
}

export interface ZooIndex {
  schemaVersion: 1;
  models: ZooModel[];
  mergeConfigs: { name: string; path: string }[];
}

export function parseZooIndex(json: unknown): ZooIndex {
  const fail = (what: string): never => {
    throw Object.assign(new Error(`zoo: index.json ${what}`), { name: 'FormatError' });
  };
  if (typeof json !== 'object' || json === null) fail('is not an object');
  const index = json as Record<string, unknown>;
  if (index.schemaVersion !== 1) fail(`has schemaVersion ${String(index.schemaVersion)}, expected 1`);
  if (!Array.isArray(index.models)) fail('has no models list');
  const models = (index.models as Record<string, unknown>[]).map((m, i) => {
    if (typeof m.id !== 'string' || typeof m.path !== 'string' || !Array.isArray(m.files))
      fail(`models[${i}] lacks id, path or files`);
    if (m.role !== 'base' && m.role !== 'expert')
      fail(`models[${i}].role is '${String(m.role)}', expected base or expert`);
    return { title: String(m.id), description: '', ...m } as ZooModel;
  });
  const mergeConfigs = Array.isArray(index.mergeConfigs) ? (index.mergeConfigs as ZooIndex['mergeConfigs']) : [];
  return { schemaVersion: 1, models, mergeConfigs };
}
