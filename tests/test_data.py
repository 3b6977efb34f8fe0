import pytest
import torch
from PIL import Image

import mrs
from mrs.data import FaceFolder, MaskedPairs, SyntheticFaces, load_image, validation_split


@pytest.fixture
def folder(tmp_path):
    g = torch.Generator().manual_seed(0)
    for i, (w, h) in enumerate([(40, 30), (32, 32), (20, 50)]):
        arr = (torch.rand(h, w, 3, generator=g) * 255).to(torch.uint8).numpy()
        Image.fromarray(arr).save(tmp_path / f"img{i}.{'png' if i % 2 else 'jpg'}")
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def test_face_folder(folder):
    ds = FaceFolder(folder, size=24)
    assert len(ds) == 3
    x = ds[0]
    assert x.shape == (3, 24, 24) and float(x.min()) >= -1 and float(x.max()) <= 1


def test_bad_images_are_named(folder, tmp_path_factory):
    (folder / "broken.png").write_bytes(b"\x89PNG garbage")
    ds = FaceFolder(folder, size=24)
    with pytest.raises(ValueError, match="broken.png"):
        [ds[i] for i in range(len(ds))]
    with pytest.raises(ValueError, match="not found"):
        load_image(folder / "nope.png", 8)
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ValueError, match="no images"):
        FaceFolder(empty)
    with pytest.raises(ValueError, match="folder"):
        FaceFolder(folder / "img1.png")


def test_synthetic_dataset_matches_generator():
    ds = SyntheticFaces(16, seed=0, length=10)
    assert torch.equal(torch.stack([ds[i] for i in range(4)]), mrs.synthetic_faces(4, 16, 0))
    with pytest.raises(IndexError):
        ds[10]


def test_masked_pairs_and_fixed_validation_split(folder):
    a = validation_split(6, 32)
    b = validation_split(6, 32)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    x0, mask, y = a
    assert torch.equal(y, (1 - mask) * x0)
    assert bool((mask.flatten(1).sum(1) > 0).all())
    pairs = MaskedPairs(FaceFolder(folder, 32), "box", mask_seed=3)
    assert torch.equal(pairs[1][1], MaskedPairs(FaceFolder(folder, 32), "box", 3)[1][1])
    with pytest.raises(ValueError, match="mask_kind"):
        MaskedPairs(pairs.images, "circle")


def test_ssim_matches_scikit_image():
    skimage = pytest.importorskip("skimage.metrics")
    x = mrs.synthetic_faces(2, 32)
    r = (x + 0.1 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    ours = mrs.metrics.ssim(x, r)
    for i in range(2):
        ref = skimage.structural_similarity(
            x[i].permute(1, 2, 0).double().numpy(), r[i].permute(1, 2, 0).double().numpy(),
            data_range=2, channel_axis=2, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False)
        assert float(ours[i]) == pytest.approx(ref, abs=1e-5)
    assert torch.allclose(mrs.metrics.ssim(x, x), torch.ones(2))
