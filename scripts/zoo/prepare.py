"""Data prep for the zoo: domain documents -> tokenizer -> token streams + held-out samples.

Usage: python3 prepare.py --corpora /work/shared/corpora --build build --zoo ../../public/zoo

Every document becomes `<|bos|>text<|end|>` in its domain's stream (chat documents are the
rendered chat template, which already starts with <|bos|>). Validation text is held out per
domain and never trained on:
  stories  TinyStories validation split (train: the cased train head)
  code     40 whole source files (20 Python, 20 JavaScript) drawn with a fixed seed
  math     GSM8K test split + synthetic arithmetic from a different seed
  chat     200 Dolly open_qa records drawn with a fixed seed
"""
import argparse
import json
import os
import random
import re

import numpy as np

import bpe

DOMAINS = ['stories', 'code', 'math', 'chat']
VOCAB_SIZE = 4096
CODE_FILE_MAX_CHARS = 12_000      # long files keep their first 12k chars (whole records otherwise)
CODE_TRAIN_CHARS = 2_600_000      # about as many tokens as the math set
HELDOUT_SAMPLE_CHARS = 4_000      # public/zoo/heldout/<domain>.txt: a few KB per domain


def chat_text(user, assistant=None):
    """The chat template of tokenizer_config.json, rendered in Python (must stay identical)."""
    text = bpe.BOS + '<|user|>\n' + user + '<|end|>\n<|assistant|>\n'
    if assistant is not None:
        text += assistant + '<|end|>\n'
    return text


def read_jsonl(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


STORY_SPLIT = r'(?<=[^\n])\n(?=[^\n])'   # stories are separated by a single newline


def truecaser(cased_text):
    """A recasing function learned from original-case text: a word is capitalized when most of
    its occurrences there that do not start a sentence are capitalized (names, "I", "Mom");
    sentence starts, paragraph starts and opening quotes are capitalized too."""
    counts = {}
    for m in re.finditer(r"(?<![.!?\"\n] )(?<!^)(?<!\")\b([A-Za-z][a-z']*)\b", cased_text, re.M):
        w = m.group(1)
        c = counts.setdefault(w.lower(), [0, 0])
        c[w[0].isupper()] += 1
    proper = {w for w, (lo, up) in counts.items() if up > lo}

    def recase(text):
        text = re.sub(r"\b[a-z][a-z']*\b", lambda m: m.group(0).capitalize() if m.group(0) in proper else m.group(0), text)
        return re.sub(r'(^|[.!?]["]? +|^"|[ (]")([a-z])', lambda m: m.group(1) + m.group(2).upper(), text, flags=re.M)
    return recase


def stories_docs(corpora):
    with open(os.path.join(corpora, 'stories/tinystories_train_head_cased.txt'), encoding='utf-8') as f:
        cased = f.read()
    train = [s.strip() for s in re.split(STORY_SPLIT, cased) if s.strip()]
    # The lowercase file holds ~5,500 stories of the same split; its first len(cased) chars are
    # the cased file lowercased. The rest (~4,400 stories) is recased and added: 5x the text.
    with open(os.path.join(corpora, 'stories/tinystories_train_head_lowercase.txt'), encoding='utf-8') as f:
        lower = f.read()
    assert lower[:len(cased)] == cased.lower(), 'lowercase stories file no longer starts with the cased one'
    recase = truecaser(cased)
    train += [recase(s.strip()) for s in re.split(STORY_SPLIT, lower[len(cased):]) if s.strip()]
    with open(os.path.join(corpora, 'stories/tinystories_valid_head_cased.txt'), encoding='utf-8') as f:
        paragraphs = [p.strip() for p in f.read().split('\n\n') if p.strip()]
    # Story boundaries in the validation file are lost: three paragraphs make one document.
    val = ['\n\n'.join(paragraphs[i:i + 3]) for i in range(0, len(paragraphs), 3)]
    return train, val


def code_docs(corpora):
    rng = random.Random(1234)
    files = {lang: read_jsonl(os.path.join(corpora, f'code/{name}.jsonl'))
             for lang, name in [('python', 'python_stdlib'), ('javascript', 'javascript_npm_deps')]}
    train, val = [], []
    for lang, records in files.items():
        texts = [r['text'][:CODE_FILE_MAX_CHARS] for r in records if len(r['text']) > 200]
        rng.shuffle(texts)
        val += texts[:20]
        budget = CODE_TRAIN_CHARS // 2
        for t in texts[20:]:
            if budget <= 0:
                break
            train.append(t)
            budget -= len(t)
    rng.shuffle(train)
    return train, val


def arithmetic_doc(rng, lines=16):
    """Synthetic arithmetic, one exact fact per line: '12 + 35 = 47'."""
    out = []
    for _ in range(lines):
        op = rng.choice('+-*')
        if op == '*':
            a, b = rng.randint(0, 20), rng.randint(0, 20)
        else:
            a, b = rng.randint(0, 99), rng.randint(0, 99)
        if op == '-' and b > a:
            a, b = b, a
        c = a + b if op == '+' else a - b if op == '-' else a * b
        out.append(f'{a} {op} {b} = {c}')
    return '\n'.join(out)


def math_docs(corpora):
    fmt = lambda r: 'Question: ' + r['prompt'].strip() + '\nAnswer: ' + r['response'].strip()
    train = [fmt(r) for r in read_jsonl(os.path.join(corpora, 'math/gsm8k_train_prompt_response.jsonl'))]
    test = [fmt(r) for r in read_jsonl(os.path.join(corpora, 'math/gsm8k_test_prompt_response.jsonl'))]
    rng_train, rng_val = random.Random(7), random.Random(8)
    train += [arithmetic_doc(rng_train) for _ in range(len(train) // 2)]
    val = test[:300] + [arithmetic_doc(rng_val) for _ in range(150)]
    random.Random(9).shuffle(train)
    random.Random(10).shuffle(val)
    return train, val


def chat_docs(corpora):
    records = read_jsonl(os.path.join(corpora, 'chat/dolly_open_qa.jsonl'))
    random.Random(4321).shuffle(records)
    docs = [chat_text(r['prompt'].strip(), r['response'].strip()) for r in records]
    return docs[200:], docs[:200]


def as_document(domain, text):
    """Chat documents are already framed by the template; others get <|bos|> … <|end|>."""
    return text if domain == 'chat' else bpe.BOS + text + bpe.END


def write_heldout(zoo_dir, domain, val_docs):
    os.makedirs(os.path.join(zoo_dir, 'heldout'), exist_ok=True)
    sample, size = [], 0
    for d in val_docs:
        if size >= HELDOUT_SAMPLE_CHARS:
            break
        sample.append(d if domain == 'chat' else d + '\n')
        size += len(d)
    with open(os.path.join(zoo_dir, 'heldout', f'{domain}.txt'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(sample) if domain != 'chat' else ''.join(sample))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--corpora', required=True)
    ap.add_argument('--build', required=True)
    ap.add_argument('--zoo', required=True)
    args = ap.parse_args()
    os.makedirs(os.path.join(args.build, 'data'), exist_ok=True)
    makers = {'stories': stories_docs, 'code': code_docs, 'math': math_docs, 'chat': chat_docs}
    docs = {d: makers[d](args.corpora) for d in DOMAINS}

    merges_path = os.path.join(args.build, 'merges.json')
    if not os.path.exists(merges_path):
        # Tokenizer training text: ~500 KB from each domain's training documents.
        sample = []
        for d in DOMAINS:
            size = 0
            for t in docs[d][0]:
                if size > 500_000:
                    break
                sample.append(t)
                size += len(t)
        bpe.save_merges(merges_path, bpe.train_bpe(sample, VOCAB_SIZE))
    enc = bpe.Encoder(bpe.load_merges(merges_path))
    assert enc.vocab_size == VOCAB_SIZE, enc.vocab_size
    with open(os.path.join(args.build, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(enc.tokenizer_json(), f, ensure_ascii=False)

    stats = {}
    for d in DOMAINS:
        train, val = docs[d]
        for split, texts in [('train', train), ('val', val)]:
            ids = []
            for t in texts:
                ids.extend(enc.encode(as_document(d, t)))
            np.save(os.path.join(args.build, 'data', f'{d}_{split}.npy'), np.array(ids, dtype=np.uint16))
            stats[f'{d}_{split}'] = {'docs': len(texts), 'tokens': len(ids), 'chars': sum(map(len, texts))}
            print(d, split, stats[f'{d}_{split}'], flush=True)
        write_heldout(args.zoo, d, val)
    with open(os.path.join(args.build, 'data', 'stats.json'), 'w') as f:
        json.dump(stats, f, indent=1)


if __name__ == '__main__':
    main()
