/**
 * How we launch real Chromium everywhere (Playwright e2e, Vitest browser tests, bench):
 * Debian's /usr/bin/chromium (never `npx playwright install`), WebGPU through SwiftShader.
 * Flags from toolchain-notes: a secure context (http://localhost) plus
 * --enable-unsafe-webgpu gives a SwiftShader adapter; the rest keep Chromium off the
 * (closed) network.
 */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
