/**
 * WebGPU flag values, fixed by the WebGPU spec (GPUBufferUsage, GPUMapMode), so the core
 * does not depend on the GPUBufferUsage / GPUMapMode globals: a Node caller passing a
 * Dawn device need not install them.
 */
export const BUFFER_USAGE = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;

export const MAP_MODE_READ = 0x0001;
