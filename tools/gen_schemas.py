"""Generate the bundled CRD schemas (``sre_constructs/kernel/schemas/crds.json.gz``) from the
pinned upstream CRDs named in ``crds.lock.json`` beside it.

    python tools/gen_schemas.py --from DIR    # offline: the CRD files under DIR (CI: ../shared/crds)
    python tools/gen_schemas.py               # offline from $SRE_CONSTRUCTS_CRDS
    python tools/gen_schemas.py --online      # fetch each file from its URL in the lock
    python tools/gen_schemas.py --check ...   # write nothing; exit 1 if the bundle differs

Every file's sha256 must match the lock, online or offline; ``--update-lock`` records the hashes
of the files given (after a version bump: update ``sources`` in the lock, then run it). A file in
the lock without a URL (NeuVector's rendered chart) is read from ``--from`` in both modes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from a checkout

from sre_constructs.kernel.tree_check.crds import (  # noqa: E402
    BUNDLE_FILE,
    CRDS_ENV,
    LOCK_FILE,
    bundle_bytes,
    crd_dirs_from_env,
    crd_records,
    read_bundle,
)
from sre_constructs.kernel.tree_check.model import Loader  # noqa: E402

SCHEMAS = REPO / "sre_constructs" / "kernel" / "schemas"

Fetch = Callable[[str], bytes]


class LockError(Exception):
    """A CRD file does not match the lock (hash, missing file, unlisted file)."""


def read_lock(path: Path = SCHEMAS / LOCK_FILE) -> dict[str, Any]:
    lock: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return lock


def source_label(lock: Mapping[str, Any], file: str) -> str:
    """Who serves the CRDs of ``file``, for messages: e.g. ``External Secrets v2.9.0``."""
    source = lock["sources"][lock["files"][file]["source"]]
    return f"{source['name']} {source['version']}"


def urlopen_fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:  # https URLs from the lock only
        data: bytes = response.read()
        return data


def collect(
    lock: Mapping[str, Any], *, crds_dir: Path | None, fetch: Fetch | None, update_lock: bool = False
) -> dict[str, bytes]:
    """The content of every file in the lock, each checked against its sha256.

    Args:
        crds_dir: the offline folder (``<folder>/<file>`` as in the lock); also the source of
            files without a URL when ``fetch`` is given.
        fetch: download a URL (online mode), or None (offline).
        update_lock: record new hashes in ``lock`` instead of failing on a mismatch.

    Raises:
        LockError: a file is missing, unlisted or its sha256 differs from the lock.
    """
    problems: list[str] = []
    contents: dict[str, bytes] = {}
    for file, entry in sorted(lock["files"].items()):
        url = entry.get("url")
        if fetch is not None and url:
            data = fetch(url)
        elif crds_dir is not None and (crds_dir / file).is_file():
            data = (crds_dir / file).read_bytes()
        else:
            how = source_label(lock, file) + ": " + lock["sources"][entry["source"]].get("rendered", "no URL")
            problems.append(f"{file}: not found ({'no URL; ' + how if fetch is not None else f'under {crds_dir}'})")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            if update_lock:
                entry["sha256"] = digest
            else:
                origin = url if fetch is not None and url else crds_dir
                problems.append(f"{file}: sha256 {digest} (from {origin}); expected {entry['sha256']} (lock)")
                continue
        contents[file] = data
    if crds_dir is not None and fetch is None:
        unlisted = sorted(
            p.relative_to(crds_dir).as_posix()
            for p in crds_dir.rglob("*")
            if p.suffix in (".yaml", ".yml") and p.relative_to(crds_dir).as_posix() not in lock["files"]
        )
        problems += [
            f"{f}: not in {LOCK_FILE}; expected every CRD file to have a URL and sha256 there" for f in unlisted
        ]
    if problems:
        raise LockError("CRD files do not match the lock:\n  " + "\n  ".join(problems))
    return contents


def build_records(lock: Mapping[str, Any], contents: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """The bundle's records: every CRD of every file, descriptions stripped."""
    records: list[dict[str, Any]] = []
    for file, data in sorted(contents.items()):
        # Loader maps prometheus-operator's bare `=` (YAML 1.1 !!value) to a string.
        documents = list(yaml.load_all(data.decode("utf-8"), Loader=Loader))
        found = crd_records(documents, file=file, source=source_label(lock, file))
        if not found:
            raise LockError(f"{file}: holds no CustomResourceDefinition; expected CRDs only in the lock")
        records += found
    return records


def main(argv: list[str] | None = None, *, fetch: Fetch = urlopen_fetch) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--from", dest="crds_dir", type=Path, metavar="DIR", help="folder of the pinned CRD files")
    parser.add_argument("--online", action="store_true", help="fetch each file from its URL in the lock")
    parser.add_argument("--out", type=Path, default=SCHEMAS, help=f"folder of {BUNDLE_FILE} (default: %(default)s)")
    parser.add_argument("--lock", type=Path, default=SCHEMAS / LOCK_FILE, help="the lock file (default: %(default)s)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the bundle is stale")
    parser.add_argument("--update-lock", action="store_true", help="record the given files' sha256 in the lock")
    args = parser.parse_args(argv)
    if args.crds_dir is None:
        # $SRE_CONSTRUCTS_CRDS: the whole input offline; online, the files without a URL.
        args.crds_dir = next((d for d in crd_dirs_from_env() if d.is_dir()), None)
        if args.crds_dir is None and not args.online:
            parser.error(f"give --from DIR or set {CRDS_ENV} to an existing folder (offline), or --online")
    if args.crds_dir is not None and not args.crds_dir.is_dir():
        parser.error(f"--from {args.crds_dir}: not a folder")
    lock = read_lock(args.lock)
    try:
        contents = collect(
            lock, crds_dir=args.crds_dir, fetch=fetch if args.online else None, update_lock=args.update_lock
        )
        records = build_records(lock, contents)
    except LockError as error:
        print(f"gen_schemas: {error}", file=sys.stderr)
        return 1
    bundle = args.out / BUNDLE_FILE
    if args.check:
        # Compare content, not gzip bytes: zlib versions may compress differently.
        if not bundle.is_file() or read_bundle(bundle.read_bytes()) != read_bundle(bundle_bytes(records)):
            print(f"gen_schemas: {bundle} is stale; run `make schemas`", file=sys.stderr)
            return 1
        print(f"gen_schemas: {bundle} is up to date ({len(records)} CRDs)")
        return 0
    if args.update_lock:
        args.lock.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    args.out.mkdir(parents=True, exist_ok=True)
    bundle.write_bytes(bundle_bytes(records))
    print(f"gen_schemas: wrote {bundle} ({len(records)} CRDs, {bundle.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
