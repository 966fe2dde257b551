"""f32 evaluation of the weights exactly as shipped (f16-rounded): perplexity and greedy samples."""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

import bpe
from prepare import chat_text

EVAL_SEQ = 512
EVAL_MAX_WINDOWS = int(os.environ.get("ZOO_EVAL_WINDOWS", "24"))  # up to 12k held-out tokens per domain
# New tokens per greedy sample: short, so that f32 engines agree (no near-ties); chat answers
# get room to reach their <|end|>.
SAMPLE_NEW_TOKENS = {'text': 24, 'chat': 40}
SAFE_LOGIT_GAP = 2e-3

# Three greedy prompts per model: (kind, text). kind 'text' = tokenizer.encode(text) with BOS;
# kind 'chat' = the chat template with a generation prompt, encoded without extra specials.
PROMPTS = {
    'base': [('text', 'Once upon a time, there was a little'), ('text', 'def add(a, b):\n'), ('text', '12 + 35 =')],
    'stories': [('text', 'Once upon a time, there was a little'), ('text', 'Tom and his dog went to the park.'),
                ('text', 'Lily wanted to')],
    'code': [('text', 'def add(a, b):\n'), ('text', 'import os\nimport sys\n\n'), ('text', 'function parse(text) {\n')],
    'math': [('text', '12 + 35 ='), ('text', '7 * 8 ='),
             ('text', 'Question: Sam has 5 apples and buys 3 more. How many apples does he have?\nAnswer:')],
    # A fixed question, then the first two held-out Dolly questions (chosen by position, not by
    # outcome; export.py fills them in from prepare.chat_docs). How often answers end with
    # <|end|> over many held-out questions is chat_stop_rate's job, reported in the zoo README.
    'chat': [('chat', 'What is the capital of France?')],
}
CHAT_STOP_QUESTIONS = 50
CHAT_STOP_MAX_NEW = 64


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
    stopped_at_stop_id, smallest top-1 minus top-2 logit gap among the recorded steps,
    truncated). A step whose gap is below SAFE_LOGIT_GAP could flip in another f32 engine, so
    the sample ends before it (truncated=True, and its maxNewTokens is its length)."""
    out, min_gap, stopped, truncated = [], float('inf'), False, False
    for _ in range(max_new):
        logits = model(torch.tensor([ids + out]))[0, -1]
        top2 = torch.topk(logits, 2).values
        gap = (top2[0] - top2[1]).item()
        if gap < SAFE_LOGIT_GAP:
            truncated = True
            break
        min_gap = min(min_gap, gap)
        nxt = int(torch.argmax(logits))
        if nxt == stop_id:
            stopped = True
            break
        out.append(nxt)
    return out, stopped, min_gap, truncated


def samples_for(model, enc, name):
    stop_id = enc.token_to_id[bpe.END]
    records = []
    for kind, text in PROMPTS[name]:
        prompt, ids, add_special = prompt_ids(enc, kind, text)
        new_ids, stopped, gap, truncated = greedy(model, ids, stop_id, SAMPLE_NEW_TOKENS[kind])
        max_new = len(new_ids) if truncated else SAMPLE_NEW_TOKENS[kind]
        records.append({
            'kind': kind, 'message': text if kind == 'chat' else None, 'prompt': prompt,
            'addSpecialTokens': add_special, 'promptIds': ids, 'maxNewTokens': max_new, 'truncatedAtNearTie': truncated,
            'generatedIds': new_ids, 'generatedText': enc.decode(new_ids),
            'stoppedAtEos': stopped, 'minTop2LogitGap': round(gap, 4) if new_ids or stopped else None,
        })
    return records


@torch.no_grad()
def chat_stop_rate(model, enc, questions, max_new=CHAT_STOP_MAX_NEW):
    """How many greedy answers to `questions` (in the chat template) end with <|end|> within
    max_new tokens. -> (stopped, asked, mean answer length in tokens of those that stopped)."""
    stop_id = enc.token_to_id[bpe.END]
    stopped, lengths = 0, []
    for q in questions:
        ids = enc.encode(chat_text(q))
        out = []
        for _ in range(max_new):
            nxt = int(torch.argmax(model(torch.tensor([ids + out]))[0, -1]))
            if nxt == stop_id:
                stopped += 1
                lengths.append(len(out))
                break
            out.append(nxt)
    return stopped, len(questions), (sum(lengths) / len(lengths) if lengths else 0.0)
