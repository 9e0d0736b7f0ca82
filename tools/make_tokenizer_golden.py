#!/usr/bin/env python3
"""Golden WordPiece ids from Hugging Face tokenizers for tests/test_tokenizer.c.

Writes, under tests/golden/:
  semeval_wordpiece.tsv       line_number<TAB>n_ids<TAB>fnv1a64 of the ids
                              (little-endian int32 bytes), one row per tweet
  semeval_wordpiece_head.txt  line_number<TAB>ids, for the first 64 tweets
  wordpiece_edge_cases.txt    edge-case texts, one a line, escaped to ASCII
                              (\\\\, \\uXXXX, \\UXXXXXXXX)
  wordpiece_edge_cases.ids    their ids, one line each

Tweets (2nd TSV column of the SemEval 2018 E-c train file, header row, CRLF)
are not written, only hashes and ids. Truncation: max_length=512, no padding.
Usage: python3 tools/make_tokenizer_golden.py [--models DIR] [--data DIR]
"""
import argparse
import os
import struct
import sys

from tokenizers import Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden")
SEMEVAL = os.path.join("semeval2018-ec", "2018-E-c-En-train.txt")
MODELS = ("minilm-l6", "all-minilm-l6")
MAX_LEN = 512
HEAD = 64

EDGE_CASES = [
    "",
    " ",
    "Hello, World!",
    "HELLO WORLD",
    "café naïve résumé Ångström façade",
    "CAFÉ NAÏVE RÉSUMÉ",
    "e\u0301 a\u0300 o\u0302\u0323 combining",
    "\u0130stanbul \u0130 i\u0307",
    "\u0130\u0130\u0130",
    "ΟΔΥΣΣΕΥΣ ὀδυσσεύς σοφός ΣΟΦΟΣ",
    "Straße STRASSE \u1e9e",
    "\u01c5 \u01c4 \u01c6 \u1f88 \u2126 \u212a \u212b",
    "ﬁ ﬂ ﬀ ＡＢＣ ａｂｃ ①②③",
    "中文字符测试 中国 日本語 한국어 ひらがな カタカナ",
    "野口里佳 Noguchi Rika",
    "\U00020000\U0002A700\U0002B740\U0002B920\uF900\U0002F800 \u3400\u4DBF",
    "emoji 😀😂🤣🥰 👍🏽 ❤️ ❤ 🇺🇸 🏳️‍🌈",
    "👨‍👩‍👧‍👦 family zwj \u200d\u200c\u200b\u2060\ufeff joiners",
    "tab\tsep\ttext",
    "line\nbreak\r\nwindows\rmac",
    "runs \t\t\n\n\r\r   of   \u00a0\u00a0 space\u3000\u2003\u2028\u2029\u0085end",
    "control \x01\x02\x03\x07\x08\x0b\x0c\x1b\x1c\x1f\x7f\x80\x9f chars",
    "nul \x00 in text and \ufffd replacement \ufffd\ufffd",
    "private \ue000\uf8ff \U000f0000 unassigned \u0378 \U000e0001 tag",
    "a" * 99,
    "a" * 100,
    "a" * 101,
    "b" * 150,
    "supercalifragilisticexpialidocious " * 3,
    "pneumonoultramicroscopicsilicovolcanoconiosis antidisestablishmentarianism",
    "x" * 100 + "!" + "y" * 101,
    "ab" * 60,
    "é" * 101,
    "punct !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
    "unicode punct ¡¿«»‹›„“”‘’‚—–‐‑‒―…‰′″‴‵※‼⁇⁈⁉",
    "more punct ・。、「」『』【】〈〉《》〔〕〖〗〘〙〚〛〜〰〽",
    "symbols ©®™°±×÷§¶µ€£¥¢₹₿∞≈≠≤≥√∑∏∫ ☺☻♥♦♣♠",
    "math 𝐀𝐁𝐂 𝔄𝔅 𝕬 𝒜 ℝℕℤ",
    "new punct \u2e43\u2e44\u2e4f\u2e52\u2e5d \u061d \u166d \U000111c9 \u1b7d\u1b7e",
    "new marks \u0898\u08ca\u1ac0\u1df6 e\u0898 a\u1ab0",
    "cf \u0890\u0891\u08e2 \U00013430 \U00013439 \u00ad soft\u00adhyphen \u200e\u200f\u202a\u202e",
    "rust 16 case \u1c89 \ua7cb \ua7dc \U00010d50 \U00016ea0",
    "dives \U00011938 \U00011935\U00011930",
    "numbers 123 4.56 7,890 1e10 -42 +3 0x1F 3½ ²³ ٣٤٥ १२३",
    "url https://www.example.com/path?query=1&b=2#frag http://t.co/AbC123",
    "email someone@example.org",
    "@user_name @another123 mentions",
    "#hashtag #CamelCaseTag #123 ##double",
    "hello [SEP] world [CLS] again",
    "[CLS][SEP][PAD][UNK][MASK]",
    "[cls] [sep] [Sep] [ SEP ] [SEP [SEP]]",
    "x[SEP]y [MASK]ed un[UNK]known",
    "[[SEP]] [[CLS]]",
    "don't can't won't it's y'all o'clock",
    "co-operate e-mail well-known — dash – en",
    "...!!!???,,,",
    "Ꭰ Ꮳ ꭰ Georgian Ა ა Ⴀ ⴀ Cherokee",
    "Ελληνικά Русский Українська Ελλάδα ΆΈΉΊΌΎΏ",
    "Tiếng Việt Đông đông ắ ằ ẳ ẵ ặ",
    "עברית العربية فارسی اردو",
    "हिन्दी বাংলা தமிழ் ไทย ລາວ",
    "Ǆemal ǅemal ǆemal",
    "ﷺ ﷻ ﷽ ﬀ ﬃ",
    "\u0345 \u03b9\u0345 \u1fb3 \u1fbc",
    "\U0001f600" * 5 + "word" + "\U0001f600",
    "mixed日本words中間english",
    "a\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309b",
    "\u0e01\u0e33 \u0e4d\u0e32 \u0f71\u0f72 \u0f77 \u0f73",
    "한글 \uac00\ud7a3 \u1100\u1161\u11a8",
    "z" * 30 + " " + "\u0301" * 5,
]


def fnv1a64(ids):
    h = 0xCBF29CE484222325
    for b in struct.pack("<%di" % len(ids), *ids):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def escape(s):
    out = []
    for ch in s:
        c = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif 0x20 <= c < 0x7F:
            out.append(ch)
        elif c <= 0xFFFF:
            out.append("\\u%04X" % c)
        else:
            out.append("\\U%08X" % c)
    return "".join(out)


def load(models, name):
    tok = Tokenizer.from_file(os.path.join(models, name, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_LEN)
    return tok


def tweets(path):
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for no, raw in enumerate(lines, start=1):
        if no == 1:
            continue  # header
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        cols = raw.decode("utf-8").split("\t")
        if len(cols) < 2:
            sys.exit(f"{path}:{no}: fewer than 2 columns")
        yield no, cols[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=os.environ.get("PARE_MODELS_DIR") or
                    os.path.join(ROOT, ".cache", "models"))
    ap.add_argument("--data", default=os.environ.get("PARE_DATA_DIR") or
                    os.path.join(ROOT, "..", "shared", "data"))
    args = ap.parse_args()
    toks = [load(args.models, m) for m in MODELS if
            os.path.exists(os.path.join(args.models, m, "tokenizer.json"))]
    if not toks:
        sys.exit(f"no tokenizer.json under {args.models}: run `make models`")
    os.makedirs(GOLDEN, exist_ok=True)

    rows, head = [], []
    for no, text in tweets(os.path.join(args.data, SEMEVAL)):
        ids = toks[0].encode(text).ids
        for other in toks[1:]:
            if other.encode(text).ids != ids:
                sys.exit(f"line {no}: the models' tokenizers disagree; one golden file is not enough")
        rows.append(f"{no}\t{len(ids)}\t{fnv1a64(ids):016x}\n")
        if len(head) < HEAD:
            head.append(f"{no}\t{' '.join(map(str, ids))}\n")
    with open(os.path.join(GOLDEN, "semeval_wordpiece.tsv"), "w", newline="\n") as f:
        f.writelines(rows)
    with open(os.path.join(GOLDEN, "semeval_wordpiece_head.txt"), "w", newline="\n") as f:
        f.writelines(head)

    with open(os.path.join(GOLDEN, "wordpiece_edge_cases.txt"), "w", newline="\n") as f:
        f.writelines(escape(s) + "\n" for s in EDGE_CASES)
    with open(os.path.join(GOLDEN, "wordpiece_edge_cases.ids"), "w", newline="\n") as f:
        for s in EDGE_CASES:
            ids = toks[0].encode(s).ids
            for other in toks[1:]:
                assert other.encode(s).ids == ids
            f.write(" ".join(map(str, ids)) + "\n")
    print(f"wrote {len(rows)} tweets, {len(EDGE_CASES)} edge cases to {GOLDEN}")


if __name__ == "__main__":
    main()
