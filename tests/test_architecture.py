"""The architecture: layers that import only downwards, module sizes, registries, extension from
outside the package, the pipeline, one spec per concept."""

import ast
import json
from pathlib import Path

import pytest
import torch

import mrs

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "mrs"
# the layers, bottom first: a module may import its own layer and the ones before it
LAYERS = ["core", "data", "sampling", "nets", "pipelines", "training", "evaluation", "ui"]


def _layer(module: str) -> int | None:
    """Layer index of a module name inside mrs (None for the package root and __main__)."""
    parts = module.split(".")
    if parts[0] != "mrs" or len(parts) < 2 or parts[1] not in LAYERS:
        return None
    return LAYERS.index(parts[1])


def _imports(path: Path):
    """Every mrs module a source file imports, top level or inside functions (lazy imports too)."""
    mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    pkg = pkg.removesuffix(".__init__")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("mrs"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("mrs"):
                yield target
                for a in node.names:  # "from . import data" names a submodule
                    yield f"{target}.{a.name}"


def _modules():
    return sorted(p for p in PKG.rglob("*.py"))


def test_layers_import_only_downwards():
    upward = []
    for path in _modules():
        mod = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        own = _layer(mod)
        if own is None:
            continue
        for target in _imports(path):
            other = _layer(target)
            if other is not None and other > own:
                upward.append(f"{mod} imports {target}")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_layer_walker_sees_an_upward_import(tmp_path):
    """The check above can fail: a core module importing from training is flagged."""
    fake = PKG / "core" / "_upward_probe.py"
    fake.write_text("def f():\n    from ..training import Trainer\n")
    try:
        found = list(_imports(fake))
        assert "mrs.training" in found and _layer("mrs.training") > _layer("mrs.core._upward_probe")
    finally:
        fake.unlink()


def test_no_module_over_400_lines_and_no_long_functions():
    long_modules = [f"{p.relative_to(ROOT)}: {n}" for p in _modules()
                    if (n := len(p.read_text().splitlines())) > 400]
    assert not long_modules, long_modules
    long_functions = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > 75:  # ~60 lines of code plus a docstring
                    long_functions.append(f"{p.relative_to(ROOT)}:{node.name} {n} lines")
    assert not long_functions, long_functions


# -- a process defined here, outside the package ------------------------------------------------

@mrs.register_process("half_known_test")
class HalfKnown(mrs.Process):
    """Known pixels get half the rate: rho = 0.5 + 0.5 M (exact, every method from rate)."""

    def rate(self, mask):
        return 0.5 + 0.5 * mask


def test_a_process_registered_outside_mrs_trains_loads_and_inpaints(tmp_path):
    assert "half_known_test" in mrs.process_names()
    cfg = mrs.TrainConfig.preset("tiny", process="half_known_test", image_size=16, steps=2, batch_size=2,
                                 val_size=2, val_every=2, ckpt_every=2, lpips_weight=0, train_pool=8)
    mrs.Trainer(cfg, tmp_path / "run", progress=False).run()
    pipe = mrs.load_pretrained(tmp_path / "run")
    assert isinstance(pipe.process, HalfKnown) and pipe.image_size == 16
    x0 = mrs.synthetic_faces(2, 16, seed=1)
    mask = mrs.masks.box_mask(16, 4, 4, 8, 8, n=2)
    out = pipe.inpaint(x0, mask, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[mask.expand_as(out) == 0], x0[mask.expand_as(x0) == 0])
    assert not torch.equal(out, x0)
    # and it shows up in the CLI's choices and the widgets' dropdown
    from mrs.ui.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])


def test_the_cli_and_the_app_list_registered_processes(capsys):
    from mrs.ui.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "half_known_test" in capsys.readouterr().out
    pytest.importorskip("ipywidgets")
    from mrs.ui.widgets import sampler_app

    app = sampler_app(denoiser="oracle")
    assert "half_known_test" in app.controls["process"].options


def test_registry_errors():
    with pytest.raises(ValueError, match="must be one of"):
        mrs.make_process("nope", mrs.Schedule.exponential())
    with pytest.raises(ValueError, match="subclass"):
        mrs.register_process("not_a_process")(int)
    with pytest.raises(ValueError, match="taken"):
        mrs.register_process("emmd")(HalfKnown)
    with pytest.raises(ValueError, match="unknown option"):
        mrs.ProcessSpec("emmd", {"blur_width": 1.0})
    with pytest.raises(ValueError, match="sampler must be one of"):
        mrs.make_sampler("nope")


# -- one spec per concept ----------------------------------------------------------------------

def test_specs_round_trip_and_compare_by_value():
    spec = mrs.ScheduleSpec(T=5, kappa=1.5)
    assert spec.build() == mrs.Schedule.exponential(T=5, kappa=1.5)
    assert spec.build() != mrs.Schedule.exponential(T=5, kappa=1.0)
    assert mrs.ScheduleSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.build().spec == spec
    p = mrs.ProcessSpec("emmd_smooth", {"noise_floor": 0.1})
    assert p.options == {"blur_width": 2.0, "noise_floor": 0.1}
    back = mrs.ProcessSpec.from_dict(p.to_dict())
    assert back == p and hash(back) == hash(p)
    assert mrs.ProcessSpec.of("emmd", blur_width=3.0) == mrs.ProcessSpec("emmd")
    cfg = mrs.TrainConfig.preset("tiny", process="mvd", kappa=1.0, blur_width=2.0)
    assert cfg.schedule.kappa == 1.0 and cfg.process == mrs.ProcessSpec("mvd", {"blur_width": 2.0})
    assert mrs.TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match="unknown TrainConfig"):
        mrs.TrainConfig.preset("tiny", flux=3)
    with pytest.raises(ValueError, match="etas_end"):
        mrs.ScheduleSpec(etas_end=2.0)


def test_shipped_checkpoints_load_as_pipelines_in_process_order():
    names = mrs.list_pretrained()
    assert names == ["resshift", "mvd", "emmd", "emmd_smooth", "emmd_smooth_noisemap", "authors"]
    pipe = mrs.load_pretrained("mvd")
    assert pipe.process.name == "mvd" and pipe.process.blur_width == 1.0 and pipe.latent
    assert pipe.meta["loss"] == "mse" and pipe.meta["net"]["arch"] == "swin_unet"
    assert mrs.load_pretrained("authors").latent_mask == "authors" and pipe.latent_mask == "max"
    old = mrs.list_pretrained("pixel32")
    assert old == [f"pixel32/{n}" for n in names[:-1]]
    assert mrs.load_pretrained("pixel32/mvd").process.blur_width == 2.0
    assert not mrs.load_pretrained("pixel32/mvd").latent
    with pytest.raises(ValueError, match="group"):
        mrs.list_pretrained("pixel64")


# -- golden sums: a refactor that changes numbers fails loudly ----------------------------------

# process -> (sum, absolute sum) of a full 4-step sample (_golden_sample). Pinned from the code
# before the layered refactor (commit 29988f9), which gave these exact values too.
GOLDEN = {
    "resshift": (-23.623972540255636, 578.6834302232601),
    "mvd": (-121.93673880118877, 587.3761193109676),
    "emmd": (-121.93673880118877, 587.3761193109676),
    "emmd_smooth": (-28.356853703968227, 566.1106775170192),
}


def _golden_sample(name):
    torch.manual_seed(0)
    sch = mrs.Schedule.exponential()
    cfg = mrs.nets.SwinUNetConfig.preset("tiny", sch)
    net = mrs.nets.SwinUNet(cfg).eval()
    with torch.no_grad():  # the zero-initialised output conv would hide the rest of the net
        net.conv_out.weight.normal_(0, 0.05)
    proc = mrs.make_process(name, sch)
    x0 = mrs.synthetic_faces(2, 16, seed=0)
    mask = mrs.masks.box_mask(16, 3, 5, 8, 7, n=2)
    out = mrs.sample(proc, net.denoiser(proc), mrs.degrade(x0, mask), mask,
                     generator=torch.Generator().manual_seed(0))
    return float(out.double().sum()), float(out.double().abs().sum())


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_sums(name):
    total, absolute = _golden_sample(name)
    expected = GOLDEN[name]
    assert expected is not None, f"pin GOLDEN[{name!r}] = ({total!r}, {absolute!r})"
    assert total == pytest.approx(expected[0], rel=1e-5, abs=1e-4)
    assert absolute == pytest.approx(expected[1], rel=1e-5)
