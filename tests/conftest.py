import os, pytest

@pytest.fixture(autouse=True, scope="session")
def _isolated_outputs(tmp_path_factory):
    "Tests write caches and runs to a temporary outputs folder, never the project's."
    os.environ["SEMID_OUTPUTS"] = str(tmp_path_factory.mktemp("outputs"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    yield
