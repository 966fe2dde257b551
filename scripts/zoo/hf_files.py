"""The small JSON files of a zoo model folder (HF layout) and a minimal safetensors writer."""
import json
import struct

import torch

import bpe

# Jinja, rendered by transformers.js / transformers. Must match prepare.chat_text():
#   <|bos|><|user|>\n{q}<|end|>\n<|assistant|>\n{a}<|end|>\n
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def token_ids(enc):
    return {t: enc.token_to_id[t] for t in bpe.SPECIAL_TOKENS}


def config_json(cfg, enc):
    ids = token_ids(enc)
    return {
        'architectures': ['LlamaForCausalLM'],
        'model_type': 'llama',
        'vocab_size': cfg.vocab_size,
        'hidden_size': cfg.hidden_size,
        'intermediate_size': cfg.intermediate_size,
        'num_hidden_layers': cfg.num_hidden_layers,
        'num_attention_heads': cfg.num_attention_heads,
        'num_key_value_heads': cfg.num_key_value_heads,
        'head_dim': cfg.head_dim,
        'hidden_act': 'silu',
        'max_position_embeddings': cfg.max_position_embeddings,
        'rms_norm_eps': cfg.rms_norm_eps,
        'rope_theta': cfg.rope_theta,
        'rope_scaling': None,
        'attention_bias': False,
        'attention_dropout': 0.0,
        'mlp_bias': False,
        'initializer_range': 0.02,
        'tie_word_embeddings': True,
        'bos_token_id': ids[bpe.BOS],
        'eos_token_id': ids[bpe.END],
        'pad_token_id': ids[bpe.PAD],
        'torch_dtype': 'float16',
        'use_cache': True,
    }


def generation_config_json(enc):
    ids = token_ids(enc)
    return {'bos_token_id': ids[bpe.BOS], 'eos_token_id': ids[bpe.END], 'pad_token_id': ids[bpe.PAD],
            'do_sample': False, 'max_new_tokens': 128}


def tokenizer_config_json(enc, max_len):
    added = {str(i): {'content': t, 'lstrip': False, 'normalized': False, 'rstrip': False,
                      'single_word': False, 'special': True} for t, i in token_ids(enc).items()}
    return {
        'tokenizer_class': 'PreTrainedTokenizerFast',
        'added_tokens_decoder': added,
        'bos_token': bpe.BOS,
        'eos_token': bpe.END,
        'pad_token': bpe.PAD,
        'unk_token': None,
        'additional_special_tokens': ['<|user|>', '<|assistant|>', '<|system|>'],
        'add_bos_token': True,
        'add_eos_token': False,
        'clean_up_tokenization_spaces': False,
        'model_max_length': max_len,
        'chat_template': CHAT_TEMPLATE,
    }


def special_tokens_map_json():
    return {'bos_token': bpe.BOS, 'eos_token': bpe.END, 'pad_token': bpe.PAD,
            'additional_special_tokens': ['<|user|>', '<|assistant|>', '<|system|>']}


def write_json(path, obj):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(obj, f, ensure_ascii=False, indent=2)
        f.write('\n')


def write_safetensors(path, tensors, metadata):
    """tensors: [(name, f16 torch tensor)] in file order. Layout: u64 LE header length, header
    JSON (padded with spaces to 8 bytes), then the raw little-endian data back to back."""
    header, offset, blobs = {'__metadata__': metadata}, 0, []
    for name, t in tensors:
        assert t.dtype == torch.float16, name
        data = t.contiguous().numpy().astype('<f2').tobytes()
        header[name] = {'dtype': 'F16', 'shape': list(t.shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    head = json.dumps(header, separators=(',', ':')).encode('utf-8')
    head += b' ' * (-len(head) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)
