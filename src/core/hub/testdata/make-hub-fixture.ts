/**
 * Regenerates testdata/hub/org/tiny: a real tiny llama (seeded random weights, so it passes
 * checkModelFiles like a hub model would) whose model.safetensors is padded to exactly
 * 200,000 bytes (spaces after the header JSON, as the format allows), and the tree API answer
 * with sizes and the LFS sha256. Run: npx tsx src/core/hub/testdata/make-hub-fixture.ts
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportHfToMemory } from '../../model/hf.testing.ts';
import { randomModelWeights, tinyDenseSpec } from '../../model/random.ts';

const SAFETENSORS_BYTES = 200_000;
const root = join(import.meta.dirname, 'hub');
const { files } = await exportHfToMemory(randomModelWeights(tinyDenseSpec(), 20261203));
const original = files['model.safetensors']!;
const headerLength = Number(new DataView(original.buffer, original.byteOffset, 8).getBigUint64(0, true));
const data = original.subarray(8 + headerLength);
const json = new TextDecoder().decode(original.subarray(8, 8 + headerLength)).trimEnd();
const padded = SAFETENSORS_BYTES - 8 - data.byteLength;
const safetensors = new Uint8Array(SAFETENSORS_BYTES).fill(0x20, 8, 8 + padded);
new DataView(safetensors.buffer).setBigUint64(0, BigInt(padded), true);
safetensors.set(new TextEncoder().encode(json), 8);
safetensors.set(data, 8 + padded);
const config = files['config.json']!;

const dir = join(root, 'org', 'tiny', 'resolve', 'main');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'config.json'), config);
writeFileSync(join(dir, 'model.safetensors'), safetensors);
const sha = createHash('sha256').update(safetensors).digest('hex');
const tree = [
  { type: 'file', path: 'config.json', size: config.byteLength, oid: 'x' },
  { type: 'file', path: 'model.safetensors', size: SAFETENSORS_BYTES, oid: 'y', lfs: { oid: sha, size: SAFETENSORS_BYTES } },
  { type: 'file', path: 'pytorch_model.bin', size: 10, oid: 'z' },
];
writeFileSync(join(root, 'api', 'models', 'org', 'tiny', 'tree', 'main.json'), JSON.stringify(tree));
console.log(`config.json ${config.byteLength} bytes, model.safetensors ${SAFETENSORS_BYTES} bytes, sha256 ${sha}`);
