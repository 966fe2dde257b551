/**
 * The whole studio in real Chromium with real IndexedDB and the real workers, once on the WebGPU
 * backend (SwiftShader) and once on the CPU reference: zoo ready →
 * compose a 4-expert MoE from the zoo → preview routing → build → streamed chat answer →
 * heatmap → export YAML and GGUF, checked with our own parsers.
 */
import { readFileSync } from 'node:fs';
import { readZipEntries } from '../src/core/formats/zip.ts';
import { expect, test, type Download, type Page } from '@playwright/test';
import { parseMergeYaml } from '../src/core/formats/mergekit-yaml.ts';
import { loadGgufModel } from '../src/core/model/gguf-model.ts';
import { bytesSource } from '../src/core/io/byte-source.ts';
import { clearOrigin, externalRequests, openPage, screenshot as takeScreenshot } from './helpers.ts';

// The whole flow on each backend the issue names: WebGPU (SwiftShader here) and the CPU reference.
for (const backend of ['webgpu', 'cpu'] as const)
  test(`compose, build, chat, inspect routing and export a zoo MoE (${backend} backend)`, async ({ page }) => {
    test.setTimeout(600_000);
    page.on('console', (m) => {
      if (m.type() === 'error') console.log('page error:', m.text());
    });
    page.on('pageerror', (e) => console.log('page exception:', e.message));
    await page.setViewportSize({ width: 1280, height: 800 });
    await clearOrigin(page);
    const screenshot = (p: Page, name: string) => takeScreenshot(p, `${backend}-${name}`);
    await openPage(page, 'Chat');
    await page.getByLabel('Backend').selectOption(backend);
    await openPage(page, 'Library');

    // Library: the zoo is listed with no network.
    await expect(page.getByTestId('zoo-list').getByRole('listitem')).toHaveCount(5);
    await screenshot(page, '1-library');

    // Compose: the zoo example with hidden gates, four experts; compatibility checked live.
    await openPage(page, 'Compose');
    await page.getByLabel('Example').selectOption('moe-hidden.yml');
    await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 120_000 });
    await expect(page.locator('[data-testid^="expert-"]')).toHaveCount(4);
    const yamlText = await page.getByTestId('yaml-editor').inputValue();

    // Routing preview before merging.
    await page.getByLabel('Test text').fill('Once upon a time there was a cat. def main(): return 12 + 7');
    await page.getByRole('button', { name: 'Preview routing' }).click();
    await expect(page.getByTestId('preview-tokens')).toContainText('tokens', { timeout: 180_000 });
    await expect(page.getByTestId('heatmap')).toBeVisible();
    await screenshot(page, '2-compose');

    // A YAML error points at its line, then the form comes back when fixed.
    await page.getByTestId('yaml-editor').fill(yamlText.replace('experts_per_token: 2', 'experts_per_token: two'));
    await expect(page.getByTestId('compose-check')).toContainText(/line \d+: experts_per_token/);
    await page.getByTestId('yaml-editor').fill(yamlText);
    await expect(page.getByTestId('compose-ok')).toBeVisible({ timeout: 120_000 });

    // Form → YAML: an edit in the form rewrites only its line; an edit back gives the YAML (comments too) back.
    await page.getByLabel('Experts per token').fill('3');
    await expect(page.getByTestId('yaml-editor')).toHaveValue(
      yamlText.replace('experts_per_token: 2', 'experts_per_token: 3'),
    );
    await page.getByLabel('Experts per token').fill('2');
    await expect(page.getByTestId('yaml-editor')).toHaveValue(yamlText);
    const formYaml = await page.getByTestId('yaml-editor').inputValue();
    const fromForm = parseMergeYaml(formYaml);
    const original = parseMergeYaml(yamlText);
    expect(fromForm.ok && original.ok).toBe(true);
    if (fromForm.ok && original.ok)
      expect({ ...fromForm.config, sourceText: '' }).toEqual({ ...original.config, sourceText: '' });
    await expect(page.getByTestId('compose-ok')).toBeVisible({ timeout: 120_000 });

    // Build in the worker; the result opens in Chat.
    await page.getByRole('button', { name: 'Build MoE' }).click();
    await expect(page.getByTestId('engine-ready')).toContainText('4 experts', { timeout: 300_000 });
    await expect(page.getByTestId('backend')).toContainText(`Backend: ${backend} (chosen by you)`);

    // Chat: a streamed answer with coloured tokens.
    await page.getByLabel('Max tokens').fill('24');
    await page.getByRole('textbox', { name: 'Message' }).fill('Tell me a story about a cat.');
    await page.getByRole('button', { name: 'Send' }).click();
    const answer = page.getByTestId('msg-assistant').last();
    await expect.poll(() => answer.locator('.tok').count(), { timeout: 120_000 }).toBeGreaterThan(0);
    await expect(page.getByRole('button', { name: 'Send' })).toBeEnabled({ timeout: 120_000 });
    expect((await answer.getByTestId('assistant-tokens').textContent())!.length).toBeGreaterThan(0);
    await expect(answer).toContainText(/tok\/s/);
    await expect(answer.getByTestId('answer-summary')).toContainText(` · ${backend} · `); // no silent fallback
    console.log(
      'answer:',
      await answer.getByTestId('answer-summary').textContent(),
      '| backend:',
      await page.getByTestId('backend').textContent(),
    );
    // A token's text may be '' while a multi-byte character is incomplete: hover a visible one.
    await answer.locator('.tok').filter({ hasText: /\S/ }).first().hover();
    await expect(page.getByTestId('token-detail')).toContainText(/layer 0: E\d \d+%, E\d \d+%/);
    await expect(page.getByTestId('token-detail')).toContainText('layer 3:');
    // The default colouring keeps words whole: each token is one run of text, underlined in one expert's colour.
    expect(await answer.locator('.tok *').count()).toBe(0);
    expect(await answer.locator('.tok-underline[data-expert]').count()).toBeGreaterThan(0);
    await screenshot(page, '3-chat');

    // Runtime routing control: ban expert 0 and regenerate; no token of the new answer uses it.
    await page.getByLabel('Colour tokens by').selectOption('0');
    await page.getByLabel('Expert 0 routing').selectOption('ban');
    await page.getByRole('button', { name: 'Regenerate', exact: true }).click();
    await expect(page.getByRole('button', { name: 'Send' })).toBeEnabled({ timeout: 120_000 });
    const banned = page.getByTestId('msg-assistant').last();
    await expect.poll(() => banned.locator('.tok').count()).toBeGreaterThan(0);
    expect(await banned.locator('.tok[data-expert]').count()).toBeGreaterThan(0);
    expect(await banned.locator('.tok[data-expert="0"]').count()).toBe(0);
    await banned.locator('.tok').filter({ hasText: /\S/ }).first().hover();
    await expect(page.getByTestId('token-detail')).not.toContainText('E0 ');
    await page.getByLabel('Expert 0 routing').selectOption('auto');
    await page.getByLabel('Colour tokens by').selectOption('majority');

    // Routing: heatmap of the conversation's last answer, with load bars and stickiness.
    await openPage(page, 'Routing');
    await page.getByRole('button', { name: 'Use the last answer' }).first().click();
    await expect(page.getByTestId('heatmap').first()).toBeVisible();
    await expect(page.getByTestId('routing-stats').first()).toContainText('Stickiness');
    await expect(page.getByTestId('layer-overview').first().locator('tbody tr')).toHaveCount(4);
    // Two routers side by side: the same text through the Compose gates in slot B.
    await page.getByLabel('Text B').fill('def main(): return 12 + 7');
    await page.getByRole('button', { name: 'Route with the Compose gates' }).nth(1).click();
    await expect(page.getByTestId('heatmap')).toHaveCount(2, { timeout: 120_000 });
    await screenshot(page, '4-routing');

    // Export: YAML parses back to the same config; the GGUF loads in our reader. One listener
    // collects every download by name, so no download can slip between a click and its wait,
    // and a missing one fails in a minute with the page's export message instead of hanging.
    await openPage(page, 'Export');
    const downloads = new Map<string, Download>();
    page.on('download', (d) => downloads.set(d.suggestedFilename(), d));
    const exportFiles = async (
      button: string | RegExp,
      last: string | RegExp,
      timeout = 60_000,
    ): Promise<Map<string, string>> => {
      const arrived = () => [...downloads.keys()].some((n) => (typeof last === 'string' ? n === last : last.test(n)));
      downloads.clear();
      await page.getByRole('button', { name: button }).click();
      await expect
        .poll(
          async () =>
            arrived() ||
            `${[...downloads.keys()].join(', ')} | ${(await page.getByTestId('export-message').allTextContents()).join(' ')}`,
          { timeout, message: `the download ${last} after clicking ${button}` },
        )
        .toBe(true);
      const paths = new Map<string, string>();
      for (const [name, d] of downloads) paths.set(name, (await d.path())!);
      return paths;
    };
    const exportFile = async (button: string | RegExp, name: string | RegExp, timeout?: number) =>
      [...(await exportFiles(button, name, timeout))].find(([n]) =>
        typeof name === 'string' ? n === name : name.test(n),
      )![1];

    const exported = readFileSync(await exportFile('mergekit YAML', 'mergekit_moe_config.yml'), 'utf8');
    // The zoo donors are not on the hub: a comment says so, above the YAML as written.
    expect(
      exported.startsWith('# Not on the Hugging Face hub: zoo/base, zoo/stories, zoo/code, zoo/math, zoo/chat'),
    ).toBe(true);
    expect(exported.endsWith(formYaml)).toBe(true);
    const a = parseMergeYaml(exported);
    const b = parseMergeYaml(yamlText);
    expect(a.ok && b.ok).toBe(true);
    if (a.ok && b.ok) expect({ ...a.config, sourceText: '' }).toEqual({ ...b.config, sourceText: '' });

    // HF folder: one zip holding every stored file plus a model card naming the donors.
    const zip = readZipEntries(
      new Uint8Array(readFileSync(await exportFile(/^HF folder of .*\.zip/, 'Zoo-MoE-hidden.zip'))),
    );
    const folder = 'Zoo-MoE-hidden/';
    expect([...zip.keys()]).toEqual(
      expect.arrayContaining(
        ['config.json', 'generation_config.json', 'tokenizer.json', 'mergekit_moe_config.yml', 'README.md'].map(
          (f) => folder + f,
        ),
      ),
    );
    expect([...zip.keys()].some((n) => n.endsWith('.safetensors'))).toBe(true);
    expect(JSON.parse(new TextDecoder().decode(zip.get(`${folder}config.json`))).num_local_experts).toBe(4);
    const card = new TextDecoder().decode(zip.get(`${folder}README.md`));
    for (const donor of ['zoo/stories', 'zoo/code', 'zoo/math', 'zoo/chat']) expect(card).toContain(donor);
    await expect(page.getByTestId('export-message')).toContainText(
      /HF folder saved: Zoo-MoE-hidden\.zip \(\d+(\.\d)? [KM]B\)/,
    );

    const gguf = new Uint8Array(readFileSync(await exportFile('GGUF q8_0', /^Zoo-MoE-hidden\.q8_0\.gguf$/, 180_000)));
    const loaded = await loadGgufModel(bytesSource(gguf, 'exported.gguf'));
    expect(loaded.weights.spec.moe?.experts).toBe(4);
    expect(loaded.weights.spec.moe?.expertsPerToken).toBe(2);
    // Routing trace of the last answer as JSON and CSV.
    await page.getByRole('button', { name: 'Take the last answer' }).click();
    const trace = JSON.parse(readFileSync(await exportFile('Trace JSON', 'routing-trace.json'), 'utf8'));
    expect(trace.schemaVersion).toBe(1);
    expect(trace.tokens.length).toBeGreaterThan(0);
    for (const t of trace.tokens) expect(t.routing.layers).toHaveLength(4);
    const csv = readFileSync(await exportFile('Trace CSV', 'routing-trace.csv'), 'utf8');
    expect(csv.split('\n')[0]).toBe('token,piece,layer,rank,expert,weight,donor');
    let records = 0; // newlines outside quotes: pieces may contain quoted newlines
    for (let i = 0, quoted = false; i < csv.length; i++) {
      if (csv[i] === '"') quoted = !quoted;
      else if (csv[i] === '\n' && !quoted) records++;
    }
    expect(records - 1).toBe(trace.tokens.length * 4 * 2); // tokens × layers × top-2
    // The donor column names each expert by its donor (the built MoE's notes), not only its index.
    const donorOf = new Map<string, Set<string>>();
    for (const line of csv.split('\n').slice(1)) {
      const m = /,(\d+),[^,]*,"([^"]*)"$/.exec(line);
      if (m) donorOf.set(m[1]!, (donorOf.get(m[1]!) ?? new Set()).add(m[2]!));
    }
    const donors = ['zoo/stories', 'zoo/code', 'zoo/math', 'zoo/chat']; // moe-hidden.yml's experts, in order
    expect(donorOf.size).toBeGreaterThan(1);
    for (const [e, names] of donorOf) expect([...names], `expert ${e}`).toEqual([donors[Number(e)]]);
    await screenshot(page, '5-export');

    // Conversations are kept across reloads (IndexedDB), with their coloured tokens.
    await page.reload();
    await openPage(page, 'Chat');
    await expect(page.getByRole('complementary', { name: 'Conversations' })).toContainText('Tell me a story');
    await expect.poll(() => page.getByTestId('msg-assistant').last().locator('.tok').count()).toBeGreaterThan(0);

    // "Edit in Compose" from a fresh Library (Compose's store loads on the click) opens its YAML.
    await page.reload();
    await openPage(page, 'Library');
    await page.getByRole('button', { name: 'Edit in Compose: Zoo MoE (hidden)' }).click();
    await expect(page.getByRole('heading', { level: 2, name: 'Compose', exact: true })).toBeVisible();
    await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 60_000 });
    await expect(page.getByLabel('Name', { exact: true })).toHaveValue('Zoo MoE (hidden) (edit)');

    // Usable in a narrow window: every page still renders without a horizontal scrollbar on the body.
    await page.setViewportSize({ width: 640, height: 900 });
    for (const name of ['Library', 'Compose', 'Chat', 'Routing', 'Export'] as const) {
      await openPage(page, name);
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
      await screenshot(page, `narrow-${name.toLowerCase()}`);
    }

    // Nothing left the machine: every request went to the preview server or the local hub.
    expect(externalRequests(page)).toEqual([]);
  });
