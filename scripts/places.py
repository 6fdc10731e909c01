"""Regenerate watcher/data/communes.json.gz (the communes `settings.place` names) from the official data.

    python scripts/places.py [--package DIR] [--version 6.0.0]

The source is INSEE's Code officiel géographique, with the EPCI of the DGCL and the EPT of
INSEE, as the npm package @etalab/decoupage-administratif ships them (data under the Licence
Ouverte / Open Licence 2.0; the package's code under MIT). Without --package the script runs
`npm pack @etalab/decoupage-administratif@VERSION` in a temporary folder and reads its data/.

Written, compact (one row per current commune, no hand-typed value):

    {"source": ..., "departements": {code: name},
     "groups": {code: [kind, name]},            # EPT, then EPCI, then arrondissement
     "communes": [[insee code, name, departement code, group code, population], ...]}

The data has no adjacency: a commune's neighbours are the other communes of its group, the
smallest that says "near": its EPT (the territories of the Métropole du Grand Paris, whose EPCI
holds 130 communes), else its EPCI (intercommunality), else its arrondissement.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "watcher" / "data" / "communes.json.gz"
PACKAGE = "@etalab/decoupage-administratif"


def fetch(version: str, folder: Path) -> Path:
    done = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{version}", "--silent"], cwd=folder, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"npm pack failed: {done.stderr.strip()[-400:]}")
    tarball = folder / done.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(folder, filter="data")
    return folder / "package"


def build(package: Path) -> dict[str, object]:
    data = package / "data"
    load = lambda name: json.loads((data / name).read_text(encoding="utf-8"))  # noqa: E731
    meta = json.loads((package / "package.json").read_text(encoding="utf-8"))
    departements = {d["code"]: d["nom"] for d in load("departements.json")}
    groups: dict[str, list[str]] = {}
    group_of: dict[str, str] = {}
    for ept in load("ept.json"):
        groups[ept["code"]] = ["EPT", ept["nom"]]
        for member in ept["membres"]:
            group_of[member["code"]] = ept["code"]
    for epci in load("epci.json"):
        groups[epci["code"]] = ["EPCI", epci["nom"]]
        for member in epci["membres"]:
            group_of.setdefault(member["code"], epci["code"])
    for arr in load("arrondissements.json"):
        groups["arr-" + arr["code"]] = ["arrondissement", arr["nom"]]
    communes = []
    for c in load("communes.json"):
        if c.get("type") != "commune-actuelle":
            continue
        group = group_of.get(c["code"]) or ("arr-" + c["arrondissement"] if c.get("arrondissement") else "")
        communes.append([c["code"], c["nom"], c.get("departement", ""), group, int(c.get("population") or 0)])
    communes.sort()
    used = {c[3] for c in communes}
    return {
        "source": f"{PACKAGE} {meta['version']}: INSEE Code officiel géographique, DGCL EPCI, INSEE EPT;"
        " Licence Ouverte / Open Licence 2.0",
        "departements": departements,
        "groups": {k: v for k, v in sorted(groups.items()) if k in used},
        "communes": communes,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package", type=Path, help="an unpacked copy of the npm package (its folder)")
    ap.add_argument("--version", default="6.0.0", help="the package version to fetch with npm")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        package = args.package or fetch(args.version, Path(tmp))
        result = build(package)
    text = json.dumps(result, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    OUT.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
    print(f"wrote {OUT.relative_to(ROOT)}: {len(result['communes'])} communes, {OUT.stat().st_size} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
