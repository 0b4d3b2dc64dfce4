"""Fails when a top-level module of src/ reaches itself through `crate::` imports
(test modules aside): the layering docs/design.md describes, kept by `make lint`."""
import pathlib
import re
import sys

src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "src")
deps: dict[str, set[str]] = {}
for path in src.rglob("*.rs"):
    rel = path.relative_to(src).parts
    top = rel[0].removesuffix(".rs")
    if top in ("bin", "main", "lib") or path.name == "tests.rs":
        continue
    text = path.read_text().split("#[cfg(test)]\nmod tests")[0]
    deps.setdefault(top, set()).update(m for m in re.findall(r"crate::([a-z_]+)", text) if m != top)


def reaches(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for d in deps.get(todo.pop(), ()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


cycles = sorted({tuple(sorted((a, b))) for a in deps for b in deps[a] if a in reaches(b)})
for a, b in cycles:
    print(f"module cycle: {a} and {b} import each other (directly or through others)")
sys.exit(1 if cycles else 0)
