"""The Python half of `npm run test:transformers`: loads every folder produce.ts wrote with
Hugging Face transformers and compares it with our reference (OUT_DIR/<case>.reference.json).

  python check.py OUT_DIR

Per case, all on CPU in float32:
  - AutoConfig / AutoModelForCausalLM.from_pretrained: transformers 5 validates every config
    field against its declared type (strict dataclasses), so a wrongly typed field fails here;
  - greedy ids: argmax continuation of the same prompt ids for the same number of tokens, no
    EOS stop (a manual loop, as produce.ts does), must equal ours exactly;
  - last-position logits after the prompt: max |ours - theirs| <= LOGITS_ATOL + LOGITS_RTOL * max|theirs|
    (f32 on both sides, different summation order: ~1e-5 seen; the bound leaves room, not slack
    for a wrong layer, which moves logits by whole units);
  - AutoTokenizer on the exported tokenizer files: ids of the mixed text equal ours, and the
    chat template renders the same text with the same ids.
Prints one line per check; exits 1 if any failed.
"""

import json
import sys
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

LOGITS_ATOL = 1e-3
LOGITS_RTOL = 1e-4
SCHEMA = "moe-studio-transformers-reference/1"


def check_case(folder: Path, ref: dict) -> list[str]:
    failures = []
    config = AutoConfig.from_pretrained(folder)
    if config.model_type != ref["modelType"]:
        failures.append(f"model_type {config.model_type} != {ref['modelType']}")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    ids = torch.tensor([ref["promptIds"]])
    greedy = []
    with torch.no_grad():
        out = model(ids, use_cache=True)
        last = out.logits[0, -1]
        theirs_logits = last.clone()
        past = out.past_key_values
        for i in range(len(ref["greedyIds"])):
            token = int(torch.argmax(last))
            greedy.append(token)
            if i + 1 < len(ref["greedyIds"]):
                out = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
                last, past = out.logits[0, -1], out.past_key_values
    if greedy != ref["greedyIds"]:
        first = next(i for i, (a, b) in enumerate(zip(greedy, ref["greedyIds"])) if a != b)
        failures.append(f"greedy ids differ from token {first}: theirs {greedy} ours {ref['greedyIds']}")
    ours = torch.tensor(ref["lastLogits"], dtype=torch.float32)
    if ours.shape != theirs_logits.shape:
        failures.append(f"logits shape {tuple(theirs_logits.shape)} != ours {tuple(ours.shape)}")
    else:
        worst = float((ours - theirs_logits).abs().max())
        bound = LOGITS_ATOL + LOGITS_RTOL * float(theirs_logits.abs().max())
        print(f"  last-position logits: max |diff| {worst:.3g} (bound {bound:.3g})")
        if not worst <= bound:
            failures.append(f"last-position logits differ by {worst:.3g} > {bound:.3g}")
    tok = AutoTokenizer.from_pretrained(folder)
    mixed = tok(ref["mixedText"])["input_ids"]
    if mixed != ref["mixedIds"]:
        failures.append(f"AutoTokenizer ids differ: theirs {mixed} ours {ref['mixedIds']}")
    chat_text = tok.apply_chat_template(ref["chatMessages"], add_generation_prompt=True, tokenize=False)
    if chat_text != ref["chatText"]:
        failures.append(f"chat template renders {chat_text!r}, ours {ref['chatText']!r}")
    chat_ids = tok(chat_text, add_special_tokens=False)["input_ids"]
    if chat_ids != ref["chatIds"]:
        failures.append(f"AutoTokenizer chat ids differ: theirs {chat_ids} ours {ref['chatIds']}")
    return failures


def main() -> int:
    if len(sys.argv) != 2:
        print("usage: python check.py OUT_DIR", file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    refs = sorted(out.glob("*.reference.json"))
    if not refs:
        print(f"check.py: no *.reference.json in {out}", file=sys.stderr)
        return 1
    print(f"transformers {transformers.__version__}, torch {torch.__version__}")
    failed = 0
    for path in refs:
        ref = json.loads(path.read_text())
        if ref.get("schema") != SCHEMA:
            print(f"FAIL {path.name}: schema {ref.get('schema')!r}, expected {SCHEMA!r}")
            failed += 1
            continue
        print(f"{ref['case']} ({ref['modelType']}):")
        try:
            failures = check_case(out / ref["case"], ref)
        except Exception as e:  # a refused config is a failure of this case, reported with its message
            failures = [f"{type(e).__name__}: {e}"]
        for f in failures:
            print(f"  FAIL {f}")
        print(f"  {'ok' if not failures else 'FAILED'}")
        failed += bool(failures)
    print(f"{len(refs) - failed}/{len(refs)} cases agree with transformers")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
