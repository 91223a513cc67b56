import pytest

from headstart.cache import atomic_write


def test_atomic_write_replaces_whole_files_and_leaves_nothing_behind_on_failure(tmp_path):
    path = tmp_path / "mask.npy"
    atomic_write(path, lambda f: f.write(b"first"))
    atomic_write(path, lambda f: f.write(b"second"))
    assert path.read_bytes() == b"second"

    def crash(f):
        f.write(b"half")
        raise KeyboardInterrupt  # a run killed mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert path.read_bytes() == b"second"
    assert [p.name for p in tmp_path.iterdir()] == ["mask.npy"]  # no temporary file left
