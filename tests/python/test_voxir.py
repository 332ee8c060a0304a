"""The voxir Python module over a small phantom collection (run by ctest through pytest)."""
import threading

import numpy as np
import pytest

import voxir


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    root = tmp_path_factory.mktemp("voxir")
    data = root / "phantoms"
    voxir.synth(str(data), subjects=6, seed=11, spacing=5.0, matrix=64, test_fraction=0.0)
    index = root / "index"
    report = voxir.build_index(str(index), [str(data)], index="Flat", cache=str(root / "cache"))
    return data, index, report


def test_build_reports_what_it_indexed(collection):
    data, index, report = collection
    assert report["volumes_added"] == 6
    assert report["skipped"] == []
    idx = voxir.Index(str(index))
    assert idx.info["volumes"] == 6
    assert idx.info["vectors"] == sum(v["slices"] for v in idx.volumes)
    assert {v["id"] for v in idx.volumes} == {f"s{i:04d}" for i in range(1, 7)}


def test_path_region_and_indexed_id_give_the_same_answer(collection):
    data, index, _ = collection
    idx = voxir.Index(str(index))
    by_path = idx.search(path=str(data / "s0002" / "ct.nii.gz"), labels=str(data / "s0002" / "segmentations"),
                         region="liver", exclude_self=True)
    by_id = idx.search(volume_id="s0002", region="liver", exclude_self=True)
    assert by_path["query_region"] == "liver"
    assert by_path["excluded"] == ["s0002"]
    assert by_id["query_slices"] == by_path["query_slices"]
    assert [r["volume"] for r in by_id["results"]] == [r["volume"] for r in by_path["results"]]
    assert "s0002" not in [r["volume"] for r in by_path["results"]]
    first, last = by_path["query_slices"]
    for result in by_path["results"]:
        # One aligned slice per query slice (MaxSim re-ranking is on by default).
        assert [a[0] for a in result["alignment"]] == list(range(first, last + 1))


def test_numpy_vectors_are_searched_in_place(collection):
    _, index, _ = collection
    idx = voxir.Index(str(index))
    stored = idx.vectors("s0003")
    assert stored.dtype == np.float32 and not stored.flags.writeable
    assert stored.shape == (idx.volumes[2]["slices"], idx.info["dim"])
    np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-4)
    answer = idx.search(vectors=stored[10:20], first_slice=10, rerank=None, mode="sum")
    assert answer["query_slices"] == (10, 19)
    assert answer["results"][0]["volume"] == "s0003"
    # A query taken from slices 10..19 of s0003 is found there.
    location = answer["results"][0]["location"]
    assert location[0] <= 19 and location[1] >= 10


def test_hu_array_gives_the_same_answer_as_the_file(collection):
    data, index, _ = collection
    idx = voxir.Index(str(index))
    path = str(data / "s0005" / "ct.nii.gz")
    volume = voxir.read_volume(path)
    hu = volume["hu"]
    assert hu.dtype == np.float32 and hu.ndim == 3
    assert hu.shape[0] == next(v["slices"] for v in idx.volumes if v["id"] == "s0005")
    assert hu.min() >= -1024 and hu.max() > 300  # air and bone in HU
    from_file = idx.search(path=path, slices=(5, 15), top=3)
    from_array = idx.search(hu=hu, spacing=volume["spacing"], slices=(5, 15), top=3)
    assert [r["volume"] for r in from_array["results"]] == [r["volume"] for r in from_file["results"]]
    assert from_file["results"][0]["volume"] == "s0005"
    assert from_array["results"][0]["score"] == pytest.approx(from_file["results"][0]["score"], abs=1e-5)
    with pytest.raises(voxir.Error, match="3-D array"):
        idx.search(hu=hu[0], spacing=volume["spacing"])


def test_errors_are_voxir_errors(collection):
    _, index, _ = collection
    idx = voxir.Index(str(index))
    with pytest.raises(voxir.Error, match="unknown region 'livr'; did you mean: liver"):
        idx.search(volume_id="s0001", region="livr")
    with pytest.raises(voxir.Error, match="exactly one source"):
        idx.search()
    with pytest.raises(voxir.Error, match="expected a 2-D array"):
        idx.search(vectors=np.zeros((3, 5), dtype=np.float32))
    with pytest.raises(voxir.Error, match="not found"):
        voxir.Index(str(index) + "-missing")


def test_threads_search_at_once(collection):
    _, index, _ = collection
    idx = voxir.Index(str(index))
    want = idx.search(volume_id="s0004", region="vertebrae")["results"]
    got = [None] * 4

    def run(i):
        got[i] = idx.search(volume_id="s0004", region="vertebrae")["results"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all([r["volume"] for r in g] == [r["volume"] for r in want] for g in got)


def test_write_vectors_makes_a_searchable_index(tmp_path):
    rng = np.random.default_rng(3)
    volumes = {}
    for i in range(5):
        v = rng.standard_normal((20, 16)).astype(np.float32)
        volumes[f"ext{i}"] = v / np.linalg.norm(v, axis=1, keepdims=True)
    report = voxir.write_vectors(str(tmp_path / "ext"), volumes, index="Flat")
    assert report["volumes_added"] == 5
    idx = voxir.Index(str(tmp_path / "ext"))
    answer = idx.search(vectors=volumes["ext3"][4:9], first_slice=4)
    assert answer["results"][0]["volume"] == "ext3"
    assert answer["results"][0]["location"] == (4, 8)


def test_a_second_collection_with_the_same_ids_gets_its_own_namespace(collection, tmp_path):
    data, _, _ = collection
    index = str(tmp_path / "two")
    cache = str(tmp_path / "cache")
    voxir.build_index(index, [str(data)], index="Flat", cache=cache)
    added = voxir.add_to_index(index, [str(data)], cache=cache)
    assert added["volumes_added"] == 6
    ids = {v["id"] for v in voxir.Index(index).volumes}
    assert "s0001" in ids and "phantoms:s0001" in ids  # "<folder>:" by default
    voxir.add_to_index(index, [str(data)], cache=cache, id_prefix="site2:")
    assert "site2:s0006" in {v["id"] for v in voxir.Index(index).volumes}
    with pytest.raises(voxir.Error, match="already in use"):
        voxir.add_to_index(index, [str(data)], cache=cache, id_prefix="site2:")
    assert len(voxir.Index(index).volumes) == 18  # the refused add changed nothing


def test_unlabelled_volumes_get_their_anatomy_stored(collection, tmp_path):
    data, _, _ = collection
    index = str(tmp_path / "mixed")
    cache = str(tmp_path / "cache")
    voxir.build_index(index, [str(data)], index="Flat", cache=cache)
    plain = tmp_path / "plain.nii.gz"  # no segmentations/ beside it
    plain.write_bytes((data / "s0002" / "ct.nii.gz").read_bytes())
    voxir.add_to_index(index, [str(plain)], cache=cache)
    info = voxir.Index(index).info
    assert info["predicted_volumes"] == 1
    report = voxir.predict_index(index)
    assert report["generation"] == info["generation"] + 1
    assert voxir.Index(index).info["predicted_volumes"] == 1
    only_plain = str(tmp_path / "only-plain")
    voxir.build_index(only_plain, [str(plain)], index="Flat", cache=cache)
    with pytest.raises(voxir.Error, match="has labels"):
        voxir.predict_index(only_plain)
