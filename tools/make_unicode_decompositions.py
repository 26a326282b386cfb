"""Writes src/Sharpformer/Tokenizers/Data/decompositions.txt: every code point's canonical decomposition (NFD),
one "CODE:PART PART ..." line in hex, Hangul syllables left out (they decompose by formula).

Sharpformer builds with InvariantGlobalization, where string.Normalize does nothing for non-ASCII text, so BERT's
accent stripping (NFD, then drop non-spacing marks) needs this table. Run: python3 tools/make_unicode_decompositions.py
"""
import pathlib
import unicodedata

lines = [f"# Unicode {unicodedata.unidata_version} canonical decompositions (NFD), made by tools/make_unicode_decompositions.py"]
for code in range(0x110000):
    if 0xAC00 <= code <= 0xD7A3 or 0xD800 <= code <= 0xDFFF:
        continue
    character = chr(code)
    decomposed = unicodedata.normalize("NFD", character)
    if decomposed != character:
        lines.append(f"{code:X}:" + " ".join(f"{ord(part):X}" for part in decomposed))
out = pathlib.Path(__file__).resolve().parent.parent / "src/Sharpformer/Tokenizers/Data/decompositions.txt"
out.write_text("\n".join(lines) + "\n", encoding="ascii")
print(f"{out}: {len(lines) - 1} code points")
