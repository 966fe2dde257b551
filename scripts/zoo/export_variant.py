"""The MLP+norms comparison variant (recipe.sh variant-norms) as HF folders for the merge:
build/variant-norms/zoo/<expert>/ (f16, like the shipped zoo) and zoo/base -> the shipped base.
Also each expert's own-domain held-out perplexity for both variants (f32 from the f16 weights),
into build/variant-norms/standalone.json; scripts/zoo/compare-variants.ts adds the merged MoEs.

  /usr/bin/python3 export_variant.py --build build --zoo ../../public/zoo
"""
import argparse
import json
import os

import numpy as np
import torch

import bpe
from evaluate import perplexity
from export import DOMAINS, load_model, write_model_folder
from model import Config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('--zoo', required=True)
    args = ap.parse_args()
    torch.set_num_threads(2)
    cfg = Config()
    variant = os.path.join(args.build, 'variant-norms')
    enc = bpe.Encoder(bpe.load_merges(os.path.join(args.build, 'merges.json')))
    out_zoo = os.path.join(variant, 'zoo')
    os.makedirs(out_zoo, exist_ok=True)
    base_link = os.path.join(out_zoo, 'base')
    if not os.path.islink(base_link):
        os.symlink(os.path.abspath(os.path.join(args.zoo, 'base')), base_link)
    standalone = {}
    for d in DOMAINS:
        val = np.load(os.path.join(args.build, 'data', f'{d}_val.npy'))
        model = load_model(variant, d, cfg)
        write_model_folder(os.path.join(out_zoo, d), model, enc, cfg, d)
        steps = {}
        for name, build in [('mlp', args.build), ('mlp+norms', variant)]:
            with open(os.path.join(build, 'ckpt', f'{d}.json')) as f:
                steps[name] = json.load(f)['steps_run']
        standalone[d] = {'mlp+norms': perplexity(model, val)[0], 'mlp': perplexity(load_model(args.build, d, cfg), val)[0],
                         'base': perplexity(load_model(args.build, 'base', cfg), val)[0], 'steps': steps}
        print(d, standalone[d], flush=True)
    with open(os.path.join(variant, 'standalone.json'), 'w') as f:
        json.dump(standalone, f, indent=1)


if __name__ == '__main__':
    main()
