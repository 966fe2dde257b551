import { expect, test } from '@playwright/test';
import { clearOrigin } from './helpers.ts';

/**
 * Compose says what mergekit leaves silent: a key mergekit-moe ignores is named with its line and
 * a "did you mean"; random gates warn that they route by chance; an output the engine cannot open (DeepSeek MoE) is refused before building,
 * with the reason, and Build stays off.
 */
test('Compose names ignored keys, warns of random gates and refuses an output the studio cannot open', async ({
  page,
}) => {
  await clearOrigin(page);
  await page.goto('/#compose');
  await page.getByRole('button', { name: 'Start from the demo zoo' }).click();
  await expect(page.getByTestId('expert-3')).toBeVisible();
  const editor = page.getByTestId('yaml-editor');
  const yaml = await editor.inputValue();
  await expect(page.getByTestId('compose-ok')).toContainText('Mixtral', { timeout: 60_000 });
  await expect(page.getByRole('button', { name: 'Build MoE' })).toBeEnabled();

  const misspelt = `${yaml}experts_per_tokens: 1\n`;
  await editor.fill(misspelt);
  const line = misspelt.trimEnd().split('\n').length;
  await expect(page.getByTestId('compose-ok')).toContainText(
    `'experts_per_tokens' (line ${line}) is not a mergekit-moe key and is ignored, as mergekit ignores it; did you mean 'experts_per_token'?`,
    { timeout: 60_000 },
  );

  // residual_scale on the classic Mixtral layout is said to be not applied, never dropped silently
  await page.getByTestId('expert-0').getByLabel('Residual scale').fill('0.5');
  await expect(page.getByTestId('compose-ok')).toContainText(
    "experts[0].residual_scale 0.5 is not applied: mergekit v0.1.4's Mixtral writer ignores it",
    { timeout: 60_000 },
  );
  await page.getByLabel('Layout').selectOption('fused');
  await expect(page.getByTestId('compose-ok')).not.toContainText('residual_scale', { timeout: 60_000 });
  await page.getByLabel('Layout').selectOption('classic');

  // random gates build, with the warning that they route by chance until calibrated or trained
  await editor.fill(yaml.replace(/^gate_mode:.*$/m, 'gate_mode: random'));
  await expect(page.getByTestId('compose-ok')).toContainText(
    'gate_mode random gives routers of random numbers, unrelated to the prompts: tokens reach experts by chance until the router is calibrated',
    { timeout: 60_000 },
  );
  await expect(page.getByRole('button', { name: 'Build MoE' })).toBeEnabled();

  // the zoo experts with a shared expert and architecture: deepseek → mergekit's DeepSeek MoE
  const withoutArch = yaml.replace(/^architecture:.*\n/m, '');
  await editor.fill(`${withoutArch}architecture: deepseek\nshared_experts:\n  - source_model: zoo/math\n`);
  await expect(page.getByTestId('compose-export-only')).toContainText(
    'a DeepSeek MoE model (model_type deepseek) is what mergekit would write, but this studio cannot open it',
    { timeout: 60_000 },
  );
  await expect(page.getByRole('button', { name: 'Build MoE' })).toBeDisabled();
  for (const colorScheme of ['light', 'dark'] as const)
    for (const width of [1280, 420]) {
      await page.emulateMedia({ colorScheme });
      await page.setViewportSize({ width, height: 900 });
      await page.getByTestId('compose-export-only').scrollIntoViewIfNeeded();
      await page.screenshot({ path: `test-results/screenshots/compose-export-only-${width}-${colorScheme}.png` });
      expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1)).toBe(true);
    }
});

test('a form edit keeps every mergekit-moe key the form has no field for, and says which keys are ignored', async ({
  page,
}) => {
  await clearOrigin(page);
  await page.goto('/#compose');
  const editor = page.getByTestId('yaml-editor');
  const yaml = [
    '# every mergekit-moe key, and two it ignores',
    'base_model: zoo/base',
    'gate_mode: hidden_avg',
    'dtype: torch.float32',
    'experts_per_token: 2',
    'architecture: qwen',
    'tokenizer_source: base',
    'experts:',
    '  - source_model: zoo/stories',
    '    positive_prompts: ["Once upon a time"]',
    '    negative_prompts: ["12 + 7 ="]',
    '    noise_scale: 0.01',
    '    residual_scale: 0.5',
    '  - source_model: zoo/code',
    '    positive_prompts: ["def main():"]',
    '    postive_prompts: ["typo"]',
    'shared_experts:',
    '  - source_model: zoo/math',
    '    positive_prompts: ["1 + 1 ="]',
    '',
  ].join('\n');
  await editor.fill(yaml);
  await expect(page.getByTestId('expert-1')).toBeVisible();
  await expect(page.getByLabel('Architecture')).toHaveValue('qwen'); // shown as written, not as "automatic"
  const check = page.getByTestId('compose-check');
  await expect(check).toContainText("'tokenizer_source' (line 7) is not a mergekit-moe key and is ignored", {
    timeout: 60_000,
  });
  await expect(check).toContainText("'postive_prompts' in experts[1] (line 16)");
  await expect(check).toContainText("did you mean 'positive_prompts'?");

  // One form edit changes one line; an edit back gives the YAML back byte for byte.
  await page.getByLabel('Experts per token').fill('1');
  await expect(editor).toHaveValue(yaml.replace('experts_per_token: 2', 'experts_per_token: 1'));
  await page.getByLabel('Experts per token').fill('2');
  await expect(editor).toHaveValue(yaml);
  await page.getByRole('textbox', { name: 'Expert 0 positive prompt 1', exact: true }).fill('Once upon a time, a cat');
  await expect(editor).toHaveValue(yaml.replace('["Once upon a time"]', '["Once upon a time, a cat"]'));
});
