"""Load ``databricks.yml`` and its included resources, and resolve them for one target.

Resolution follows the bundle's rules closely enough for local runs: variable defaults, target
overrides, ``BUNDLE_VAR_<name>`` environment overrides, ``${...}`` references (also nested in
variable defaults), and deep-merged target resources.
"""

from __future__ import annotations

import copy
import getpass
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bricksml import gitinfo
from bricksml.errors import BricksmlError, first_line

BUNDLE_FILE = "databricks.yml"
_REF = re.compile(r"\$\{([A-Za-z0-9_.\-\[\]]+)\}")


@dataclass
class Bundle:
    """A bundle resolved for one target: its variables and resources, with their source files."""

    root: Path
    name: str
    target: str
    variables: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    sources: dict[tuple[str, str], Path]  # (kind, key) -> the YAML file that declared it
    raw: dict[str, Any]

    def job(self, key: str) -> dict[str, Any]:
        jobs = self.resources.get("jobs", {})
        if key not in jobs:
            raise BricksmlError(
                f"job {key!r} is not in the bundle; jobs: {', '.join(sorted(jobs)) or 'none'}"
            )
        return jobs[key]

    def job_file(self, key: str) -> Path:
        return self.sources[("jobs", key)]


def find_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: cwd) that holds ``databricks.yml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / BUNDLE_FILE).is_file():
            return folder
    raise BricksmlError(
        f"no {BUNDLE_FILE} in {here} or above; run from the bundle folder or pass --bundle-root"
    )


def load_raw(root: Path) -> tuple[dict[str, Any], dict[tuple[str, str], Path]]:
    """The bundle file merged with its includes, unresolved, and where each resource came from."""
    main = _read_yaml(root / BUNDLE_FILE)
    sources: dict[tuple[str, str], Path] = {}
    for kind, items in (main.get("resources") or {}).items():
        for key in items or {}:
            sources[(kind, key)] = root / BUNDLE_FILE
    merged = copy.deepcopy(main)
    merged.setdefault("resources", {})
    for pattern in main.get("include") or []:
        for path in sorted(glob.glob(str(root / pattern))):
            part = _read_yaml(Path(path))
            for kind, items in (part.get("resources") or {}).items():
                for key, value in (items or {}).items():
                    if key in merged["resources"].get(kind, {}):
                        raise BricksmlError(f"resource {kind}.{key} is declared twice (again in {path})")
                    merged["resources"].setdefault(kind, {})[key] = value
                    sources[(kind, key)] = Path(path)
            for section in ("variables", "targets"):
                for key, value in (part.get(section) or {}).items():
                    merged.setdefault(section, {})[key] = value
    return merged, sources


def load(
    root: Path | None = None, target: str | None = None, variables: dict[str, str] | None = None
) -> Bundle:
    """Load and resolve the bundle for ``target`` (default: the target marked ``default``)."""
    root = root or find_root()
    raw, sources = load_raw(root)
    targets = raw.get("targets") or {}
    if target is None:
        target = next((name for name, t in targets.items() if (t or {}).get("default")), None)
        target = target or next(iter(targets), "default")
    elif targets and target not in targets:
        raise BricksmlError(f"target {target!r} is not in {BUNDLE_FILE}; targets: {', '.join(targets)}")
    target_cfg = targets.get(target) or {}

    declared = raw.get("variables") or {}
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec or {}
        if "default" in spec:
            values[name] = spec["default"]
    for name, value in (target_cfg.get("variables") or {}).items():
        if name not in declared:
            raise BricksmlError(f"target {target!r} sets variable {name!r}, which is not declared")
        values[name] = value.get("default") if isinstance(value, dict) else value
    for name in declared:
        env_value = os.environ.get(f"BUNDLE_VAR_{name}")
        if env_value is not None:
            values[name] = env_value
    for name, value in (variables or {}).items():
        if name not in declared:
            raise BricksmlError(
                f"--var {name}: not a variable of the bundle; variables: {', '.join(declared)}"
            )
        values[name] = value

    bundle_name = (raw.get("bundle") or {}).get("name", root.name)
    resources = copy.deepcopy(raw.get("resources") or {})
    _deep_merge(resources, target_cfg.get("resources") or {})
    context = _context(root, bundle_name, target, target_cfg)
    resolver = _Resolver(values, context, declared, resources)
    return Bundle(
        root=root,
        name=bundle_name,
        target=target,
        variables={name: resolver.variable(name) for name in values},
        resources=resolver.resolve(resources),
        sources=sources,
        raw=raw,
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BricksmlError(f"{path} is not valid YAML: {first_line(exc)}") from None
    if not isinstance(data, dict):
        raise BricksmlError(f"{path} must hold a mapping at the top level")
    return data


def _deep_merge(base: dict, override: dict) -> None:
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _context(root: Path, name: str, target: str, target_cfg: dict) -> dict[str, str]:
    user = os.environ.get("DATABRICKS_USER") or getpass.getuser()
    short = re.sub(r"[^A-Za-z0-9_]", "_", user.split("@")[0])
    workspace_root = f"/Workspace/Users/{user}/.bundle/{name}/{target}"
    return {
        "bundle.name": name,
        "bundle.target": target,
        "bundle.git.commit": gitinfo.head(root),
        "bundle.git.branch": os.environ.get("GITHUB_REF_NAME", ""),
        "workspace.current_user.userName": user,
        "workspace.current_user.short_name": short,
        "workspace.root_path": (target_cfg.get("workspace") or {}).get("root_path", workspace_root),
        "workspace.file_path": workspace_root + "/files",
        "workspace.artifact_path": workspace_root + "/artifacts",
    }


class _Resolver:
    """Replaces ``${...}`` references; a whole-string reference keeps the value's type."""

    def __init__(
        self, values: dict[str, Any], context: dict[str, str], declared: dict, resources: dict | None = None
    ) -> None:
        self.values, self.context, self.declared = values, context, declared
        self.resources = resources or {}
        self.cache: dict[str, Any] = {}

    def variable(self, name: str, seen: tuple[str, ...] = ()) -> Any:
        if name in self.cache:
            return self.cache[name]
        if name not in self.values:
            if name in self.declared:
                raise BricksmlError(
                    f"variable {name!r} has no value; give it a default, a target value, "
                    f"or set BUNDLE_VAR_{name}"
                )
            raise BricksmlError(f"${{var.{name}}} is used but no variable {name!r} is declared")
        if name in seen:
            raise BricksmlError(f"variable {name!r} refers to itself through {' -> '.join(seen)}")
        value = self._text(self.values[name], (*seen, name))
        self.cache[name] = value
        return value

    def reference(self, ref: str, seen: tuple[str, ...] = ()) -> Any:
        if ref.startswith("var."):
            return self.variable(ref[4:], seen)
        if ref in self.context:
            return self.context[ref]
        if ref.startswith("resources."):
            return self.resource_field(ref, seen)
        raise BricksmlError(f"${{{ref}}} cannot be resolved locally")

    def resource_field(self, ref: str, seen: tuple[str, ...]) -> Any:
        """A declared field of another resource (as the local mirror names it, no dev prefix).

        Ids exist only in a workspace: ``${resources.<kind>.<key>.id}`` stays the reference text,
        which the local runner reads as "that resource of this bundle".
        """
        parts = ref.split(".")
        if len(parts) < 4:
            raise BricksmlError(f"${{{ref}}} must name a field: resources.<kind>.<key>.<field>")
        kind, key, path = parts[1], parts[2], parts[3:]
        resource = (self.resources.get(kind) or {}).get(key)
        if resource is None:
            raise BricksmlError(f"${{{ref}}} refers to {kind}.{key}, which is not a resource of the bundle")
        if path == ["id"]:
            return ref
        if ref in seen:
            raise BricksmlError(f"${{{ref}}} refers to itself through {' -> '.join(seen)}")
        value: Any = resource
        for field in path:
            if not isinstance(value, dict) or field not in value:
                raise BricksmlError(f"${{{ref}}}: {kind}.{key} has no field {'.'.join(path)!r}")
            value = value[field]
        return self._text(value, (*seen, ref)) if isinstance(value, str) else self.resolve(value, seen)

    def _text(self, value: Any, seen: tuple[str, ...] = ()) -> Any:
        if not isinstance(value, str):
            return self.resolve(value, seen)
        whole = _REF.fullmatch(value)
        if whole:
            return self.reference(whole.group(1), seen)
        return _REF.sub(lambda m: str(self.reference(m.group(1), seen)), value)

    def resolve(self, value: Any, seen: tuple[str, ...] = ()) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v, seen) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, seen) for v in value]
        if isinstance(value, str):
            return self._text(value, seen)
        return value
