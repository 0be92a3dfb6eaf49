"""The project's local setting: ``init`` (the profile), ``services check|seed``, ``lake put|ls``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lineagelab.cli.shared import UserError, lake_root, load_profile, out


def init(
    account: Annotated[str, typer.Option(help="AWS account id the events name.")] = "123456789012",
    region: Annotated[str, typer.Option(help="AWS region.")] = "us-west-2",
    domain: Annotated[str, typer.Option(help="DataZone domain id.")] = "dzd_xxxxxxxx",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing lineagelab.toml.")] = False,
    path: Annotated[Path, typer.Option(help="Where to write the profile.")] = Path("lineagelab.toml"),
) -> None:
    """Write a project profile: the AWS identity, the endpoints the seed uses and the local services behind them."""
    import tomllib

    from lineagelab.profile import init_text, parse

    if path.exists() and not force:
        raise UserError(f"{path} exists (use --force to overwrite)")
    text = init_text(account, region, domain)
    parse(tomllib.loads(text), path)  # validates account and region before anything is written
    path.write_text(text)
    out.print(f"wrote {path}: account {account}, region {region}, domain {domain}")
    out.print("next: `lineagelab services seed` (the seed's data and logins), then `lineagelab services check`")


def services_check(
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """Say which configured databases answer; exit 1 naming the missing ones."""
    from lineagelab.spark_local.services import check

    prof = load_profile(profile)
    if not prof.endpoints:
        raise UserError("the profile lists no [[endpoints]] (run `lineagelab init`)")
    statuses = check(prof)
    for st in statuses:
        out.print(("[green]ok[/green]      " if st.ok else "[red]missing[/red] ") + escape(st.message), markup=True,
                  highlight=False)
    if not all(st.ok for st in statuses):
        raise typer.Exit(1)


def services_seed(
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
    mysql_user: Annotated[str, typer.Option(help="MySQL admin user.")] = "root",
    mysql_password: Annotated[str, typer.Option(envvar="LINEAGELAB_MYSQL_PASSWORD", help="MySQL admin password.")]
    = "",
) -> None:
    """Create the seed's source data (MySQL employeedb.employee) and logins on the local services."""
    from lineagelab.spark_local.services import seed

    for line in seed(load_profile(profile), (mysql_user, mysql_password)):
        out.print(line)


def lake_put(
    local: Annotated[Path, typer.Argument(help="A local file or folder.")],
    uri: Annotated[str, typer.Argument(help="s3://bucket/key (a folder key ends with /).")],
) -> None:
    """Copy a file or folder into the local lake under an S3 URI."""
    import shutil

    from lineagelab.profile import lake_path

    if not uri.startswith(("s3://", "s3a://")):
        raise UserError(f"{uri!r} is not an s3:// URI")
    if not local.exists():
        raise UserError(f"{local} does not exist")
    dest = lake_path(lake_root(), uri)
    if local.is_dir():
        shutil.copytree(local, dest, dirs_exist_ok=True)
    else:
        if uri.endswith("/"):
            dest = dest / local.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, dest)
    out.print(f"{local} -> {uri} ({dest})")


def _side_file(parts: tuple[str, ...]) -> bool:
    """Hadoop's bookkeeping beside the data (checksums, commit markers, attempts in progress) and hidden files:
    S3 listings of a real lake do not show them either."""
    name = parts[-1]
    return (name.endswith(".crc") or name == "_SUCCESS" or any(p.startswith(".") for p in parts)
            or any(p == "_temporary" for p in parts))


def lake_ls(
    prefix: Annotated[str, typer.Argument(help="s3://bucket/prefix")] = "",
    all_files: Annotated[bool, typer.Option("--all", help="Show Hadoop's side files (.crc, _SUCCESS, _temporary) "
                                                          "and hidden files too.")] = False,
) -> None:
    """List the objects in the local lake."""
    root = lake_root()
    for p in sorted(root.rglob("*")) if root.exists() else []:
        if p.is_file() and (all_files or not _side_file(p.relative_to(root).parts)):
            uri = "s3://" + str(p.relative_to(root))
            if uri.startswith(prefix):
                out.print(f"{p.stat().st_size:>12,}  {uri}")
