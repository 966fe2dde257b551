"""build/data/chat_short_train.npy: every chat training document, plus SHORT_REPEATS copies of
those whose answer is at most MAX_ANSWER_TOKENS tokens, so that <|end|> is frequent (the chat
expert's last phase teaches it to end its answers)."""
import os
import sys

import numpy as np

import bpe
from prepare import chat_docs

MAX_ANSWER_TOKENS = 24
SHORT_REPEATS = 6


def main(build, corpora):
    enc = bpe.Encoder(bpe.load_merges(os.path.join(build, 'merges.json')))
    train, _ = chat_docs(corpora)
    ids, short, kept = [], [], 0
    for doc in train:
        doc_ids = enc.encode(doc)
        ids.extend(doc_ids)
        answer = doc.split('<|assistant|>\n', 1)[1]
        if len(enc.encode(answer)) <= MAX_ANSWER_TOKENS + 2:   # + <|end|> and the newline
            short.extend(doc_ids)
            kept += 1
    ids.extend(short * SHORT_REPEATS)
    np.save(os.path.join(build, 'data', 'chat_short_train.npy'), np.array(ids, dtype=np.uint16))
    print(f'chat_short: {kept} of {len(train)} documents, {len(ids)} tokens')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
