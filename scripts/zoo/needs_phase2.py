"""Prints the experts whose own-domain quick-eval gain over the base (last logged val_ppl) is
below a margin, lowest gain first: they get a second, resumed fine-tuning phase (recipe.sh)."""
import json
import os
import sys

MARGIN = 0.19   # the target is 15% on the full held-out eval; the quick eval is noisier


def last_val(build, name):
    with open(os.path.join(build, 'ckpt', f'{name}.json')) as f:
        return [h for h in json.load(f)['history'] if 'val_ppl' in h][-1]['val_ppl']


def main(build):
    base = last_val(build, 'base')
    gains = {d: 1 - last_val(build, d)[d] / base[d] for d in ['stories', 'code', 'math', 'chat']}
    print(json.dumps({d: round(g, 3) for d, g in gains.items()}), file=sys.stderr)
    print(' '.join(d for d, g in sorted(gains.items(), key=lambda kv: kv[1]) if g < MARGIN))


if __name__ == '__main__':
    main(sys.argv[1])
