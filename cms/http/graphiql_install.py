"""Install GraphiQL's browser files: `python -m cms.http.graphiql_install` (run by `make graphiql`).

For each npm package in `cms.http.graphiql.ASSETS`, `npm pack` fetches its tarball (npm checks it against the
registry's integrity), and the one file needed is taken out, checked against the SRI hash pinned in ASSETS and
written to `cms/http/graphiql_static/` (gitignored). Nothing else from npm is kept, and no package script runs.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from cms.http.graphiql import ASSETS, STATIC_DIR, Asset


def _sri(data: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(data).digest()).decode()


def _pack(packages: list[str], into: Path) -> dict[str, Path]:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is needed to install GraphiQL's files (Debian: apt-get install npm)")
    out = subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", str(into), *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"npm pack failed:\n{out.stderr}")
    tarballs = [into / line.strip() for line in out.stdout.splitlines() if line.strip().endswith(".tgz")]
    if len(tarballs) != len(packages):
        raise SystemExit(f"npm pack gave {tarballs} for {packages}")
    return dict(zip(packages, tarballs))


def _extract(tarball: Path, asset: Asset) -> bytes:
    with tarfile.open(tarball, "r:gz") as archive:
        member = archive.extractfile(f"package/{asset.path}")
        if member is None:
            raise SystemExit(f"{asset.package} has no {asset.path}")
        data = member.read()
    if _sri(data) != asset.integrity:
        raise SystemExit(f"{asset.package}/{asset.path}: hash {_sri(data)} is not the pinned {asset.integrity}")
    return data


def install(target: Path = STATIC_DIR) -> list[Path]:
    packages = sorted({asset.package for asset in ASSETS.values()})
    target.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="cms-graphiql-") as tmp:
        tarballs = _pack(packages, Path(tmp))
        for asset in ASSETS.values():
            path = target / asset.name
            partial = path.with_suffix(path.suffix + ".part")
            partial.write_bytes(_extract(tarballs[asset.package], asset))
            partial.replace(path)
            written.append(path)
    return written


def main() -> int:
    for path in install():
        print(f"installed {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
