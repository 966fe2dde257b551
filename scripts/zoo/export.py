"""Exports the zoo: HF folders, f32 evaluation of the shipped weights, samples, cards, index.

  python3 export.py --build build --zoo ../../public/zoo --corpora /work/shared/corpora
"""
import argparse
import hashlib
import json
import os
import shutil

import numpy as np
import torch

import bpe
import cards
import hf_files
from evaluate import CHAT_STOP_QUESTIONS, PROMPTS, chat_stop_rate, perplexity, samples_for, shipped_f32
from prepare import chat_docs
from model import Config, Llama

MODELS = ['base', 'stories', 'code', 'math', 'chat']
DOMAINS = ['stories', 'code', 'math', 'chat']
ZOO_LIMIT_BYTES = 40 * 1024 * 1024


def load_model(build, name, cfg):
    model = Llama(cfg)
    model.load_state_dict(torch.load(os.path.join(build, 'ckpt', f'{name}.pt')))
    return shipped_f32(model.eval())


def write_model_folder(folder, model, enc, cfg, name):
    os.makedirs(folder, exist_ok=True)
    tensors = [(k, v.detach().half()) for k, v in model.state_dict().items()]
    hf_files.write_safetensors(os.path.join(folder, 'model.safetensors'), tensors,
                               {'format': 'pt', 'zoo_model': name})
    hf_files.write_json(os.path.join(folder, 'config.json'), hf_files.config_json(cfg, enc))
    hf_files.write_json(os.path.join(folder, 'generation_config.json'), hf_files.generation_config_json(enc))
    hf_files.write_json(os.path.join(folder, 'tokenizer_config.json'),
                        hf_files.tokenizer_config_json(enc, cfg.max_position_embeddings))
    hf_files.write_json(os.path.join(folder, 'special_tokens_map.json'), hf_files.special_tokens_map_json())
    with open(os.path.join(folder, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(enc.tokenizer_json(), f, ensure_ascii=False)


def file_entries(folder):
    out = []
    for fname in sorted(os.listdir(folder)):
        with open(os.path.join(folder, fname), 'rb') as f:
            data = f.read()
        out.append({'name': fname, 'size': len(data), 'sha256': hashlib.sha256(data).hexdigest()})
    return out


def write_index(zoo):
    models = []
    for name in MODELS:
        models.append({
            'id': f'zoo/{name}', 'path': name, 'role': 'base' if name == 'base' else 'expert',
            **({} if name == 'base' else {'domain': name}),
            'title': cards.TITLES[name], 'description': cards.DESCRIPTIONS[name],
            'files': file_entries(os.path.join(zoo, name)),
        })
    index = {'schemaVersion': 1, 'models': models,
             'mergeConfigs': [{'name': m, 'path': f'moe-{m}.yml'} for m in cards.MERGE_GATE_MODES]}
    hf_files.write_json(os.path.join(zoo, 'index.json'), index)


def zoo_size(zoo):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(zoo) for f in fs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--zoo', required=True)
    ap.add_argument('--corpora', required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = Config()
    enc = bpe.Encoder(bpe.load_merges(os.path.join(args.build, 'merges.json')))
    vals = {d: np.load(os.path.join(args.build, 'data', f'{d}_val.npy')) for d in DOMAINS}
    with open(os.path.join(args.build, 'data', 'stats.json')) as f:
        data_stats = json.load(f)
    ppl, logs, samples, chat_stops = {}, {}, {}, {}
    held_out_questions = [doc.split('<|user|>\n', 1)[1].split('<|end|>', 1)[0] for doc in chat_docs(args.corpora)[1]]
    PROMPTS['chat'] = PROMPTS['chat'][:1] + [('chat', q) for q in held_out_questions[:2]]
    for name in MODELS:
        model = load_model(args.build, name, cfg)
        ppl[name] = {}
        for d in DOMAINS:
            ppl[name][d], n_tokens = perplexity(model, vals[d])
            ppl[name][f'{d}_tokens'] = n_tokens
        print(name, {d: round(ppl[name][d], 2) for d in DOMAINS}, flush=True)
        samples[name] = samples_for(model, enc, name)
        if name in ('base', 'chat'):
            chat_stops[name] = chat_stop_rate(model, enc, held_out_questions[:CHAT_STOP_QUESTIONS])
            print(name, 'chat answers ending with <|end|>:', chat_stops[name], flush=True)
        with open(os.path.join(args.build, 'ckpt', f'{name}.json')) as f:
            logs[name] = json.load(f)
        folder = os.path.join(args.zoo, name)
        write_model_folder(folder, model, enc, cfg, name)
        hf_files.write_json(os.path.join(folder, 'samples.json'), {
            'schemaVersion': 1, 'model': f'zoo/{name}', 'decoding': 'greedy, f32 reference from the f16 weights',
            'stopIds': [enc.token_to_id[bpe.END]], 'samples': samples[name]})
    compare_path = os.path.join(args.build, 'variant-norms', 'compare.json')
    variant = json.load(open(compare_path)) if os.path.exists(compare_path) else None
    ctx = cards.Context(cfg=cfg, ppl=ppl, logs=logs, samples=samples, data_stats=data_stats, chat_stops=chat_stops,
                        variant=variant)
    for name in MODELS:
        with open(os.path.join(args.zoo, name, 'README.md'), 'w', encoding='utf-8') as f:
            f.write(cards.model_card(ctx, name))
    for mode in cards.MERGE_GATE_MODES:
        with open(os.path.join(args.zoo, f'moe-{mode}.yml'), 'w', encoding='utf-8') as f:
            f.write(cards.merge_yaml(mode))
    cards.write_licenses(args.zoo, args.corpora)
    write_index(args.zoo)
    with open(os.path.join(args.zoo, 'README.md'), 'w', encoding='utf-8') as f:
        f.write(cards.zoo_readme(ctx, zoo_size(args.zoo)))
    write_index(args.zoo)   # README changed nothing inside model folders; index stays exact
    total = zoo_size(args.zoo)
    print('zoo bytes', total, 'limit', ZOO_LIMIT_BYTES, flush=True)
    problems = cards.quality_problems(ppl)
    for p in problems:
        print('QUALITY:', p, flush=True)
    assert total <= ZOO_LIMIT_BYTES, f'zoo is {total} bytes, over {ZOO_LIMIT_BYTES}'


if __name__ == '__main__':
    main()
