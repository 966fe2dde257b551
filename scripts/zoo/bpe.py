"""Byte-level BPE (GPT-2 style) in pure Python: training, encoding, tokenizer.json export.

The pre-tokenizer is GPT-2's regex, which Hugging Face tokenizers and transformers.js run as
  's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
Python's `re` has no \\p{..}, so the letter / number classes are built from unicodedata and
\\s is spelled out as JavaScript defines it: the Python encoder then splits text exactly as
transformers.js does (checked by scripts/zoo/zoo.test.ts on every recorded prompt).
"""
import collections
import json
import re
import sys
import unicodedata

# Special tokens: ids 0..5, also present in the BPE vocab (as GPT-2's <|endoftext|> is).
SPECIAL_TOKENS = ['<|bos|>', '<|end|>', '<|pad|>', '<|user|>', '<|assistant|>', '<|system|>']
BOS, END, PAD = '<|bos|>', '<|end|>', '<|pad|>'

# JavaScript's \s (ECMA-262 WhiteSpace + LineTerminator).
JS_SPACE = '\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff'


def _class_from_categories(prefix):
    """A regex character-class body listing every code point whose category starts with prefix."""
    ranges, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        hit = unicodedata.category(chr(cp)).startswith(prefix)
        if hit and start is None:
            start = cp
        if not hit and start is not None:
            ranges.append((start, prev))
            start = None
        if hit:
            prev = cp
    if start is not None:
        ranges.append((start, prev))
    esc = lambda c: '\\U%08x' % c
    return ''.join(esc(a) if a == b else esc(a) + '-' + esc(b) for a, b in ranges)


def _gpt2_pattern():
    letters = _class_from_categories('L')
    numbers = _class_from_categories('N')
    src = (r"'s|'t|'re|'ve|'m|'ll|'d"
           rf"| ?[{letters}]+| ?[{numbers}]+| ?[^{JS_SPACE}{letters}{numbers}]+"
           rf"|[{JS_SPACE}]+(?![^{JS_SPACE}])|[{JS_SPACE}]+")
    return re.compile(src)


PRETOKENIZE = _gpt2_pattern()


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable-character map."""
    bs = list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1)) + list(range(ord('®'), ord('ÿ') + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def pieces(text):
    """Pre-tokenized words, each as its byte-level unicode string."""
    return [''.join(BYTE_TO_CHAR[b] for b in w.encode('utf-8')) for w in PRETOKENIZE.findall(text)]


def train_bpe(texts, vocab_size):
    """Returns merges [(a, b)] learned from texts until the vocab reaches vocab_size."""
    word_counts = collections.Counter()
    for t in texts:
        word_counts.update(pieces(t))
    words = [list(w) for w in word_counts]
    counts = list(word_counts.values())
    pair_counts = collections.Counter()
    pair_words = collections.defaultdict(set)
    for wi, w in enumerate(words):
        for a, b in zip(w, w[1:]):
            pair_counts[(a, b)] += counts[wi]
            pair_words[(a, b)].add(wi)
    merges = []
    known = set(SPECIAL_TOKENS) | set(BYTE_TO_CHAR.values())
    while len(known) < vocab_size and pair_counts:
        best = max(pair_counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        merged = best[0] + best[1]
        known.add(merged)
        for wi in list(pair_words[best]):
            w = words[wi]
            for a, b in zip(w, w[1:]):
                pair_counts[(a, b)] -= counts[wi]
                if pair_counts[(a, b)] <= 0:
                    del pair_counts[(a, b)]
                pair_words[(a, b)].discard(wi)
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == best[0] and w[i + 1] == best[1]:
                    out.append(merged)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            words[wi] = out
            for a, b in zip(out, out[1:]):
                pair_counts[(a, b)] += counts[wi]
                pair_words[(a, b)].add(wi)
        pair_words.pop(best, None)
    return merges


class Encoder:
    """Encodes text with specials split out first, then GPT-2 BPE by merge rank."""

    def __init__(self, merges):
        self.merges = [tuple(m) for m in merges]
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        vocab = list(SPECIAL_TOKENS) + [BYTE_TO_CHAR[b] for b in range(256)]
        seen = set(vocab)
        for a, b in self.merges:
            if a + b not in seen:
                seen.add(a + b)
                vocab.append(a + b)
        self.id_to_token = vocab
        self.token_to_id = {t: i for i, t in enumerate(vocab)}
        self.cache = {}
        self.special_split = re.compile('(' + '|'.join(re.escape(s) for s in SPECIAL_TOKENS) + ')')

    @property
    def vocab_size(self):
        return len(self.id_to_token)

    def _bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = list(word)
        while len(parts) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
            rank, i = min(pairs)
            if rank == 1 << 30:
                break
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        ids = [self.token_to_id[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text, add_bos=False):
        ids = [self.token_to_id[BOS]] if add_bos else []
        for chunk in self.special_split.split(text):
            if not chunk:
                continue
            if chunk in SPECIAL_TOKENS:
                ids.append(self.token_to_id[chunk])
                continue
            for w in pieces(chunk):
                ids.extend(self._bpe(w))
        return ids

    def decode(self, ids):
        out = bytearray()
        text = []
        for i in ids:
            tok = self.id_to_token[i]
            if tok in SPECIAL_TOKENS:
                text.append(out.decode('utf-8', errors='replace'))
                out = bytearray()
                text.append(tok)
            else:
                out.extend(CHAR_TO_BYTE[c] for c in tok)
        text.append(out.decode('utf-8', errors='replace'))
        return ''.join(text)

    def tokenizer_json(self):
        """The Hugging Face tokenizer.json (ByteLevel BPE; post-processor prepends <|bos|>)."""
        bos_id = self.token_to_id[BOS]
        added = [{'id': i, 'content': t, 'single_word': False, 'lstrip': False, 'rstrip': False,
                  'normalized': False, 'special': True} for i, t in enumerate(SPECIAL_TOKENS)]
        byte_level = {'type': 'ByteLevel', 'add_prefix_space': False, 'trim_offsets': True, 'use_regex': True}
        return {
            'version': '1.0', 'truncation': None, 'padding': None,
            'added_tokens': added,
            'normalizer': None,
            'pre_tokenizer': byte_level,
            'post_processor': {
                'type': 'TemplateProcessing',
                'single': [{'SpecialToken': {'id': BOS, 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}}],
                'pair': [{'SpecialToken': {'id': BOS, 'type_id': 0}}, {'Sequence': {'id': 'A', 'type_id': 0}},
                         {'SpecialToken': {'id': BOS, 'type_id': 1}}, {'Sequence': {'id': 'B', 'type_id': 1}}],
                'special_tokens': {BOS: {'id': BOS, 'ids': [bos_id], 'tokens': [BOS]}},
            },
            'decoder': byte_level,
            'model': {
                'type': 'BPE', 'dropout': None, 'unk_token': None, 'continuing_subword_prefix': None,
                'end_of_word_suffix': None, 'fuse_unk': False, 'byte_fallback': False, 'ignore_merges': False,
                'vocab': {t: i for i, t in enumerate(self.id_to_token)},
                'merges': [[a, b] for a, b in self.merges],
            },
        }


def save_merges(path, merges):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump([[a, b] for a, b in merges], f, ensure_ascii=False)


def load_merges(path):
    with open(path, encoding='utf-8') as f:
        return [tuple(m) for m in json.load(f)]
