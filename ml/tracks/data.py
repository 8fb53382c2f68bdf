"""Four-bar phrases from music21's bundled corpus as piano rolls, cached as one .npz.

Sources (all parsed offline from the files that ship inside the music21 wheel):
  chorales  Bach's four-part chorales: melody = soprano, harmony = alto + tenor + bass.
  essen     Essen folk songs (German ballads, children's songs...): melody only.
  oneills   O'Neill's 1850 Irish tunes: melody only.
Folk tunes have no second voice, so their harmony track is empty; `Rolls.has_harmony` marks
the phrases whose source has one so that training can pick, weight or condition on it.

Meters: only measures of simple duple or quadruple meter are kept (2/4, 4/4 = C, 2/2 = C|,
4/2), so that every bar line falls on a whole or half roll bar and beats stay on the
4-step grid. Triple and compound meters (3/4, 6/8, 9/8...) are skipped rather than squeezed
into 16 steps a bar, which would put their downbeats in the wrong places. A phrase starts on
a bar line and spans consecutive complete measures; pickups and the short bars around repeat
signs end a run, so phrases never straddle a shifted bar line. Repeats are not expanded.

Key: each phrase is moved by the smallest interval (-6..+5 semitones) that brings its key
signature to no sharps or flats, i.e. major keys to C and minor keys to A (modes land on the
white keys too). Only the key signature is needed; music21's key analysis is the fallback
for the rare work without one.

Time: onsets and ends are rounded to the 16th grid (triplets and 32nds move by less than a
step; a note always keeps at least one step). A track whose notes fit the pitch range better
an octave up or down is moved as a whole (O'Neill's fiddle tunes climb to D6); the few notes
still outside are folded in by octaves.

Split: by work, from a hash of its group name (variants of one chorale share a group), so no
phrase of a held-out work, nor of another version of it, is ever trained on.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ml.tracks import (
    BARS,
    BEATS_PER_BAR,
    HARMONY,
    HIGHEST_PITCH,
    LOWEST_PITCH,
    MELODY,
    N_PITCHES,
    PIPELINE_VERSION,
    STEPS,
    STEPS_PER_BEAT,
    TRACKS,
)
from ml.tracks.pianoroll import fold_pitches, write_notes

log = logging.getLogger(__name__)

SOURCES = ("chorales", "essen", "oneills")
HARMONY_SOURCES = frozenset({"chorales"})
# Every chorale (408 files) and 546 tunes of each folk collection: about 1.5 minutes of
# parsing on one core for about 4,400 phrases, leaving the training most of its 20 minutes.
DEFAULT_MAX_WORKS = 1500
HELD_OUT_FRACTION = 0.1
HOP_BARS = 2  # phrases of one work overlap by half; the split is by work so this cannot leak
MIN_MELODY_FILL = 0.5  # a phrase whose melody sounds less than half the time is mostly rests

PHRASE_QUARTERS = BARS * BEATS_PER_BAR

ProgressHook = Callable[[int, int], None]


@dataclass(frozen=True)
class Work:
    """One piece in the corpus: a file, or one tune (ABC "X:" number) of a multi-tune file."""

    source: str
    path: Path
    number: int | None  # ABC tune number, None for one-piece files
    group: str  # split key: versions of the same piece share it

    @property
    def name(self) -> str:
        stem = f"{self.source}/{self.path.stem}"
        return stem if self.number is None else f"{stem}#{self.number}"


@dataclass
class Rolls:
    """Prepared phrases. rolls: uint8 [N, TRACKS, STEPS, N_PITCHES] with SILENT/HOLD/ONSET."""

    rolls: np.ndarray
    work: np.ndarray  # int32 [N]: index into works
    works: list[str]
    work_sources: list[str]
    work_held_out: np.ndarray  # bool [len(works)]
    config: dict
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rolls)

    @property
    def held_out(self) -> np.ndarray:
        """bool [N]: the phrase belongs to a held-out work."""
        return self.work_held_out[self.work]

    @property
    def sources(self) -> np.ndarray:
        """str [N]: the source of each phrase."""
        return np.asarray(self.work_sources, dtype=str)[self.work]

    @property
    def has_harmony(self) -> np.ndarray:
        """bool [N]: the phrase comes from a source with a harmony part."""
        return np.isin(self.sources, sorted(HARMONY_SOURCES))

    def train(self) -> np.ndarray:
        return self.rolls[~self.held_out]

    def test(self) -> np.ndarray:
        return self.rolls[self.held_out]


# ----------------------------------------------------------------------------- config


def make_config(
    max_works: int = DEFAULT_MAX_WORKS,
    sources: tuple[str, ...] = SOURCES,
    held_out_fraction: float = HELD_OUT_FRACTION,
    hop_bars: int = HOP_BARS,
    min_melody_fill: float = MIN_MELODY_FILL,
) -> dict:
    import music21

    unknown = set(sources) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown sources {sorted(unknown)}; known: {', '.join(SOURCES)}")
    return {
        "pipeline_version": PIPELINE_VERSION,
        "music21": music21.__version__,
        "bars": BARS,
        "steps": STEPS,
        "lowest_pitch": LOWEST_PITCH,
        "n_pitches": N_PITCHES,
        "tracks": list(TRACKS),
        "max_works": int(max_works),
        "sources": list(sources),
        "held_out_fraction": float(held_out_fraction),
        "hop_bars": int(hop_bars),
        "min_melody_fill": float(min_melody_fill),
    }


def config_hash(config: dict) -> str:
    return hashlib.sha1(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def is_held_out(group: str, fraction: float = HELD_OUT_FRACTION) -> bool:
    digest = int(hashlib.sha1(group.encode()).hexdigest()[:8], 16)
    return digest / 0x1_0000_0000 < fraction


# ----------------------------------------------------------------------------- listing


def corpus_dir() -> Path:
    import music21.corpus

    return Path(music21.corpus.__file__).parent


_ABC_NUMBER = re.compile(r"^X:\s*(\d+)", re.MULTILINE)


def _abc_numbers(path: Path) -> list[int]:
    return [int(x) for x in _ABC_NUMBER.findall(path.read_text(encoding="latin-1"))]


def list_works(source: str, root: Path | None = None) -> list[Work]:
    """Every work of a source, found from file names and ABC headers without parsing music."""
    root = root or corpus_dir()
    works: list[Work] = []
    if source == "chorales":
        for path in sorted((root / "bach").glob("*.mxl")):
            # bwv248.23-2 and bwv248.23-s are two versions of one chorale
            match = re.match(r"bwv\d+(?:\.\d+)?", path.stem)
            group = match.group(0) if match else path.stem
            works.append(Work(source, path, None, f"chorales/{group}"))
    elif source == "essen":
        for path in sorted((root / "essenFolksong").glob("*.abc")):
            if path.stem.startswith("test"):  # music21's test files repeat other collections
                continue
            for number in dict.fromkeys(_abc_numbers(path)):
                works.append(Work(source, path, number, f"essen/{path.stem}#{number}"))
    elif source == "oneills":
        seen: set[int] = set()
        # several files overlap (0732-0758_bs/_mh, 1556-1576/1556-1624...): the tune
        # number is the identity, first file wins
        for path in sorted((root / "oneills1850").glob("*.abc")):
            for number in _abc_numbers(path):
                if number not in seen:
                    seen.add(number)
                    works.append(Work(source, path, number, f"oneills#{number}"))
    else:
        raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
    return works


def select_works(max_works: int, sources: tuple[str, ...] = SOURCES, root: Path | None = None) -> list[Work]:
    """At most max_works works, shared equally between sources (a small source's unused share
    goes to the others), each source sampled in a fixed pseudo-random order so that a small
    selection still spans all of its collections."""
    pools = {}
    for source in sources:
        pool = list_works(source, root)
        # salted: the split hashes the same names, and an unsalted order would pick the
        # held-out works first
        pool.sort(key=lambda w: hashlib.sha1(f"order:{w.name}".encode()).hexdigest())
        pools[source] = pool
    quotas = dict.fromkeys(sources, 0)
    left = max_works
    while left > 0:
        open_sources = [s for s in sources if quotas[s] < len(pools[s])]
        if not open_sources:
            break
        share = max(1, left // len(open_sources))
        for source in open_sources:
            take = min(share, len(pools[source]) - quotas[source], left)
            quotas[source] += take
            left -= take
            if left == 0:
                break
    return [w for s in sources for w in pools[s][: quotas[s]]]


# ----------------------------------------------------------------------------- parsing


def parse_work(work: Work):
    """The music21 Score of one work, parsed from the file in the installed corpus."""
    from music21 import converter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # music21 warns about many harmless ABC quirks
        if work.number is None:
            return converter.parse(work.path, forceSource=True)
        return converter.parse(work.path, number=work.number, forceSource=True)


def _voices(score, source: str) -> tuple[object, list[object]] | None:
    """(melody part, harmony parts). Chorales: S / A+T+B, chosen by name since some scores
    add trumpets, horns or continuo; folk tunes: their only part and no harmony. None for a
    score of the chorale folder that is not a four-part chorale (bwv846 is a prelude)."""
    parts = list(score.parts) or [score]
    if source not in HARMONY_SOURCES:
        return parts[0], []
    by_name = {}
    for part in parts:
        name = (part.partName or "").strip().lower()
        for voice in ("soprano", "alto", "tenor", "bass"):
            if name.startswith(voice) and voice not in by_name:
                by_name[voice] = part
    if len(by_name) == 4:
        return by_name["soprano"], [by_name["alto"], by_name["tenor"], by_name["bass"]]
    if len(parts) == 4:
        return parts[0], parts[1:]
    return None


def _part_notes(part, top_only: bool) -> np.ndarray:
    """float [k, 3]: (start, end) in quarter notes from the score's start, and MIDI pitch.
    Tied notes become one; grace notes and chord symbols are dropped; top_only keeps the
    highest line, one note at a time."""
    from music21 import harmony

    rows = []
    for element in part.stripTies().flatten().notes:
        if isinstance(element, harmony.Harmony):
            continue
        length = float(element.quarterLength)
        if length <= 0:
            continue
        midis = [p.midi for p in element.pitches]
        if top_only:
            midis = [max(midis)]
        start = float(element.offset)
        rows.extend((start, start + length, m) for m in midis)
    notes = np.asarray(rows, dtype=np.float64).reshape(-1, 3)
    return _monophonic(notes) if top_only else notes


def _monophonic(notes: np.ndarray) -> np.ndarray:
    """Top line of notes: highest note per onset, each cut where the next one starts (a few
    soprano parts split into two voices for a bar)."""
    if not len(notes):
        return notes
    notes = notes[np.lexsort((-notes[:, 2], notes[:, 0]))]
    notes = notes[np.r_[True, np.diff(notes[:, 0]) > 1e-9]]
    notes[:-1, 1] = np.minimum(notes[:-1, 1], notes[1:, 0])
    return notes


def _measures(part) -> list[tuple[float, float, float]]:
    """(offset, length, bar length) per measure, all in quarter notes; bar length 0 when the
    meter is not one we keep."""
    from music21 import meter, stream

    out = []
    current = None
    for measure in part.getElementsByClass(stream.Measure):
        found = measure.getElementsByClass(meter.TimeSignature)
        if found:
            current = found[0]
        bar = 0.0
        if current is not None and current.numerator in (2, 4) and current.denominator in (2, 4):
            bar = float(current.barDuration.quarterLength)
        out.append((float(measure.offset), float(measure.duration.quarterLength), bar))
    return out


def _on_grid(position: float, start: float, grid: float) -> bool:
    beats = (position - start) / grid
    return abs(beats - round(beats)) < 1e-6


def _window_fits(measures: list[tuple[float, float, float]], first: int) -> bool:
    """Whether a phrase starting at measure `first` keeps every bar line on the roll's grid:
    consecutive measures in kept meters, each starting (or, for the second half of a bar
    split at a fermata or repeat, ending) on a whole roll bar (a half one in 2/4)."""
    start = expected = measures[first][0]
    for offset, length, bar in measures[first:]:
        if offset >= start + PHRASE_QUARTERS - 1e-6:
            return True
        if not bar or abs(offset - expected) > 1e-6:
            return False
        grid = min(bar, BEATS_PER_BAR)
        complete = abs(length - bar) < 1e-6
        if not (_on_grid(offset, start, grid) or (not complete and _on_grid(offset + length, start, grid))):
            return False
        expected = offset + length
    return expected >= start + PHRASE_QUARTERS - 1e-6


def phrase_starts(measures: list[tuple[float, float, float]], hop_quarters: float) -> list[float]:
    """Offsets of the phrases of one work: the first bar line where a phrase fits, then each
    next one at least hop_quarters later."""
    starts: list[float] = []
    for i, (offset, _, _) in enumerate(measures):
        if starts and offset < starts[-1] + hop_quarters - 1e-6:
            continue
        if _window_fits(measures, i):
            starts.append(offset)
    return starts


def _key_sharps(score, melody) -> list[tuple[float, int]]:
    """[(offset, sharps)] of the melody's key signatures; key analysis if there is none."""
    from music21 import key

    found = [
        (float(ks.offset), int(ks.sharps))
        for ks in melody.flatten().getElementsByClass(key.KeySignature)
    ]
    if not found:
        found = [(0.0, int(score.analyze("key").sharps))]
    return found


def transpose_interval(sharps: int) -> int:
    """Semitones (-6..+5) that move a key signature of `sharps` to no sharps or flats."""
    relative_major = (7 * sharps) % 12  # pitch class of the major tonic of that signature
    return (-relative_major + 6) % 12 - 6


def _window_notes(notes: np.ndarray, start_q: float, shift: int, monophonic: bool = False) -> np.ndarray:
    """int [k, 3] (start_step, end_step, pitch_index) of notes sounding in the window.
    monophonic: the notes are one line (sorted, not overlapping) and must stay so on the grid."""
    end_q = start_q + PHRASE_QUARTERS
    inside = notes[(notes[:, 1] > start_q + 1e-9) & (notes[:, 0] < end_q - 1e-9)]
    start = np.rint((inside[:, 0] - start_q) * STEPS_PER_BEAT).astype(np.int64)
    end = np.rint((inside[:, 1] - start_q) * STEPS_PER_BEAT).astype(np.int64)
    end = np.maximum(end, start + 1)  # a note shorter than a 16th keeps one step
    start = np.maximum(start, 0)  # a note held over the window start begins at step 0
    if monophonic and len(start):
        # an ornament shorter than half a 16th lands on its successor's step: the successor wins
        keep = np.r_[start[:-1] < start[1:], True]
        start, end, inside = start[keep], end[keep], inside[keep]
        end[:-1] = np.minimum(end[:-1], start[1:])
    pitch = inside[:, 2].astype(np.int64) + shift
    pitch = fold_pitches(pitch + 12 * _best_octave(pitch)) - LOWEST_PITCH
    return np.stack([start, end, pitch], axis=1)


def _best_octave(pitch: np.ndarray) -> int:
    """-1, 0 or +1: the octave move of a whole track that leaves fewest notes out of range
    (high fiddle tunes go down as a whole rather than having their top notes folded)."""
    outside = [int(((pitch + 12 * k < LOWEST_PITCH) | (pitch + 12 * k > HIGHEST_PITCH)).sum()) for k in (0, -1, 1)]
    return (0, -1, 1)[int(np.argmin(outside))]  # argmin keeps the first, so no move on a tie


def work_phrases(score, source: str, hop_bars: int = HOP_BARS, min_melody_fill: float = MIN_MELODY_FILL) -> np.ndarray:
    """uint8 [n, TRACKS, STEPS, N_PITCHES]: the phrases of one parsed work (maybe none)."""
    empty = np.zeros((0, len(TRACKS), STEPS, N_PITCHES), dtype=np.uint8)
    voices = _voices(score, source)
    if voices is None:
        return empty
    melody, harmony_parts = voices
    starts = phrase_starts(_measures(melody), hop_bars * BEATS_PER_BAR)
    if not starts:
        return empty
    melody_notes = _part_notes(melody, top_only=True)
    harmony_notes = np.concatenate(
        [_part_notes(p, top_only=False) for p in harmony_parts] or [np.zeros((0, 3))]
    )
    keys = _key_sharps(score, melody)
    phrases, seen = [], set()
    for start_q in starts:
        sharps = [s for offset, s in keys if offset <= start_q + 1e-6]
        shift = transpose_interval(sharps[-1] if sharps else keys[0][1])
        roll = np.zeros((len(TRACKS), STEPS, N_PITCHES), dtype=np.uint8)
        write_notes(roll[MELODY], _window_notes(melody_notes, start_q, shift, monophonic=True))
        write_notes(roll[HARMONY], _window_notes(harmony_notes, start_q, shift))
        if (roll[MELODY] > 0).any(axis=1).mean() < min_melody_fill:
            continue
        digest = hashlib.sha1(roll.tobytes()).digest()
        if digest in seen:  # written-out repeats
            continue
        seen.add(digest)
        phrases.append(roll)
    return np.stack(phrases) if phrases else empty


# ----------------------------------------------------------------------------- cache


def cache_path(cache_dir: Path, config: dict) -> Path:
    return Path(cache_dir) / f"tracks-rolls-{config_hash(config)}.npz"


def _save(path: Path, rolls: Rolls) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        np.savez_compressed(
            handle,
            rolls=rolls.rolls,
            work=rolls.work,
            works=np.asarray(rolls.works, dtype=str),
            work_sources=np.asarray(rolls.work_sources, dtype=str),
            work_held_out=rolls.work_held_out,
            config=np.asarray(json.dumps(rolls.config, sort_keys=True)),
            stats=np.asarray(json.dumps(rolls.stats, sort_keys=True)),
        )
    os.replace(tmp, path)  # readers see the old file or the whole new one, never half


def load_cached(path: Path, config: dict) -> Rolls | None:
    """The cached rolls if the file exists, reads and was made with this config."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = json.loads(str(data["config"]))
            if stored != config:
                log.warning("tracks cache %s was made with another config; rebuilding", path)
                return None
            return Rolls(
                rolls=data["rolls"],
                work=data["work"],
                works=[str(w) for w in data["works"]],
                work_sources=[str(s) for s in data["work_sources"]],
                work_held_out=data["work_held_out"],
                config=stored,
                stats=json.loads(str(data["stats"])),
            )
    except Exception:  # a torn or foreign file: rebuild rather than fail training
        log.warning("tracks cache %s is unreadable; rebuilding", path, exc_info=True)
        return None


# ----------------------------------------------------------------------------- prepare


def build_rolls(works: list[Work], config: dict, on_progress: ProgressHook | None = None) -> Rolls:
    """Parse the works and cut their phrases. A work that fails to parse is logged and skipped."""
    started = time.monotonic()
    chunks, work_index, names, sources, held = [], [], [], [], []
    counts: dict[str, Counter] = {s: Counter() for s in config["sources"]}
    total = len(works)
    if on_progress:
        on_progress(0, total)
    for done, work in enumerate(works, 1):
        count = counts[work.source]
        count["works"] += 1
        try:
            phrases = work_phrases(
                parse_work(work), work.source, config["hop_bars"], config["min_melody_fill"]
            )
        except Exception as exc:  # music21 raises many kinds on odd files
            count["failed"] += 1
            log.warning("tracks: skipping %s: %s: %s", work.name, type(exc).__name__, exc)
            phrases = None
        if phrases is not None and len(phrases):
            index = len(names)
            names.append(work.name)
            sources.append(work.source)
            held.append(is_held_out(work.group, config["held_out_fraction"]))
            chunks.append(phrases)
            work_index.append(np.full(len(phrases), index, dtype=np.int32))
            count["used"] += 1
            count["phrases"] += len(phrases)
        elif phrases is not None:
            count["no_phrases"] += 1  # wrong meter, too short, mostly rests, not 4 voices
            log.debug("tracks: no phrase in %s", work.name)
        if on_progress:
            on_progress(done, total)
    rolls = Rolls(
        rolls=np.concatenate(chunks) if chunks else np.zeros((0, len(TRACKS), STEPS, N_PITCHES), np.uint8),
        work=np.concatenate(work_index) if work_index else np.zeros(0, np.int32),
        works=names,
        work_sources=sources,
        work_held_out=np.asarray(held, dtype=bool),
        config=config,
    )
    rolls.stats = {
        "parse_seconds": round(time.monotonic() - started, 2),
        "per_source": {s: dict(c) for s, c in counts.items()},
        "phrases": len(rolls),
        "held_out_phrases": int(rolls.held_out.sum()),
    }
    return rolls


def prepare_rolls(
    cache_dir: Path,
    max_works: int = DEFAULT_MAX_WORKS,
    on_progress: ProgressHook | None = None,
    sources: tuple[str, ...] = SOURCES,
    held_out_fraction: float = HELD_OUT_FRACTION,
    hop_bars: int = HOP_BARS,
    min_melody_fill: float = MIN_MELODY_FILL,
) -> Rolls:
    """The phrases of up to max_works works: from cache_dir if prepared before with the same
    settings, else parsed from the corpus (about 50 ms a work on one core) and cached."""
    config = make_config(max_works, tuple(sources), held_out_fraction, hop_bars, min_melody_fill)
    path = cache_path(Path(cache_dir), config)
    cached = load_cached(path, config)
    if cached is not None:
        log.info("tracks: %d phrases from cache %s", len(cached), path)
        return cached
    works = select_works(max_works, tuple(sources))
    log.info("tracks: parsing %d works from the music21 corpus", len(works))
    rolls = build_rolls(works, config, on_progress)
    if not len(rolls):
        raise RuntimeError(f"no phrase could be made from {len(works)} works; see the log")
    _save(path, rolls)
    log.info(
        "tracks: %d phrases (%d held out) from %d works in %.1f s, cached in %s",
        len(rolls), rolls.stats["held_out_phrases"], len(rolls.works), rolls.stats["parse_seconds"], path,
    )
    return rolls
