"""Spoken captions: real speech from the ``espeak-ng`` text-to-speech engine, as 16 kHz mono audio.

``espeak-ng`` is a formant synthesiser packaged by Debian (``apt-get install espeak-ng``). It is small,
offline and deterministic: the same text with the same voice, speed and pitch gives the same samples (for
one espeak-ng version; 1.51 in Debian 12), so spoken captions are reproducible data. Several accents, voice
variants, speeds and pitches (drawn per sample from a seeded generator) make the audio vary the way different
speakers would.

Where the engine is missing, :func:`speak` raises :class:`TTSUnavailableError` with install instructions,
and :func:`spoken_or_procedural` falls back to the procedural world's audio with a warning.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from math import gcd

import numpy as np
import soundfile as sf

from mmtutorial._validate import check_choice, check_positive

SAMPLE_RATE = 16_000
# espeak-ng's own English voices (not the MBROLA ones, which need extra packages) ...
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029")
# ... and its voice variants (files in espeak-ng-data/voices/!v): male m1-m3, female f1-f4.
VARIANTS = ("m1", "m2", "m3", "f1", "f2", "f3", "f4")
SPEEDS = (130, 190)  # words per minute, inclusive range (espeak-ng default 175)
PITCHES = (30, 70)  # 0-99 (espeak-ng default 50)

INSTALL_HINT = (
    "espeak-ng, the text-to-speech engine for spoken captions, was not found on PATH. Install it with "
    "`sudo apt-get install espeak-ng` (Debian/Ubuntu; `brew install espeak-ng` on macOS), or run "
    "`make test` as root, which installs it. Until then the procedural world's audio stands in for speech "
    "(see mmtutorial.data.speech.spoken_or_procedural)."
)


class TTSUnavailableError(RuntimeError):
    """The ``espeak-ng`` executable is not available; the message says how to install it."""


@dataclass(frozen=True)
class Voice:
    """espeak-ng settings for one utterance: accent, variant, speed (words/minute) and pitch (0-99)."""

    accent: str = "en-us"
    variant: str = "m1"
    speed: int = 160
    pitch: int = 50

    def __post_init__(self) -> None:
        check_choice("accent", self.accent, ACCENTS)
        check_choice("variant", self.variant, VARIANTS)
        check_positive("speed", self.speed)
        if not 0 <= self.pitch <= 99:
            raise ValueError(f"pitch must be in [0, 99], got {self.pitch!r}")

    @property
    def espeak_name(self) -> str:
        """The ``-v`` argument, e.g. ``en-us+f3``."""
        return f"{self.accent}+{self.variant}"


def random_voice(rng: np.random.Generator) -> Voice:
    """A voice drawn uniformly: accent, variant, speed in SPEEDS, pitch in PITCHES."""
    return Voice(
        accent=ACCENTS[int(rng.integers(len(ACCENTS)))],
        variant=VARIANTS[int(rng.integers(len(VARIANTS)))],
        speed=int(rng.integers(SPEEDS[0], SPEEDS[1] + 1)),
        pitch=int(rng.integers(PITCHES[0], PITCHES[1] + 1)),
    )


def espeak_path() -> str:
    """Path of the ``espeak-ng`` executable; raise :class:`TTSUnavailableError` if it is not installed."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise TTSUnavailableError(INSTALL_HINT)
    return path


def tts_available() -> bool:
    """Whether ``espeak-ng`` is on PATH."""
    return shutil.which("espeak-ng") is not None


def _run(args: list[str], text: str) -> bytes:
    # The text goes through stdin, so a caption starting with "-" is never read as an option.
    result = subprocess.run([espeak_path(), *args, "--stdin"], input=text.encode(), capture_output=True)
    if result.returncode != 0 or result.stderr.strip():
        raise RuntimeError(f"espeak-ng {' '.join(args)} failed: {result.stderr.decode().strip()}")
    return result.stdout


def _check_text(text: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}")


def speak(text: str, voice: Voice | None = None, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speak ``text``; return float32 mono samples (L,) in [-1, 1] at ``sample_rate`` Hz.

    espeak-ng writes 16-bit WAV at 22,050 Hz; the samples are resampled with a polyphase filter
    (``scipy.signal.resample_poly``, up/down = sample_rate/22050 reduced), which is deterministic.
    """
    _check_text(text)
    check_positive("sample_rate", sample_rate)
    voice = voice or Voice()
    wav = _run(["-v", voice.espeak_name, "-s", str(voice.speed), "-p", str(voice.pitch), "--stdout"], text)
    # espeak-ng streams the WAV, so its header has placeholder lengths; libsndfile reads it regardless.
    audio, native_rate = sf.read(io.BytesIO(wav), dtype="float32")
    if native_rate != sample_rate:
        from scipy.signal import resample_poly  # imported here: scipy.signal takes seconds to import

        g = gcd(sample_rate, native_rate)
        audio = resample_poly(audio, sample_rate // g, native_rate // g).astype(np.float32)
    return np.clip(audio, -1.0, 1.0)


def phonemes(text: str, voice: Voice | None = None) -> str:
    """The IPA phonemes espeak-ng speaks for ``text`` (e.g. 'a grinning face' -> 'ɐ ɡɹˈɪnɪŋ fˈeɪs')."""
    _check_text(text)
    voice = voice or Voice()
    return _run(["-q", "--ipa", "-v", voice.espeak_name], text).decode().strip()


def spoken_or_procedural(
    text: str, fallback: Callable[[], np.ndarray], voice: Voice | None = None
) -> tuple[np.ndarray, str]:
    """Speak ``text`` if espeak-ng is installed, else warn and return ``fallback()`` instead.

    ``fallback`` makes the stand-in audio, e.g. ``lambda: world.render_audio(world.scene(i))``.
    Returns (float32 samples (L,) at 16 kHz, source) with source "espeak-ng" or "procedural".
    """
    try:
        return speak(text, voice), "espeak-ng"
    except TTSUnavailableError as err:
        warnings.warn(str(err), RuntimeWarning, stacklevel=2)
        return np.asarray(fallback(), dtype=np.float32), "procedural"


def espeak_version() -> str:
    """espeak-ng's version string, e.g. '1.51'."""
    out = subprocess.run([espeak_path(), "--version"], capture_output=True, text=True).stdout
    return out.split(":")[1].split()[0] if ":" in out else out.strip()


# moved to mmtutorial.data.writers (the dataset writers live together); still importable from here
_MOVED = ("iter_spoken_pairs", "spoken_pairs", "write_spoken_captions")


def __getattr__(name: str):
    if name in _MOVED:
        import mmtutorial.data.writers as writers

        return getattr(writers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
