"""f32 evaluation of the weights exactly as shipped (f16-rounded): perplexity and greedy samples."""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

import bpe
from prepare import chat_text

EVAL_SEQ = 512
EVAL_MAX_WINDOWS = int(os.environ.get("ZOO_EVAL_WINDOWS", "40"))  # up to 20k held-out tokens per domain
SAMPLE_NEW_TOKENS = 24

# Three greedy prompts per model: (kind, text). kind 'text' = tokenizer.encode(text) with BOS;
# kind 'chat' = the chat template with a generation prompt, encoded without extra specials.
PROMPTS = {
    'base': [('text', 'Once upon a time, there was a little'), ('text', 'def add(a, b):\n'), ('text', '12 + 35 =')],
    'stories': [('text', 'Once upon a time, there was a little'), ('text', 'Tom and his dog went to the park.'),
                ('text', 'Lily wanted to')],
    'code': [('text', 'def add(a, b):\n'), ('text', 'import os\nimport sys\n\n'), ('text', 'function parse(text) {\n')],
    'math': [('text', '12 + 35 ='), ('text', '7 * 8 ='),
             ('text', 'Question: Sam has 5 apples and buys 3 more. How many apples does he have?\nAnswer:')],
    'chat': [('chat', 'What is the capital of France?'), ('chat', 'Why is the sky blue?'),
             ('chat', 'What is a good way to learn to cook?')],
}


def shipped_f32(model):
    """Rounds every parameter to f16 (what model.safetensors holds) and back to f32, in place."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
    return model


@torch.no_grad()
def perplexity(model, stream):
    """exp(mean NLL) over non-overlapping EVAL_SEQ windows of the held-out stream (f32)."""
    s = torch.from_numpy(stream.astype(np.int64))
    n = min(EVAL_MAX_WINDOWS, (len(s) - 1) // EVAL_SEQ)
    total, count = 0.0, 0
    for i in range(0, n, 8):
        idx = range(i, min(n, i + 8))
        x = torch.stack([s[j * EVAL_SEQ:(j + 1) * EVAL_SEQ] for j in idx])
        y = torch.stack([s[j * EVAL_SEQ + 1:(j + 1) * EVAL_SEQ + 1] for j in idx])
        logits = model(x)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction='sum').item()
        count += y.numel()
    return math.exp(total / count), count


def prompt_ids(enc, kind, text):
    if kind == 'chat':
        rendered = chat_text(text)
        return rendered, enc.encode(rendered), False
    return text, enc.encode(text, add_bos=True), True


@torch.no_grad()
def greedy(model, ids, stop_id, max_new):
    """Greedy decode by full recompute in f32. Returns (new ids without the stop token,
    stopped_at_stop_id, smallest top-1 minus top-2 logit gap seen)."""
    out, min_gap, stopped = [], float('inf'), False
    for _ in range(max_new):
        logits = model(torch.tensor([ids + out]))[0, -1]
        top2 = torch.topk(logits, 2).values
        min_gap = min(min_gap, (top2[0] - top2[1]).item())
        nxt = int(torch.argmax(logits))
        if nxt == stop_id:
            stopped = True
            break
        out.append(nxt)
    return out, stopped, min_gap


def samples_for(model, enc, name):
    stop_id = enc.token_to_id[bpe.END]
    records = []
    for kind, text in PROMPTS[name]:
        prompt, ids, add_special = prompt_ids(enc, kind, text)
        new_ids, stopped, gap = greedy(model, ids, stop_id, SAMPLE_NEW_TOKENS)
        records.append({
            'kind': kind, 'message': text if kind == 'chat' else None, 'prompt': prompt,
            'addSpecialTokens': add_special, 'promptIds': ids,
            'generatedIds': new_ids, 'generatedText': enc.decode(new_ids),
            'stoppedAtEos': stopped, 'minTop2LogitGap': round(gap, 4),
        })
    return records
