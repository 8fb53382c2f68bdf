"""The tracks GAN: a bar- and track-aware generator and critic over piano rolls (after MuseGAN).

Model tensors: float [batch, CHANNELS, STEPS, N_PITCHES] with four 0/1 channels:
    0 melody sounding, 1 melody onset, 2 harmony sounding, 3 harmony onset
(`rolls_to_tensor` for real rolls, `to_rolls` back). An onset cell is also a sounding cell;
onsets have their own channel so that a repeated note (Bach's inner voices repeat pitches
all the time) stays two notes instead of merging into one long one.

The generator outputs the roll's own cell states, as hard choices:
  melody   one voice: at every 16th it rests, holds its sounding note or starts a new note,
           and a new note's pitch is drawn from the voice's distribution over the 48 pitches.
           So the melody is one note at a time (as in the data) by construction, and "when"
           and "what" are separate choices (the rhythm does not hang on 48 pitch logits);
  harmony  three such voices (a chorale's alto, tenor and bass), joined into one track.
A held cell sounds only if it sounded a step before (`_sustain`), so notes last exactly as
long as the generator holds them and a note always begins with an onset. A phrase's first
step has nothing to hold, so there "hold" starts a note too: a phrase cut from a tune begins
on its sounding note, never on a silence the generator did not ask for.
The rest / hold / new choice is the most likely one (deterministic, given the latents); the
pitch is sampled (Gumbel-max, from a seeded torch.Generator, so a seed still gives one
phrase). Both are one-hot in the forward pass with the softmax's gradient in the backward
pass (straight-through, the binary neurons of BinaryMuseGAN): the critic sees rolls as they
will be played, not soft probabilities it could tell from real ones by their softness, and
`to_rolls` needs no threshold to tune. Sampling the pitch (rather than taking its argmax)
is what gives melodies the data's variety: the argmax of slowly changing pitch logits
repeats one pitch, and the melody's pitch classes per bar fell 26% short of the data's.

Condition: `harmony` (1.0 / 0.0) tells both networks whether the phrase has a second voice.
Folk tunes (more than half of the corpus) have only a melody. The generator's harmony track is
masked to silence when asked for none, so on folk phrases the critic sees an empty harmony on
both sides and only the melody is compared: the folk tunes train the melody (their melodies
differ from Bach's sopranos, which the condition lets the generator keep apart) and only the
chorales shape the harmony. The composer asks for harmony = 1.

Generator: a phrase latent and one free latent per bar go through a small temporal network
(a convolution over the 4 bars, for a phrase-level arc), then one bar generator shared by all
bars grows each bar in time (beats -> 8ths -> 16ths) at octave resolution, and a private head
per track spreads every octave over its 12 pitches (so a weight means a pitch class).
Critic: octave-wise pitch layers and beat/bar-wise time layers over both tracks together (in
both orders), a pitch-class (chroma) stream and a rhythm stream of note counts per step, all
merged per bar and then over the phrase with the condition. No normalisation in the critic:
WGAN-GP's gradient penalty is taken per sample.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ml.tracks import BARS, BEATS_PER_BAR, HARMONY, HOLD, MELODY, N_PITCHES, ONSET, STEPS, TRACKS

CHANNELS = 2 * len(TRACKS)
MEL_SOUND, MEL_ONSET, HARM_SOUND, HARM_ONSET = range(CHANNELS)
OCTAVES = N_PITCHES // 12
HARMONY_VOICES = 3


# ----------------------------------------------------------------------------- rolls <-> tensors


def rolls_to_tensor(rolls: np.ndarray) -> torch.Tensor:
    """uint8 rolls [n, TRACKS, STEPS, N_PITCHES] -> float [n, CHANNELS, STEPS, N_PITCHES] of 0/1."""
    rolls = torch.from_numpy(np.ascontiguousarray(rolls))
    sounding = (rolls > 0).float()
    onset = (rolls == ONSET).float()
    return torch.stack([sounding[:, MELODY], onset[:, MELODY], sounding[:, HARMONY], onset[:, HARMONY]], dim=1)


def to_rolls(output: torch.Tensor) -> np.ndarray:
    """Generator output [n, CHANNELS, STEPS, N_PITCHES] (0/1) -> uint8 rolls [n, TRACKS, STEPS, N_PITCHES].

    A sounding cell is an ONSET where its onset channel says so or where the pitch was not
    sounding a step before (a note cannot start without starting), else HOLD."""
    out = output.detach().float().cpu() > 0.5
    sounding = out[:, [MEL_SOUND, HARM_SOUND]]
    onsets = out[:, [MEL_ONSET, HARM_ONSET]]
    before = torch.zeros_like(sounding)
    before[:, :, 1:] = sounding[:, :, :-1]
    starts = sounding & (onsets | ~before)
    cells = torch.where(starts, ONSET, torch.where(sounding, HOLD, 0)).to(torch.uint8)
    return np.ascontiguousarray(cells.numpy())


# ----------------------------------------------------------------------------- layers
# Convolutions whose kernel equals their stride (a bar into beats, an octave into pitches) are
# written as reshapes and Linear layers on channel-last tensors: the same maps, but plain
# matrix products, several times faster on a CPU than mkldnn's odd-shaped convolutions.


class ChannelNorm(nn.Module):
    """BatchNorm over the last (channel) dimension of a channel-last tensor."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class Mix3x3(nn.Module):
    """A 3x3 convolution over the two middle axes of [n, a, b, channels] (time x octave)."""

    def __init__(self, channels: int, out: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)


def _grow_time(linear: nn.Linear, x: torch.Tensor, factor: int) -> torch.Tensor:
    """[n, t, o, c] -> [n, t*factor, o, c']: each step becomes `factor` shorter steps."""
    n, t, o, _ = x.shape
    y = linear(x).reshape(n, t, o, factor, -1)
    return y.permute(0, 1, 3, 2, 4).reshape(n, t * factor, o, -1)


# ----------------------------------------------------------------------------- generator


class Generator(nn.Module):
    def __init__(self, z_phrase: int = 64, z_bar: int = 32, width: int = 128):
        super().__init__()
        self.z_phrase, self.z_bar, self.width = z_phrase, z_bar, width
        w, h = width, width // 2
        # phrase latent -> one vector per bar, joined by the free per-bar latents, then a
        # convolution over the bars so that each bar knows its neighbours (the phrase's arc)
        self.temporal_in = nn.Linear(z_phrase + 1, w * BARS)
        self.temporal = nn.Sequential(
            nn.BatchNorm1d(w + z_bar), nn.ReLU(),
            nn.Conv1d(w + z_bar, w, 3, padding=1), nn.BatchNorm1d(w), nn.ReLU(),
            nn.Conv1d(w, w, 3, padding=1), nn.BatchNorm1d(w), nn.ReLU(),
        )
        # bar generator, shared by all bars: [beats, octaves, w] -> [16ths, octaves, h]
        self.bar_in = nn.Linear(w + 1 + z_phrase, BEATS_PER_BAR * OCTAVES * w)
        self.norm_in = ChannelNorm(w)
        self.mix_beats = Mix3x3(w, w)
        self.norm_beats = ChannelNorm(w)
        self.to_eighths = nn.Linear(w, 2 * w)
        self.norm_eighths = ChannelNorm(w)
        self.to_sixteenths = nn.Linear(w, 2 * h)
        self.norm_sixteenths = ChannelNorm(h)
        self.mix_sixteenths = Mix3x3(h, h)
        self.norm_mix = ChannelNorm(h)
        # private heads: the melody is one voice; the harmony is three (a chorale's alto, tenor
        # and bass), each one note at a time, so that chords have their three notes
        self.melody = VoiceHead(h)
        self.harmony = nn.ModuleList(VoiceHead(h) for _ in range(HARMONY_VOICES))

    @property
    def latent_size(self) -> int:
        return self.z_phrase + BARS * self.z_bar

    def forward(self, z: torch.Tensor, harmony: torch.Tensor, noise: torch.Generator | None = None) -> torch.Tensor:
        """z [n, latent_size], harmony [n] (0/1) -> [n, CHANNELS, STEPS, N_PITCHES] in [0, 1].
        `noise` draws the pitch samples (None: torch's global generator)."""
        n = z.shape[0]
        z_phrase = z[:, : self.z_phrase]
        z_bars = z[:, self.z_phrase :].reshape(n, self.z_bar, BARS)
        c = harmony.float().reshape(n, 1)
        bars = self.temporal_in(torch.cat([z_phrase, c], 1)).reshape(n, self.width, BARS)
        bars = self.temporal(torch.cat([bars, z_bars], 1))  # [n, w, BARS]
        per_bar = bars.transpose(1, 2).reshape(n * BARS, self.width)
        context = torch.cat([z_phrase, c], 1).repeat_interleave(BARS, 0)
        x = self.bar_in(torch.cat([per_bar, context], 1)).reshape(n * BARS, BEATS_PER_BAR, OCTAVES, self.width)
        x = F.relu(self.norm_in(x))
        x = F.relu(self.norm_beats(self.mix_beats(x)))
        x = F.relu(self.norm_eighths(_grow_time(self.to_eighths, x, 2)))
        x = F.relu(self.norm_sixteenths(_grow_time(self.to_sixteenths, x, 2)))
        x = F.relu(self.norm_mix(self.mix_sixteenths(x)))  # [n*BARS, 16, OCTAVES, h]

        onsets, holds = zip(*(head(x, n, noise) for head in [self.melody, *self.harmony]))
        onsets = torch.stack(onsets, 1)  # [n, 1 + HARMONY_VOICES, STEPS, N_PITCHES]
        sounding = _sustain(onsets, torch.stack(holds, 1))  # one pass over time for every voice
        mel_onset, harm_onset = onsets[:, 0], _union(onsets[:, 1:])
        sounding = torch.stack([sounding[:, 0], _union(sounding[:, 1:])], 1)
        # a phrase asked for no harmony has none: folk tunes then teach only the melody, and the
        # critic (which sees empty harmony on both sides) never pulls chords towards silence
        has = c.reshape(n, 1, 1)
        return torch.stack([sounding[:, 0], mel_onset, sounding[:, 1] * has, harm_onset * has], 1)


class VoiceHead(nn.Module):
    """One voice: at every 16th it rests, holds its sounding note or starts a new one, and a
    new note's pitch is sampled from the 48 (when and what are separate choices, so the
    rhythm does not hang on 48 pitch logits). Octave features [n*BARS, 16, OCTAVES, h] ->
    onsets [n, STEPS, N_PITCHES] (0/1) and the hold choice [n, STEPS, 1]."""

    def __init__(self, h: int):
        super().__init__()
        self.hidden = nn.Sequential(nn.Linear(h, h), ChannelNorm(h), nn.ReLU())
        self.pitch = nn.Linear(h, 12)
        self.step = nn.Linear(h * OCTAVES, 3)  # rest, hold, new note

    def forward(self, x: torch.Tensor, n: int, noise: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.hidden(x)
        pitch = _sampled(self.pitch(hidden).reshape(n, STEPS, N_PITCHES), noise)
        step = _most_likely(self.step(hidden.reshape(hidden.shape[0], hidden.shape[1], -1)).reshape(n, STEPS, 3))
        new, hold = step[..., 2:3], step[..., 1:2]
        # the first step has nothing to hold: there a hold starts the note
        new = torch.cat([new[:, :1] + hold[:, :1], new[:, 1:]], 1)
        return new * pitch, hold


def _union(parts: torch.Tensor) -> torch.Tensor:
    """Logical OR over axis 1 of 0/1 tensors, with a gradient for each part: 1 - prod(1 - x)."""
    return 1 - (1 - parts).prod(1)


def _most_likely(logits: torch.Tensor) -> torch.Tensor:
    """The most likely choice over the last axis, one-hot, with the softmax's gradient."""
    return _one_hot_through_softmax(logits, logits.detach())


def _sampled(logits: torch.Tensor, noise: torch.Generator | None) -> torch.Tensor:
    """A choice over the last axis drawn from the softmax (Gumbel-max, with the generator
    `noise`; None: torch's global one), one-hot, with the softmax's gradient."""
    uniform = torch.rand(logits.shape, generator=noise, dtype=logits.dtype, device=logits.device)
    gumbel = -torch.log(-torch.log(uniform.clamp(1e-12, 1 - 1e-7)))
    return _one_hot_through_softmax(logits, logits.detach() + gumbel)


def _one_hot_through_softmax(logits: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    soft = torch.softmax(logits, -1)
    hard = F.one_hot(scores.argmax(-1), soft.shape[-1]).to(soft.dtype)
    return _straight_through(hard, soft)


def _sustain(onset: torch.Tensor, hold: torch.Tensor) -> torch.Tensor:
    """Sounding cells [..., STEPS, N_PITCHES] from onsets and hold choices (same shape): a cell
    sounds where a note starts, or where the note that sounded a step before is held. So a
    note lasts exactly as long as the generator holds it."""
    steps = [onset[..., 0, :]]
    for t in range(1, onset.shape[-2]):
        steps.append(onset[..., t, :] + hold[..., t, :] * steps[-1])
    return torch.stack(steps, -2)


def _straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    """hard values forward, the gradient of the soft ones backward."""
    return hard + (soft - soft.detach())  # exactly `hard` forward: the bracket is 0


# ----------------------------------------------------------------------------- critic


class Critic(nn.Module):
    def __init__(self, width: int = 64):
        super().__init__()
        w = width
        self.act = nn.LeakyReLU(0.2)
        # pitch first: 12 pitches x channels of an octave -> w; octaves -> w; beats; bars
        self.pt_octave = nn.Linear(12 * CHANNELS, w)
        self.pt_pitch = nn.Linear(OCTAVES * w, w)
        self.pt_beat = nn.Linear(4 * w, w)
        self.pt_bar = nn.Linear(4 * w, 2 * w)
        # time first: a beat of one pitch (note lengths, where onsets fall); bars; octaves
        self.tp_beat = nn.Linear(4 * CHANNELS, w // 2)
        self.tp_bar = nn.Linear(4 * (w // 2), w // 2)
        self.tp_octave = nn.Linear(12 * (w // 2), w)
        self.tp_pitch = nn.Linear(OCTAVES * w, 2 * w)
        # pitch classes (key, chords): chroma of each step -> beats -> bars
        self.chroma_step = nn.Linear(12 * CHANNELS, w)
        self.chroma_beat = nn.Linear(4 * w, w)
        self.chroma_bar = nn.Linear(4 * w, w)
        # rhythm: how many pitches sound / start per step and channel
        self.rhythm_beat = nn.Linear(4 * CHANNELS, w // 2)
        self.rhythm_bar = nn.Linear(4 * (w // 2), w)
        merged = 2 * w + 2 * w + w + w + 1
        self.phrase = nn.Sequential(
            nn.Conv1d(merged, 2 * w, 3, padding=1), nn.LeakyReLU(0.2),
            nn.Conv1d(2 * w, 2 * w, 3, padding=1), nn.LeakyReLU(0.2),
        )
        self.out = nn.Linear(2 * w * BARS + 1, 1)

    def forward(self, x: torch.Tensor, harmony: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        act = self.act
        c = harmony.float().reshape(n, 1)
        cl = x.permute(0, 2, 3, 1)  # [n, STEPS, N_PITCHES, CHANNELS]

        a = act(self.pt_octave(cl.reshape(n, STEPS, OCTAVES, 12 * CHANNELS)))
        a = act(self.pt_pitch(a.reshape(n, STEPS, -1)))  # [n, 64, w]
        a = act(self.pt_beat(a.reshape(n, STEPS // 4, -1)))  # [n, 16, w]
        a = act(self.pt_bar(a.reshape(n, BARS, -1)))  # [n, 4, 2w]

        b = cl.reshape(n, STEPS // 4, 4, N_PITCHES, CHANNELS).transpose(2, 3).reshape(n, STEPS // 4, N_PITCHES, -1)
        b = act(self.tp_beat(b))  # [n, 16, 48, w/2]
        b = b.reshape(n, BARS, 4, N_PITCHES, -1).transpose(2, 3).reshape(n, BARS, N_PITCHES, -1)
        b = act(self.tp_bar(b))  # [n, 4, 48, w/2]
        b = act(self.tp_octave(b.reshape(n, BARS, OCTAVES, -1)))
        b = act(self.tp_pitch(b.reshape(n, BARS, -1)))  # [n, 4, 2w]

        chroma = cl.reshape(n, STEPS, OCTAVES, 12, CHANNELS).sum(2).reshape(n, STEPS, -1)
        d = act(self.chroma_step(chroma))
        d = act(self.chroma_beat(d.reshape(n, STEPS // 4, -1)))
        d = act(self.chroma_bar(d.reshape(n, BARS, -1)))  # [n, 4, w]

        counts = cl.sum(2)  # [n, 64, CHANNELS]
        e = act(self.rhythm_beat(counts.reshape(n, STEPS // 4, -1)))
        e = act(self.rhythm_bar(e.reshape(n, BARS, -1)))  # [n, 4, w]

        h = torch.cat([a, b, d, e, c.unsqueeze(1).expand(n, BARS, 1)], 2).transpose(1, 2)
        h = self.phrase(h).flatten(1)
        return self.out(torch.cat([h, c], 1)).squeeze(1)


def gradient_penalty(critic: Critic, real: torch.Tensor, fake: torch.Tensor, harmony: torch.Tensor,
                     alpha: torch.Tensor) -> torch.Tensor:
    """WGAN-GP: (|grad D(x)| - 1)^2 at points between real and generated phrases."""
    mixed = (alpha.view(-1, 1, 1, 1) * real + (1 - alpha.view(-1, 1, 1, 1)) * fake).requires_grad_(True)
    score = critic(mixed, harmony)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


# ----------------------------------------------------------------------------- published model

GENERATOR_FILE = "generator.safetensors"
# Raise when the generator's forward pass changes meaning for the same weights, so that an
# older model is not played by the new code. 2: sampled pitches, a first-step hold starts a note.
GENERATOR_REVISION = 2


def generator_options(generator: Generator) -> dict:
    """What the model card records to rebuild the generator."""
    return {"z_phrase": generator.z_phrase, "z_bar": generator.z_bar, "width": generator.width,
            "revision": GENERATOR_REVISION}


def load_generator(ref) -> Generator:
    """The published generator of a ModelRef, in eval mode."""
    from safetensors.torch import load_file

    from ml.errors import ModelNotReady

    options = dict(ref.card["generator"])
    if options.pop("revision", 1) != GENERATOR_REVISION:
        raise ModelNotReady(f"the tracks model {ref.version} was made for an older generator: "
                            "run `mlbot train tracks` to rebuild it")
    generator = Generator(**options)
    generator.load_state_dict(load_file(str(ref.path / GENERATOR_FILE)))
    return generator.eval()
