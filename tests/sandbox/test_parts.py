"""The sandbox's parts on their own: wire validation, notebooks, the seccomp program, workers across threads/forks."""

from __future__ import annotations

import multiprocessing
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import grader.sandbox.runner as runner_module
from grader.sandbox import CaseInput, run_cases
from grader.sandbox import layers, wire
from grader.sandbox.notebook import NotebookError, notebook_to_source

from .conftest import CONV2D_SOURCE, survivors

NUMERIC_DTYPES = st.sampled_from(
    ["bool", "int8", "uint8", "int16", "int32", "int64", "uint32", "uint64", "float16", "float32", "float64", "longdouble", ">f8", "<i4", ">u2"]
)


@settings(max_examples=80, deadline=None)
@given(hnp.arrays(dtype=NUMERIC_DTYPES.map(np.dtype), shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)), st.booleans())
def test_array_blob_round_trip_gives_plain_native_arrays(array: np.ndarray, fortran: bool) -> None:
    if fortran:
        array = np.asfortranarray(array)
    loaded = wire.blob_to_array(wire.array_to_blob(array), max_bytes=1 << 20)
    assert type(loaded) is np.ndarray and loaded.shape == array.shape
    assert loaded.dtype in (np.float64, np.int64, np.bool_) and loaded.dtype.isnative
    assert loaded.flags.c_contiguous and loaded.flags.writeable
    np.testing.assert_array_equal(loaded, array.astype(loaded.dtype))


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(dtype=NUMERIC_DTYPES.map(np.dtype), shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_case_inputs_reach_the_child_with_their_dtype(array: np.ndarray) -> None:
    blobs: list[bytes] = []
    described = wire.encode_case_kwargs({"x": array, "n": 3, "flag": True, "scale": 0.5}, blobs)
    table, payload = wire.pack_blobs(blobs)
    decoded = wire.decode_case_kwargs(described, table, payload)
    sent = array.astype(np.float64) if array.dtype.kind == "f" and array.dtype.itemsize > 8 else array
    assert decoded["x"].dtype == sent.dtype.newbyteorder("=") and decoded["x"].shape == array.shape
    assert decoded["x"].flags.writeable and decoded["x"].flags.c_contiguous
    np.testing.assert_array_equal(decoded["x"], sent)
    assert decoded["n"] == 3 and type(decoded["n"]) is int and decoded["flag"] is True and decoded["scale"] == 0.5


def test_array_blob_keeps_uint64_beyond_int64_as_float() -> None:
    loaded = wire.blob_to_array(wire.array_to_blob(np.array([2**64 - 1, 0], dtype=np.uint64)), max_bytes=1 << 20)
    assert loaded.dtype == np.float64 and loaded[0] == float(2**64 - 1)


@pytest.mark.parametrize(
    "array",
    [np.array(["a", "b"]), np.array([1 + 2j]), np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]), np.array(["2020-01-01"], dtype="datetime64[D]"), np.array([object()])],
)
def test_array_blob_refuses_to_send_what_is_not_plain_numbers(array: np.ndarray) -> None:
    with pytest.raises(wire.WireError, match="dtype"):
        wire.array_to_blob(array)


def _blob(code: int, shape: tuple[int, ...], data: bytes, magic: bytes = wire.ARRAY_MAGIC) -> bytes:
    """A hand-made array blob: what a hostile child could send instead of :func:`wire.array_to_blob`'s output."""
    return wire.ARRAY_PREFIX.pack(magic, code, len(shape)) + b"".join(struct.pack("<Q", d) for d in shape) + data


def test_array_blob_reader_refuses_hostile_blobs() -> None:
    f8 = [d.str for d in wire.ARRAY_DTYPES].index("<f8")
    good = wire.array_to_blob(np.arange(10.0))
    assert good == _blob(f8, (10,), np.arange(10.0).tobytes())  # the format is what the docstring says
    hostile = {
        "too short": b"GA",
        "bad magic": b"XX" + good[2:],
        "dtype code": _blob(len(wire.ARRAY_DTYPES), (1,), b"\0" * 8),
        "dimensions": _blob(f8, (1,) * 33, b"\0" * 8),
        "cut off": _blob(f8, (2, 2), b"")[:-4],
        "wrong length": good[:-8],
        "wrong length ": good + b"extra",
        "more than the cap": _blob(f8, (2**20, 2**20), b""),  # a huge declared shape is refused before any copy
        "more than the cap ": _blob(f8, (2**31 - 1, 2**31 - 1, 2**31 - 1), b""),
        "axis longer": _blob(f8, (0, 2**63), b""),  # no data, but no array either
        "axis longer ": _blob(f8, (0, 2**31), b""),
        "cannot be an array": _blob(f8, (0,) + (2**31 - 1,) * 8, b""),  # each axis allowed, numpy refuses the shape
    }
    for fragment, blob in hostile.items():
        with pytest.raises(wire.WireError, match=fragment.strip()):
            wire.blob_to_array(blob, max_bytes=1 << 20)
    assert wire.blob_to_array(_blob(f8, (0, 3), b""), max_bytes=0).shape == (0, 3)


def test_frame_parser_handles_split_frames_and_refuses_oversized_ones() -> None:
    frames = wire.encode_frame({"kind": "a", "n": float("nan")}, b"xyz") + wire.encode_frame({"kind": "b"})
    parser = wire.FrameParser(max_payload_bytes=10)
    received = [frame for byte in frames for frame in parser.feed(bytes([byte]))]
    assert [header["kind"] for header, _ in received] == ["a", "b"] and received[0][1] == b"xyz"
    assert parser.buffered == 0
    with pytest.raises(wire.OversizeError):
        list(wire.FrameParser(max_payload_bytes=2).feed(frames))
    with pytest.raises(wire.WireError, match="not a frame"):
        list(wire.FrameParser(max_payload_bytes=10).feed(b"XXXX" + frames[4:]))
    with pytest.raises(wire.WireError, match="blob"):
        wire.blob_at(b"abc", [[2, 5]], 0)
    nested = wire.encode_frame({"kind": "x"}).replace(b'{"kind":"x"}', b"[" * 50_000 + b"]" * 50_000)
    nested = wire.PREFIX.pack(wire.MAGIC, 100_000, 0) + nested[wire.PREFIX.size :]
    with pytest.raises(wire.WireError, match="nests"):
        list(wire.FrameParser(max_payload_bytes=10).feed(nested))
    with pytest.raises(wire.WireError, match="exceeds 64 bytes"):
        list(wire.FrameParser(max_payload_bytes=10, max_header_bytes=64).feed(wire.encode_frame({"kind": "x" * 100})))


def test_results_are_capped_as_the_grader_holds_them() -> None:
    """int8 data is held as int64: eight times the bytes sent, and that is what the cap counts."""
    blob = wire.array_to_blob(np.ones(1000, dtype=np.int8))
    assert wire.blob_to_array(blob, max_bytes=8000).dtype == np.int64
    with pytest.raises(wire.WireError, match="as 64-bit values"):
        wire.blob_to_array(blob, max_bytes=7999)
    assert wire.held_bytes("b", 10) == 10 and wire.held_bytes("u", 10) == wire.held_bytes("f", 10) == 80


def test_notebook_line_map_points_at_cells() -> None:
    notebook = (
        '{"cells": [{"cell_type": "markdown", "source": "# title"},'
        ' {"cell_type": "code", "source": ["import numpy as np\\n", "  !ls\\n", "x = 1"]},'
        ' {"cell_type": "code", "source": "%%writefile a.txt\\nnot python"},'
        ' {"cell_type": "code", "source": "%%time\\ny = 2"}]}'
    )
    flattened = notebook_to_source(notebook, "hw.ipynb")
    lines = flattened.source.splitlines()
    assert lines[0] == "import numpy as np" and lines[1] == "" and lines[2] == "x = 1"
    assert "not python" not in flattened.source and "y = 2" in flattened.source
    assert flattened.locate(1) == (2, 1) and flattened.locate(3) == (2, 3)
    assert flattened.locate(lines.index("y = 2") + 1) == (4, 2)
    assert flattened.locate(10_000) is None
    compile(flattened.source, "hw.ipynb", "exec")
    deep = '{"cells": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for broken, fragment in (("[]", "no list of 'cells'"), ("{", "does not parse"), ('{"cells": [{"cell_type": "code", "source": 3}]}', "cell 1"), (deep, "nests too deeply")):
        with pytest.raises(NotebookError, match=fragment):
            notebook_to_source(broken, "hw.ipynb")


def test_a_line_starting_with_a_magic_character_inside_a_string_or_brackets_is_python() -> None:
    """Every line beginning with % or ! was blanked, also inside a triple-quoted string (its text silently lost) and
    inside brackets (where % is a modulo); IPython drops only lines that start a statement."""
    import json

    cells = [
        "x = '''\n!not a magic\n%also text\n'''\n!ls\n%timeit 1",
        "y = (7\n%2)\ns = 'a\\\n!b'\n  %matplotlib inline\nw = 1  # ''' in a comment\n!echo",
        'q = """one"""\n!magic\nt = "it\'s"\n%magic2\nu = "#" \\\n  "!"\n!done',
    ]
    flattened = notebook_to_source(json.dumps({"cells": [{"cell_type": "code", "source": cell} for cell in cells]}), "hw.ipynb")
    namespace: dict[str, object] = {}
    exec(compile(flattened.source, "hw.ipynb", "exec"), namespace)  # noqa: S102 -- the test's own notebook
    assert namespace["x"] == "\n!not a magic\n%also text\n"
    assert (namespace["y"], namespace["s"], namespace["w"], namespace["q"], namespace["t"], namespace["u"]) == (1, "a!b", 1, "one", "it's", "#!")
    assert [line for line in flattened.source.splitlines() if line.lstrip().startswith(("%", "!"))] == ["!not a magic", "%also text", "%2)", "!b'"]
    # Three backslashes end a line inside a string: an escaped one, then a line continuation (the scanner had
    # counted only whether the last two were a pair).
    odd = notebook_to_source(json.dumps({"cells": [{"cell_type": "code", "source": 's = "C:\\\\\\\n%d"\n!ls'}]}), "hw.ipynb")
    scope: dict[str, object] = {}
    exec(compile(odd.source, "hw.ipynb", "exec"), scope)  # noqa: S102 -- the test's own notebook
    assert scope["s"] == "C:\\%d"


def test_a_notebook_of_millions_of_tiny_json_values_is_refused_before_it_is_parsed() -> None:
    """Parsing builds an object per value in the grader's process: 32 MiB of ``[{},{},...]`` had taken 950 MB."""
    from grader.sandbox.notebook import MAX_NOTEBOOK_VALUES

    bomb = '{"cells": [{"cell_type": "code", "source": "x = 1", "outputs": [' + ",".join(["{}"] * (MAX_NOTEBOOK_VALUES + 1)) + "]}]}"
    with pytest.raises(NotebookError, match=r"holds about 1,000,0\d\d JSON values \(its outputs included\); a notebook may hold at most 1,000,000"):
        notebook_to_source(bomb, "hw.ipynb")


def test_seccomp_program_jumps_stay_inside_the_program() -> None:
    program = layers.build_seccomp_program(own_pid=1234)
    assert len(program) % 8 == 0
    instructions = [struct.unpack("HBBI", program[i : i + 8]) for i in range(0, len(program), 8)]
    assert len(instructions) < 256
    for position, (code, jt, jf, _k) in enumerate(instructions):
        if code & 0x07 == 0x05:  # BPF_JMP: both branches must land on an instruction
            assert position + 1 + max(jt, jf) < len(instructions)
    assert instructions[-1][0] == layers.BPF_RET_K  # falls off nowhere
    denied = {k for code, _jt, _jf, k in instructions if code == layers.BPF_JEQ_K}
    assert {59, 57, 58, 41, 322, 101} <= denied  # execve, fork, vfork, socket, execveat, ptrace
    # The own pid (packed into a prebuilt program) is the operand of the JEQ right after kill's argument is loaded.
    other = layers.build_seccomp_program(own_pid=98765)
    differing = [i for i in range(0, len(program), 8) if program[i : i + 8] != other[i : i + 8]]
    assert len(other) == len(program) and len(differing) == 1
    position = differing[0] // 8
    assert instructions[position] == (layers.BPF_JEQ_K, 2, 0, 1234)
    assert instructions[position - 1] == (layers.BPF_LD_W_ABS, 0, 0, layers.OFFSET_ARG0_LOW)


def test_workers_outlive_the_thread_that_first_needed_them(tmp_path: Path) -> None:
    submission = tmp_path / "conv.py"
    submission.write_text(CONV2D_SOURCE)
    case = [CaseInput("c", {"image": np.ones((4, 4, 1)), "filters": np.ones((3, 3, 1, 1))})]
    thread = threading.Thread(target=run_cases, args=(submission, "conv2d", case))
    thread.start()
    thread.join()
    idle_before = {worker.process.pid for worker in runner_module._POOL._idle}
    assert idle_before and all(worker.alive() for worker in runner_module._POOL._idle)
    report = run_cases(submission, "conv2d", case)
    assert report.cases[0].status == "ok" and float(report.cases[0].value[0, 0, 0]) == 9.0
    assert {worker.process.pid for worker in runner_module._POOL._idle} & idle_before


def _grade_in_forked_process(path: str) -> str:
    report = run_cases(Path(path), "conv2d", [CaseInput("c", {"image": np.ones((4, 4, 1)), "filters": np.ones((3, 3, 1, 1))})])
    return report.cases[0].status


def test_forked_grader_processes_get_their_own_workers(tmp_path: Path) -> None:
    submission = tmp_path / "conv.py"
    submission.write_text(CONV2D_SOURCE)
    assert _grade_in_forked_process(str(submission)) == "ok"  # the parent has a warm worker now
    parent_idle = list(runner_module._POOL._idle)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        assert pool.map(_grade_in_forked_process, [str(submission)] * 4) == ["ok"] * 4
    assert all(worker.alive() for worker in parent_idle)
    assert _grade_in_forked_process(str(submission)) == "ok"
    assert survivors() == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5))
def test_frame_headers_are_the_json_that_json_dumps_writes(header: dict) -> None:
    import json

    assert wire._encode_header(header) == json.dumps(header, separators=(",", ":"))
    frames = list(wire.FrameParser(1 << 20).feed(wire.encode_frame(header, b"xyz")))
    assert len(frames) == 1 and frames[0][1] == b"xyz"
    assert json.dumps(frames[0][0]) == json.dumps(header)  # NaN-safe equality


FORK_CHECK = """
import os, sys, threading, time
sys.path.insert(0, sys.argv[1])
from grader.sandbox import zygote

os_forks = []
real_fork = os.fork
os.fork = lambda: (os_forks.append(1), real_fork())[1]


def exit_code_of_child() -> int:
    pid = zygote.fork()
    if pid == 0:
        os._exit(7)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


assert exit_code_of_child() == 7
print("single thread:", "os.fork" if os_forks else "libc fork")
threading.Thread(target=time.sleep, args=(2,), daemon=True).start()
assert exit_code_of_child() == 7
print(len(os_forks))
"""


def test_the_zygote_forks_with_libc_only_while_it_has_one_thread() -> None:
    import subprocess
    import sys

    from grader.sandbox import zygote

    root = str(Path(__file__).resolve().parents[2])
    # The worker's environment: one BLAS thread (numpy's OpenBLAS would otherwise start a thread per core).
    output = subprocess.run(
        [sys.executable, "-c", FORK_CHECK, root], capture_output=True, text=True, timeout=60, check=True, env=runner_module.WORKER_ENV
    ).stdout
    libc = zygote._libc_fork() is not None
    assert output.splitlines()[0] == f"single thread: {'libc fork' if libc else 'os.fork'}"
    # With a second thread, os.fork is used whatever the interpreter.
    assert output.splitlines()[-1] == ("1" if libc else "2")


def test_cleanup_removes_what_a_submission_left_and_nothing_else(tmp_path: Path) -> None:
    from grader.sandbox import worker

    outside = tmp_path / "outside"
    outside.mkdir(mode=0o750)
    (outside / "keep.txt").write_text("not the submission's")
    mode = outside.stat().st_mode
    workdir = tmp_path / "submission"
    (workdir / "a" / "b" / "c").mkdir(parents=True)
    (workdir / "a" / "f.txt").write_text("x")
    (workdir / "a" / "b" / "c" / "g.txt").write_text("y")
    (workdir / "a" / "out").symlink_to(outside)
    (workdir / "keep-link").symlink_to(outside / "keep.txt")
    (workdir / "a" / "b").chmod(0)
    assert worker._remove_tree(str(workdir)) and not workdir.exists()
    assert (outside / "keep.txt").read_text() == "not the submission's"
    assert outside.stat().st_mode == mode  # not made 0700 through the link
    assert worker._remove_tree(str(workdir))  # already gone


def test_cleanup_gives_up_on_a_tree_too_deep_or_too_slow(tmp_path: Path) -> None:
    from grader.sandbox import worker

    deep = tmp_path / "deep"
    path = deep
    for _ in range(worker.MAX_CLEANUP_DEPTH + 5):
        path = path / "d"
    path.mkdir(parents=True)
    assert not worker._remove_tree(str(deep))
    many = tmp_path / "many"
    many.mkdir()
    for index in range(3000):
        (many / f"f{index}").touch()
    assert not worker._remove_tree(str(many), seconds=0.0)  # checked every 256 entries
    assert worker._remove_tree(str(many))


def test_a_stale_working_directory_is_moved_aside(tmp_path: Path) -> None:
    from grader.sandbox import worker

    workdir = tmp_path / "submission"
    workdir.mkdir()
    (workdir / "left.txt").write_text("from the previous submission")
    worker._make_workdir(str(workdir), None)
    assert workdir.is_dir() and list(workdir.iterdir()) == []
    assert oct(workdir.stat().st_mode & 0o777) == oct(0o700)
    (stale,) = [path for path in tmp_path.iterdir() if path != workdir]
    assert stale.name.startswith("submission.stale.") and (stale / "left.txt").exists()


HOOKS_CHECK = """
import importlib, os, sys, types
hooks = []
real_register = os.register_at_fork


def record(**kwargs):
    hooks.append(kwargs)
    real_register(**kwargs)


os.register_at_fork = record
package = types.ModuleType("_grader_sandbox")  # loaded as the worker loads itself (runner.WORKER_BOOT)
package.__path__ = [sys.argv[1]]
sys.modules["_grader_sandbox"] = package
from _grader_sandbox import child, worker
for name in worker.PREIMPORTED:
    importlib.import_module(name)
child._guard()
for hook in hooks:
    if "after_in_child" in hook:
        function = hook["after_in_child"]
        print(f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}")
"""


def test_the_after_fork_hooks_a_libc_fork_skips_are_known() -> None:
    """zygote.fork skips os.fork's after-fork work; the child redoes what matters (random's reseed). This pins the
    hooks the worker's modules register, so that a new one is looked at before it is silently skipped."""
    import subprocess
    import sys

    harness = str(Path(runner_module.__file__).resolve().parent)
    output = subprocess.run(
        [sys.executable, "-I", "-c", HOOKS_CHECK, harness], capture_output=True, text=True, timeout=60, check=True, env=runner_module.WORKER_ENV
    ).stdout
    assert sorted(output.split()) == ["random.Random.seed", "threading._after_fork"]


def test_a_notebook_spelling_lone_surrogates_becomes_text_a_file_could_hold() -> None:
    notebook = '{"cells": [{"cell_type": "code", "source": "STUDENT = \\"s-\\ud800\\"\\nx = 1"}]}'
    source = notebook_to_source(notebook, "hw.ipynb").source
    assert source.rstrip("\n") == 'STUDENT = "s-\ufffd"\nx = 1'
    source.encode("utf-8")


def test_only_folders_of_ended_workers_are_removed(tmp_path: Path) -> None:
    """Plain workers killed with their batch leave their folders; the next plain worker's start removes them. A
    folder is a worker's by its name and layout, and ended when no process holds its lock (a pid, looked up in
    /proc, can be another PID namespace's live worker)."""
    import fcntl
    import os
    import time

    from grader.sandbox.worker import remove_ended_workers_folders

    ended = tmp_path / "grader-worker-99999-abcdefgh"
    (ended / "submission").mkdir(parents=True)
    (ended / "submission" / "left.txt").write_text("x")
    live = tmp_path / "grader-worker-99998-abcdefgi"
    (live / "submission").mkdir(parents=True)
    users = tmp_path / "grader-worker-99997-abcdefgj"
    users.mkdir()
    (users / "notes.txt").write_text("mine")
    named_otherwise = tmp_path / "grader-worker-99996-notes"
    named_otherwise.mkdir()
    lock = os.open(live, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        remove_ended_workers_folders(str(tmp_path))
        deadline = time.monotonic() + 5
        while ended.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.close(lock)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([live.name, users.name, named_otherwise.name])
