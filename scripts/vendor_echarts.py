"""Vendors ECharts for the console's dashboard: ``python -m scripts.vendor_echarts [--check]``.

The pinned release's ``dist/echarts.min.js`` is taken from the npm registry's tarball after
the tarball's sha512 matches the registry's integrity string pinned here, and written to
``bot/console/static/vendor/echarts.min.js`` with the Apache-2.0 licence notice on top
(the file is committed, so the console works offline; ``scripts/setup.sh`` runs ``--check``,
which verifies the committed file against ``FILE_SHA256`` and downloads it again only when
it is missing or different).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "5.6.0"
TARBALL = f"https://registry.npmjs.org/echarts/-/echarts-{VERSION}.tgz"
INTEGRITY = "sha512-oTbVTsXfKuEhxftHqL5xprgLoc0k7uScAwtryCgWF6hPYFLRwOUHiFmHGCBKP5NPFNkDVopOieyUqYGH8Fa3kA=="
ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "bot" / "console" / "static" / "vendor" / "echarts.min.js"
# sha256 of the file written (notice + dist/echarts.min.js), to check the committed copy offline.
FILE_SHA256 = "6b7a89ab72036bb783fc68a5db66d76b6b3c0dc9b45da6bf0e658e49af125718"
NOTICE = (f"/*! Apache ECharts {VERSION} | https://echarts.apache.org | Licensed under the Apache License 2.0 "
          f"(https://www.apache.org/licenses/LICENSE-2.0) | Copyright The Apache Software Foundation | "
          f"from {TARBALL} ({INTEGRITY}) */\n")


def download() -> bytes:
    with urllib.request.urlopen(TARBALL, timeout=120) as response:
        tarball = response.read()
    algorithm, expected = INTEGRITY.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, tarball).digest()).decode()
    if actual != expected:
        raise SystemExit(f"echarts {VERSION}: tarball integrity mismatch ({algorithm}-{actual})")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        member = archive.extractfile("package/dist/echarts.min.js")
        assert member is not None
        return NOTICE.encode() + member.read()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="download only when the file is missing or different")
    args = parser.parse_args(argv)
    if args.check and TARGET.exists() and hashlib.sha256(TARGET.read_bytes()).hexdigest() == FILE_SHA256:
        return 0
    content = download()
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_bytes(content)
    print(f"echarts {VERSION} -> {TARGET.relative_to(ROOT)} (sha256 {hashlib.sha256(content).hexdigest()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
