"""Spoken captions from espeak-ng: deterministic, 16 kHz, plausible length, saying what the caption says;
and without the engine, the documented message and the procedural stand-in."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mmtutorial.data import speech
from mmtutorial.data.disk import load_dataset
from mmtutorial.data.speech import (
    SAMPLE_RATE,
    TTSUnavailableError,
    Voice,
    phonemes,
    random_voice,
    speak,
    spoken_or_procedural,
    spoken_pairs,
    write_spoken_captions,
)

needs_espeak = pytest.mark.skipif(
    not speech.tts_available(), reason="espeak-ng not installed (apt-get install espeak-ng)"
)
SHORT = "a red circle"
LONG = "a large red circle to the left of a small blue star and a big green square"


def load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "data_scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_espeak(monkeypatch, tmp_path):
    """A PATH on which espeak-ng cannot be found."""
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not speech.tts_available()


@needs_espeak
def test_speech_is_deterministic_16k_mono():
    a, b = speak(SHORT), speak(SHORT)
    assert a.dtype == np.float32 and a.ndim == 1
    assert np.array_equal(a, b)  # same caption + voice -> same samples
    assert np.abs(a).max() > 0.05 and np.abs(a).max() <= 1.0  # not silent, not clipped beyond range
    other = speak(SHORT, Voice("en-gb", "f3", 160, 70))
    assert len(other) != len(a) or not np.array_equal(other, a)  # another voice sounds different


@needs_espeak
def test_duration_is_plausible_and_grows_with_caption_and_slowness():
    seconds = {t: len(speak(t)) / SAMPLE_RATE for t in (SHORT, LONG)}
    for text, s in seconds.items():
        words = len(text.split())
        assert 0.15 * words < s < 0.8 * words + 1.0, (text, s)
    assert seconds[LONG] > 2 * seconds[SHORT]
    slow = len(speak(LONG, Voice(speed=130))) / SAMPLE_RATE
    fast = len(speak(LONG, Voice(speed=190))) / SAMPLE_RATE
    assert slow > 1.2 * fast


@needs_espeak
def test_phonemes_say_the_caption():
    ph = {t: phonemes(t) for t in ("a red circle", "a blue star", "a grinning face")}
    assert all(ph.values()) and len(set(ph.values())) == 3
    assert "ɹˈɛd" in ph["a red circle"] and "blˈuː" in ph["a blue star"]
    # every content word is spoken, as it sounds on its own ("of a" may merge into one phoneme word)
    spoken = phonemes(LONG)
    for word in ("red", "blue", "green", "big", "circle"):
        assert phonemes(word) in spoken, word
    assert len(LONG.split()) - 3 <= len(spoken.split()) <= len(LONG.split())


@needs_espeak
def test_voice_choice_is_seeded_and_varied():
    voices = [random_voice(np.random.default_rng([0, i, 1])) for i in range(40)]
    assert voices == [random_voice(np.random.default_rng([0, i, 1])) for i in range(40)]
    assert len({v.accent for v in voices}) >= 4 and len({v.variant for v in voices}) >= 5
    assert all(130 <= v.speed <= 190 and 30 <= v.pitch <= 70 for v in voices)


def test_voice_and_text_are_checked():
    with pytest.raises(ValueError, match="accent"):
        Voice(accent="klingon")
    with pytest.raises(ValueError, match="pitch"):
        Voice(pitch=120)
    with pytest.raises(ValueError, match="text"):
        speak("   ")
    with pytest.raises(ValueError, match="source"):
        spoken_pairs("podcasts", 2)


@needs_espeak
@pytest.mark.parametrize("source", ["shapes", "emoji"])
def test_written_pairs_are_deterministic_and_read_back_at_16k(tmp_path, source):
    write_spoken_captions(tmp_path / "a", source, 3, seed=2)
    write_spoken_captions(tmp_path / "b", source, 3, seed=2)
    ma, mb = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "ab")
    assert ma["files"] == mb["files"]
    assert ma["sample_rate"] == SAMPLE_RATE and ma["extra"]["audio_source"] == ["espeak-ng"]
    ds = load_dataset(tmp_path / "a")
    for i, item in enumerate(spoken_pairs(source, 3, seed=2)):
        rel = json.loads((tmp_path / "a" / "captions.jsonl").read_text().splitlines()[i])["audio"]
        info = sf.info(tmp_path / "a" / rel)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert ds[i]["caption"] == item["caption"]
        assert np.allclose(ds[i]["audio"].numpy(), item["audio"], atol=1 / 32767)
        assert item["audio"].shape == speak(item["caption"], Voice(**_voice(item["meta"]))).shape


def _voice(meta: dict) -> dict:
    accent, variant = meta["voice"].split("+")
    return {"accent": accent, "variant": variant, "speed": meta["speed"], "pitch": meta["pitch"]}


def test_missing_engine_gives_the_documented_message(no_espeak):
    with pytest.raises(TTSUnavailableError) as err:
        speak(SHORT)
    assert isinstance(err.value, RuntimeError)
    message = str(err.value)
    assert "apt-get install espeak-ng" in message and "make test" in message and "procedural" in message
    with pytest.raises(TTSUnavailableError):
        spoken_pairs("emoji", 2)


def test_missing_engine_falls_back_to_procedural_audio(no_espeak):
    from mmtutorial.data import ShapesWorld, WorldConfig

    world = ShapesWorld(WorldConfig(seed=0))
    with pytest.warns(RuntimeWarning, match="apt-get install espeak-ng"):
        audio, origin = spoken_or_procedural(SHORT, lambda: world.render_audio(world.scene(0)))
    assert origin == "procedural"
    assert np.array_equal(audio, world.render_audio(world.scene(0)))
    with pytest.warns(RuntimeWarning):
        items = spoken_pairs("shapes", 2, allow_procedural=True)
    assert [it["meta"]["audio"] for it in items] == ["procedural"] * 2
    assert np.array_equal(items[1]["audio"], world.render_audio(world.scene(1)))


def test_cli_without_engine_exits_with_the_hint(no_espeak, tmp_path, capsys):
    main = load_script("make_spoken_captions").main
    assert main(["--source", "emoji", "--n", "2", "--out", str(tmp_path / "e")]) == 3
    assert "apt-get install espeak-ng" in capsys.readouterr().err


@needs_espeak
def test_cli(tmp_path):
    main = load_script("make_spoken_captions").main
    assert main(["--source", "shapes", "--n", "2", "--out", str(tmp_path / "s")]) == 0
    assert load_dataset(tmp_path / "s")[1]["audio"].ndim == 1
