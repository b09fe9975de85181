"""Checks of the deployment files: container and Pi configs load, the image is slim and non-root, compose
wires the daemon to its broker, and the systemd unit keeps its hardening."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from detector.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "docker" / "Dockerfile"
COMPOSE = ROOT / "docker" / "compose.yaml"
UNIT = ROOT / "deploy" / "sigdetect.service"

# Packages of the `train` extra that must never reach the runtime image.
TRAIN_ONLY = ("tensorflow", "scikit-learn", "sklearn", "matplotlib", "keras")


# ---------------------------------------------------------------- helpers


def dockerfile_stages(text: str) -> dict[str, list[tuple[str, str]]]:
    """Instructions (keyword, arguments) per stage name, continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: dict[str, list[tuple[str, str]]] = {"": []}
    current = ""
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)", args, re.IGNORECASE)
            current = match.group(1) if match else f"stage{len(stages)}"
            stages[current] = []
        stages[current].append((keyword, args.strip()))
    return stages


def substitute(value: str, args: dict[str, str]) -> str:
    """Dockerfile / compose ``${VAR}`` and ``${VAR:-default}`` with the given values or the defaults."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(3)
        return args.get(name, default or "")

    return re.sub(r"\$\{(\w+)(:?-([^}]*))?\}", one, value)


def unit_settings(text: str) -> dict[str, list[str]]:
    """``Key=value`` lines of a systemd unit (all sections), each key's values in order."""
    settings: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{UNIT.name}: not a Key=value line: {raw!r}"
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def seconds(value: str) -> float:
    """A systemd time span such as ``30``, ``30s``, ``1min 30s``, ``2m`` in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize("path", ["docker/config.yaml", "deploy/sigdetect.yaml"])
def test_deploy_configs_load(path: str) -> None:
    cfg = load_config(ROOT / path)
    assert cfg.audio.source == "capture"
    assert cfg.mqtt.enabled
    assert cfg.mqtt.spool.path is None, "the spool should follow $STATE_DIRECTORY"
    assert cfg.detection.model is not None


def test_container_config_uses_absolute_paths_present_in_the_image() -> None:
    """The image installs a wheel, so relative paths would not find models/ (nor the signatures volume)."""
    cfg = load_config(ROOT / "docker" / "config.yaml")
    model = cfg.detection.model
    assert model.startswith("/app/models/"), model
    assert (ROOT / "models" / Path(model).name).is_file()
    assert (ROOT / "models" / Path(model).with_suffix(".json").name).is_file()
    assert cfg.detection.signatures.startswith("/var/lib/sigdetect/")
    assert "COPY models/ /app/models/" in DOCKERFILE.read_text()


# ---------------------------------------------------------------- Dockerfile


def test_dockerfile_runtime_stage_is_slim_and_non_root() -> None:
    text = DOCKERFILE.read_text()
    stages = dockerfile_stages(text)
    assert "builder" in stages and "runtime" in stages, list(stages)
    assert list(stages)[-1] == "runtime", "the runtime stage must be the last (the default target)"
    runtime = stages["runtime"]
    args = {}
    for keyword, value in stages[""] + runtime:
        if keyword == "ARG" and "=" in value:
            name, _, default = value.partition("=")
            args[name.strip()] = default.strip().strip('"')
    base = substitute(runtime[0][1].split()[0], args)
    assert re.fullmatch(r"python:3\.11-slim(-bookworm)?", base), base

    users = [substitute(value, args) for keyword, value in runtime if keyword == "USER"]
    assert users, "the runtime stage must set USER"
    uid = users[-1]
    assert ":" not in uid, f"USER {uid}: an explicit group makes Docker drop the supplementary group audio"
    assert uid not in {"root", "0"}, users[-1]
    if uid.isdigit():
        assert int(uid) >= 1000

    runs = " ".join(value for keyword, value in runtime if keyword == "RUN")
    for compiler in ("gcc", "g++", "build-essential", "-dev "):
        assert compiler not in runs + " ", f"runtime stage installs {compiler.strip()}"
    for lib in ("libportaudio2", "libsndfile1", "libasound2"):
        assert lib in runs
    assert "audio" in runs, "the runtime user must be in group audio (/dev/snd)"

    installs = " ".join(value for keyword, value in stages["builder"] + runtime if keyword == "RUN")
    assert "[capture]" in installs
    assert not re.search(r"\[[^\]]*train[^\]]*\]", installs), "the train extra must not be installed"
    for package in TRAIN_ONLY:
        assert not re.search(rf"pip[^&;]*\binstall\b[^&;]*{package}", installs), package

    entry = [value for keyword, value in runtime if keyword == "ENTRYPOINT"]
    cmd = [value for keyword, value in runtime if keyword == "CMD"]
    assert entry and yaml.safe_load(entry[-1]) == ["detector"]
    assert cmd and yaml.safe_load(cmd[-1]) == ["run", "-c", "/etc/sigdetect/config.yaml"]
    workdir = [value for keyword, value in runtime if keyword == "WORKDIR"][-1]
    copies = [value.split() for keyword, value in runtime if keyword == "COPY"]
    assert ["models/", f"{workdir}/models/"] in copies, "the built-in defaults look for models/ in WORKDIR"
    env = " ".join(value for keyword, value in runtime if keyword == "ENV")
    assert "STATE_DIRECTORY=/var/lib/sigdetect" in env
    assert any(keyword == "VOLUME" and "/var/lib/sigdetect" in value for keyword, value in runtime)


def test_dockerignore_keeps_what_the_image_copies() -> None:
    """Every COPY source from the build context is let through by the allow-list .dockerignore."""
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    instructions = [item for stage in dockerfile_stages(DOCKERFILE.read_text()).values() for item in stage]
    for keyword, value in instructions:
        if keyword != "COPY" or value.startswith("--from"):
            continue
        *sources, _dest = value.split()
        for source in sources:
            source = source.rstrip("/").removeprefix("./")
            assert (ROOT / source).exists(), source
            assert any(source == a or source.startswith(a + "/") for a in allowed), f"{source} is ignored"


# ---------------------------------------------------------------- compose


def test_compose_has_broker_and_daemon_wired_together() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"mosquitto", "sigdetect"} <= set(services)
    assert services["mosquitto"]["image"].startswith("eclipse-mosquitto:2")
    assert any("mosquitto.conf" in volume for volume in services["mosquitto"]["volumes"])

    daemon = services["sigdetect"]
    assert daemon["build"]["context"] == ".."
    context = COMPOSE.parent / daemon["build"]["context"]
    assert (context / daemon["build"]["dockerfile"]).resolve() == DOCKERFILE
    depends = daemon["depends_on"]
    assert "mosquitto" in (depends if isinstance(depends, list) else list(depends))
    assert daemon["restart"] == "unless-stopped"
    assert any(device.split(":")[0] == "/dev/snd" for device in daemon["devices"])
    assert "audio" in daemon["group_add"]

    command = [substitute(str(part), {}) for part in daemon["command"]]
    urls = [part for part in command if part.startswith(("mqtt://", "mqtts://"))]
    assert urls and command[command.index(urls[0]) - 1] == "--mqtt", command
    host = re.match(r"mqtts?://(?:[^@/]+@)?([^:/]+)", urls[0]).group(1)
    assert host == "mosquitto" and host in services, urls[0]
    assert load_config(ROOT / "docker" / "config.yaml").mqtt.url == urls[0]

    mounts = {volume.split(":")[1]: volume for volume in daemon["volumes"]}
    assert mounts["/etc/sigdetect/config.yaml"].endswith(":ro")
    assert (COMPOSE.parent / mounts["/etc/sigdetect/config.yaml"].split(":")[0]).is_file()
    assert "/var/lib/sigdetect" in mounts and "/var/lib/sigdetect/signatures" in mounts
    grace = seconds(str(daemon["stop_grace_period"]))
    assert grace > load_config(ROOT / "docker" / "config.yaml").mqtt.drain_timeout_seconds


def test_mosquitto_conf_listens_and_persists() -> None:
    lines = [
        line.split()
        for line in (ROOT / "docker" / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ["listener", "1883"] in lines
    assert ["persistence", "true"] in lines
    assert ["allow_anonymous", "true"] in lines
    assert "password_file" in (ROOT / "docker" / "mosquitto.conf").read_text()


# ---------------------------------------------------------------- systemd unit


def test_systemd_unit_runs_detector_hardened() -> None:
    settings = unit_settings(UNIT.read_text())

    def one(key: str) -> str:
        assert key in settings, f"{UNIT.name}: {key}= missing"
        return settings[key][-1]

    exec_start = one("ExecStart").split()
    assert exec_start[0].endswith("/bin/detector") and exec_start[0].startswith("/")
    assert exec_start[1:3] == ["run", "-c"]
    assert one("Type") == "simple"
    assert one("User") == "sigdetect"
    assert "audio" in one("SupplementaryGroups").split()
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one("KillSignal") == "SIGTERM"
    assert one("Restart") == "on-failure"
    assert "sigdetect" in one("StateDirectory").split()

    drain = load_config(ROOT / "deploy" / "sigdetect.yaml").mqtt.drain_timeout_seconds
    assert seconds(one("TimeoutStopSec")) > drain

    expected = {
        "NoNewPrivileges": "true",
        "ProtectSystem": "strict",
        "ProtectHome": "true",
        "PrivateTmp": "true",
        "PrivateDevices": "false",
        "DevicePolicy": "closed",
        "ProtectKernelTunables": "true",
        "ProtectKernelModules": "true",
        "ProtectKernelLogs": "true",
        "ProtectControlGroups": "true",
        "RestrictNamespaces": "true",
        "LockPersonality": "true",
        "MemoryDenyWriteExecute": "false",  # numba's JIT needs W^X pages
        "SystemCallArchitectures": "native",
        "CapabilityBoundingSet": "",
    }
    for key, value in expected.items():
        assert one(key) == value, f"{key}={one(key)}, expected {value!r}"
    assert one("DeviceAllow").split() == ["char-alsa", "rw"]
    assert set(one("RestrictAddressFamilies").split()) == {"AF_UNIX", "AF_INET", "AF_INET6"}

    signatures = load_config(ROOT / "deploy" / "sigdetect.yaml").detection.signatures
    writable = " ".join(settings.get("ReadWritePaths", [])).split()
    assert signatures in [path.lstrip("-") for path in writable]
