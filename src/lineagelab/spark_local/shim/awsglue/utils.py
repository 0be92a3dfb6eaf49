"""``awsglue.utils.getResolvedOptions``: job arguments as Glue passes them (``--NAME value``)."""

from __future__ import annotations

from collections.abc import Sequence


class GlueArgumentError(SystemExit):
    pass


def getResolvedOptions(args: Sequence[str], options: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    argv = list(args)
    for i, a in enumerate(argv):
        if a.startswith("--"):
            key, eq, value = a[2:].partition("=")
            if eq:
                found[key] = value
            elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
                found[key] = argv[i + 1]
    missing = [o for o in options if o not in found]
    if missing:
        raise GlueArgumentError("the following arguments are required: " + ", ".join(f"--{m}" for m in missing))
    return {o: found[o] for o in options}
