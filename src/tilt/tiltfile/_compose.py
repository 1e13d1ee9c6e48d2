"""Tiltfile builtins: Docker Compose (``docker_compose``, ``dc_resource``).

Tilt asks the Compose library to resolve a project; we resolve it in-process
instead (`tilt.tiltfile._compose_spec`: ``.env``, interpolation, ``extends``,
merging), so loading a Tiltfile needs neither Docker nor the compose CLI. This
module reads the files (recording them for reloads), applies ``profiles`` (and
``COMPOSE_PROFILES`` when the Tiltfile gives none), checks dependencies and
images, and keeps what ``dc_resource`` says about each service.

Each enabled service becomes one ``DOCKER_COMPOSE`` resource (see `finalize`).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tilt.model import (
    ComposeTarget,
    Link,
    Resource,
    ResourceKind,
    SourceLocation,
    TriggerMode,
    WatchSpec,
)
from tilt.tiltfile._compose_spec import (
    ComposeError,
    load_model,
    normalize_project_name,
    parse_env_file,
    published_ports,
    service_dependencies,
    service_env_files,
    service_optional_dependencies,
)
from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    as_bool,
    as_str,
    as_str_list,
    builtin,
)

if TYPE_CHECKING:
    from tilt.tiltfile._assemble import Assembly

__all__ = ["ComposeState", "finalize"]


class _EmptyList(tuple[str, ...]):
    """An unset list argument. Reads as ``[]`` (Tilt's spelling) in the API doc,
    and can be told apart from an explicit ``[]`` (``profiles`` needs that)."""

    def __repr__(self) -> str:
        return "[]"


_UNSET: tuple[str, ...] = _EmptyList()


# --- the resolved project ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Service:
    name: str
    config: dict[str, Any]
    image: str  # what Compose runs: ``image:`` or Compose's default for a built service
    build_context: str
    depends_on: tuple[str, ...]
    published_ports: tuple[int, ...]


@dataclass
class _Options:
    """What dc_resource set for one service."""

    resource_name: str
    trigger_mode: TriggerMode | None = None
    resource_deps: list[str] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    auto_init: bool = True
    infer_links: bool = True
    image: str = ""


@dataclass
class _Project:
    name: str
    project_dir: str
    location: SourceLocation
    config_files: list[str] = field(default_factory=list)
    # How each config file is named in messages (a blob has no file of its own).
    display: dict[str, str] = field(default_factory=dict)
    env_file: str = ""
    profiles: tuple[str, ...] = ()
    wait: bool = False
    services: dict[str, _Service] = field(default_factory=dict)
    options: dict[str, _Options] = field(default_factory=dict)

    def options_for(self, service: str) -> _Options:
        got = self.options.get(service)
        if got is None:
            got = _Options(resource_name=service)
            self.options[service] = got
        return got


class ComposeState:
    """Compose projects declared so far, by project name, in declaration order."""

    def __init__(self) -> None:
        self.projects: dict[str, _Project] = {}


def _blob_file(text: str) -> str:
    """Write inline compose YAML to a file (named by content) so Compose can be given it."""
    import hashlib
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), "tilt-compose-blobs")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, hashlib.sha256(text.encode()).hexdigest()[:32] + ".yml")
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    return path


_YAML_START = ("services:", "{", "version:", "name:")


def _is_blob(ctx: Ctx, v: object) -> bool:
    """Whether a configPaths item is compose YAML (Tilt's Blob) rather than a path.

    Blobs are plain strings here: a path never holds a newline, while YAML text
    (from local(), read_file() or encode_yaml()) nearly always does. A one-line
    string that names no file and reads like a compose mapping is YAML too.
    """
    if hasattr(v, "starlark_text"):
        return True
    if not isinstance(v, str):
        return False
    if "\n" in v:
        return True
    return v.lstrip().startswith(_YAML_START) and not os.path.exists(ctx.abspath(v))


def _resolve_project(ctx: Ctx, proj: _Project, texts: dict[str, str]) -> None:
    """Parse, interpolate, merge and resolve ``proj``'s files into its services."""
    from tilt.refs import parse_ref
    from tilt.tiltfile._loader import display_path

    state = ctx.state
    dotenv: dict[str, str] = {}
    env_path = proj.env_file or os.path.join(proj.project_dir, ".env")
    if proj.env_file or os.path.isfile(env_path):
        try:
            with open(env_path, encoding="utf-8") as f:
                env_text = f.read()
        except OSError as e:
            raise ComposeError(
                f"cannot read env file {display_path(env_path)}: {e.strerror or e}"
            ) from None
        state.record_read(env_path)
        dotenv = parse_env_file(env_text, state.env.get, display_path(env_path))

    def lookup(key: str) -> str | None:
        got = state.env.get(key)
        return got if got is not None else dotenv.get(key)

    warned: set[str] = set()

    def on_unset(key: str) -> None:
        if key not in warned:
            warned.add(key)
            state.warn(
                f'docker_compose: the "{key}" variable is not set. Defaulting to a blank string.',
                ctx.location,
            )

    model = load_model(
        [(proj.display[path], texts[path]) for path in proj.config_files],
        proj.project_dir,
        lookup,
        on_unset,
    )
    services = model.get("services") or {}
    files = ", ".join(proj.display[p] for p in proj.config_files)
    if not services:
        raise ComposeError(f"no services defined in {files}")

    active = set(proj.profiles)
    enabled: dict[str, dict[str, Any]] = {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            raise ComposeError(f"{files}: service {name!r} must be a mapping")
        svc_profiles = svc.get("profiles") or []
        if svc_profiles and "*" not in active and not active.intersection(map(str, svc_profiles)):
            continue
        enabled[str(name)] = svc
    if not enabled:
        shown = ", ".join(sorted(active)) or "none"
        raise ComposeError(
            f"no services enabled in {files}: every service declares profiles "
            f"and none is active (active profiles: {shown})"
        )

    proj.services = {}
    for name, declared in enabled.items():
        svc = declared
        optional = service_optional_dependencies(svc)
        deps: list[str] = []
        for dep in service_dependencies(svc):
            if dep in enabled:
                deps.append(dep)
            elif dep not in optional:
                reason = " (it is disabled by its profiles)" if dep in services else ""
                raise ComposeError(f'service "{name}" depends on undefined service "{dep}"{reason}')
        build = svc.get("build")
        context = ""
        if isinstance(build, dict):
            ctx_dir = str(build.get("context") or ".")
            if "://" in ctx_dir or ctx_dir.startswith("git@"):
                context = ctx_dir
            else:
                context = os.path.normpath(
                    os.path.join(proj.project_dir, os.path.expanduser(ctx_dir))
                )
            svc = {**svc, "build": {**build, "context": context}}
        image = svc.get("image")
        if image is not None and not isinstance(image, str):
            raise ComposeError(f'service "{name}": image must be a string')
        if not image:
            if build is None:
                raise ComposeError(f'service "{name}" has neither an image nor a build context')
            # Compose's default name for the image it builds.
            image = f"{proj.name}-{name.lower()}"
        try:
            parse_ref(image)
        except ValueError as e:
            raise ComposeError(f'service "{name}": invalid image name {image!r}: {e}') from None
        for env_file in service_env_files(svc):
            path, required = env_file
            full = os.path.normpath(os.path.join(proj.project_dir, os.path.expanduser(path)))
            if os.path.isfile(full):
                state.record_read(full)
            elif required:
                raise ComposeError(f'service "{name}": env file {display_path(full)} not found')
        ports = svc.get("ports") or []
        proj.services[name] = _Service(
            name=name,
            config=svc,
            image=image,
            build_context=context,
            depends_on=tuple(deps),
            published_ports=tuple(published_ports(ports if isinstance(ports, list) else [])),
        )
    # Options of services that went away (a re-declared project) no longer apply.
    proj.options = {k: v for k, v in proj.options.items() if k in proj.services}


# --- builtins ---------------------------------------------------------------------------


def _error(fn: str, e: ComposeError) -> TiltfileError:
    return TiltfileError(f"{fn}: {e}")


@builtin("docker_compose", located=True)
def docker_compose(  # noqa: PLR0917 - Tilt's positional parameters
    ctx: Ctx,
    configPaths: object,  # Tilt's parameter name
    env_file: object = None,
    project_name: object = "",
    profiles: object = _UNSET,
    wait: object = False,
) -> None:
    """Run services with Docker Compose: each service becomes a resource.

    Tilt reads the Compose files and makes one resource per service, named after
    the service. A service whose image matches a ``docker_build``/``custom_build``
    ref runs the image Tilt builds; a service with ``build:`` and no such match is
    built by Compose (its image is Compose's default name, ``PROJECT-SERVICE``).
    ``depends_on`` (and Compose's implicit dependencies: ``links``,
    ``network_mode: service:x``, ``volumes_from``) become ``resource_deps``;
    published ports become links (``http://localhost:PORT/``).

    Several files merge as Compose merges them (later files override; lists
    such as ``ports`` append). Variables (``${VAR}``, ``${VAR:-default}``,
    ``${VAR-default}``, ``$$``...) are substituted from the environment, then
    from the ``.env`` file next to the first Compose file (or ``env_file``).
    Calling ``docker_compose`` again with the same project name adds files to
    that project; another project name declares another project.

    Here the files are parsed in-process, so loading needs neither Docker nor the
    compose CLI. Not supported yet: a top-level ``include:`` (an error says so).

    Args:
        configPaths: a path to a Compose file, a Blob (a string holding YAML: one
            with a newline, or a one-line ``services: {...}`` that names no file),
            or a list of paths and/or Blobs. Relative paths are
            relative to the Tiltfile; paths inside the files are relative to the
            folder of the first file (the project folder).
        env_file: path to the env file used for variable substitution; defaults to
            ``.env`` in the project folder.
        project_name: the Compose project name. Default: the name of the folder of
            the first file (of the Tiltfile when only Blobs are given), normalized
            as Compose does (lowercase ``a-z``, ``0-9``, ``_``, ``-``).
        profiles: Compose profiles to enable (a string or a list). A service that
            declares ``profiles`` only runs when one of them is enabled. When not
            given, ``COMPOSE_PROFILES`` from the environment is used.
        wait: wait for services to be running/healthy when they start
            (``docker compose up --wait``).
    """
    fn = "docker_compose"
    from tilt.tiltfile._loader import display_path

    items: list[object]
    if configPaths is None:
        items = []
    elif isinstance(configPaths, list | tuple):
        items = [v for v in configPaths if v is not None]
    else:
        items = [configPaths]
    if not items:
        raise TiltfileError(f"{fn}: Nothing to compose")

    env_path = ""
    if env_file is not None:
        env_path = ctx.abspath(as_str(fn, "env_file", env_file))
    name = as_str(fn, "project_name", project_name)
    profiles_set = profiles is not _UNSET
    profile_list = as_str_list(fn, "profiles", profiles)
    wait_flag = as_bool(fn, "wait", wait)
    paths: list[str] = []
    display: dict[str, str] = {}
    texts: dict[str, str] = {}
    project_dir = ""
    first_path_dir = ""
    for i, item in enumerate(items):
        if _is_blob(ctx, item):
            text = as_str(fn, "configPaths", item)
            path = _blob_file(text)
            display[path] = f"<inline YAML #{i + 1}>"
            texts[path] = text
        else:
            if not isinstance(item, str):
                raise TiltfileError(
                    f"{fn}: configPaths: expected blob | path (string), got {type(item).__name__}"
                )
            path = ctx.abspath(item)
            display[path] = display_path(path)
            try:
                with open(path, encoding="utf-8") as f:
                    texts[path] = f.read()
            except FileNotFoundError:
                raise TiltfileError(f"{fn}: compose file not found: {display_path(path)}") from None
            except (OSError, UnicodeDecodeError) as e:
                raise TiltfileError(f"{fn}: cannot read {display_path(path)}: {e}") from None
            ctx.state.record_read(path)
            if not first_path_dir:
                first_path_dir = os.path.dirname(path)
        if path not in paths:
            paths.append(path)
    # The project folder is the first file's, as with the compose CLI.
    project_dir = first_path_dir or ctx.dir
    if not name:
        name = normalize_project_name(os.path.basename(project_dir))
    if not profiles_set and ctx.state.env.get("COMPOSE_PROFILES"):
        env_profiles = ctx.state.env["COMPOSE_PROFILES"]
        profile_list = [p for p in env_profiles.split(",") if p]
        ctx.state.log(f"Compose project {name!r} loading profiles from environment: {env_profiles}")
    if env_path:
        ctx.state.record_read(env_path)

    st = ctx.state.family(ComposeState)
    proj = st.projects.get(name)
    if proj is None:
        proj = _Project(
            name=name,
            project_dir=project_dir,
            location=ctx.here(),
            env_file=env_path,
            profiles=tuple(profile_list),
            wait=wait_flag,
        )
        new = True
    else:
        # Same project again: its files grow; the first call's settings stay (as in Tilt).
        if env_path:
            proj.env_file = env_path
        new = False
    for p in paths:
        if p not in proj.config_files:
            proj.config_files.append(p)
        proj.display.setdefault(p, display[p])
    all_texts = dict(texts)
    for p in proj.config_files:
        if p not in all_texts:
            with open(p, encoding="utf-8") as f:
                all_texts[p] = f.read()
    try:
        _resolve_project(ctx, proj, all_texts)
    except ComposeError as e:
        raise _error(fn, e) from None
    if new:
        st.projects[name] = proj


def _find_service(fn: str, st: ComposeState, name: str, project_name: str) -> tuple[_Project, str]:
    """The project and service behind the resource called ``name``."""
    from tilt.graph import closest

    found: list[tuple[_Project, str]] = []
    names: list[str] = []
    for proj in st.projects.values():
        if project_name and proj.name != project_name:
            continue
        for svc in proj.services:
            res_name = proj.options[svc].resource_name if svc in proj.options else svc
            names.append(res_name)
            if res_name == name:
                found.append((proj, svc))
    if len(found) > 1:
        raise TiltfileError(
            f"{fn}: found multiple resources named {name!r}, "
            "please specify which one with project_name= argument"
        )
    if found:
        return found[0]
    if project_name and project_name not in st.projects:
        known = ", ".join(st.projects) or "none; call docker_compose() first"
        raise TiltfileError(
            f"{fn}: no Docker Compose project named {project_name!r} (projects: {known})"
        )
    if not names:
        raise TiltfileError(
            f"{fn}: no Docker Compose service found with name {name!r}: "
            "call docker_compose() before dc_resource()"
        )
    renamed_to = [
        proj.options[name].resource_name
        for proj in st.projects.values()
        if name in proj.options and (not project_name or proj.name == project_name)
    ]
    hint = renamed_to[0] if renamed_to else closest(name, names)
    suggestion = f' Did you mean "{hint}"?' if hint else ""
    if renamed_to:
        suggestion += " (an earlier dc_resource renamed it with new_name=)"
    raise TiltfileError(
        f'{fn}: no Docker Compose service found with name "{name}".{suggestion} '
        f"Found these instead: {'; '.join(names)}"
    )


@builtin("dc_resource", located=True)
def dc_resource(  # noqa: PLR0917 - Tilt's positional parameters
    ctx: Ctx,
    name: object,
    trigger_mode: object = None,
    resource_deps: object = _UNSET,
    links: object = _UNSET,
    labels: object = _UNSET,
    auto_init: object = True,
    project_name: object = "",
    new_name: object = "",
    infer_links: object = True,
    image: object = None,
) -> None:
    """Configure the resource of a Docker Compose service.

    Tilt already makes a resource of every service ``docker_compose`` declares;
    call this only to change one. It must come after the ``docker_compose`` call
    that declares the service. Calling it again for the same service adds its
    ``resource_deps``, ``links`` and ``labels`` to the earlier ones; a given
    ``trigger_mode`` replaces the earlier one, and ``auto_init`` and
    ``infer_links`` take the latest call's values.

    Args:
        name: the service's name in the Compose file (or the resource's name
            after an earlier ``new_name``).
        trigger_mode: ``TRIGGER_MODE_AUTO`` or ``TRIGGER_MODE_MANUAL``; when not
            given, the Tiltfile's default (see ``trigger_mode()``).
        resource_deps: names of resources that must be ready before this one
            starts; added to those ``depends_on`` implies.
        links: URLs (strings or ``link()`` values) shown with the resource.
        labels: labels that group resources in the UI (a string or a list).
        auto_init: whether the resource starts with ``tilt up``; if False it
            starts only when triggered.
        project_name: the Compose project of the service, when several projects
            have a service of that name.
        new_name: a new name for the resource (the Compose service keeps its
            name; other services' ``depends_on`` follow the rename).
        infer_links: whether published ports become links
            (``http://localhost:PORT/``).
        image: (undocumented in Tilt, kept for compatibility) the image ref to
            match against ``docker_build``/``custom_build``, instead of the
            service's ``image:``.
    """
    fn = "dc_resource"
    res_name = as_str(fn, "name", name)
    if not res_name:
        raise TiltfileError(f"{fn}: `name` must not be empty")
    from tilt.tiltfile._resource_args import labels_arg, links_arg, trigger_mode_arg

    mode = trigger_mode_arg(fn, trigger_mode)
    deps = as_str_list(fn, "resource_deps", resource_deps)
    link_list = links_arg(fn, links, ctx.warn)
    label_list = labels_arg(fn, labels)
    init = as_bool(fn, "auto_init", auto_init)
    proj_name = as_str(fn, "project_name", project_name)
    rename = as_str(fn, "new_name", new_name)
    infer = as_bool(fn, "infer_links", infer_links)
    image_ref = as_str(fn, "image", image, allow_none=True)
    if image_ref:
        from tilt.refs import parse_ref

        try:
            parse_ref(image_ref)
        except ValueError as e:
            raise TiltfileError(f"{fn}: image: {e}") from None

    st = ctx.state.family(ComposeState)
    proj, svc = _find_service(fn, st, res_name, proj_name)
    opts = proj.options_for(svc)
    if rename and rename != opts.resource_name:
        from tilt.tiltfile._local import LocalState

        # Tilt's renameDCService checks the new name against the resources declared so far.
        if rename in ctx.state.family(LocalState).by_name:
            raise TiltfileError(
                f"{fn}: new_name {rename!r}: a local_resource of that name already exists"
            )
        for other in st.projects.values():
            for other_svc in other.services:
                other_name = other.options_for(other_svc).resource_name
                if other_name == rename:
                    raise TiltfileError(
                        f"{fn}: new_name {rename!r}: a Docker Compose resource of that "
                        "name already exists"
                    )
        opts.resource_name = rename
    if mode is not None:
        opts.trigger_mode = mode
    for d in deps:
        if d not in opts.resource_deps:
            opts.resource_deps.append(d)
    opts.links.extend(link_list)
    for label in label_list:
        if label not in opts.labels:
            opts.labels.append(label)
    opts.auto_init = init
    opts.infer_links = infer
    if image_ref:
        opts.image = image_ref


# --- assembly ---------------------------------------------------------------------------


def _build_watch(state: LoadState, config: dict[str, Any], context: str) -> WatchSpec:
    """What a service Compose builds watches: its context, as a docker_build's (Tilt)."""
    from tilt.tiltfile._images import context_watch

    if "://" in context or context.startswith("git@"):
        return WatchSpec()  # a remote context: nothing local to watch
    build = config.get("build")
    dockerfile = build.get("dockerfile") if isinstance(build, dict) else None
    path = os.path.join(context, os.path.expanduser(str(dockerfile or "Dockerfile")))
    return context_watch(state, context, os.path.normpath(path))


def finalize(state: LoadState, asm: Assembly) -> None:
    """Make one DOCKER_COMPOSE resource per enabled service, in file order.

    Images: a service whose image matches a ``docker_build``/``custom_build`` ref
    (``refs_match``) runs that build (``image_ref`` = the build's ref, marked
    used); otherwise ``image_ref`` is the image Compose runs, and a service with
    ``build:`` is built by Compose from ``build_context``.
    """
    from tilt.refs import refs_match

    st = state.family(ComposeState)
    for proj in st.projects.values():
        renamed = {
            svc: (proj.options[svc].resource_name if svc in proj.options else svc)
            for svc in proj.services
        }
        for svc in proj.services.values():
            opts = proj.options.get(svc.name) or _Options(resource_name=svc.name)
            wanted = opts.image or svc.image
            build = next((img for img in asm.images if refs_match(img.ref, wanted)), None)
            image_refs: tuple[str, ...]
            if build is not None:
                if build.entrypoint is not None:
                    # Tilt's reference: entrypoint= is not supported for Compose services.
                    raise TiltfileError(
                        "docker_build/custom_build.entrypoint not supported for Docker "
                        f"Compose resources (image {build.ref!r}, service {svc.name!r})",
                        build.location,
                    )
                asm.used_images.add(build.ref)
                image_ref, image_refs, context = build.ref, (build.ref,), ""
            else:
                image_ref, image_refs, context = wanted, (), svc.build_context
            watch = _build_watch(state, svc.config, context) if context else WatchSpec()
            # As Tilt: depends_on, deduplicated and sorted, then dc_resource's deps.
            deps = sorted({renamed.get(d, d) for d in svc.depends_on})
            deps += [d for d in opts.resource_deps if d not in deps]
            links: list[Link] = []
            if opts.infer_links:
                links = [Link(url=f"http://localhost:{p}/") for p in svc.published_ports]
            links += opts.links
            target = ComposeTarget(
                project_name=proj.name,
                config_files=tuple(proj.config_files),
                service=svc.name,
                env_file=proj.env_file,
                profiles=proj.profiles,
                image_ref=image_ref,
                build_context=context,
                depends_on=svc.depends_on,
                published_ports=svc.published_ports,
                project_dir=proj.project_dir,
                wait=proj.wait,
                watch=watch,
                service_config=copy.deepcopy(svc.config),
            )
            asm.resources.append(
                Resource(
                    name=opts.resource_name,
                    kind=ResourceKind.DOCKER_COMPOSE,
                    location=proj.location,
                    labels=tuple(opts.labels),
                    resource_deps=tuple(deps),
                    trigger_mode=opts.trigger_mode or asm.settings.default_trigger_mode,
                    auto_init=opts.auto_init,
                    links=tuple(links),
                    image_refs=image_refs,
                    compose=target,
                )
            )
