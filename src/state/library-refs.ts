/**
 * Every library model (zoo or stored) under the name a mergekit YAML uses for it, with the
 * engine reference that reads it: zoo → `zoo/<path>` (as the zoo's YAML writes it), hub →
 * `org/name`, local folder → `local/<folder>`, built here → `studio/<title>`.
 */
import type { ModelManifest } from '../core/store/manifest.ts';
import type { ModelRef } from '../../workers/engine/api.ts';
import type { ZooIndex } from './zoo.ts';
import { zooFolderUrl } from './zoo.ts';

export interface LibraryRef {
  name: string;
  title: string;
  role?: 'base' | 'expert';
  domain?: string;
  ref: ModelRef;
}

const slug = (s: string) => s.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'model';

export function storedRefName(m: ModelManifest): string {
  switch (m.source.kind) {
    case 'hub':
      return m.source.repo;
    case 'zoo':
      return `zoo/${m.source.path}`;
    case 'local':
      return `local/${slug(m.source.folderName)}`;
    case 'merge':
      return `studio/${slug(m.title)}`;
  }
}

export function libraryRefs(zoo: ZooIndex | undefined, stored: ModelManifest[]): LibraryRef[] {
  const out: LibraryRef[] = (zoo?.models ?? []).map((m) => ({
    name: `zoo/${m.path}`,
    title: m.title,
    role: m.role,
    domain: m.domain,
    ref: { kind: 'url', id: m.id, title: m.title, baseUrl: zooFolderUrl(m.path), files: m.files },
  }));
  for (const m of stored) out.push({ name: storedRefName(m), title: m.title, ref: { kind: 'store', id: m.id } });
  return out;
}
