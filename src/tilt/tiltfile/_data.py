"""Tiltfile builtins: files, data, commands, and the ``os``/``sys``/``shlex`` modules.

``local()`` runs its command while the Tiltfile loads, as in Tilt. Every file a
builtin here reads (``read_file``, ``read_json``, ``read_yaml*``, ``listdir``'s
folder, ``watch_file``, ``os.path.exists``) is recorded with
``state.record_read`` so that a change to it reloads the Tiltfile. Paths are
relative to the folder of the file whose load is running (Tilt's rule).

Tilt's Blob is a plain ``str`` here: ``local()``, ``read_file()`` and
``blob()`` return strings, and every builtin that takes a blob takes a string.
"""

from __future__ import annotations

import functools
import json
import math
import os
import posixpath
import shlex
import sys
from typing import TYPE_CHECKING, Any

from tilt.tiltfile._context import (
    Ctx,
    LoadState,
    TiltfileError,
    as_bool,
    as_cmd,
    as_str,
    as_str_dict,
    builtin,
    constant,
)

if TYPE_CHECKING:
    from tilt.model import Cmd
    from tilt.tiltfile._assemble import Assembly

__all__ = ["finalize", "run_local"]

# The prefix Tilt puts in front of each line of a command's output in the Tiltfile log.
LOG_PREFIX = " → "


class _NoDefault:
    """Marks an argument the caller did not pass, where Tilt tells that from an explicit None.

    Its repr is ``None`` so the generated API docs show Tilt's signature.
    """

    def __repr__(self) -> str:
        return "None"


_NO_DEFAULT: Any = _NoDefault()


def _path(ctx: Ctx, fn: str, arg: str, value: object) -> str:
    return ctx.abspath(as_str(fn, arg, value))


def _read_text(fn: str, path: str) -> str:
    """The file's text; a missing file raises FileNotFoundError for the caller to handle."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise TiltfileError(f"{fn}: {path} is a directory, not a file") from None
    except OSError as e:
        raise TiltfileError(f"{fn}: cannot read {path}: {e.strerror or e}") from None


def _missing(fn: str, path: str) -> TiltfileError:
    return TiltfileError(f"{fn}: {path}: no such file or directory")


# --- local() --------------------------------------------------------------------------


def _set_env(state: LoadState, key: str, value: str | None) -> None:
    # LoadState.env is what every command the Tiltfile starts inherits; os.putenv and
    # os.unsetenv change it for the rest of the load, as Tilt's do for its own process.
    env = dict(state.env)
    if value is None:
        env.pop(key, None)
    else:
        env[key] = value
    state.env = env


def _pump(proc: Any, stdin: bytes | None) -> tuple[bytes, bytes, list[bytes]]:
    """Feed stdin and read stdout and stderr as they arrive, keeping their interleaving.

    One selector loop for all three pipes, so neither a large stdin nor a chatty
    command can fill a pipe and deadlock the other side.
    """
    import selectors

    out: list[bytes] = []
    err: list[bytes] = []
    both: list[bytes] = []
    pending = memoryview(stdin or b"")
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ, out)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        if proc.stdin is not None:
            if pending:
                sel.register(proc.stdin, selectors.EVENT_WRITE, None)
            else:
                proc.stdin.close()
        while sel.get_map():
            for key, _ in sel.select():
                fd = key.fileobj.fileno()  # type: ignore[union-attr]
                if key.data is None:
                    try:
                        written = os.write(fd, pending[:65536])
                    except BrokenPipeError:
                        written = len(pending)  # it stopped reading: not an error, as in Tilt
                    pending = pending[written:]
                    if not pending:
                        sel.unregister(key.fileobj)
                        proc.stdin.close()
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.append(chunk)
                both.append(chunk)
    return b"".join(out), b"".join(err), both


def run_local(
    ctx: Ctx,
    fn: str,
    cmd: Cmd,
    *,
    cwd: str,
    env: dict[str, str],
    stdin: str | None = None,
    log_command: bool = True,
    log_output: bool = True,
) -> str:
    """Run ``cmd`` now (as ``local()`` does) and return its stdout.

    Also used by the builtins that shell out while loading (helm, kustomize): the
    command and its output go into the Tiltfile log with Tilt's prefixes, and a
    failure raises a TiltfileError naming the command, its exit code and stderr.
    """
    import subprocess

    state = ctx.state
    if log_command:
        state.log(f"{fn}: {cmd.display}")
    from tilt.process import guard_group, stop_signals_held, unguard_group

    full_env = {**state.env, **env}
    try:
        # No stop signal between the start and the registration (see stop_signals_held).
        with stop_signals_held():
            proc = subprocess.Popen(
                list(cmd.argv),
                cwd=cwd,
                env=full_env,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                # A group of its own, stopped with the load (tilt.tiltfile.worker).
                start_new_session=True,
            )
            guard_group(proc.pid)
    except FileNotFoundError as e:
        if not os.path.isdir(cwd):
            why = f"working directory {cwd} does not exist"
        else:
            why = f'executable file "{e.filename or cmd.argv[0]}" not found in $PATH'
        raise TiltfileError(f'{fn}: command "{cmd.display}" failed: {why}') from None
    except PermissionError:
        raise TiltfileError(
            f'{fn}: command "{cmd.display}" failed: permission denied: {cmd.argv[0]}'
        ) from None
    # The context manager closes the pipes and reaps the process, also on an error.
    try:
        with proc:
            out_b, err_b, both = _pump(proc, None if stdin is None else stdin.encode())
    finally:
        unguard_group(proc.pid)
    code = proc.returncode
    stdout = out_b.decode("utf-8", errors="replace")
    stderr = err_b.decode("utf-8", errors="replace")
    if log_output:
        text = b"".join(both).decode("utf-8", errors="replace")
        for line in text.splitlines():
            state.log(LOG_PREFIX + line)
    if code != 0:
        status = f"exit status {code}" if code > 0 else f"killed by signal {-code}"
        # One line for command and status (Tilt puts "error: <status>" on a second line;
        # the loader reads lines starting "error: " as the start of a message).
        msg = [f'{fn}: command "{cmd.display}" failed: {status}']
        # Tilt leaves the output out of the error when it already went to the log; the
        # error is often all a user sees, so stderr is always part of it here.
        if not log_output and stdout.strip():
            msg.append("stdout:\n" + _tail(stdout))
        if stderr.strip():
            msg.append("stderr:\n" + _tail(stderr))
        raise TiltfileError("\n".join(msg))
    if log_command and log_output and not out_b and not err_b:
        state.log(LOG_PREFIX + "[no output]")
    return stdout


def _tail(text: str, max_lines: int = 40) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) > max_lines:
        lines = [f"... ({len(lines) - max_lines} lines before)", *lines[-max_lines:]]
    return "\n".join("  " + line for line in lines)


@builtin("local")
def local(  # noqa: PLR0917 -- Tilt's positional parameters
    ctx: Ctx,
    command: object,
    quiet: object = False,
    command_bat: object = "",
    echo_off: object = False,
    env: object = {},  # Tilt's default, shown in the docs; never mutated
    dir: object = "",
    stdin: object = None,
) -> str:
    """Run a command on the host now, while the Tiltfile loads, and return its stdout.

    As in Tilt: a string command runs through ``sh -c``, a list is an argv run
    directly. The command runs in the folder of the Tiltfile that calls ``local``
    (or ``dir``), with the Tiltfile's environment (including ``os.putenv`` changes)
    plus ``env``. The Tiltfile log shows ``local: <command>`` and each line of
    output prefixed with `` → ``. A non-zero exit stops the Tiltfile with an error
    naming the command, its exit code and its stderr (Tilt leaves stderr out when it
    was already logged; here it is always in the error).

    Args:
        command: the command, a string (``sh -c``) or a list of strings (argv).
        quiet: if True, the command's output is not copied into the Tiltfile log.
        command_bat: the command to run on Windows instead of ``command`` (a ``.bat``
            script or a ``cmd /S /C`` string); ignored on other systems.
        echo_off: if True, the command itself is not echoed into the log.
        env: extra environment variables for the command.
        dir: the folder to run in, relative to the Tiltfile; default its folder.
        stdin: text written to the command's standard input (default: none).

    Returns:
        The command's standard output as a string (Tilt's Blob).
    """
    fn = "local"
    chosen: object = command
    if os.name == "nt" and command_bat not in (None, "", []):
        chosen = command_bat
    cmd = as_cmd(fn, "command", chosen, allow_empty=False)
    assert cmd is not None
    if os.name == "nt" and cmd.shell:
        from tilt.model import Cmd as _Cmd

        cmd = _Cmd(argv=("cmd", "/S", "/C", cmd.argv[2]), shell=True)
    cwd = ctx.abspath(as_str(fn, "dir", dir)) if dir else ctx.dir
    stdin_text = None if stdin is None else as_str(fn, "stdin", stdin)
    return run_local(
        ctx,
        fn,
        cmd,
        cwd=cwd,
        env=as_str_dict(fn, "env", env),
        stdin=stdin_text,
        log_command=not as_bool(fn, "echo_off", echo_off),
        log_output=not as_bool(fn, "quiet", quiet),
    )


# --- files ----------------------------------------------------------------------------


def _alias(fn: str, name: str, value: object, alias: str, alias_value: object) -> object:
    """The one argument given as ``name`` or as Tilt's keyword ``alias`` (its docs and
    its code name some parameters differently; a Tiltfile may use either)."""
    if value is _NO_DEFAULT and alias_value is _NO_DEFAULT:
        raise TiltfileError(f"{fn}: missing argument for {name}")
    if value is not _NO_DEFAULT and alias_value is not _NO_DEFAULT:
        raise TiltfileError(f"{fn}: got {name} and {alias}, which name the same argument")
    return alias_value if value is _NO_DEFAULT else value


@builtin("read_file")
def read_file(
    ctx: Ctx,
    file_path: object = _NO_DEFAULT,
    default: object = None,
    *,
    paths: object = _NO_DEFAULT,
) -> str:
    """Read a file and return its contents.

    The file is watched: when it changes, the Tiltfile reloads (also when it did
    not exist and ``default`` was returned, so creating it reloads too).

    Args:
        file_path: the file, relative to the Tiltfile (by keyword also ``paths=``,
            the name Tilt's code accepts).
        default: returned when the file does not exist (a string or None). Without
            it, a missing file is an error.

    Returns:
        The file's text (Tilt's Blob).
    """
    fn = "read_file"
    if default is not None and not isinstance(default, str):
        raise TiltfileError(f"{fn}: default must be None or a string, got {type(default).__name__}")
    file_path = _alias(fn, "file_path", file_path, "paths", paths)
    path = _path(ctx, fn, "file_path", file_path)
    ctx.state.record_read(path)
    try:
        return _read_text(fn, path)
    except FileNotFoundError:
        if default is None:
            raise _missing(fn, path) from None
        return default


@builtin("watch_file")
def watch_file(ctx: Ctx, file_path: object = _NO_DEFAULT, *, paths: object = _NO_DEFAULT) -> None:
    """Watch a file (or folder): when it changes, the Tiltfile reloads.

    Use it for files the Tiltfile depends on without reading them through a
    builtin (for example files a ``local()`` command reads).

    Args:
        file_path: the file or folder, relative to the Tiltfile (by keyword also
            ``paths=``, the name Tilt's code accepts).
    """
    file_path = _alias("watch_file", "file_path", file_path, "paths", paths)
    ctx.state.record_read(_path(ctx, "watch_file", "file_path", file_path))


@builtin("listdir")
def listdir(
    ctx: Ctx,
    directory: object = _NO_DEFAULT,
    recursive: object = False,
    *,
    dir: object = _NO_DEFAULT,
) -> list[str]:
    """List the files in a folder, as absolute paths in lexical order.

    Folders themselves are not listed; with ``recursive=True`` the files of every
    subfolder are listed too. Symbolic links are listed, not followed (as Go's
    ``filepath.Walk`` in Tilt). The folder is watched: a change reloads the Tiltfile.
    A folder that does not exist (or a path that is a file) lists as ``[]``, as in Tilt.

    Args:
        directory: the folder, relative to the Tiltfile (by keyword also ``dir=``,
            the name Tilt's code accepts).
        recursive: also list the files in subfolders.

    Returns:
        A list of absolute file paths.
    """
    fn = "listdir"
    directory = _alias(fn, "directory", directory, "dir", dir)
    root = _path(ctx, fn, "directory", directory)
    rec = as_bool(fn, "recursive", recursive)
    ctx.state.record_read(root)
    if not os.path.isdir(root):
        # Tilt walks the path with filepath.Walk and skips the root itself, errors
        # included: a missing folder (say a git-ignored `tilt.d/` of user overrides) or
        # a plain file lists as [].
        return []
    files: list[str] = []

    def walk(folder: str) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            raise TiltfileError(f"{fn}: cannot list {folder}: {e.strerror or e}") from None
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if rec:
                    walk(entry.path)
            else:
                files.append(entry.path)

    walk(root)
    return files


@builtin("blob")
def blob(ctx: Ctx, contents: object) -> str:
    """Make a Blob from a string.

    Tilt's Blob is a plain string here, so this returns ``contents`` unchanged; it
    exists so that Tiltfiles written for Tilt (``k8s_yaml(blob(text))``) load as is.

    Args:
        contents: the text.

    Returns:
        The same text.
    """
    return as_str("blob", "contents", contents)


# --- JSON -----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    # Go's encoding/json (Tilt's parser) has no NaN or Infinity.
    raise ValueError(f"invalid JSON value {name}")


def _decode_json(fn: str, text: str, source: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        where = f" from {source}" if source else ""
        raise TiltfileError(
            f"{fn}: error parsing JSON{where}: {e.msg} (line {e.lineno} column {e.colno})"
        ) from None
    except ValueError as e:
        where = f" from {source}" if source else ""
        raise TiltfileError(f"{fn}: error parsing JSON{where}: {e}") from None


def _plain_data(fn: str, value: object) -> Any:
    """Starlark data as JSON/YAML-able Python: string keys only, integral floats as ints."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
            # Go's encoders (Tilt's) print 1.0 as 1.
            return int(value)
        if not math.isfinite(value):
            raise TiltfileError(f"{fn}: unsupported value {value}")
        return value
    if isinstance(value, list | tuple):
        return [_plain_data(fn, v) for v in value]
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                kind = "int" if isinstance(k, int) and not isinstance(k, bool) else "non-string"
                raise TiltfileError(
                    f"{fn}: only string keys are supported in maps. found key '{k}' of type {kind}"
                )
            out[k] = _plain_data(fn, v)
        return out
    kind = getattr(type(value), "starlark_type", type(value).__name__)
    raise TiltfileError(f"{fn}: unsupported type {kind}")


def _go_json(value: Any) -> str:
    """JSON as Go's json.Encoder with two-space indent writes it (what Tilt returns)."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    # Go escapes HTML-significant characters and the JS line separators by default.
    for ch, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(ch, esc)
    return text + "\n"


@builtin("read_json")
def read_json(ctx: Ctx, path: object, default: object = _NO_DEFAULT) -> Any:
    """Read a file of JSON and return its value as Starlark data.

    The file is watched (a change reloads the Tiltfile). An invalid file is an
    error naming the file, line and column.

    Args:
        path: the file, relative to the Tiltfile.
        default: returned when the file does not exist. Without it, a missing file
            is an error.

    Returns:
        The decoded value (dicts, lists, strings, numbers, booleans, None).
    """
    fn = "read_json"
    p = _path(ctx, fn, "path", path)
    ctx.state.record_read(p)
    try:
        text = _read_text(fn, p)
    except FileNotFoundError:
        if default is _NO_DEFAULT:
            raise _missing(fn, p) from None
        return default
    return _decode_json(fn, text, p)


@builtin("decode_json")
def decode_json(ctx: Ctx, json: object) -> Any:
    """Decode a string of JSON into Starlark data.

    Args:
        json: the JSON text (a string or a Blob).

    Returns:
        The decoded value.
    """
    return _decode_json("decode_json", as_str("decode_json", "json", json), "")


@builtin("encode_json")
def encode_json(ctx: Ctx, obj: object) -> str:
    """Encode Starlark data as JSON text.

    As Tilt writes it (Go's encoder): two-space indent, keys sorted, a final
    newline, ``<``, ``>`` and ``&`` escaped. Only string keys are allowed.

    Args:
        obj: the value: dicts, lists, strings, numbers, booleans, None, structs.

    Returns:
        The JSON text.
    """
    return _go_json(_plain_data("encode_json", obj))


# --- YAML -----------------------------------------------------------------------------


@functools.cache
def _yaml_loader() -> Any:
    """CSafeLoader that keeps timestamps as strings, as Tilt's YAML-to-JSON decoding does."""
    import yaml

    class Loader(yaml.CSafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
    }
    return Loader


def _json_like(value: Any) -> Any:
    """YAML data as Tilt sees it after YAML-to-JSON: string keys, no binary or sets."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if isinstance(k, bool):
                key = "true" if k else "false"
            elif k is None:
                key = "null"
            else:
                key = str(k)
            out[key] = _json_like(v)
        return out
    if isinstance(value, list):
        return [_json_like(v) for v in value]
    if isinstance(value, bytes):
        import base64

        return base64.b64encode(value).decode()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _decode_yaml_stream(fn: str, text: str, source: str) -> list[Any]:
    import yaml

    from tilt.tiltfile._k8s_yaml import YamlError, check_aliases

    docs = []
    try:
        loader = _yaml_loader()(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                # Bounded alias expansion ("billion laughs"), as Go's decoder has.
                check_aliases(node, source or "YAML")
                docs.append(loader.construct_document(node))
        finally:
            loader.dispose()
    except YamlError as e:
        raise TiltfileError(f"{fn}: {e}") from None
    except yaml.YAMLError as e:
        where = f" from {source}" if source else ""
        mark = getattr(e, "problem_mark", None)
        problem = getattr(e, "problem", None) or str(e)
        at = f" (line {mark.line + 1} column {mark.column + 1})" if mark is not None else ""
        raise TiltfileError(f"{fn}: error parsing YAML{where}: {problem}{at}") from None
    # Empty documents ("---" with nothing after it) carry nothing, as in Tilt's decoder.
    return [_json_like(d) for d in docs if d is not None]


def _single_doc(fn: str, docs: list[Any]) -> Any:
    if not docs:
        return None
    if len(docs) > 1:
        raise TiltfileError(
            f"{fn}: expected a yaml document but found a yaml stream "
            "(documents separated by `---`). use decode_yaml_stream instead to decode a "
            "yaml stream"
        )
    return docs[0]


def _read_yaml_docs(ctx: Ctx, fn: str, path: object) -> list[Any] | None:
    """The documents of the file, or None when it does not exist."""
    p = _path(ctx, fn, "path", path)
    ctx.state.record_read(p)
    try:
        text = _read_text(fn, p)
    except FileNotFoundError:
        return None
    return _decode_yaml_stream(fn, text, p)


@builtin("read_yaml")
def read_yaml(ctx: Ctx, path: object, default: object = _NO_DEFAULT) -> Any:
    """Read a file holding one YAML document and return it as Starlark data.

    The file is watched (a change reloads the Tiltfile). A file with several
    documents is an error (use ``read_yaml_stream``); invalid YAML is an error
    naming the file, line and column.

    Args:
        path: the file, relative to the Tiltfile.
        default: returned when the file does not exist. Without it, a missing file
            is an error.

    Returns:
        The document's value (None for an empty file).
    """
    fn = "read_yaml"
    docs = _read_yaml_docs(ctx, fn, path)
    if docs is None:
        if default is _NO_DEFAULT:
            raise _missing(fn, ctx.abspath(as_str(fn, "path", path))) from None
        return default
    return _single_doc(fn, docs)


@builtin("read_yaml_stream")
def read_yaml_stream(ctx: Ctx, path: object, default: object = _NO_DEFAULT) -> Any:
    """Read a file of YAML documents (separated by ``---``) and return them as a list.

    The file is watched (a change reloads the Tiltfile).

    Args:
        path: the file, relative to the Tiltfile.
        default: a list returned when the file does not exist. Without it, a missing
            file is an error.

    Returns:
        A list with one value per document.
    """
    fn = "read_yaml_stream"
    if default is not _NO_DEFAULT and not isinstance(default, list):
        raise TiltfileError(f"{fn}: default must be a list, got {type(default).__name__}")
    docs = _read_yaml_docs(ctx, fn, path)
    if docs is None:
        if default is _NO_DEFAULT:
            raise _missing(fn, ctx.abspath(as_str(fn, "path", path))) from None
        return default
    return docs


@builtin("decode_yaml")
def decode_yaml(ctx: Ctx, yaml: object) -> Any:
    """Decode a string holding one YAML document into Starlark data.

    Args:
        yaml: the YAML text (a string or a Blob). Several documents are an error.

    Returns:
        The document's value (None for empty text).
    """
    fn = "decode_yaml"
    return _single_doc(fn, _decode_yaml_stream(fn, as_str(fn, "yaml", yaml), ""))


@builtin("decode_yaml_stream")
def decode_yaml_stream(ctx: Ctx, yaml: object) -> list[Any]:
    """Decode a string of YAML documents (separated by ``---``) into a list.

    Args:
        yaml: the YAML text (a string or a Blob).

    Returns:
        A list with one value per non-empty document.
    """
    fn = "decode_yaml_stream"
    return _decode_yaml_stream(fn, as_str(fn, "yaml", yaml), "")


@functools.cache
def _yaml_dumper() -> Any:
    """A SafeDumper that writes as Tilt's (Go) YAML encoder: double quotes when quoting,
    a literal block for a string with a line break."""
    import yaml

    from tilt.tiltfile._k8s_yaml import go_style_str

    class Dumper(yaml.SafeDumper):
        def choose_scalar_style(self) -> Any:
            style = super().choose_scalar_style()
            return '"' if style == "'" else style

    Dumper.add_representer(str, go_style_str)
    return Dumper


def _encode_yaml(fn: str, obj: object) -> str:
    import yaml

    data = _plain_data(fn, obj)
    text: str = yaml.dump(
        data,
        Dumper=_yaml_dumper(),
        default_flow_style=False,
        sort_keys=True,
        allow_unicode=True,
    )
    # A bare scalar document ends with "...\n" in PyYAML; Go's encoder writes none.
    if text.endswith("\n...\n"):
        text = text[: -len("...\n")]
    return text


@builtin("encode_yaml")
def encode_yaml(ctx: Ctx, obj: object) -> str:
    """Encode Starlark data as one YAML document.

    Keys are sorted and lists are not indented under their key, as Tilt writes YAML.

    Args:
        obj: the value: dicts, lists, strings, numbers, booleans, None, structs.

    Returns:
        The YAML text (Tilt's Blob).
    """
    return _encode_yaml("encode_yaml", obj)


@builtin("encode_yaml_stream")
def encode_yaml_stream(ctx: Ctx, objs: object) -> str:
    """Encode a list of values as a YAML stream, one document each, joined by ``---``.

    Args:
        objs: the list of values.

    Returns:
        The YAML text (Tilt's Blob).
    """
    fn = "encode_yaml_stream"
    if not isinstance(objs, list | tuple):
        raise TiltfileError(f"{fn}: for parameter 'objs': want list")
    return "---\n".join(_encode_yaml(fn, o) for o in objs)


# --- os, sys, shlex -------------------------------------------------------------------


@builtin("os.getenv")
def os_getenv(ctx: Ctx, key: object, default: object = None) -> Any:
    """The value of an environment variable, or ``default`` when it is not set.

    Reads the Tiltfile's environment: the process environment plus ``os.putenv``
    changes made earlier in this load.

    Args:
        key: the variable's name.
        default: returned when the variable is not set.

    Returns:
        The value (a string), or ``default``.
    """
    name = as_str("os.getenv", "key", key)
    return ctx.state.env.get(name, default)


@builtin("os.putenv")
def os_putenv(ctx: Ctx, key: object, value: object) -> None:
    """Set an environment variable for the rest of the load.

    Later ``os.getenv`` calls see it, and so do the commands ``local()`` runs (Tilt
    sets it in its own process, so its later commands inherit it too).

    Args:
        key: the variable's name.
        value: its value.
    """
    fn = "os.putenv"
    name = as_str(fn, "key", key)
    if not name or "=" in name or "\0" in name:
        raise TiltfileError(f"{fn}: invalid environment variable name {name!r}")
    _set_env(ctx.state, name, as_str(fn, "value", value))


@builtin("os.unsetenv")
def os_unsetenv(ctx: Ctx, key: object) -> None:
    """Remove an environment variable for the rest of the load.

    Args:
        key: the variable's name.
    """
    _set_env(ctx.state, as_str("os.unsetenv", "key", key), None)


@builtin("os.getcwd")
def os_getcwd(ctx: Ctx) -> str:
    """The folder of the Tiltfile being executed (Tilt's working directory for builtins).

    In a function defined by a loaded file, this is the folder of that file, as in Tilt.

    Returns:
        An absolute path.
    """
    return ctx.dir


@builtin("os.path.abspath")
def os_path_abspath(ctx: Ctx, path: object) -> str:
    """Make a path absolute, relative to the folder of the calling Tiltfile.

    Args:
        path: the path.

    Returns:
        The absolute, normalized path.
    """
    return _path(ctx, "os.path.abspath", "path", path)


@builtin("os.path.basename")
def os_path_basename(ctx: Ctx, path: object) -> str:
    """The last element of a path.

    Args:
        path: the path.

    Returns:
        Its final component (``""`` for a path ending in ``/``).
    """
    return os.path.basename(as_str("os.path.basename", "path", path))


@builtin("os.path.dirname")
def os_path_dirname(ctx: Ctx, path: object) -> str:
    """Everything but the last element of a path.

    Args:
        path: the path.

    Returns:
        The folder part of the path.
    """
    return os.path.dirname(as_str("os.path.dirname", "path", path))


@builtin("os.path.exists")
def os_path_exists(ctx: Ctx, path: object) -> bool:
    """Whether a path exists, relative to the folder of the calling Tiltfile.

    The path is watched, so creating or deleting it reloads the Tiltfile (as in Tilt).

    Args:
        path: the path.

    Returns:
        True when a file or folder is there.
    """
    p = _path(ctx, "os.path.exists", "path", path)
    ctx.state.record_read(p)
    return os.path.exists(p)


@builtin("os.path.join")
def os_path_join(ctx: Ctx, path: object, *paths: object) -> str:
    """Join path elements with ``/``; an absolute element restarts the path.

    Args:
        path: the first element.
        *paths: more elements.

    Returns:
        The joined path.
    """
    fn = "os.path.join"
    return os.path.join(as_str(fn, "path", path), *(as_str(fn, "paths", p) for p in paths))


@builtin("os.path.realpath")
def os_path_realpath(ctx: Ctx, path: object) -> str:
    """The canonical absolute path, with symbolic links resolved.

    Args:
        path: the path, relative to the folder of the calling Tiltfile.

    Returns:
        The resolved absolute path.
    """
    return os.path.realpath(_path(ctx, "os.path.realpath", "path", path))


@builtin("os.path.relpath")
def os_path_relpath(ctx: Ctx, targpath: object, basepath: object = None) -> str:
    """A path relative to another, worked out from the two strings as given.

    Neither path is resolved against a folder first: both must be absolute or both
    relative, otherwise the load fails (so does a `basepath` whose `..` cannot be undone).
    E.g. for the Tiltfile at `/code/Tiltfile`: `relpath('/code/foo/bar')` is `foo/bar`,
    `relpath('/code/foo', '/code/baz')` is `../foo`, `relpath('/code/foo', 'other/path')`
    is an error.

    Args:
        targpath: the path to express.
        basepath: the folder it is expressed from (default: the absolute path of the
            calling Tiltfile's folder).

    Returns:
        The relative path.
    """
    fn = "os.path.relpath"
    target = as_str(fn, "targpath", targpath)
    base = ctx.dir if basepath is None else as_str(fn, "basepath", basepath)
    rel = _lexical_relpath(base, target)
    if rel is None:
        raise TiltfileError(f"{fn}: Rel: can't make {target} relative to {base}")
    return rel


def _lexical_relpath(base: str, target: str) -> str | None:
    """``target`` relative to ``base`` by their cleaned names alone (Go's filepath.Rel,
    which Tilt calls): None when one is absolute and the other is not, or when ``base``
    keeps a ``..`` after the common part (there is no way back from it)."""
    b = posixpath.normpath(base) if base else "."
    t = posixpath.normpath(target) if target else "."
    if b == t:
        return "."
    if b.startswith("/") != t.startswith("/"):
        return None
    b_parts = [p for p in b.split("/") if p and p != "."]
    t_parts = [p for p in t.split("/") if p and p != "."]
    common = 0
    while common < len(b_parts) and common < len(t_parts) and b_parts[common] == t_parts[common]:
        common += 1
    up = b_parts[common:]
    if up and up[0] == "..":
        return None
    return "/".join([".."] * len(up) + t_parts[common:]) or "."


@builtin("shlex.quote")
def shlex_quote(ctx: Ctx, s: object) -> str:
    """Quote a string for safe use as one word in a shell command.

    Args:
        s: the string.

    Returns:
        The quoted string (unchanged when it needs no quoting).
    """
    return shlex.quote(as_str("shlex.quote", "s", s))


@builtin("warn", located=True)
def warn(ctx: Ctx, msg: object) -> None:
    """Emit a warning: shown in the Tiltfile log and among the load's warnings.

    Args:
        msg: the message.
    """
    ctx.state.warn(as_str("warn", "msg", msg), ctx.location)


@builtin("exit")
def exit_(ctx: Ctx, code: object = None) -> None:
    """Stop executing the Tiltfile; everything declared so far is kept.

    As in Tilt, this is not an error: the resources declared before the call load
    normally. It also stops the files that ``include()`` the exiting file.

    Args:
        code: a message (a string is written to the Tiltfile log) or an exit code.
    """
    from tilt.tiltfile._loader import current_run

    if isinstance(code, str) and code:
        ctx.state.log(code)
    elif code is not None and not isinstance(code, str):
        ctx.state.log(f"exit({code})")
    current_run(ctx.state).exited = True
    raise TiltfileError("exit")


@builtin("include")
def include(ctx: Ctx, path: object) -> None:
    """Execute another Tiltfile, for what it declares (it exports nothing).

    The path is relative to the calling file; a file is executed once per load even
    when included (or loaded) several times. Use ``load()`` to import symbols.

    Args:
        path: the Tiltfile to execute (``ext://NAME`` for an extension).
    """
    from tilt.tiltfile._loader import current_run

    run = current_run(ctx.state)
    run.include(as_str("include", "path", path), ctx.file)
    if run.exited:
        # exit() in the included file stops this file too.
        raise TiltfileError("exit")


def _environ(ctx: Ctx) -> dict[str, str]:
    return dict(ctx.state.env)


def _argv(ctx: Ctx) -> list[str]:
    return list(sys.argv)


def _tilt_executable(ctx: Ctx) -> str:
    # The `tilt` console script installed next to this interpreter, when there is one:
    # Tiltfiles use sys.executable to call tilt itself, never Python.
    candidate = os.path.join(os.path.dirname(sys.executable), "tilt")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    if sys.argv and os.path.basename(sys.argv[0]) == "tilt":
        return os.path.abspath(sys.argv[0])
    return sys.executable


constant(
    "os.environ",
    _environ,
    "The environment variables, as Tilt's live mapping: read where it is used, so it sees "
    "`os.putenv` changes (and a `dotenv()` extension's); `os.environ[K] = V`, `del "
    "os.environ[K]` and the methods `update`, `setdefault`, `pop`, `popitem`, `clear` change "
    "the environment later reads and `local()` commands see. (A copy kept in a variable, "
    "`env = os.environ`, is a snapshot.)",
)
constant("os.name", os.name, 'The operating system family: `"posix"` or `"nt"`.')
constant("sys.argv", _argv, "The command line `tilt` was started with, as a list of strings.")
constant(
    "sys.executable",
    _tilt_executable,
    "The full path of the `tilt` command (not the Python interpreter it runs on).",
)


def finalize(state: LoadState, asm: Assembly) -> None:
    """Nothing to assemble: this family's builtins act while the Tiltfile runs."""
