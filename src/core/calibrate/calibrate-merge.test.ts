/** calibrateMerge's size limit: a merge too big to hold in memory is refused before anything is merged. */
import { describe, expect, it } from 'vitest';
import { parseMergeYaml } from '../formats/mergekit-yaml.ts';
import type { FileSet } from '../io/byte-source.ts';
import { mapResolver, randomHfFolder, testingDenseSpec } from '../merge/models.testing.ts';
import { planMerge } from '../merge/plan.ts';
import { openMergeInputs } from '../merge/sources.ts';
import { calibrateMerge, planParameters } from './calibrate-merge.ts';

describe('calibrateMerge', () => {
  it('refuses a merge past CALIBRATION_MAX_PARAMETERS, naming its size and the way out, before reading a tensor', async () => {
    const spec = testingDenseSpec();
    const folders: Record<string, FileSet> = {
      'org/base': (await randomHfFolder('org/base', 41, spec, 'bf16')).files,
      'org/a': (await randomHfFolder('org/a', 42, spec, 'bf16')).files,
    };
    const parsed = parseMergeYaml(
      'base_model: org/base\ngate_mode: random\nexperts:\n  - source_model: org/a\n  - source_model: org/base\n',
    );
    if (!parsed.ok) throw new Error('parse');
    const inputs = await openMergeInputs(parsed.config, mapResolver(folders));
    const planned = planMerge(parsed.config, inputs);
    if (!planned.ok) throw new Error(planned.issues[0]!.message);
    const plan = planned.plan;
    expect(planParameters(plan)).toBe(plan.tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0));
    // The same plan with one more tensor of a 4×1.1B MoE's size (3.4 B parameters): refused at once.
    let reads = 0;
    const counted = new Map(
      [...inputs.models].map(([key, model]) => [
        key,
        {
          ...model,
          tensors: {
            ...model.tensors,
            readTensor: (name: string) => {
              reads++;
              return model.tensors.readTensor(name);
            },
          },
        },
      ]),
    );
    const big = {
      ...plan,
      tensors: [...plan.tensors, { ...plan.tensors[0]!, name: 'huge', shape: [3_400_000, 1000] }],
    };
    await expect(
      calibrateMerge(big, { ...inputs, models: counted }, [{ expert: 0, text: 'a b c' }]),
    ).rejects.toMatchObject({
      name: 'ConfigError',
      message: expect.stringMatching(/3\.40 B parameters.*at most 1 B\. Merge it without calibration/),
    });
    expect(reads).toBe(0);
  });
});
