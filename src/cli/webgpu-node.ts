/**
 * WebGPU from Node: Dawn through the optional `webgpu` package, imported only when a
 * command runs with `--backend webgpu`.
 *
 * Dawn loads Vulkan with dlopen("libvulkan.so.1"). Where the system has no Vulkan loader
 * (these machines), Chromium's copy and its SwiftShader driver are used: the process must
 * start with LD_LIBRARY_PATH pointing at them (the dynamic loader reads it once, at
 * start-up, so setting it in process.env is too late). The command therefore re-runs itself
 * once in a child process with that environment, unless it already has it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { BackendError } from '../core/errors.ts';

/** Chromium's library folder: libvulkan.so.1 + libvk_swiftshader.so + vk_swiftshader_icd.json. */
export const DEFAULT_SWIFTSHADER_DIR = '/usr/lib/chromium';
/** Overrides DEFAULT_SWIFTSHADER_DIR (another Chromium/Chrome install; a missing folder turns the fallback off). */
export const SWIFTSHADER_DIR_ENV = 'MOE_STUDIO_SWIFTSHADER_DIR';
/** Set in the child so it never re-runs itself again. */
const DAWN_CHILD_ENV = 'MOE_STUDIO_DAWN_CHILD';
const ICD_FILE = 'vk_swiftshader_icd.json';

export function swiftShaderDir(env: NodeJS.ProcessEnv = process.env): string {
  return env[SWIFTSHADER_DIR_ENV] || DEFAULT_SWIFTSHADER_DIR;
}

/**
 * The environment a child needs to find Chromium's Vulkan loader and SwiftShader, or
 * undefined when this process needs no re-run: it is that child already, its
 * LD_LIBRARY_PATH already has the folder, or there is no SwiftShader folder to add.
 * VK_ADD_DRIVER_FILES adds SwiftShader beside any system driver (a real GPU stays
 * visible and preferred); VK_ICD_FILENAMES would have replaced them.
 */
export function dawnChildEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv | undefined {
  if (env[DAWN_CHILD_ENV]) return undefined;
  const dir = swiftShaderDir(env);
  const icd = join(dir, ICD_FILE);
  if (!existsSync(icd)) return undefined;
  const libraryPath = (env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean);
  if (libraryPath.includes(dir)) return undefined;
  const driverFiles = (env.VK_ADD_DRIVER_FILES ?? '').split(delimiter).filter(Boolean);
  return {
    ...env,
    [DAWN_CHILD_ENV]: '1',
    LD_LIBRARY_PATH: [dir, ...libraryPath].join(delimiter),
    VK_ADD_DRIVER_FILES: [...driverFiles, icd].join(delimiter),
  };
}

/**
 * Re-runs this CLI invocation (`args` = command + its argv) in a child with
 * dawnChildEnvironment(), streaming its stdio; returns its exit code, or undefined when no
 * child is needed and the caller should go on in this process.
 */
export async function runInDawnChildIfNeeded(args: string[]): Promise<number | undefined> {
  const env = dawnChildEnvironment();
  if (!env) return undefined;
  const script = process.argv[1];
  if (!script) return undefined;
  // execArgv carries tsx's loader when the CLI runs as `tsx src/cli/main.ts` or `node --import tsx …`.
  const child = spawn(process.execPath, [...process.execArgv, script, ...args], { env, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.on('error', (error) =>
      reject(new BackendError(`webgpu: could not start the Dawn child process: ${error.message}`)),
    );
    child.on('exit', (code, signal) => {
      if (signal) reject(new BackendError(`webgpu: the Dawn child process died of ${signal}`));
      else resolve(code ?? 1);
    });
  });
}

/** The `webgpu` package's GPU object; a clear BackendError when the optional package is missing. */
export async function createDawnGpu(): Promise<GPU> {
  let dawn: { create: (flags: string[]) => GPU };
  try {
    // A variable specifier: the package is optional, so type-checking must not need it.
    const specifier = 'webgpu';
    dawn = (await import(/* @vite-ignore */ specifier)) as typeof dawn;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new BackendError(
        "the optional package 'webgpu' (Dawn for Node) is not installed; run `npm install webgpu` to use --backend webgpu from Node",
      );
    }
    throw new BackendError(
      `the optional package 'webgpu' (Dawn for Node) failed to load: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  return dawn.create([]);
}

/** Why Dawn may have found no adapter, for the error line (what was looked for, and where). */
export function noAdapterHint(env: NodeJS.ProcessEnv = process.env): string {
  const dir = swiftShaderDir(env);
  const icd = join(dir, ICD_FILE);
  if (!existsSync(icd)) {
    return `Dawn found no Vulkan driver and no SwiftShader fallback (${icd} does not exist: install chromium, or set ${SWIFTSHADER_DIR_ENV} to a folder with libvulkan.so.1 and ${ICD_FILE})`;
  }
  return `Dawn found no Vulkan driver, and Chromium's SwiftShader in ${dir} gave no adapter either`;
}
