"""The ``files`` of an image spec: validation, the spec hash, the dry-run plan and the shell that places them.

The shell lines are run for real (bash and the system sh) against a scratch directory, with a stub ``chown``
on PATH, because a root-owned file cannot be made without root and the test must not depend on it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from sgarch.ami.pipeline import plan_build
from sgarch.ami.spec import INLINE_BUDGET_BYTES, MAX_FILE_BYTES, FileRef, LoadedSpec, load_spec
from sgarch.ami.steps.commands import file_commands
from sgarch.errors import ConfigError, format_value

HEADER = "name: x1\nsourcegraph_version: 7.5.4453\n"
GOOD = "  - {source: app.conf, destination: /etc/app/app.conf}\n"


def _load(folder: Path, entries: str) -> LoadedSpec:
    (folder / "ami.yaml").write_text(HEADER + "files:\n" + entries)
    return load_spec(folder)


def _error(folder: Path, entries: str) -> str:
    with pytest.raises(ConfigError) as raised:
        _load(folder, entries)
    return str(raised.value)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "app.conf").write_text("port = 8080\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "other.env").write_text("A=1\n")
    return tmp_path


# --- the spec ----------------------------------------------------------------------------------------------


def test_a_good_entry_resolves_with_the_default_mode(folder: Path) -> None:
    loaded = _load(
        folder,
        GOOD
        + "  - {source: conf/other.env, destination: /etc/app/other.env, mode: '640'}\n"
        + "  - {source: 'package:sgarch.ami/scripts/harden.sh', destination: /usr/local/sbin/harden, "
        + "mode: '0755'}\n",
    )
    first, second, third = loaded.files
    assert (first.ref, first.destination, first.mode) == ("app.conf", "/etc/app/app.conf", "0644")
    assert first.content == b"port = 8080\n" and first.path == folder / "app.conf"
    assert (second.destination, second.mode) == ("/etc/app/other.env", "0640")  # normalised to 4 digits
    assert third.content.startswith(b"#!/usr/bin/env bash\n") and third.mode == "0755"
    assert [f.mode for f in loaded.spec.files] == ["0644", "0640", "0755"]
    # --version and --regions keep the resolved files.
    assert loaded.with_overrides(version="7.6.0").files == loaded.files


@pytest.mark.parametrize(
    ("destination", "expected"),
    [
        ("etc/app.conf", "an absolute path"),
        ("'/etc/a b'", "a path of letters, digits and / . _ - @ +"),
        ("'/etc/$(reboot)'", "a path of letters, digits and / . _ - @ +"),
        ("'/etc/x;rm'", "a path of letters, digits and / . _ - @ +"),
        ("/etc/*.conf", "a path of letters, digits and / . _ - @ +"),
        ("/etc/app/", "a file path, not a directory"),
        ("/", "a file path, not a directory"),
        ("/etc/../shadow", "a path without empty, . or .. parts"),
        ("/etc/./app.conf", "a path without empty, . or .. parts"),
        ("/var/lib//sgarch-build/x", "a path without empty, . or .. parts"),
        ("/var/lib/sgarch-build/x.sh", "a path outside /var/lib/sgarch-build"),
        ("/var/lib/sgarch-build", "a path outside /var/lib/sgarch-build"),
    ],
)
def test_bad_destinations_name_the_entry(folder: Path, destination: str, expected: str) -> None:
    value = destination.strip("'")
    message = _error(folder, GOOD + f"  - {{source: app.conf, destination: {destination}}}\n")
    assert message.startswith(f"files[1].destination must be {expected} (got {value!r}): ")


def test_a_destination_next_to_the_scratch_directory_is_fine(folder: Path) -> None:
    loaded = _load(folder, "  - {source: app.conf, destination: /var/lib/sgarch-build-notes/a@b+c}\n")
    assert loaded.files[0].destination == "/var/lib/sgarch-build-notes/a@b+c"


@pytest.mark.parametrize("mode", ["9999", "0888", "1755", "04755", "rw-r--r--", "", "75"])
def test_bad_modes_name_the_entry(folder: Path, mode: str) -> None:
    message = _error(folder, GOOD + f"  - {{source: app.conf, destination: /etc/b, mode: '{mode}'}}\n")
    expected = "an octal mode of three digits, optionally after a 0"
    assert message.startswith(f"files[1].mode must be {expected} (got {format_value(mode)}): ")


def test_an_unquoted_mode_is_refused_rather_than_read_as_decimal(folder: Path) -> None:
    message = _error(folder, GOOD + "  - {source: app.conf, destination: /etc/b, mode: 0644}\n")
    assert message.startswith('files[1].mode must be a quoted octal string like "0644"')
    assert "(got 420)" in message


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "../escape.conf",
            "files[1].source must be a path inside the spec folder (got '../escape.conf'): "
            "move the file next to ami.yaml.",
        ),
        ("/etc/passwd", "files[1].source must be a path inside the spec folder (got '/etc/passwd')"),
        ("missing.conf", "files[1].source must be an existing file (got 'missing.conf')"),
        ("conf", "files[1].source must be an existing file (got 'conf')"),
        (
            "'package:sgarch.nonexistent/x.conf'",
            "files[1].source must be a file in an installed package "
            "(got 'package:sgarch.nonexistent/x.conf')",
        ),
        ("'package:sgarch.ami'", "files[1].source must be package:<dotted.package>/<path>"),
    ],
)
def test_bad_sources_name_the_entry(folder: Path, source: str, message: str) -> None:
    assert _error(folder, GOOD + f"  - {{source: {source}, destination: /etc/b}}\n").startswith(message)


def test_missing_and_unknown_keys_name_the_entry(folder: Path) -> None:
    assert _error(folder, GOOD + "  - {source: app.conf}\n").startswith("files[1].destination must be set")
    assert _error(folder, GOOD + "  - {source: app.conf, destination: /etc/b, owner: nobody}\n").startswith(
        "files[1].owner must be a known setting (got 'nobody')"
    )


def test_duplicate_destinations_are_refused(folder: Path) -> None:
    message = _error(folder, GOOD + "  - {source: conf/other.env, destination: /etc/app/app.conf}\n")
    assert message == (
        "files[1].destination must be a destination no other entry writes (got '/etc/app/app.conf'): "
        "files[0] already writes it; keep one of the two."
    )


def test_a_file_too_big_for_one_command_is_refused_at_load(folder: Path) -> None:
    (folder / "big.bin").write_bytes(b"x" * MAX_FILE_BYTES)
    assert len(_load(folder, "  - {source: big.bin, destination: /opt/big.bin}\n").files) == 1
    (folder / "big.bin").write_bytes(b"x" * (MAX_FILE_BYTES + 1))
    message = _error(folder, GOOD + "  - {source: big.bin, destination: /opt/big.bin}\n")
    assert message.startswith(f"files[1].source must be a file of at most {MAX_FILE_BYTES:,} bytes")
    assert "(got 'big.bin')" in message and "ship it inside a provisioner that downloads it" in message


def test_the_hash_tracks_file_content_destination_and_mode(folder: Path) -> None:
    def spec_hash(entries: str) -> str:
        return _load(folder, entries).spec_hash

    base = spec_hash(GOOD)
    assert spec_hash(GOOD) == base
    assert spec_hash("  - {source: app.conf, destination: /etc/app/other.conf}\n") != base
    assert spec_hash("  - {source: app.conf, destination: /etc/app/app.conf, mode: '0600'}\n") != base
    # The same mode written two ways is the same image.
    assert spec_hash("  - {source: app.conf, destination: /etc/app/app.conf, mode: '644'}\n") == base
    (folder / "app.conf").write_text("port = 9090\n")
    assert spec_hash(GOOD) != base


def test_a_spec_without_files_keeps_the_hash_it_had_before_files_existed(folder: Path) -> None:
    # Built images are found by hash: a new field must not make every existing image look outdated.
    (folder / "ami.yaml").write_text(HEADER + "hardening: []\n")
    loaded = load_spec(folder)
    assert loaded.files == ()
    dumped = {k: v for k, v in loaded.spec.model_dump(mode="json").items() if k != "files"}
    assert loaded.spec_hash == hashlib.sha256(json.dumps(dumped, sort_keys=True).encode()).hexdigest()


def test_the_dry_run_plan_lists_the_files(folder: Path) -> None:
    loaded = _load(folder, GOOD + "  - {source: conf/other.env, destination: /etc/app/other.env}\n")
    assert plan_build(loaded).files == (
        "/etc/app/app.conf <- app.conf",
        "/etc/app/other.env <- conf/other.env",
    )


# --- the shell lines ---------------------------------------------------------------------------------------


def _ref(destination: Path | str, content: bytes, mode: str = "0644") -> FileRef:
    return FileRef(
        ref=f"src/{Path(destination).name}",
        path=Path("unused"),
        content=content,
        destination=str(destination),
        mode=mode,
    )


@pytest.fixture
def stub_path(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """An environment whose PATH starts with a ``chown`` that only logs its arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "chown.log"
    chown = bin_dir / "chown"
    chown.write_text(f'#!/bin/sh\necho "$*" >> {log}\n')
    chown.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}, log


def _run(
    shell: str, lines: list[str], env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    # Run as SSM's AWS-RunShellScript does: the commands, one per line, as a script file.
    script = tmp_path / "commands.sh"
    script.write_text("\n".join(lines) + "\n")
    return subprocess.run([shell, str(script)], env=env, capture_output=True, text=True, check=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


SHELLS = ["bash", "sh"]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_lines_place_files_with_content_and_mode_then_replace_them_atomically(
    tmp_path: Path, stub_path: tuple[dict[str, str], Path], shell: str
) -> None:
    env, chown_log = stub_path
    root = tmp_path / "root"
    (root / "etc" / "private").mkdir(parents=True)
    (root / "etc" / "private").chmod(0o700)
    binary = bytes(range(256)) * 3
    files = [
        _ref(root / "etc" / "app" / "conf.d" / "app.conf", b"port = 8080\n"),
        _ref(root / "etc" / "private" / "secret.env", b"TOKEN=abc\n", "0600"),
        _ref(root / "usr" / "local" / "bin" / "tool", binary, "0755"),
        _ref(root / "etc" / "empty", b""),
    ]
    (commands,) = file_commands(files)
    result = _run(shell, commands, env, tmp_path)
    assert result.returncode == 0, result.stderr

    for file in files:
        path = Path(file.destination)
        assert path.read_bytes() == file.content
        assert _mode(path) == int(file.mode, 8)
    # Missing parents are created 0755; an existing directory keeps its own mode.
    assert _mode(root / "etc" / "app") == _mode(root / "etc" / "app" / "conf.d") == 0o755
    assert _mode(root / "usr" / "local" / "bin") == 0o755
    assert _mode(root / "etc" / "private") == 0o700
    chowned = chown_log.read_text().splitlines()
    assert len(chowned) == len(files) and all(line.startswith("root:root ") for line in chowned)
    assert [Path(line.split()[1]).parent for line in chowned] == [Path(f.destination).parent for f in files]

    # Second run, new content: the file is replaced by a rename, so a reader holding the old one still has it.
    target = Path(files[0].destination)
    before = target.stat().st_ino
    with target.open("rb") as reader:
        changed = [_ref(target, b"port = 9090\n", "0640"), *files[1:]]
        result = _run(shell, file_commands(changed)[0], env, tmp_path)
        assert result.returncode == 0, result.stderr
        assert reader.read() == b"port = 8080\n"
    assert target.read_bytes() == b"port = 9090\n" and _mode(target) == 0o640
    assert target.stat().st_ino != before
    leftovers = [p for p in root.rglob("*") if ".sgarch-" in p.name]
    assert leftovers == []


@pytest.mark.parametrize("shell", SHELLS)
def test_a_failing_line_stops_the_command_and_leaves_no_temporary_file(
    tmp_path: Path, stub_path: tuple[dict[str, str], Path], shell: str
) -> None:
    env, _ = stub_path
    root = tmp_path / "root"
    (root / "etc" / "app.conf").mkdir(parents=True)  # a directory where the file should go
    files = [_ref(root / "etc" / "app.conf", b"x\n"), _ref(root / "etc" / "after", b"y\n")]
    result = _run(shell, file_commands(files)[0], env, tmp_path)
    assert result.returncode != 0
    assert not (root / "etc" / "after").exists()  # set -e: nothing after the failure runs
    assert list((root / "etc" / "app.conf").iterdir()) == []  # not moved into the directory either
    assert [p.name for p in (root / "etc").iterdir()] == ["app.conf"]  # the trap removed the temporary file


def _payload(lines: list[str], destination: str) -> bytes:
    """The base64 body of ``destination``'s heredoc in ``lines``."""
    start = next(i for i, line in enumerate(lines) if line == f'mv -f -T "$tmp" {destination}')
    end = max(i for i in range(start) if lines[i] == "SGARCH_FILE")
    begin = max(i for i in range(end) if lines[i].startswith("base64 -d"))
    return base64.b64decode("".join(lines[begin + 1 : end]))


def test_small_files_share_one_command_and_big_ones_split() -> None:
    small = [_ref(f"/etc/app/file{i}.conf", f"setting {i}\n".encode() * 20) for i in range(10)]
    (only,) = file_commands(small)
    assert only[:2] == ["set -eu", "umask 022"]
    assert [_payload(only, f.destination) for f in small] == [f.content for f in small]

    big = [_ref(f"/opt/blob{i}", bytes(20_000)) for i in range(4)]  # ~26.7 KB of base64 each
    batches = file_commands([*small, *big])
    assert len(batches) == 4  # the small files ride with the first blob, then one blob per command
    placed = [line.split()[-1] for batch in batches for line in batch if line.startswith("mv ")]
    assert placed == [f.destination for f in (*small, *big)]  # order kept
    for batch in batches:
        assert sum(len(line) + 1 for line in batch) <= INLINE_BUDGET_BYTES

    largest = file_commands([_ref("/opt/largest", bytes(MAX_FILE_BYTES))])
    assert len(largest) == 1 and sum(len(line) + 1 for line in largest[0]) < 52_000
    assert file_commands([]) == []


def test_files_are_copied_even_without_provisioners_and_only_once(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sgarch.ami.steps import Harden, Provision, commands

    loaded = _load(folder, GOOD)
    assert loaded.provisioners == ()
    sent: list[tuple[str, list[str], str]] = []
    monkeypatch.setattr(
        commands,
        "run_command",
        lambda state, step, commands, what, timeout: sent.append((step, commands, what)),
    )
    events: list[object] = []
    state = SimpleNamespace(loaded=loaded, emit=events.append)
    Provision().run(state)  # type: ignore[arg-type]
    assert [(step, what) for step, _, what in sent] == [("provision", "copying files (1 of 1)")]
    assert sent[0][1] == file_commands(loaded.files)[0]
    Harden().run(state)  # type: ignore[arg-type]
    assert [what for _, _, what in sent[1:]] == ["harden.sh"]  # the default hardening, no second copy
