"""Calibration texts for the zoo MoE, made from the training corpora (maintainer script; the app
and the tests read only its outputs).

Usage: python3 calibration_sets.py --corpora /work/shared/corpora --zoo ../../public/zoo

Writes, per domain (expert index = position in moe-*.yml: stories 0, code 1, math 2, chat 3):
  public/zoo/calibration/<domain>.jsonl        the built-in set: the last TEXTS training documents
                                                of prepare.py's split (text the expert was trained on)
  public/zoo/calibration/check-<domain>.jsonl  the held-out-of-tuning set: TEXTS documents that the
                                                zoo recipe trained no model on and that are not in
                                                public/zoo/heldout (stories: later TinyStories
                                                validation documents; code: files past the training
                                                budget; math: GSM8K test items after the 300 in val;
                                                chat: Dolly val records after those in heldout)
Each line: {"expert": int, "text": str}. Code files keep prepare.py's first CODE_CHARS characters.
"""
import argparse
import json
import os
import random

import prepare

TEXTS = 60
# Code texts are whole files as the expert trained on them (prepare.py keeps a file's first 12k
# characters). Cutting them to their first 2,400 characters left only file heads (licence,
# imports, docstring): the router never saw a function body, and held-out code past the head
# went 1.12× the code expert (docs/merge.md).
CODE_CHARS = prepare.CODE_FILE_MAX_CHARS


def heldout_count(zoo, domain, val):
    """How many leading val documents public/zoo/heldout/<domain>.txt holds (prepare.write_heldout)."""
    size, n = 0, 0
    for d in val:
        if size >= prepare.HELDOUT_SAMPLE_CHARS:
            break
        size += len(d)
        n += 1
    return n


def code_unused(corpora):
    """Code files the recipe skipped: prepare.code_docs stops adding files once the budget is spent."""
    rng = random.Random(1234)
    unused = []
    for name in ['python_stdlib', 'javascript_npm_deps']:
        records = prepare.read_jsonl(os.path.join(corpora, f'code/{name}.jsonl'))
        texts = [r['text'][:prepare.CODE_FILE_MAX_CHARS] for r in records if len(r['text']) > 200]
        rng.shuffle(texts)
        budget = prepare.CODE_TRAIN_CHARS // 2
        rest = texts[20:]
        for i, t in enumerate(rest):
            if budget <= 0:
                unused += rest[i:]
                break
            budget -= len(t)
    return unused


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--corpora', required=True)
    ap.add_argument('--zoo', required=True)
    args = ap.parse_args()
    out = os.path.join(args.zoo, 'calibration')
    os.makedirs(out, exist_ok=True)
    makers = {'stories': prepare.stories_docs, 'code': prepare.code_docs, 'math': prepare.math_docs,
              'chat': prepare.chat_docs}
    for expert, domain in enumerate(prepare.DOMAINS):
        train, val = makers[domain](args.corpora)
        tune = train[-TEXTS:]
        if domain == 'code':
            check = code_unused(args.corpora)
            random.Random(99).shuffle(check)
            check = check[:TEXTS]
        elif domain == 'math':
            test = [f"Question: {r['prompt'].strip()}\nAnswer: {r['response'].strip()}"
                    for r in prepare.read_jsonl(os.path.join(args.corpora, 'math/gsm8k_test_prompt_response.jsonl'))]
            check = test[300:300 + TEXTS]
        else:
            check = val[heldout_count(args.zoo, domain, val):][:TEXTS]
        for name, texts in [(domain, tune), (f'check-{domain}', check)]:
            with open(os.path.join(out, f'{name}.jsonl'), 'w', encoding='utf-8') as f:
                for t in texts:
                    text = t[:CODE_CHARS] if domain == 'code' else t
                    f.write(json.dumps({'expert': expert, 'text': text}, ensure_ascii=False) + '\n')
            print(name, len(texts), sum(len(t) for t in texts), flush=True)


if __name__ == '__main__':
    main()
