"""Cache llama.cpp's LoRA-to-GGUF converter offline, taken from the pinned llama-cpp-python sdist.

`make setup` runs `python -m cove.finetune.install_converter`: it downloads the sdist of the
installed llama-cpp-python version once (`pip download --no-binary :all:`) and extracts only
what `convert_lora_to_gguf.py` needs: the script, `convert_hf_to_gguf.py`, the `conversion/`
package and `gguf-py/` beside them. The converter is llama.cpp's own, of the same version as
the runtime that loads its output; it is not rewritten here. Nothing is fetched at run time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
from importlib import metadata
from pathlib import Path

PACKAGE = "llama-cpp-python"
SCRIPT = "convert_lora_to_gguf.py"
# What the converter imports, relative to vendor/llama.cpp/ in the sdist.
WANTED = ("convert_lora_to_gguf.py", "convert_hf_to_gguf.py", "LICENSE", "conversion/", "gguf-py/")
VERSION_FILE = "LLAMA_CPP_PYTHON_VERSION"


def default_converter_dir() -> Path:
    """Where `make setup` puts the converter: inside the virtual environment."""
    return Path(sys.prefix) / "share" / "cove" / "llama-convert"


def default_sdist_dir() -> Path:
    return Path(sys.prefix) / "share" / "cove" / "sdist"


def installed_version() -> str:
    """The llama-cpp-python version the runtime uses (the converter must match it)."""
    return metadata.version(PACKAGE)


def download_sdist(version: str, sdist_dir: Path) -> Path:
    """The sdist of `llama-cpp-python==version` in `sdist_dir`, downloaded if not there yet."""
    name = f"llama_cpp_python-{version}.tar.gz"
    path = sdist_dir / name
    if path.is_file():
        return path
    sdist_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"{PACKAGE}=={version}",
            "-d",
            str(sdist_dir),
        ],
        check=True,
    )
    if not path.is_file():
        raise FileNotFoundError(f"pip download did not produce {path}")
    return path


def _wanted(member: str, prefix: str) -> str | None:
    """The path below vendor/llama.cpp/ of a member to extract, or None to skip it."""
    if not member.startswith(prefix):
        return None
    rest = member[len(prefix) :]
    for want in WANTED:
        if rest == want or (want.endswith("/") and rest.startswith(want)):
            # gguf-py's tests and examples are not needed to convert
            if rest.startswith(("gguf-py/tests/", "gguf-py/examples/")):
                return None
            return rest
    return None


def extract_converter(sdist: Path, dest: Path, version: str) -> Path:
    """Extract the converter's files from `sdist` into `dest`; returns `dest`."""
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        _remove_tree(tmp)
    tmp.mkdir(parents=True)
    count = 0
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar.getmembers():
            rest = _wanted(member.name, prefix)
            if rest is None or not member.isfile():
                continue
            target = tmp / rest
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            target.write_bytes(source.read())
            count += 1
    if not (tmp / SCRIPT).is_file():
        raise FileNotFoundError(f"{sdist} has no vendor/llama.cpp/{SCRIPT}")
    (tmp / VERSION_FILE).write_text(version + "\n")
    # Swap in the complete directory at once: a half-extracted converter is never found.
    if dest.exists():
        _remove_tree(dest)
    tmp.rename(dest)
    return dest


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


def install_converter(
    dest: Path | None = None, sdist_dir: Path | None = None, version: str | None = None
) -> Path:
    """Make sure the converter of the installed llama-cpp-python version is in `dest`."""
    dest = dest or default_converter_dir()
    version = version or installed_version()
    marker = dest / VERSION_FILE
    if marker.is_file() and marker.read_text().strip() == version and (dest / SCRIPT).is_file():
        return dest
    sdist = download_sdist(version, sdist_dir or default_sdist_dir())
    return extract_converter(sdist, dest, version)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=None, help="converter directory")
    parser.add_argument("--sdist-dir", type=Path, default=None, help="where the sdist is kept")
    args = parser.parse_args(argv)
    path = install_converter(args.dest, args.sdist_dir)
    print(f"llama.cpp LoRA converter ready in {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
