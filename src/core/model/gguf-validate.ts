/**
 * Keys llama.cpp needs before it will load a GGUF. A missing feed_forward_length,
 * attention.head_count or (MoE) expert_count / expert_used_count makes llama.cpp abort its
 * whole process (GGML_ASSERT) rather than return an error (toolchain-notes.md), so we check
 * every file before writing it and before handing one to llama.cpp.
 */
import { FormatError } from '../errors.ts';
import type { GgufFile } from '../formats/gguf-types.ts';

type GgufLike = Pick<GgufFile, 'name' | 'metadata'> & { tensors: { name: string; shape: number[] }[] };

export function llamaCppRequiredKeys(arch: string, isMoe: boolean): string[] {
  const keys = [
    'general.architecture',
    `${arch}.context_length`,
    `${arch}.embedding_length`,
    `${arch}.block_count`,
    `${arch}.feed_forward_length`,
    `${arch}.attention.head_count`,
    `${arch}.attention.layer_norm_rms_epsilon`,
    'tokenizer.ggml.model',
    'tokenizer.ggml.tokens',
  ];
  if (isMoe) keys.push(`${arch}.expert_count`, `${arch}.expert_used_count`);
  return keys;
}

/** Throws a FormatError naming every missing key (and a vocabulary/embedding mismatch). */
export function validateForLlamaCpp(file: GgufLike): void {
  const arch = file.metadata.get('general.architecture');
  const archName = arch?.type === 'string' ? arch.value : '<arch>';
  const isMoe = file.tensors.some((t) => t.name.includes('.ffn_gate_inp.')); // every MoE layout has a router
  const missing = llamaCppRequiredKeys(archName, isMoe).filter((key) => !file.metadata.has(key));
  if (missing.length > 0) {
    throw new FormatError(
      `gguf: ${file.name}: missing required key${missing.length > 1 ? 's' : ''} ${missing.map((k) => `'${k}'`).join(', ')} (llama.cpp cannot load the file without them)`,
    );
  }
  const tokens = file.metadata.get('tokenizer.ggml.tokens');
  const embed = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (tokens?.type === 'array' && embed && tokens.value.length !== embed.shape[0]) {
    throw new FormatError(
      `gguf: ${file.name}: tokenizer.ggml.tokens has ${tokens.value.length} tokens but token_embd.weight has ${embed.shape[0]} rows`,
    );
  }
}
