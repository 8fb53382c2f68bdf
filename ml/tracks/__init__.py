"""Tracks: short two-track phrases (melody + harmony) as piano rolls, rendered to MIDI and audio.

Only constants live here so that importing the package stays cheap (music21, pretty_midi and
pydub are imported by the modules that need them).

Roll geometry: a phrase is BARS bars of 4/4 on a 16th-note grid, i.e. an array
[TRACKS, STEPS, N_PITCHES]. A roll "bar" is always four quarter notes: two bars of a 2/4 tune
fill one roll bar and a 4/2 bar fills two (see ml/tracks/data.py for the meters kept).

Pitch range C2..B5 (MIDI 36..83, four octaves): after transposing every phrase to
C major / A minor, Bach's bass lines reach down to about C2 and his soprano lines, like the
folk melodies, stay below C6; the few notes outside are folded in by an octave. Four whole
octaves keep pitch-class arithmetic (index % 12 == pitch class) trivial for the metrics.

Cell values: 0 = silent, HOLD = the note started earlier is still sounding, ONSET = a note
starts here. Keeping the onset in the same channel lets two repeated notes of one pitch
(a repeated quarter note) stay two notes instead of merging into one long note, and a roll
without any ONSET (a bool roll from a model) still reads as one note per contiguous run.
"""

SERVICE = "tracks"

BARS = 4
STEPS_PER_BEAT = 4  # 16th notes
BEATS_PER_BAR = 4
STEPS_PER_BAR = STEPS_PER_BEAT * BEATS_PER_BAR
STEPS = BARS * STEPS_PER_BAR

LOWEST_PITCH = 36  # C2
N_PITCHES = 48  # C2..B5
HIGHEST_PITCH = LOWEST_PITCH + N_PITCHES - 1

TRACKS = ("melody", "harmony")
MELODY = TRACKS.index("melody")
HARMONY = TRACKS.index("harmony")

SILENT, HOLD, ONSET = 0, 1, 2

# Pitch classes of C major / A natural minor, the common key every phrase is moved to.
C_MAJOR_PITCH_CLASSES = (0, 2, 4, 5, 7, 9, 11)

# What users may ask for; a clip also has to fit Discord's upload limit.
MIN_CLIP_SECONDS = 10
MAX_CLIP_SECONDS = 60
DEFAULT_TEMPO_BPM = 100
MAX_UPLOAD_BYTES = 10 * 1024 * 1024

# Part of every cache key: raise it whenever the corpus selection, the roll encoding or the
# rendering changes so that old caches and models are rebuilt.
PIPELINE_VERSION = 1

# Tempo a user may ask for (beats per minute): slower than 40 drags a 4-bar phrase past
# 24 s, faster than 200 turns 16ths into a blur.
MIN_TEMPO_BPM = 40
MAX_TEMPO_BPM = 200

# How much of a training run each stage takes, so progress and ETA cover the whole run
# (measured on 2 cores: parsing ~85 s, training ~13 min, evaluation ~1 min).
PROGRESS_WEIGHTS = {"preparing phrases": 0.08, "training": 0.85, "evaluating": 0.07}
