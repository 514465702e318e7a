#!/usr/bin/env python3
"""Fails when a workspace member pins a dependency's version itself.

Every crate's version is pinned once, in the root Cargo.toml's [workspace.dependencies]; a member
names it with `name.workspace = true` (adding features if it needs them) or, for the workspace's
own crates, a `path`. A version written in a member drifts from the others and slips past review:
`make lint` runs this check. Prints each offender as `member/Cargo.toml: [table] name = spec`.
"""
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLES = ("dependencies", "dev-dependencies", "build-dependencies")


def offenders(manifest: Path, data: dict):
    tables = [(name, data.get(name, {})) for name in TABLES]
    for target, spec in data.get("target", {}).items():
        tables += [(f"target.{target}.{name}", spec.get(name, {})) for name in TABLES]
    for table, deps in tables:
        for name, spec in deps.items():
            if isinstance(spec, dict) and (spec.get("workspace") is True or "path" in spec):
                continue
            yield f"{manifest.relative_to(ROOT)}: [{table}] {name} = {spec!r}"


def main() -> int:
    root = tomllib.loads((ROOT / "Cargo.toml").read_text())
    members = []
    for pattern in root["workspace"]["members"]:
        members += sorted(ROOT.glob(f"{pattern}/Cargo.toml"))
    found = [line for m in members for line in offenders(m, tomllib.loads(m.read_text()))]
    if found:
        print("These dependencies pin their own version; pin it once in the root Cargo.toml's "
              "[workspace.dependencies] and write `name.workspace = true` instead:")
        print("\n".join(f"  {line}" for line in found))
        return 1
    print(f"workspace dependencies: {len(members)} members, every version pinned once")
    return 0


if __name__ == "__main__":
    sys.exit(main())
