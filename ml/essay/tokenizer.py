"""Subword tokens for the essay LSTM: a byte-level BPE learned from the training split.

Byte-level BPE never meets an unknown character and decodes back to exactly the text it
encoded. Paragraph roles are tokens of their own, so the model learns how introductions,
body paragraphs and conclusions read and generation can ask for each:

    <intro> first paragraph <body> ... <body> ... <conclusion> last paragraph <end>
"""
from __future__ import annotations

from typing import Iterable, Sequence

INTRO, BODY, CONCLUSION, END = "<intro>", "<body>", "<conclusion>", "<end>"
ROLE_TOKENS = (INTRO, BODY, CONCLUSION, END)


class EssayTokenizer:
    def __init__(self, backend):
        self._backend = backend
        self.role_ids = {token: backend.token_to_id(token) for token in ROLE_TOKENS}
        self.vocab_size = backend.get_vocab_size()

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 8192) -> "EssayTokenizer":
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=list(ROLE_TOKENS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        backend.train_from_iterator(texts, trainer)
        return cls(backend)

    @classmethod
    def from_json(cls, data: str) -> "EssayTokenizer":
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_str(data))

    def to_json(self) -> str:
        return self._backend.to_str()

    def encode(self, text: str) -> list[int]:
        return self._backend.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Sequence[int]) -> str:
        return self._backend.decode(list(ids), skip_special_tokens=True)

    def token_text(self, token_id: int) -> str:
        """The text one token stands for on its own (leading space included)."""
        return self.decode([token_id])

    def encode_document(self, paragraphs: Sequence[str]) -> list[int]:
        """Role token + paragraph tokens for each paragraph, then <end>."""
        ids: list[int] = []
        last = len(paragraphs) - 1
        for i, paragraph in enumerate(paragraphs):
            role = INTRO if i == 0 else CONCLUSION if i == last and last > 0 else BODY
            ids.append(self.role_ids[role])
            ids.extend(self.encode(paragraph))
        ids.append(self.role_ids[END])
        return ids

    def decode_document(self, ids: Sequence[int]) -> list[str]:
        """Paragraphs back from a token stream (role tokens split paragraphs)."""
        paragraphs, current = [], []
        roles = set(self.role_ids.values())
        for token in ids:
            if token in roles:
                if current:
                    paragraphs.append(self.decode(current).strip())
                current = []
            else:
                current.append(token)
        if current:
            paragraphs.append(self.decode(current).strip())
        return [p for p in paragraphs if p]


def document_characters(paragraphs: Sequence[str]) -> int:
    """Characters a model must account for in a document: its paragraphs joined by blank
    lines. Bits per character divide by this, whatever the tokenizer."""
    return len("\n\n".join(paragraphs))
