"""The shipped models' recipe (`make checkpoints`) cannot run in a test (hours), but every command
it would run is parsed here by the real command line: the options exist, every run reads the
precomputed batches, the halves cover every step, the stages are the ones the README states."""

import argparse
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def recipe_commands() -> list:
    """``(command, argv)`` of every ``python -m mrs`` call of ``make -n checkpoints``."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-s", "checkpoints"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True).stdout.replace("\\\n", " ")
    calls = []
    for line in out.splitlines():
        loop = re.search(r"for (\w+) in ([\d ]+); do", line)
        for m in re.finditer(r"-m mrs (.*?)(?:\s+>>?\s|$)", line):
            argv = shlex.split(m.group(1))
            values = loop.group(2).split() if loop else [None]
            for v in values:
                calls.append([a.replace(f"${loop.group(1)}", v) if loop else a for a in argv])
    return calls


def test_every_command_of_the_recipe_parses_and_reads_the_batches():
    from mrs.ui.cli_train import precompute_parser, train_parser

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    train_parser(sub)
    precompute_parser(sub)
    calls = [parser.parse_args(argv) for argv in recipe_commands()]
    pre = [a for a in calls if a.command == "precompute"]
    train = [a for a in calls if a.command == "train"]
    # the precomputed halves cover steps 0 .. last stage, into the folder every run reads
    spans = sorted((a.start, a.stop) for a in pre)
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert {a.out for a in pre} == {a.batches for a in train} == {"runs/batches"}
    firsts = [a for a in train if not a.resume]
    assert sorted(a.out for a in firsts) == sorted(f"runs/{n}" for n in
                                                   ("resshift", "mvd", "emmd", "emmd_smooth",
                                                    "emmd_smooth_noisemap", "authors"))
    assert all(a.preset == "tiny_latent" for a in firsts)
    stages = sorted({a.steps for a in train if a.resume})
    assert stages == [14000, 24000] and spans[-1][1] == stages[-1]
    assert {a.latent_mask for a in firsts if a.process == "authors"} == {"authors"}
    assert {a.latent_mask for a in firsts if a.process != "authors"} == {"max"}
