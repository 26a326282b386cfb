"""Writes a byte-level BPE vocabulary cut from GPT-2's: its first N-1 tokens (256 bytes + the first N-257 merges,
since GPT-2 gives merge i the id 256 + i) plus <|endoftext|> as id N-1.

    python3 tools/make_gpt2_vocab_cut.py 1000 models/tiny-gpt2      # the old 1000-token demo vocabulary
    python3 tools/make_gpt2_vocab_cut.py 8192 models/austen-gpt2    # the default model's vocabulary
"""
import json, pathlib, sys

root = pathlib.Path(__file__).resolve().parent.parent
source = root / "tests/Sharpformer.Tests/Fixtures/tokenizers/gpt2"
vocab_size, target = int(sys.argv[1]), root / sys.argv[2]
kept_tokens = end_of_text_id = vocab_size - 1

vocab = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
lines = (source / "merges.txt").read_text(encoding="utf-8").split("\n")
merges = [line for line in lines[1:] if line][: kept_tokens - 256]

cut = {token: index for token, index in vocab.items() if index < kept_tokens}
for rank, merge in enumerate(merges):
    left, right = merge.split(" ")
    # A truncated merge list is only consistent if each kept merge makes exactly the next kept id from kept ids.
    assert cut[left + right] == 256 + rank and cut[left] < 256 + rank and cut[right] < 256 + rank, merge
assert len(cut) == kept_tokens and sorted(cut.values()) == list(range(kept_tokens))
cut["<|endoftext|>"] = end_of_text_id

target.mkdir(parents=True, exist_ok=True)
(target / "vocab.json").write_text(json.dumps(cut), encoding="utf-8")
(target / "merges.txt").write_text("\n".join([lines[0], *merges]) + "\n", encoding="utf-8")
print(f"{target}: {len(cut)} tokens, {len(merges)} merges")
