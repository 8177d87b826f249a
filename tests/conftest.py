"""Session fixtures: one reference PKI per session, and cheap copies of it for tests that change files.

Key generation dominates test time, so keys come from one session pool and the reference tree is
built once; a test that needs to change a tree takes ``reference_copy``. Treat ``reference_tree`` as
read-only.

Property tests (Hypothesis) run the ``ci`` profile unless KUBECERT_HYPOTHESIS_PROFILE names another:
few examples, the same ones every run, nothing saved. ``thorough`` draws fresh examples, many more, and
keeps failing ones in .hypothesis/ to replay them first next time.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from kubecert.reference.pki import InitOptions, InitResult, KeyPool, init_pki
from kubecert.reference.pki.worker import join_worker

settings.register_profile("ci", max_examples=200, derandomize=True, database=None,
                          deadline=dt.timedelta(seconds=1), print_blob=True)
settings.register_profile("thorough", max_examples=2000, deadline=dt.timedelta(seconds=2), print_blob=True)
settings.load_profile(os.environ.get("KUBECERT_HYPOTHESIS_PROFILE", "ci"))

# Enough for two or three trees of distinct keys (15 keys each) plus the faults' extra keys.
KEY_POOL_SIZE = 24


@pytest.fixture(scope="session")
def key_pool() -> KeyPool:
    return KeyPool(size=KEY_POOL_SIZE)


@pytest.fixture(scope="session")
def reference_tree(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> InitResult:
    """The reference implementation's default tree (palette profile, RSA-2048), made at the real time."""
    root = tmp_path_factory.mktemp("reference") / "kubernetes"
    return init_pki(root, InitOptions(), keys=key_pool, now=dt.datetime.now(dt.UTC))


@pytest.fixture(scope="session")
def reference_node(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> Callable[..., InitResult]:
    """The reference tree made with other InitOptions (a kubelet state, a Kubernetes version, ...), each made once
    per session at the real time: ``reference_node(kubelet_state="started")``. Read-only, as reference_tree."""
    made: dict[tuple[tuple[str, Any], ...], InitResult] = {}

    def make(**options: Any) -> InitResult:
        key = tuple(sorted(options.items()))
        if key not in made:
            root = tmp_path_factory.mktemp("node") / "kubernetes"
            made[key] = init_pki(root, InitOptions(**options), keys=key_pool, now=dt.datetime.now(dt.UTC))
        return made[key]

    return make


@pytest.fixture(scope="session")
def aged_node(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A control-plane node (P-256 keys) made 100 days ago: a renewal moves every expiry 100 days on."""
    from nodes import make_node

    return make_node(tmp_path_factory.mktemp("aged") / "kubernetes", age_days=100)


@pytest.fixture
def node(aged_node: Path, tmp_path: Path) -> Path:
    """A private copy of the aged node."""
    copy = tmp_path / "kubernetes"
    shutil.copytree(aged_node, copy, symlinks=True)
    return copy


@pytest.fixture
def reference_copy(tmp_path: Path, reference_tree: InitResult) -> Path:
    """A private copy of the reference tree, modes preserved (copy2 and copystat); its root folder."""
    copy = tmp_path / "kubernetes"
    shutil.copytree(reference_tree.root, copy, symlinks=True, copy_function=shutil.copy2)
    return copy


@pytest.fixture(scope="session")
def reference_worker(
    tmp_path_factory: pytest.TempPathFactory, reference_tree: InitResult, key_pool: KeyPool
) -> InitResult:
    """A worker of the reference tree's cluster (its CA signs the kubelet), as kubeadm join leaves it."""
    root = tmp_path_factory.mktemp("worker") / "kubernetes"
    options = InitOptions(node_name="worker-1", advertise_address="10.0.0.20", control_plane_endpoint="10.0.0.10:6443")
    return join_worker(root, options, keys=key_pool, now=dt.datetime.now(dt.UTC), cluster_pki=reference_tree.tree)


@pytest.fixture
def worker_copy(tmp_path: Path, reference_worker: InitResult) -> Path:
    """A private copy of the reference worker, links and modes kept."""
    copy = tmp_path / "worker"
    shutil.copytree(reference_worker.root, copy, symlinks=True, copy_function=shutil.copy2)
    return copy
