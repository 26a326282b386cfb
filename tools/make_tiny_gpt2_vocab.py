"""Writes models/tiny-gpt2/{vocab.json,merges.txt}: GPT-2's first 999 tokens (256 bytes + the first 743 merges,
since GPT-2 gives merge i the id 256 + i) plus <|endoftext|> as id 999, for the 1000-token demo model."""
import json, pathlib

root = pathlib.Path(__file__).resolve().parent.parent
source = root / "tests/Sharpformer.Tests/Fixtures/tokenizers/gpt2"
target = root / "models/tiny-gpt2"
kept_tokens, end_of_text_id = 999, 999

vocab = json.loads((source / "vocab.json").read_text(encoding="utf-8"))
lines = (source / "merges.txt").read_text(encoding="utf-8").split("\n")
merges = [line for line in lines[1:] if line][: kept_tokens - 256]

tiny = {token: index for token, index in vocab.items() if index < kept_tokens}
for rank, merge in enumerate(merges):
    left, right = merge.split(" ")
    # A truncated merge list is only consistent if each kept merge makes exactly the next kept id from kept ids.
    assert tiny[left + right] == 256 + rank and tiny[left] < 256 + rank and tiny[right] < 256 + rank, merge
assert len(tiny) == kept_tokens and sorted(tiny.values()) == list(range(kept_tokens))
tiny["<|endoftext|>"] = end_of_text_id

target.mkdir(parents=True, exist_ok=True)
(target / "vocab.json").write_text(json.dumps(tiny), encoding="utf-8")
(target / "merges.txt").write_text("\n".join([lines[0], *merges]) + "\n", encoding="utf-8")
print(f"{target}: {len(tiny)} tokens, {len(merges)} merges")
