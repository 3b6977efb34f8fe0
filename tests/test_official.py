"""Official weights: the cache folder, an atomic download, one clear message offline."""

import pytest

from mrs.pipelines import official


def test_cache_dir_follows_mrs_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MRS_HOME", str(tmp_path))
    assert official.cache_dir() == tmp_path


def test_download_is_atomic_and_complete(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3_000_000)
    dest = official.download(src.as_uri(), tmp_path / "cache" / "w.pth", progress=False)
    assert dest.read_bytes() == src.read_bytes()
    assert not list((tmp_path / "cache").glob(".*part"))           # no temporary file left


def test_offline_gives_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("MRS_HOME", str(tmp_path))
    with pytest.raises(official.OfficialWeightsMissing) as err:
        official.official_file("resshift_inpainting_face_s4.pth", allow_download=False)
    msg = str(err.value)
    assert "resshift_inpainting_face_s4.pth" in msg and str(tmp_path) in msg and "https://" in msg
    (tmp_path / "resshift_inpainting_face_s4.pth").write_bytes(b"weights")
    assert official.official_file("resshift_inpainting_face_s4.pth", allow_download=False).is_file()


def test_failed_download_names_the_url(tmp_path, monkeypatch):
    monkeypatch.setenv("MRS_HOME", str(tmp_path))
    monkeypatch.setattr(official, "_RELEASE", (tmp_path / "nowhere").as_uri() + "/")
    with pytest.raises(official.OfficialWeightsMissing, match="download failed"):
        official.official_file("autoencoder_vq_f4.pth", progress=False)
    assert not (tmp_path / "autoencoder_vq_f4.pth").exists()
