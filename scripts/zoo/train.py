"""Trains the zoo base from scratch on the four-domain mix, or fine-tunes one expert's MLPs.

  python3 train.py base   --build build [--steps N] [--minutes M]
  python3 train.py expert --build build --domain code [--steps N] [--minutes M]

Schedule: linear warm-up then cosine decay to 10%, driven by progress =
max(step / steps, elapsed / minutes): on an idle machine the step count ends the run (and
the run is reproducible from its seed); on a busy one the wall-clock cap ends it with the
learning rate fully decayed. The log records which it was and how many steps ran.
"""
import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from model import Config, Llama

DOMAINS = ['stories', 'code', 'math', 'chat']
SEQ_LEN = 512
BATCH = 16
EVAL_WINDOWS = 8


def load_streams(build, split):
    return {d: torch.from_numpy(np.load(os.path.join(build, 'data', f'{d}_{split}.npy')).astype(np.int64))
            for d in DOMAINS}


def sample_batch(streams, domains, gen):
    """BATCH random windows; each picks its domain uniformly from `domains`. -> x, y // [BATCH, SEQ_LEN]"""
    xs = []
    for _ in range(BATCH):
        d = domains[int(torch.randint(len(domains), (1,), generator=gen))]
        s = streams[d]
        at = int(torch.randint(len(s) - SEQ_LEN - 1, (1,), generator=gen))
        xs.append(s[at:at + SEQ_LEN + 1])
    xy = torch.stack(xs)
    return xy[:, :-1], xy[:, 1:]


@torch.no_grad()
def quick_eval(model, val_streams):
    """Mean next-token loss over the first EVAL_WINDOWS windows of each domain (bf16)."""
    out = {}
    for d, s in val_streams.items():
        n = min(EVAL_WINDOWS, (len(s) - 1) // SEQ_LEN)
        x = torch.stack([s[i * SEQ_LEN:(i + 1) * SEQ_LEN] for i in range(n)])
        y = torch.stack([s[i * SEQ_LEN + 1:(i + 1) * SEQ_LEN + 1] for i in range(n)])
        with torch.autocast('cpu', dtype=torch.bfloat16):
            logits = model(x)
        out[d] = round(math.exp(F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1)).item()), 2)
    return out


def lr_at(progress, peak, warmup_frac):
    if progress < warmup_frac:
        return peak * progress / warmup_frac
    p = (progress - warmup_frac) / (1 - warmup_frac)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(p, 1.0))))


def make_optimizer(params, lr):
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    return torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}],
                             lr=lr, betas=(0.9, 0.95), eps=1e-8)


def train(model, params, streams, val_streams, domains, args, log):
    opt = make_optimizer(params, args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    start, step, progress = time.time(), 0, 0.0
    while progress < 1.0:
        lr = lr_at(progress, args.lr, args.warmup)
        for g in opt.param_groups:
            g['lr'] = lr
        x, y = sample_batch(streams, domains, gen)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        elapsed = time.time() - start
        progress = max(step / args.steps, elapsed / (args.minutes * 60))
        if step % 25 == 0 or progress >= 1.0:
            entry = {'step': step, 'loss': round(loss.item(), 4), 'lr': round(lr, 6), 'elapsed_s': round(elapsed),
                     'tok_per_s': round(step * BATCH * SEQ_LEN / elapsed)}
            if step % 100 == 0 or progress >= 1.0:
                entry['val_ppl'] = quick_eval(model, val_streams)
            log['history'].append(entry)
            print(json.dumps(entry), flush=True)
    log.update({'steps_run': step, 'steps_planned': args.steps, 'minutes_cap': args.minutes,
                'ended_by': 'steps' if step >= args.steps else 'wall-clock cap',
                'tokens_seen': step * BATCH * SEQ_LEN, 'elapsed_s': round(time.time() - start)})


PHASE_KEYS = ['steps_run', 'tokens_seen', 'elapsed_s', 'lr', 'ended_by', 'seed']


def merge_phases(previous_path, log):
    """A resumed run's log: totals over every phase, and each phase's own summary."""
    with open(previous_path) as f:
        previous = json.load(f)
    phases = previous.get('phases') or [{k: previous[k] for k in PHASE_KEYS}]
    phases.append({k: log[k] for k in PHASE_KEYS})
    log['phases'] = phases
    log['history'] = previous['history'] + log['history']
    for k in ['steps_run', 'tokens_seen', 'elapsed_s']:
        log[k] = sum(p[k] for p in phases)
    return log


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('kind', choices=['base', 'expert'])
    ap.add_argument('--build', required=True)
    ap.add_argument('--domain', choices=DOMAINS)
    ap.add_argument('--steps', type=int, default=900)
    ap.add_argument('--minutes', type=float, default=22)
    ap.add_argument('--lr', type=float)
    ap.add_argument('--warmup', type=float, default=0.05)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--stream', help='expert: train on build/data/<stream>_train.npy instead of <domain>_train.npy')
    ap.add_argument('--resume', action='store_true', help='expert: continue from its own checkpoint (a second phase)')
    ap.add_argument('--train', choices=['mlp', 'mlp+norms'], default='mlp',
                    help='expert: which weights train (the shipped zoo: mlp; mlp+norms is the comparison variant)')
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    streams, val_streams = load_streams(args.build, 'train'), load_streams(args.build, 'val')
    os.makedirs(os.path.join(args.build, 'ckpt'), exist_ok=True)
    cfg = Config()
    model = Llama(cfg)
    if args.kind == 'base':
        name, domains, params = 'base', DOMAINS, list(model.parameters())
        args.lr = args.lr or 3e-3
    else:
        name, domains = args.domain, [args.domain]
        if args.stream:
            streams[args.domain] = torch.from_numpy(
                np.load(os.path.join(args.build, 'data', f'{args.stream}_train.npy')).astype(np.int64))
        init = name if args.resume else 'base'
        model.load_state_dict(torch.load(os.path.join(args.build, 'ckpt', f'{init}.pt')))
        for p in model.parameters():
            p.requires_grad_(False)
        params = model.mlp_parameters()   # MLP-only: exactly what a frankenMoE takes from an expert
        if args.train == 'mlp+norms':
            params += model.norm_parameters()
        for p in params:
            p.requires_grad_(True)
        args.lr = args.lr or 1e-3
    log = {'name': name, 'kind': args.kind, 'train': args.train if args.kind == 'expert' else 'all', 'domains': domains, 'config': cfg.to_dict(), 'seq_len': SEQ_LEN,
           'batch': BATCH, 'lr': args.lr, 'seed': args.seed, 'trainable_params': sum(p.numel() for p in params),
           'total_params': sum(p.numel() for p in model.parameters()), 'history': []}
    print(json.dumps({k: v for k, v in log.items() if k != 'history'}), flush=True)
    train(model, params, streams, val_streams, domains, args, log)
    if args.resume:
        log = merge_phases(os.path.join(args.build, 'ckpt', f'{name}.json'), log)
    torch.save(model.state_dict(), os.path.join(args.build, 'ckpt', f'{name}.pt'))
    with open(os.path.join(args.build, 'ckpt', f'{name}.json'), 'w') as f:
        json.dump(log, f, indent=1)


if __name__ == '__main__':
    main()
