"""Runs the NumPy lines of docs/import.md, imports their files with the voxir CLI and searches
with --query-vectors: the right volume must come first. Also checks that files NumPy writes in
Fortran order or float64 are refused with exit code 5. Exits 77 (skipped) without NumPy.

Usage: numpy_import_test.py <voxir binary> <docs/import.md>
"""
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not installed (apt-get install python3-numpy)")
    sys.exit(77)


def voxir(binary, *args):
    run = subprocess.run([binary, *args], capture_output=True, text=True)
    return run.returncode, run.stdout, run.stderr


def main():
    binary, doc = sys.argv[1], sys.argv[2]
    blocks = re.findall(r"```python\n(.*?)```", open(doc, encoding="utf-8").read(), re.S)
    assert len(blocks) == 2, f"{doc}: expected 2 python blocks, found {len(blocks)}"

    rng = np.random.default_rng(0)
    d, slices = 32, 20
    ids = [101, 7, 55, 3, 42]  # any integers; names go in increasing id order
    volume_ids, slice_ids, rows = [], [], []
    for vid in ids:
        walk = rng.normal(size=d) + np.cumsum(rng.normal(scale=0.3, size=(slices, d)), axis=0)
        for s in range(slices):
            volume_ids.append(vid)
            slice_ids.append(s)
            rows.append(walk[s])
    order = rng.permutation(len(rows))  # rows in any order
    vectors = np.array(rows)[order]  # float64: the doc's lines convert it
    volume_ids = np.array(volume_ids)[order]
    slice_ids = np.array(slice_ids)[order]
    names = [f"patient-{vid}" for vid in sorted(ids)]
    target = ids.index(55)
    query = np.array(rows[target * slices + 5: target * slices + 15])
    query = query + rng.normal(scale=0.05, size=query.shape)

    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        env = {"vectors": vectors, "volume_ids": volume_ids, "slice_ids": slice_ids,
               "names": names, "query": query}
        for block in blocks:
            exec(block, env)

        code, out, err = voxir(binary, "index", "import", "idx", "vectors.npy", "--volume-ids",
                               "volume_ids.npy", "--slice-ids", "slice_ids.npy", "--names",
                               "names.txt", "--index", "faiss:Flat")
        assert code == 0, f"import failed ({code}): {out}{err}"
        code, out, err = voxir(binary, "search", "idx", "--query-vectors", "query.npy", "--json")
        assert code == 0, f"search failed ({code}): {out}{err}"
        results = json.loads(out)["results"]
        assert results[0]["volume"] == "patient-55", results[0]
        location = results[0]["location"]
        assert 4 <= location[0] and location[1] <= 15, location

        np.save("fortran.npy", np.asfortranarray(np.array(rows, dtype=np.float32)))
        np.save("f8.npy", np.array(rows))
        for bad, says in (("fortran.npy", "Fortran"), ("f8.npy", "'<f8'")):
            code, out, err = voxir(binary, "index", "import", "idx2", bad, "--volume-ids",
                                   "volume_ids.npy", "--slice-ids", "slice_ids.npy")
            assert code == 5 and bad in err and says in err, (bad, code, err)
        assert not os.path.exists("idx2")
    print("ok: imported NumPy files, found patient-55 first at slices", location)


if __name__ == "__main__":
    main()
