/**
 * Engine and session lifecycle: explicit states, collected device errors thrown at the
 * next await, compile errors that carry the compilation info, pipelines cached by source.
 */
import { describe, expect, it } from 'vitest';
import { randomModelWeights, tinyDenseSpec } from '../../model/random.ts';
import { createWebGpuBackend } from './backend.ts';

const log = (m: string) => console.log(m);

describe('webgpu lifecycle', () => {
  it('a shader that does not compile throws BackendError with the compilation messages', async () => {
    const backend = await createWebGpuBackend({ onLog: log });
    const bad = '@compute @workgroup_size(64) fn main() { let x: u32 = undefinedThing; }';
    const error = await backend.context.pipeline(bad, 'bad-kernel').catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('BackendError');
    expect((error as Error).message).toMatch(/bad-kernel/);
    expect((error as Error).message).toMatch(/undefinedThing/);
    backend.destroy();
  });

  it('rejects weights that do not match their spec, naming the tensor', async () => {
    const backend = await createWebGpuBackend({ onLog: log });
    const weights = randomModelWeights(tinyDenseSpec(), 5, 'f32');
    const broken = {
      ...weights,
      layers: weights.layers.map((l, i) =>
        i === 1 ? { ...l, wk: { ...l.wk, shape: [l.wk.shape[0] + 1, l.wk.shape[1]] } } : l,
      ),
    };
    await expect(backend.createSession(broken, { maxContext: 8 })).rejects.toThrow(/'.*'.*expected \[16, 48\]/);
    await expect(
      backend.createSession({ ...weights, spec: { ...weights.spec, kvHeads: 4 } }, { maxContext: 8 }),
    ).rejects.toThrow(/kvHeads/);
    expect(backend.context.allocatedBytes).toBe(0);
    backend.destroy();
  });

  it("pipelineCreation 'sync' (for Dawn in Node) gives the same logits as the default async path", async () => {
    const weights = randomModelWeights(tinyDenseSpec(), 6, 'f32');
    const logits: Float32Array[] = [];
    for (const pipelineCreation of ['async', 'sync'] as const) {
      const backend = await createWebGpuBackend({ onLog: log, pipelineCreation });
      const session = await backend.createSession(weights, { maxContext: 8 });
      logits.push((await session.forward([1, 2, 3])).logits);
      backend.destroy();
    }
    expect(Array.from(logits[1])).toEqual(Array.from(logits[0]));
  });

  it('caches pipelines by source text: a second session compiles nothing new', async () => {
    const backend = await createWebGpuBackend({ onLog: log });
    const weights = randomModelWeights(tinyDenseSpec(), 1, 'f32');
    const first = await backend.createSession(weights, { maxContext: 8 });
    const count = backend.context.pipelineCount;
    const second = await backend.createSession(weights, { maxContext: 8 });
    expect(backend.context.pipelineCount).toBe(count);
    expect(count).toBeGreaterThan(5);
    first.dispose();
    second.dispose();
    backend.destroy();
  });

  it('session states: idle → running → idle, concurrent forward rejected, disposed frees memory', async () => {
    const backend = await createWebGpuBackend({ onLog: log });
    const before = backend.context.allocatedBytes;
    const session = await backend.createSession(randomModelWeights(tinyDenseSpec(), 2, 'f32'), { maxContext: 8 });
    expect(session.state.kind).toBe('idle');
    const running = session.forward([1, 2]);
    expect(session.state.kind).toBe('running');
    await expect(session.forward([3])).rejects.toThrow(/while another forward/);
    await running;
    expect(session.state.kind).toBe('idle');
    expect(backend.context.allocatedBytes).toBeGreaterThan(before);
    session.dispose();
    expect(session.state.kind).toBe('disposed');
    expect(backend.context.allocatedBytes).toBe(before);
    backend.destroy();
  });

  it('a lost device is collected into engine state and thrown at the next forward', async () => {
    const backend = await createWebGpuBackend({ onLog: log });
    const session = await backend.createSession(randomModelWeights(tinyDenseSpec(), 3, 'f32'), { maxContext: 8 });
    backend.context.device.destroy(); // not context.destroy(): simulate a loss the engine did not ask for
    await backend.context.device.lost;
    expect(backend.context.state.kind).toBe('lost');
    const error = await session.forward([1]).catch((e: Error) => e);
    expect((error as Error).name).toBe('BackendError');
    expect((error as Error).message).toMatch(/device lost/);
  });

  it('an uncaptured validation error is collected and thrown at the next forward', async () => {
    const backend = await createWebGpuBackend({ onLog: log });
    const session = await backend.createSession(randomModelWeights(tinyDenseSpec(), 4, 'f32'), { maxContext: 8 });
    backend.context.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE }); // invalid usage
    await backend.context.device.queue.onSubmittedWorkDone();
    await new Promise((r) => setTimeout(r, 50));
    expect(backend.context.state.kind).toBe('failed');
    await expect(session.forward([1])).rejects.toThrow(/BackendError|webgpu/);
    backend.destroy();
  });
});
