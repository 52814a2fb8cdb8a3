"""A small, dependency-free byte-level BPE tokenizer (encoder, decoder, trainer) for the HF `tokenizer.json`
format used by GLM-4 / GLM-ASR:

    added_tokens (special, matched atomically, leftmost-longest)  ->
    pre_tokenizer Sequence[ Split(GLM-4 regex, Isolated), ByteLevel(add_prefix_space=false, use_regex=false) ] ->
    model BPE (byte-level alphabet, merges by rank)                ->
    decoder ByteLevel

Only what our generated tokenizers use is supported; `load()` asserts that a tokenizer.json matches this shape.

The GLM-4 pre-tokenizer regex is (one pattern, wrapped here)

    (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|
    \\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+

Debian's python3 has no `regex` module (no \\p{L}), so `pretokenize()` is a hand-written scanner that tries the
seven alternatives in order with the same greedy/backtracking outcome, using unicodedata categories
(L* = letter, N* = number) and the Unicode White_Space set for \\s.
"""

import json
import unicodedata

GLM4_SPLIT_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# --------------------------------------------------------------------------------------------------------------
# byte <-> printable unicode mapping of byte-level BPE (printable Latin-1 bytes map to themselves, the other 68
# bytes to U+0100.. in increasing byte order)


def _byte_to_char_table():
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


BYTE_TO_CHAR = _byte_to_char_table()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def to_byte_chars(text):
    return "".join(BYTE_TO_CHAR[b] for b in text.encode("utf-8"))


# --------------------------------------------------------------------------------------------------------------
# GLM-4 Split pre-tokenizer

_WS_EXTRA = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x85}


def _is_ws(ch):
    return ord(ch) in _WS_EXTRA or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _is_letter(ch):
    return unicodedata.category(ch)[0] == "L"


def _is_number(ch):
    return unicodedata.category(ch)[0] == "N"


def _is_other(ch):  # [^\s\p{L}\p{N}]
    return not (_is_ws(ch) or _is_letter(ch) or _is_number(ch))


def _fold(ch):
    # simple case folding for the contraction letters; U+017F (long s) folds to 's'
    return "s" if ch == "\u017f" else ch.lower()


def _match_at(s, i):
    """End index of the regex match starting at i (a match always exists)."""
    n = len(s)
    c = s[i]
    # 1. (?i:'s|'t|'re|'ve|'m|'ll|'d)
    if c == "'" and i + 1 < n:
        f1 = _fold(s[i + 1])
        if f1 in ("s", "t", "m", "d"):
            return i + 2
        second = {"r": "e", "v": "e", "l": "l"}.get(f1)
        if second is not None and i + 2 < n and _fold(s[i + 2]) == second:
            return i + 3
    # 2. [^\r\n\p{L}\p{N}]?\p{L}+
    if _is_letter(c):
        j = i + 1
        while j < n and _is_letter(s[j]):
            j += 1
        return j
    if c not in "\r\n" and not _is_number(c) and i + 1 < n and _is_letter(s[i + 1]):
        j = i + 2
        while j < n and _is_letter(s[j]):
            j += 1
        return j
    # 3. \p{N}{1,3}
    if _is_number(c):
        j = i + 1
        while j < n and j < i + 3 and _is_number(s[j]):
            j += 1
        return j
    # 4. ` ?[^\s\p{L}\p{N}]+[\r\n]*`
    k = i + 1 if (c == " " and i + 1 < n and _is_other(s[i + 1])) else i
    if _is_other(s[k]):
        j = k + 1
        while j < n and _is_other(s[j]):
            j += 1
        while j < n and s[j] in "\r\n":
            j += 1
        return j
    # c is whitespace from here on; e = end of the whitespace run
    e = i
    while e < n and _is_ws(s[e]):
        e += 1
    # 5. \s*[\r\n]+  -> ends right after the last newline inside the run
    last_nl = -1
    for k in range(i, e):
        if s[k] in "\r\n":
            last_nl = k
    if last_nl >= 0:
        return last_nl + 1
    # 6. \s+(?!\S)
    if e == n:
        return e
    if e - 1 > i:
        return e - 1
    # 7. \s+
    return e


def pretokenize(text):
    """Split `text` into the pieces the GLM-4 Split pre-tokenizer (behavior Isolated) produces."""
    pieces, i = [], 0
    while i < len(text):
        j = _match_at(text, i)
        pieces.append(text[i:j])
        i = j
    return pieces


# --------------------------------------------------------------------------------------------------------------
# BPE model


def bpe_word(chars, ranks):
    """Apply merges (dict (a, b) -> rank) to a list of symbols: repeatedly merge the lowest-rank adjacent pair,
    leftmost first."""
    syms = list(chars)
    while len(syms) > 1:
        best, best_pos = None, -1
        for p in range(len(syms) - 1):
            r = ranks.get((syms[p], syms[p + 1]))
            if r is not None and (best is None or r < best):
                best, best_pos = r, p
        if best is None:
            break
        syms[best_pos:best_pos + 2] = [syms[best_pos] + syms[best_pos + 1]]
    return syms


class Tokenizer:
    """Encoder/decoder for our byte-level BPE tokenizer.json files."""

    def __init__(self, vocab, merges, added_tokens):
        self.vocab = dict(vocab)                      # token string -> id (base vocab)
        self.ranks = {tuple(m): r for r, m in enumerate(merges)}
        self.added = {t["content"]: t["id"] for t in added_tokens}    # content -> id
        self.added_ids = {t["id"] for t in added_tokens}
        self.special_ids = {t["id"] for t in added_tokens if t.get("special")}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_token.update({i: t for t, i in self.added.items()})
        self._added_sorted = sorted(self.added, key=len, reverse=True)

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        model = tj["model"]
        assert model["type"] == "BPE" and not model.get("ignore_merges", False)
        assert tj.get("normalizer") is None
        pre = tj["pre_tokenizer"]
        assert pre["type"] == "Sequence" and pre["pretokenizers"][0]["type"] == "Split"
        assert pre["pretokenizers"][0]["pattern"]["Regex"] == GLM4_SPLIT_REGEX
        assert pre["pretokenizers"][1]["type"] == "ByteLevel" and not pre["pretokenizers"][1]["use_regex"]
        merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
        return cls(model["vocab"], merges, tj["added_tokens"])

    def token_to_id(self, token):
        return self.added.get(token, self.vocab.get(token))

    def _encode_plain(self, text):
        ids = []
        for piece in pretokenize(text):
            for sym in bpe_word(to_byte_chars(piece), self.ranks):
                ids.append(self.vocab[sym])
        return ids

    def encode(self, text):
        """Encode text; added (special) tokens are matched atomically (leftmost, then longest). No BOS/EOS."""
        ids, buf, i = [], [], 0
        while i < len(text):
            hit = None
            for tok in self._added_sorted:
                if text.startswith(tok, i):
                    hit = tok
                    break
            if hit is None:
                buf.append(text[i])
                i += 1
                continue
            if buf:
                ids += self._encode_plain("".join(buf))
                buf = []
            ids.append(self.added[hit])
            i += len(hit)
        if buf:
            ids += self._encode_plain("".join(buf))
        return ids

    def decode(self, ids, skip_special_tokens=True):
        out = bytearray()
        for i in ids:
            i = int(i)
            if i in self.added_ids:
                if skip_special_tokens and i in self.special_ids:
                    continue
                out += self.id_to_token[i].encode("utf-8")
            else:
                out += bytes(CHAR_TO_BYTE[c] for c in self.id_to_token[i])
        return out.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------------------------------------------
# trainer


def train_bpe(texts, n_merges):
    """Learn `n_merges` merges from a list of texts (counts of pre-tokenized byte-level words; the most frequent
    adjacent pair wins, ties broken by the lexicographically smallest pair). Returns (vocab, merges) where vocab
    has the 256 byte symbols at ids 0..255 (id = byte value) followed by new symbols in merge order."""
    word_counts = {}
    for t in texts:
        for piece in pretokenize(t):
            w = tuple(to_byte_chars(piece))
            word_counts[w] = word_counts.get(w, 0) + 1
    words = [[list(w), c] for w, c in word_counts.items()]
    vocab = {BYTE_TO_CHAR[b]: b for b in range(256)}
    merges = []
    while len(merges) < n_merges:
        pair_counts = {}
        for syms, c in words:
            for p in range(len(syms) - 1):
                k = (syms[p], syms[p + 1])
                pair_counts[k] = pair_counts.get(k, 0) + c
        if not pair_counts:
            break
        best = min(pair_counts.items(), key=lambda kv: (-kv[1], kv[0]))[0]
        merges.append(list(best))
        new = best[0] + best[1]
        if new not in vocab:
            vocab[new] = len(vocab)
        for w in words:
            syms, out, p = w[0], [], 0
            while p < len(syms):
                if p + 1 < len(syms) and syms[p] == best[0] and syms[p + 1] == best[1]:
                    out.append(new)
                    p += 2
                else:
                    out.append(syms[p])
                    p += 1
            w[0] = out
    return vocab, merges


def tokenizer_json(vocab, merges, special_tokens):
    """Build the tokenizer.json dict. special_tokens: list of (id, content)."""
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
             "normalized": False, "special": True}
            for i, c in special_tokens
        ],
        "normalizer": None,
        "pre_tokenizer": {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": GLM4_SPLIT_REGEX}, "behavior": "Isolated", "invert": False},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
            ],
        },
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }
