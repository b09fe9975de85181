"""Background textures for mixing and negatives: synthetic rain, wind, traffic, crowd, machinery, music."""

from __future__ import annotations

import fnmatch
import io
import shutil
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal as sps

from trainer.data import midi
from trainer.data.clips import Clip, load_audio, resample, trim_silence
from trainer.data.lowfeature import noise
from trainer.errors import DataError

BACKGROUND_RMS_DBFS = -26.0  # level every synthetic background is normalised to
PEAK_LIMIT = 0.98
KINDS = ("rain", "wind", "traffic", "crowd", "machinery", "music", "white", "pink", "brown")
BABBLE_TALKERS_RANGE = (6, 12)
BABBLE_WORDS_PER_SECOND = 3.0
ESPEAK_TIMEOUT_SECONDS = 60
BABBLE_TEXT = (
    "the a and of to in is you that it he was for on are as with his they at be this have from or one "
    "had by word but not what all were we when your can said there use an each which she do how their "
    "if will up other about out many then them these so some her would make like him into time has look "
    "two more write go see number no way could people my than first water been call who oil its now "
    "find long down day did get come made may part morning train station coffee weather tomorrow"
)
BABBLE_WORDS = tuple(BABBLE_TEXT.split())
# formants (Hz) of five vowels, for the babble fallback without espeak-ng
VOWEL_FORMANTS_HZ = (
    (730, 1090, 2440),
    (530, 1840, 2480),
    (270, 2290, 3010),
    (570, 840, 2410),
    (300, 870, 2240),
)
CHORD_PROGRESSIONS = ((0, 7, 9, 5), (0, 5, 7, 0), (9, 5, 0, 7), (0, 9, 5, 7), (2, 7, 0, 0))  # scale steps
MUSIC_PROGRAMS = (0, 4, 16, 24, 48, 88)  # piano, e-piano, organ, guitar, strings, pad
BASS_PROGRAMS = (32, 33, 38)


def _normalise(x: np.ndarray, rms_dbfs: float = BACKGROUND_RMS_DBFS) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x**2))) if len(x) else 0.0
    if rms == 0:
        return x.astype(np.float32)
    x = x * (10 ** (rms_dbfs / 20) / rms)
    peak = float(np.max(np.abs(x)))
    if peak > PEAK_LIMIT:
        x *= PEAK_LIMIT / peak
    return x.astype(np.float32)


def _filter(x: np.ndarray, sample_rate: int, kind: str, cutoff: float | tuple[float, float], order: int = 2):
    nyquist = sample_rate / 2
    if isinstance(cutoff, tuple):
        band = (max(1.0, cutoff[0]), min(cutoff[1], 0.95 * nyquist))
        sos = sps.butter(order, band, btype=kind, fs=sample_rate, output="sos")
    else:
        sos = sps.butter(order, min(cutoff, 0.95 * nyquist), btype=kind, fs=sample_rate, output="sos")
    return sps.sosfilt(sos, x)


def _smooth(n: int, knots_per_second: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A slowly wandering standard-normal curve (knots linearly interpolated, then smoothed)."""
    n_knots = max(2, int(n / sample_rate * knots_per_second) + 2)
    curve = np.interp(np.arange(n), np.linspace(0, n, n_knots), rng.standard_normal(n_knots))
    width = max(1, int(sample_rate / knots_per_second / 2))
    if n > width:  # centred moving average, by cumulative sums (O(n) whatever the width)
        sums = np.concatenate(
            [[0.0], np.cumsum(np.pad(curve, (width // 2, width - 1 - width // 2), mode="edge"))]
        )
        curve = (sums[width:] - sums[:-width]) / width
    return curve


def rain(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Dense random drop clicks (fine + a few heavy) over band-passed hiss."""
    hiss = _filter(rng.standard_normal(n), sample_rate, "bandpass", (800.0, 8000.0)) * 0.3
    out = hiss
    kernel_n = max(8, int(0.004 * sample_rate))
    decay = np.exp(-np.arange(kernel_n) / (kernel_n / 5))
    for rate, level, band in (
        (rng.uniform(800, 3000), 0.4, (2000.0, 9000.0)),
        (rng.uniform(20, 80), 0.6, (300.0, 3000.0)),
    ):
        count = rng.poisson(rate * n / sample_rate)
        train = np.zeros(n)
        np.add.at(train, rng.integers(0, n, count), rng.exponential(level, count))
        kernel = _filter(rng.standard_normal(kernel_n) * decay, sample_rate, "bandpass", band)
        out = out + sps.fftconvolve(train, kernel)[:n]
    return out


def wind(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Low-passed noise with slow gusts and a faint moving whistle."""
    cutoff = rng.uniform(250.0, 700.0)
    body = _filter(rng.standard_normal(n), sample_rate, "lowpass", cutoff, order=3)
    gusts = np.exp(0.6 * _smooth(n, 0.4, sample_rate, rng))
    whistle_hz = rng.uniform(500.0, 1200.0)
    whistle = _filter(rng.standard_normal(n), sample_rate, "bandpass", (whistle_hz * 0.9, whistle_hz * 1.1))
    whistle *= np.clip(_smooth(n, 0.3, sample_rate, rng), 0, None) * 0.3
    return body * gusts + whistle


def traffic(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Low rumble plus vehicles passing by (noise and engine harmonics swelling, with a Doppler glide)."""
    t = np.arange(n) / sample_rate
    seconds = n / sample_rate
    out = _filter(noise("brown", n, rng), sample_rate, "lowpass", 150.0) * 0.5
    for _ in range(max(1, rng.poisson(seconds / 3.0))):
        centre = rng.uniform(-1.0, seconds + 1.0)
        width = rng.uniform(0.8, 3.0)
        envelope = 1.0 / (1.0 + ((t - centre) / width) ** 2)
        tyres = _filter(rng.standard_normal(n), sample_rate, "lowpass", rng.uniform(800.0, 2000.0))
        f0 = rng.uniform(25.0, 60.0)
        doppler = 1.0 - 0.05 * np.tanh((t - centre) / width)
        phase = 2 * np.pi * np.cumsum(f0 * doppler) / sample_rate
        engine = sum(np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k for k in range(1, 8))
        out = out + envelope * (tyres + 0.3 * engine) * rng.uniform(0.5, 1.5)
    return out


def _espeak_utterance(text: str, voice: str, speed: int, pitch: int, sample_rate: int) -> np.ndarray:
    command = ["espeak-ng", "--stdout", "-v", voice, "-s", str(speed), "-p", str(pitch), text]
    result = subprocess.run(command, capture_output=True, timeout=ESPEAK_TIMEOUT_SECONDS)
    if result.returncode != 0 or len(result.stdout) < 100:
        return np.zeros(0, dtype=np.float32)
    x, rate = sf.read(io.BytesIO(result.stdout), dtype="float32")
    return trim_silence(resample(x, rate, sample_rate), sample_rate)


def _babble_espeak(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray | None:
    from trainer.data.digits import espeak_voices

    voices = [voice.name for voice in espeak_voices()]
    if not voices:
        return None
    talkers = int(rng.integers(BABBLE_TALKERS_RANGE[0], BABBLE_TALKERS_RANGE[1] + 1))
    words_each = max(4, int(n / sample_rate * BABBLE_WORDS_PER_SECOND))
    requests = [
        (
            " ".join(rng.choice(BABBLE_WORDS, size=words_each)),
            voices[int(rng.integers(len(voices)))],
            int(rng.integers(140, 200)),
            int(rng.integers(20, 80)),
        )
        for _ in range(talkers)
    ]
    with ThreadPoolExecutor() as pool:
        speech = list(pool.map(lambda r: _espeak_utterance(*r, sample_rate), requests))
    out = np.zeros(n)
    for x in speech:
        if len(x) == 0:
            continue
        x = x / (np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-9)
        index = (int(rng.integers(len(x))) + np.arange(n)) % len(x)  # loop the talker over the clip
        out += x[index] * 10 ** (rng.uniform(-8, 0) / 20)
    return out if np.any(out) else None


def _babble_formants(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Talker-like noise: pulse/noise sources through changing vowel formants with syllable envelopes."""
    out = np.zeros(n)
    for _ in range(int(rng.integers(BABBLE_TALKERS_RANGE[0], BABBLE_TALKERS_RANGE[1] + 1))):
        f0 = rng.uniform(90.0, 240.0)
        phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.05 * _smooth(n, 2.0, sample_rate, rng))) / sample_rate
        source = np.sign(np.sin(phase)) * 0.5 + 0.5 * rng.standard_normal(n)
        talker = np.zeros(n)
        start = 0
        while start < n:
            length = int(rng.uniform(0.12, 0.3) * sample_rate)
            seg = source[start : start + length]
            voiced = np.zeros(len(seg))
            for formant in VOWEL_FORMANTS_HZ[int(rng.integers(len(VOWEL_FORMANTS_HZ)))]:
                if formant < 0.45 * sample_rate:
                    voiced += _filter(seg, sample_rate, "bandpass", (formant * 0.9, formant * 1.1))
            talker[start : start + len(seg)] = voiced * np.hanning(len(seg) + 2)[1:-1]
            start += length + int(rng.exponential(0.08) * sample_rate)
        out += talker * 10 ** (rng.uniform(-8, 0) / 20)
    return out


def crowd(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Babble: many espeak-ng talkers at once (formant-filtered noise when espeak-ng is missing)."""
    if shutil.which("espeak-ng"):
        out = _babble_espeak(n, sample_rate, rng)
        if out is not None:
            return out
    return _babble_formants(n, sample_rate, rng)


def machinery(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Harmonic hum with a little jitter plus band-passed noise amplitude-modulated at the rotation rate."""
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(40.0, 120.0)
    jitter = 1 + 0.002 * _smooth(n, 1.0, sample_rate, rng)
    phase = 2 * np.pi * np.cumsum(f0 * jitter) / sample_rate
    slope = rng.uniform(0.5, 1.5)
    hum = sum(
        np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**slope
        for k in range(1, 12)
        if k * f0 < 0.45 * sample_rate
    )
    rotation_hz = rng.uniform(5.0, 30.0)
    depth = rng.uniform(0.4, 0.9)
    low = rng.uniform(400.0, 1500.0)
    grind = _filter(rng.standard_normal(n), sample_rate, "bandpass", (low, low * 3))
    grind *= 1 - depth * (0.5 + 0.5 * np.sin(2 * np.pi * rotation_hz * t + rng.uniform(0, 2 * np.pi)))
    return hum + grind * rng.uniform(0.3, 1.0)


def _chords(rng: np.random.Generator, seconds: float) -> list[tuple[float, float, list[int]]]:
    """``(start, duration, notes)`` of a random chord progression covering ``seconds``."""
    root = int(rng.integers(48, 60))
    major = (0, 2, 4, 5, 7, 9, 11)
    progression = CHORD_PROGRESSIONS[int(rng.integers(len(CHORD_PROGRESSIONS)))]
    length = float(rng.uniform(0.6, 2.0))
    out, start, i = [], 0.0, 0
    while start < seconds:
        step = progression[i % len(progression)]
        degree = major.index(step) if step in major else 0
        notes = [root + major[(degree + k) % 7] + 12 * ((degree + k) // 7) for k in (0, 2, 4)]
        out.append((start, length, notes))
        start += length
        i += 1
    return out


def music(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A random chord progression with a bass line: fluidsynth when available, else additive tones."""
    seconds = n / sample_rate
    chords = _chords(rng, seconds)
    soundfont = midi.find_soundfont() if midi.fluidsynth_available() else None
    if soundfont is not None:
        program = int(MUSIC_PROGRAMS[int(rng.integers(len(MUSIC_PROGRAMS)))])
        bass = int(BASS_PROGRAMS[int(rng.integers(len(BASS_PROGRAMS)))])
        notes = []
        for start, length, chord in chords:
            velocity = int(rng.integers(60, 100))
            notes += [midi.Note(start, length * 0.95, note, velocity, program, 0) for note in chord]
            notes.append(midi.Note(start, length * 0.9, chord[0] - 12, velocity, bass, 1))
        try:
            x = midi.render(notes, soundfont, sample_rate, reverb=True)
            return np.resize(x, n) if len(x) else np.zeros(n)
        except DataError:
            pass
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for start, length, chord in chords:
        a, b = int(start * sample_rate), min(n, int((start + length) * sample_rate))
        if a >= n:
            break
        local = t[a:b] - start
        envelope = np.minimum(local / 0.02, 1.0) * np.exp(-local * rng.uniform(0.5, 2.0))
        for note in [*chord, chord[0] - 12]:
            freq = 440.0 * 2 ** ((note - 69) / 12)
            tone = sum(
                np.sin(2 * np.pi * k * freq * local) / k**1.5
                for k in range(1, 6)
                if k * freq < 0.45 * sample_rate
            )
            out[a:b] += envelope * tone
    return out


_GENERATORS: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "rain": rain,
    "wind": wind,
    "traffic": traffic,
    "crowd": crowd,
    "machinery": machinery,
    "music": music,
    "white": lambda n, sr, rng: noise("white", n, rng),
    "pink": lambda n, sr, rng: noise("pink", n, rng),
    "brown": lambda n, sr, rng: noise("brown", n, rng),
}


def make_background(kind: str, seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A synthetic background texture.

    Args:
        kind: one of :data:`KINDS`: ``rain``, ``wind``, ``traffic``, ``crowd`` (espeak-ng babble, or
            formant-filtered noise without it), ``machinery``, ``music`` (fluidsynth chords, or additive
            tones without it), ``white``, ``pink``, ``brown``.
        seconds: duration.
        sample_rate: Hz.
        rng: random source; the same generator state gives the same texture.

    Returns:
        float32 mono samples at -26 dBFS RMS (peak <= 0.98).

    Raises:
        DataError: an unknown kind or a non-positive duration.
    """
    if kind not in _GENERATORS:
        raise DataError(f"background kind: got {kind!r}; expected one of {', '.join(KINDS)}")
    n = round(seconds * sample_rate)
    if n < 1:
        raise DataError(f"background seconds: got {seconds}; expected > 0")
    return _normalise(_GENERATORS[kind](n, sample_rate, rng))


# Recorded beds from the Debian packages (trainer.data.debian.fetch): package -> [(glob on the path, kind)]
REAL_BEDS: dict[str, tuple[tuple[str, str], ...]] = {
    "supertux-data": (
        ("*/sounds/rain.wav", "rain"),
        ("*/sounds/waterfall.wav", "water"),
        ("*/sounds/lava.wav", "water"),
    ),
    "wesnoth-1.16-data": (("*/sounds/ambient/*", "ambient"),),
    "sonic-pi-samples": (
        ("*/ambi_drone.flac", "ambient"),
        ("*/ambi_glass_hum.flac", "ambient"),
        ("*/ambi_haunted_hum.flac", "ambient"),
        ("*/ambi_lunar_land.flac", "ambient"),
        ("*/ambi_sauna.flac", "ambient"),
        ("*/ambi_dark_woosh.flac", "ambient"),
        ("*/loop_industrial.flac", "machinery"),
        ("*/loop_3d_printer.flac", "machinery"),
        ("*/loop_*", "music"),
    ),
    "torcs-data": (("*engine*", "machinery"), ("*/road-ride.wav", "traffic")),
}


def real_backgrounds(
    cache_dir: str | Path | None = None,
    sample_rate: int = 16000,
    max_seconds: float = 30.0,
    packages: Sequence[str] | None = None,
) -> list[Clip]:
    """Recorded beds (rain, water, ambient, machinery, music loops) from the fetched Debian packages.

    Only packages already fetched are used (nothing is downloaded); each file's first ``max_seconds``
    are read. Label = the bed's kind, group = the package.
    """
    from trainer.data.debian import COMPLETE_MARKER, debian_dir

    root = debian_dir(cache_dir)
    clips: list[Clip] = []
    for package, patterns in REAL_BEDS.items():
        directory = root / package
        if (packages is not None and package not in packages) or not (directory / COMPLETE_MARKER).exists():
            continue
        files = sorted(p for p in directory.rglob("*") if p.is_file() and not p.is_symlink())
        for path in files:
            rel = path.relative_to(directory).as_posix()
            kind = next((kind for pattern, kind in patterns if fnmatch.fnmatch(rel, pattern)), None)
            if kind is None or path.suffix.lower() not in (".wav", ".ogg", ".flac", ".oga"):
                continue
            try:
                x = trim_silence(load_audio(path, sample_rate, max_seconds=max_seconds), sample_rate)
            except DataError:
                continue
            if len(x) >= sample_rate // 4:
                clips.append(Clip(x, sample_rate, kind, package, str(path)))
    return clips


# ---------------------------------------------------------------------------------------------- events
# Short sound events that are *not* the target: calibration negatives at enrollment (and distractors in
# benchmarks). Beds alone hold no events, so a threshold set on them fires on any sound that merely
# resembles the target (a rising whistle for a two-tone alarm).
EVENT_KINDS = ("tone", "beeps", "two-tone", "chirp", "whistle", "bell", "clicks", "noise-burst", "speech")
EVENT_RMS_DBFS = -20.0  # level every synthetic event is normalised to (over its whole length)
EVENT_FADE_SECONDS = 0.005  # raised-cosine fade in and out, so no event starts with a click


def _fade(x: np.ndarray, sample_rate: int) -> np.ndarray:
    n = min(len(x) // 2, max(1, int(EVENT_FADE_SECONDS * sample_rate)))
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n))
    x = np.array(x, dtype=np.float64)
    x[:n] *= ramp
    x[len(x) - n :] *= ramp[::-1]
    return x


def _harmonic(phase: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A tone on ``phase`` (radians) with 1-5 harmonics of random strength."""
    return sum(
        np.sin(k * phase) * (1.0 if k == 1 else rng.uniform(0.0, 0.6) / k)
        for k in range(1, int(rng.integers(1, 6)) + 1)
    )


def _tone(n: int, sample_rate: int, rng: np.random.Generator, freq: float) -> np.ndarray:
    t = np.arange(n) / sample_rate
    envelope = np.exp(-t * rng.uniform(0.0, 6.0))
    return _harmonic(2 * np.pi * freq * t, rng) * envelope


def _event_tone(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.1, 1.5) * sample_rate)
    return _tone(n, sample_rate, rng, float(np.exp(rng.uniform(np.log(200.0), np.log(4000.0)))))


def _event_beeps(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    freq = float(np.exp(rng.uniform(np.log(400.0), np.log(4000.0))))
    on, off = int(rng.uniform(0.05, 0.3) * sample_rate), int(rng.uniform(0.05, 0.3) * sample_rate)
    beep = _fade(_tone(on, sample_rate, rng, freq), sample_rate)
    return np.concatenate([np.r_[beep, np.zeros(off)] for _ in range(int(rng.integers(2, 6)))])


def _event_two_tone(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.5, 2.5) * sample_rate)
    t = np.arange(n) / sample_rate
    low = float(rng.uniform(400.0, 2500.0))
    step = float(rng.uniform(0.1, 0.45))
    freq = np.where((t // step) % 2 == 0, low, low * rng.uniform(1.1, 1.7))
    return _harmonic(2 * np.pi * np.cumsum(freq) / sample_rate, rng)


def _event_chirp(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    n = int(rng.uniform(0.1, 1.5) * sample_rate)
    f0, f1 = np.exp(rng.uniform(np.log(200.0), np.log(5000.0), size=2))
    sweep = f0 * (f1 / f0) ** np.linspace(0.0, 1.0, n)
    return _harmonic(2 * np.pi * np.cumsum(sweep) / sample_rate, rng)


def _event_whistle(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A whistled glide (rising, falling or up-and-down) with vibrato and a little breath noise."""
    n = int(rng.uniform(0.3, 2.0) * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(700.0, 2500.0)
    shape = (rng.uniform(0.5, 2.0) ** np.array([1.0, -1.0]))[int(rng.integers(2))]  # end/start ratio
    glide = f0 * shape ** (t / t[-1]) if rng.random() < 0.7 else f0 * (1 + 0.4 * np.sin(np.pi * t / t[-1]))
    vibrato = 1 + rng.uniform(0.0, 0.03) * np.sin(2 * np.pi * rng.uniform(4.0, 8.0) * t)
    tone = np.sin(2 * np.pi * np.cumsum(glide * vibrato) / sample_rate)
    return tone + 0.05 * rng.standard_normal(n)


def _event_bell(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Inharmonic decaying partials: bells, chimes, struck metal and glass."""
    n = int(rng.uniform(0.3, 2.5) * sample_rate)
    t = np.arange(n) / sample_rate
    f0 = float(np.exp(rng.uniform(np.log(150.0), np.log(2500.0))))
    out = np.zeros(n)
    for ratio in (1.0, *rng.uniform(1.3, 6.5, size=int(rng.integers(2, 7)))):
        if f0 * ratio < 0.45 * sample_rate:
            decay = rng.uniform(1.0, 8.0) * ratio**0.5
            out += np.sin(2 * np.pi * f0 * ratio * t + rng.uniform(0, 2 * np.pi)) * np.exp(-decay * t) / ratio
    return out


def _event_clicks(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A train of 1-12 clicks or knocks (band-passed impulses), regular or not."""
    count = int(rng.integers(1, 13))
    n = int((rng.uniform(0.05, 0.2) * count + 0.1) * sample_rate)
    train = np.zeros(n)
    positions = np.sort(rng.integers(0, n - int(0.05 * sample_rate), count))
    if rng.random() < 0.5:  # regular, like a clock or a door knock
        positions = np.linspace(0, n - int(0.06 * sample_rate), count).astype(int)
    train[positions] = rng.uniform(0.5, 1.0, count)
    low = float(np.exp(rng.uniform(np.log(100.0), np.log(4000.0))))
    kernel_n = int(rng.uniform(0.003, 0.03) * sample_rate)
    kernel = rng.standard_normal(kernel_n) * np.exp(-np.arange(kernel_n) / (kernel_n / 4))
    kernel = _filter(kernel, sample_rate, "bandpass", (low, low * rng.uniform(1.5, 4.0)))
    return sps.fftconvolve(train, kernel)[:n]


def _event_noise_burst(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Band-passed noise with an attack/decay envelope: hisses, puffs, slams, rustles."""
    n = int(rng.uniform(0.05, 1.5) * sample_rate)
    low = float(np.exp(rng.uniform(np.log(80.0), np.log(5000.0))))
    x = _filter(rng.standard_normal(n), sample_rate, "bandpass", (low, low * rng.uniform(1.3, 8.0)))
    t = np.arange(n) / n
    attack = rng.uniform(0.01, 0.5)
    return x * np.minimum(t / attack, 1.0) * np.exp(-t * rng.uniform(0.0, 5.0))


def _event_speech(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One to four words from one espeak-ng talker (formant-filtered noise without espeak-ng)."""
    if shutil.which("espeak-ng"):
        from trainer.data.digits import espeak_voices

        voices = [voice.name for voice in espeak_voices()]
        if voices:
            text = " ".join(rng.choice(BABBLE_WORDS, size=int(rng.integers(1, 5))))
            voice = voices[int(rng.integers(len(voices)))]
            speed, pitch = int(rng.integers(130, 200)), int(rng.integers(20, 80))
            x = _espeak_utterance(text, voice, speed, pitch, sample_rate)
            if len(x):
                return x
    return _babble_formants(int(rng.uniform(0.4, 1.5) * sample_rate), sample_rate, rng)


_EVENTS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "tone": _event_tone,
    "beeps": _event_beeps,
    "two-tone": _event_two_tone,
    "chirp": _event_chirp,
    "whistle": _event_whistle,
    "bell": _event_bell,
    "clicks": _event_clicks,
    "noise-burst": _event_noise_burst,
    "speech": _event_speech,
}


def make_event(kind: str, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A short synthetic sound event (about 0.05-2.5 s) of one of :data:`EVENT_KINDS`.

    Args:
        kind: ``tone``, ``beeps``, ``two-tone`` (an alarm), ``chirp`` (a sweep), ``whistle`` (a glide with
            vibrato), ``bell`` (inharmonic partials), ``clicks`` (knocks, ticks), ``noise-burst`` or
            ``speech`` (espeak-ng words; formant-filtered noise without espeak-ng).
        sample_rate: Hz.
        rng: random source; the same generator state gives the same event.

    Returns:
        float32 mono samples at -20 dBFS RMS (peak <= 0.98), faded in and out.

    Raises:
        DataError: an unknown kind.
    """
    if kind not in _EVENTS:
        raise DataError(f"event kind: got {kind!r}; expected one of {', '.join(EVENT_KINDS)}")
    return _normalise(_fade(_EVENTS[kind](sample_rate, rng), sample_rate), EVENT_RMS_DBFS)


def add_event(mixture: np.ndarray, event: np.ndarray, start: int, snr_db: float) -> float:
    """Add ``event`` into ``mixture`` (in place) from sample ``start`` at ``snr_db`` over the bed there.

    The event's power is measured over its active part (as :func:`trainer.data.augment.mix_at_snr`),
    the bed's over the samples the event covers. Returns the gain applied to the event.
    """
    from trainer.data.augment import active_power

    end = min(len(mixture), start + len(event))
    if end <= start:
        return 0.0
    event = np.asarray(event[: end - start], dtype=np.float64)
    bed_power = float(np.mean(np.asarray(mixture[start:end], dtype=np.float64) ** 2))
    event_power = active_power(event)
    if event_power <= 0:
        return 0.0
    gain = np.sqrt(max(bed_power, 1e-10) * 10 ** (snr_db / 10) / event_power)
    mixture[start:end] += (gain * event).astype(mixture.dtype)
    return float(gain)


def events_in_beds(
    events: Sequence[np.ndarray],
    sample_rate: int,
    rng: np.random.Generator,
    kinds: Sequence[str] = ("rain", "wind", "traffic", "crowd", "machinery", "music", "pink", "brown"),
    snr_db: tuple[float, float] = (0.0, 20.0),
    context_seconds: float = 1.0,
    bed_seconds: float = 60.0,
    gain_db: tuple[float, float] = (-12.0, 0.0),
) -> list[np.ndarray]:
    """Each event in its own stretch of a synthetic bed, with ``context_seconds`` of bed around it.

    One bed of ``bed_seconds`` per kind is made, and each event gets a random stretch of a random one,
    a random level (``gain_db`` re -26 dBFS) and a random SNR in ``snr_db`` (:func:`add_event`). A
    segment that would clip is scaled down as a whole (the SNR stays).

    Returns:
        One float32 segment per event, ``len(event) + 2 * context`` samples long.
    """
    beds = [make_background(kind, bed_seconds, sample_rate, rng) for kind in kinds]
    context = int(context_seconds * sample_rate)
    out = []
    for event in events:
        n = len(event) + 2 * context
        bed = beds[int(rng.integers(len(beds)))]
        start = int(rng.integers(len(bed)))
        segment = bed[(start + np.arange(n)) % len(bed)] * np.float32(10 ** (rng.uniform(*gain_db) / 20))
        add_event(segment, event, context, float(rng.uniform(*snr_db)))
        peak = float(np.max(np.abs(segment)))
        if peak > PEAK_LIMIT:
            segment *= np.float32(PEAK_LIMIT / peak)
        out.append(segment.astype(np.float32))
    return out
