"""The codes of Fused SVD and dictionary learning do not depend on which BLAS kernels the CPU gets.

OpenBLAS picks its kernels by CPU (SkylakeX on AVX-512 machines, Haswell on AVX2 ones, ...), and float32 results
differ in their last bits between them. Randomized SVD and dictionary learning in float32 amplified that into codes
that differed between machines, so a run did not reproduce bit for bit on another CPU. `OPENBLAS_CORETYPE` makes one
machine use another CPU's kernels: each kernel computes the codes in its own process, and all must agree."""
import json, os, platform, subprocess, sys
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="OpenBLAS x86 kernels only")

# correlated inputs shaped like the grid's (MiniLM 384-d, ENMF 256-d, 1,682 items); with seed 2 the float32 code gave
# dictionary codes that differed between the Haswell and the Sandybridge kernels
CODE = """
import hashlib, json, numpy as np
from threadpoolctl import threadpool_info
from semid_nb.embeddings import fuse
from semid_nb.semantic_ids import rq_kmeans, dictionary_codes
rng = np.random.default_rng(2)
a = rng.standard_normal((1682, 40)) @ rng.standard_normal((40, 384)) + 0.3 * rng.standard_normal((1682, 384))
b = rng.standard_normal((1682, 20)) @ rng.standard_normal((20, 256)) + 0.1 * rng.standard_normal((1682, 256))
h = lambda x: hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()
print(json.dumps({"kernel": sorted({i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"}),
                  "fused_svd": h(rq_kmeans(fuse(a.astype(np.float32), b.astype(np.float32), "svd"), 2, 256, 0)),
                  "dictionary": h(dictionary_codes(a.astype(np.float32), 2, 256, 2))}))
"""


def codes_under(kernel):
    env = {**os.environ, "OPENBLAS_CORETYPE": kernel, "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=600, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def avx512() -> bool:
    try: return " avx512f " in open("/proc/cpuinfo").read()
    except OSError: return False


def test_codes_agree_across_blas_kernels():
    kernels = ["Haswell", "Sandybridge"] + ["SkylakeX"] * avx512()  # (with the float32 code SkylakeX's Fused SVD
    got = {k: codes_under(k) for k in kernels}                       # codes differed from the other two's)
    assert [r["kernel"] for r in got.values()] == [[k] for k in kernels], got  # the kernels were in force
    for what in ("fused_svd", "dictionary"):
        assert len({r[what] for r in got.values()}) == 1, f"{what} codes depend on the BLAS kernel: {got}"
