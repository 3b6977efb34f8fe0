import pytest
import torch

import mrs


@pytest.fixture(scope="session")
def paper_schedule():
    return mrs.Schedule.exponential(T=4, kappa=2.0, min_noise_level=0.2, etas_end=0.99,
                                    power=0.3)


@pytest.fixture(scope="session")
def face8():
    """One 8x8 face with a 4x4 hole off-centre: known pixels, hole pixels and a band."""
    x0 = mrs.synthetic_faces(1, 8, seed=3)
    mask = mrs.masks.box_mask(8, 2, 3, 4, 4)
    return x0, mask, mrs.degrade(x0, mask)


def make(name, sch):
    opts = {"emmd_smooth": dict(blur_width=1.0, noise_floor=0.05)}.get(name, {})
    return mrs.make_process(name, sch, **opts)


@pytest.fixture(params=list(mrs.process_names()))
def proc(request, paper_schedule):
    return make(request.param, paper_schedule)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module (``pytestmark = pytest.mark.usefixtures("one_thread")``): batches
    of one small image run several times faster than on contended threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def vq_file(tmp_path_factory):
    """A tiny VQ-f4 autoencoder checkpoint (two training steps: the plumbing, not the quality)."""
    pytest.importorskip("diffusers")
    from mrs.training.autoencoder import AutoencoderTrainConfig, train_autoencoder

    stem = tmp_path_factory.mktemp("vq") / "vq"
    train_autoencoder(AutoencoderTrainConfig(image_size=16, steps=2, batch_size=2, pool=4, val_size=2),
                      stem, progress=False)
    return stem
