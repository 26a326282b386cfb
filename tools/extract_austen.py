"""Extracts Jane Austen's six novels (public domain) from Debian's r-cran-janeaustenr package into data/austen.txt.gz.

    apt-get download r-cran-janeaustenr && dpkg -x r-cran-janeaustenr_*.deb pkg
    python3 tools/extract_austen.py pkg/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb

The .rdb is a chain of objects, each a 4-byte big-endian uncompressed length and a zlib stream holding R's XDR serialisation
(version 3): a STRSXP (type 16) of CHARSXPs (type 9), one per line of a novel. Novels are separated by a
blank line; the text is otherwise kept as the package holds it.
"""
import gzip, pathlib, struct, sys, zlib

def strings(blob):
    assert blob[:2] == b"X\n", "not an XDR serialisation"
    pos = 2 + 4 * 3                       # format version, R version, minimal R version
    (enc_len,) = struct.unpack(">i", blob[pos:pos + 4]); pos += 4 + enc_len   # native encoding (version 3)
    (flags,) = struct.unpack(">i", blob[pos:pos + 4]); pos += 4
    assert flags & 0xFF == 16, f"expected a character vector, got type {flags & 0xFF}"
    (count,) = struct.unpack(">i", blob[pos:pos + 4]); pos += 4
    out = []
    for _ in range(count):
        (cflags,) = struct.unpack(">i", blob[pos:pos + 4]); pos += 4
        (length,) = struct.unpack(">i", blob[pos:pos + 4]); pos += 4
        if length < 0:                    # NA_STRING
            out.append("")
            continue
        out.append(blob[pos:pos + length].decode("latin-1")); pos += length
    return out

data = pathlib.Path(sys.argv[1]).read_bytes()
novels, pos = [], 0
while pos < len(data):
    (length,) = struct.unpack(">i", data[pos:pos + 4])      # the uncompressed length; the zlib stream follows
    stream = zlib.decompressobj()
    blob = stream.decompress(data[pos + 4:])
    assert len(blob) == length, f"object at {pos}: {len(blob)} bytes, header says {length}"
    pos = len(data) - len(stream.unused_data)
    if blob[:2] == b"X\n" and struct.unpack(">i", blob[14 + struct.unpack(">i", blob[14:18])[0] + 4:][:4])[0] & 0xFF == 16:
        novels.append(strings(blob))
text = "\n\n".join("\n".join(lines) for lines in novels) + "\n"
target = pathlib.Path(__file__).resolve().parent.parent / "data" / "austen.txt.gz"
target.parent.mkdir(exist_ok=True)
with gzip.GzipFile(target, "wb", mtime=0) as f:
    f.write(text.encode("utf-8"))
print(f"{target}: {len(novels)} novels, {len(text)} characters")
