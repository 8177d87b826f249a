"""``kubeadm certs check-expiration``: the tables byte for byte, HumanDuration, and the json/yaml objects."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import yaml

from kubecert.reference.pki import (
    InitOptions,
    InitResult,
    KeyPool,
    ReferenceUsageError,
    check_expiration,
    human_duration,
    init_pki,
    render,
    render_json,
    render_text,
    render_yaml,
)
from kubecert.reference.pki.expiration import residual_seconds, tabwrite

MADE = dt.datetime(2026, 5, 15, 13, 8, 0, tzinfo=dt.UTC)
SEEN = MADE + dt.timedelta(minutes=3)

# What kubeadm v1.31 prints for a fresh tree (kubeadm profile: CAs for 3650 days). Go's tabwriter pads
# the last column's "no" to eight characters with %-8v, so those lines end in spaces.
EXPECTED_TEXT = """\
CERTIFICATE                EXPIRES                  RESIDUAL TIME   CERTIFICATE AUTHORITY   EXTERNALLY MANAGED
admin.conf                 May 15, 2027 13:08 UTC   364d            ca                      no      
apiserver                  May 15, 2027 13:08 UTC   364d            ca                      no      
apiserver-etcd-client      May 15, 2027 13:08 UTC   364d            etcd-ca                 no      
apiserver-kubelet-client   May 15, 2027 13:08 UTC   364d            ca                      no      
controller-manager.conf    May 15, 2027 13:08 UTC   364d            ca                      no      
etcd-healthcheck-client    May 15, 2027 13:08 UTC   364d            etcd-ca                 no      
etcd-peer                  May 15, 2027 13:08 UTC   364d            etcd-ca                 no      
etcd-server                May 15, 2027 13:08 UTC   364d            etcd-ca                 no      
front-proxy-client         May 15, 2027 13:08 UTC   364d            front-proxy-ca          no      
scheduler.conf             May 15, 2027 13:08 UTC   364d            ca                      no      
super-admin.conf           May 15, 2027 13:08 UTC   364d            ca                      no      

CERTIFICATE AUTHORITY   EXPIRES                  RESIDUAL TIME   EXTERNALLY MANAGED
ca                      May 12, 2036 13:08 UTC   9y              no      
etcd-ca                 May 12, 2036 13:08 UTC   9y              no      
front-proxy-ca          May 12, 2036 13:08 UTC   9y              no      
"""  # noqa: W291 - kubeadm's trailing spaces


@pytest.fixture(scope="module")
def kubeadm_tree(tmp_path_factory: pytest.TempPathFactory, key_pool: KeyPool) -> InitResult:
    """A tree made at a fixed time with kubeadm's CA validity (ECDSA keys: cheap)."""
    root = tmp_path_factory.mktemp("expiration") / "kubernetes"
    return init_pki(root, InitOptions(ca_days=3650, key_algorithm="ECDSA-P256"), keys=key_pool, now=MADE)


@pytest.fixture
def kubeadm_copy(kubeadm_tree: InitResult, tmp_path: Path) -> Path:
    copy = tmp_path / "kubernetes"
    shutil.copytree(kubeadm_tree.root, copy)
    return copy


def test_text_is_kubeadms_byte_for_byte(kubeadm_tree: InitResult) -> None:
    assert render_text(check_expiration(kubeadm_tree.root, now=SEEN)) == EXPECTED_TEXT


def test_palette_cas_show_ten_years(tmp_path: Path, key_pool: KeyPool) -> None:
    root = init_pki(tmp_path / "k", InitOptions(key_algorithm="ECDSA-P256"), keys=key_pool, now=MADE).root
    info = check_expiration(root, now=SEEN)
    assert [human_duration(row.residual_seconds) for row in info.certificate_authorities] == ["10y"] * 3
    assert {human_duration(row.residual_seconds) for row in info.certificates} == {"364d"}


def test_rows_and_residual_seconds(kubeadm_tree: InitResult) -> None:
    info = check_expiration(kubeadm_tree.root, now=SEEN)
    assert [row.name for row in info.certificates] == [
        "admin.conf", "apiserver", "apiserver-etcd-client", "apiserver-kubelet-client", "controller-manager.conf",
        "etcd-healthcheck-client", "etcd-peer", "etcd-server", "front-proxy-client", "scheduler.conf",
        "super-admin.conf",
    ]
    assert [row.name for row in info.certificate_authorities] == ["ca", "etcd-ca", "front-proxy-ca"]
    assert {row.residual_seconds for row in info.certificates} == {365 * 86400 - 180}
    assert all(row.expiration_date == MADE + dt.timedelta(days=365) for row in info.certificates)


def test_json_is_kubeadms_output_api(kubeadm_tree: InitResult) -> None:
    text = render_json(check_expiration(kubeadm_tree.root, now=SEEN))
    assert text.startswith(
        '{\n    "kind": "CertificateExpirationInfo",\n    "apiVersion": "output.kubeadm.k8s.io/v1alpha3",\n')
    assert text.endswith("}\n")
    document = json.loads(text)
    assert list(document) == ["kind", "apiVersion", "certificates", "certificateAuthorities"]
    assert document["certificates"][1] == {
        "name": "apiserver", "expirationDate": "2027-05-15T13:08:00Z", "residualTime": 365 * 86400 - 180,
        "externallyManaged": False, "caName": "ca", "missing": False,
    }
    assert list(document["certificates"][1]) == [
        "name", "expirationDate", "residualTime", "externallyManaged", "caName", "missing"]
    assert document["certificateAuthorities"][0] == {  # a CA has no caName (omitempty)
        "name": "ca", "expirationDate": "2036-05-12T13:08:00Z", "residualTime": 3650 * 86400 - 180,
        "externallyManaged": False, "missing": False,
    }


def test_yaml_is_the_json_with_sorted_keys(kubeadm_tree: InitResult) -> None:
    info = check_expiration(kubeadm_tree.root, now=SEEN)
    text = render_yaml(info)
    assert text.startswith(
        "apiVersion: output.kubeadm.k8s.io/v1alpha3\ncertificateAuthorities:\n"
        '- expirationDate: "2036-05-12T13:08:00Z"\n  externallyManaged: false\n  missing: false\n  name: ca\n'
    )
    assert text.endswith("kind: CertificateExpirationInfo\n")
    assert "- caName: ca\n  expirationDate: \"2027-05-15T13:08:00Z\"\n" in text
    assert yaml.safe_load(text) == json.loads(render_json(info))
    assert render(info, "yaml") == text
    with pytest.raises(ReferenceUsageError, match="output format"):
        render(info, "wide")


def test_missing_files_are_listed_as_kubeadm_does(kubeadm_copy: Path) -> None:
    (kubeadm_copy / "pki/front-proxy-client.crt").unlink()
    (kubeadm_copy / "super-admin.conf").unlink()  # a secondary control-plane node
    (kubeadm_copy / "pki/etcd/ca.crt").unlink()
    info = check_expiration(kubeadm_copy, now=SEEN)
    lines = render_text(info).splitlines()
    # The missing row is a cell like any other: it widens the first column.
    assert lines[0] == ("CERTIFICATE                    EXPIRES                  RESIDUAL TIME   "
                        "CERTIFICATE AUTHORITY   EXTERNALLY MANAGED")
    assert lines[9] == "!MISSING! front-proxy-client" + " " * 3 + " " * 25 + " " * 16 + " " * 24
    assert lines[11] == "!MISSING! super-admin.conf" + " " * 5 + " " * 25 + " " * 16 + " " * 24
    assert lines[15] == "!MISSING! etcd-ca" + " " * 7 + " " * 25 + " " * 16  # padded to CERTIFICATE AUTHORITY
    missing = json.loads(render_json(info))["certificates"][8]
    assert missing == {"name": "front-proxy-client", "expirationDate": None, "residualTime": 0,
                       "externallyManaged": False, "caName": "front-proxy-ca", "missing": True}


def test_external_ca_leaves_are_externally_managed(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(external_ca=("front-proxy-ca",), key_algorithm="ECDSA-P256")
    root = init_pki(tmp_path / "k", options, keys=key_pool, now=MADE).root
    info = check_expiration(root, now=SEEN)
    managed = {row.name for row in info.certificates + info.certificate_authorities if row.externally_managed}
    assert managed == {"front-proxy-client", "front-proxy-ca"}
    assert "front-proxy-client         May 15, 2027 13:08 UTC   364d            front-proxy-ca          yes     \n" \
        in render_text(info)


def test_external_etcd_drops_the_etcd_rows(tmp_path: Path, key_pool: KeyPool) -> None:
    options = InitOptions(external_etcd=True, key_algorithm="ECDSA-P256")
    root = init_pki(tmp_path / "k", options, keys=key_pool, now=MADE).root
    info = check_expiration(root, now=SEEN)  # decided from the absent manifests/etcd.yaml
    names = [row.name for row in info.certificates + info.certificate_authorities]
    assert names == ["admin.conf", "apiserver", "apiserver-kubelet-client", "controller-manager.conf",
                     "front-proxy-client", "scheduler.conf", "super-admin.conf", "ca", "front-proxy-ca"]
    assert "etcd" not in render_text(info)


def test_an_unreadable_certificate_fails_the_listing(kubeadm_copy: Path) -> None:
    (kubeadm_copy / "pki/apiserver.crt").write_bytes(b"garbage")
    with pytest.raises(ReferenceUsageError, match=r"apiserver\.crt"):
        check_expiration(kubeadm_copy, now=SEEN)


def test_naive_time_is_refused(kubeadm_tree: InitResult) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_expiration(kubeadm_tree.root, now=dt.datetime(2026, 5, 15))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"), (-2, "<invalid>"), (-1, "0s"), (0, "0s"), (59, "59s"), (119, "119s"), (120, "2m"),
        (125, "2m5s"), (599, "9m59s"), (600, "10m"), (179 * 60 + 59, "179m"), (3 * 3600, "3h"),
        (3 * 3600 + 30 * 60 + 59, "3h30m"), (8 * 3600, "8h"), (47 * 3600 + 3599, "47h"), (48 * 3600, "2d"),
        (49 * 3600, "2d1h"), (8 * 86400 - 1, "7d23h"), (8 * 86400, "8d"), (365 * 86400 - 180, "364d"),
        (2 * 365 * 86400 - 1, "729d"), (2 * 365 * 86400, "2y"), ((2 * 365 + 327) * 86400, "2y327d"),
        (8 * 365 * 86400 - 1, "7y364d"), (8 * 365 * 86400, "8y"), (3650 * 86400 - 180, "9y"),
        (3652 * 86400 - 180, "10y"),
    ],
)
def test_human_duration_is_apimachinerys(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_residual_time_truncates_toward_zero() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert residual_seconds(now + dt.timedelta(seconds=1.9), now) == 1
    assert residual_seconds(now - dt.timedelta(seconds=1.9), now) == -1
    assert residual_seconds(now - dt.timedelta(seconds=2.5), now) == -2


def test_tabwriter_aligns_blocks_as_go_does() -> None:
    lines = ["a\tb\tc", "aaa\tbbbbb\t", "", "x\ty"]
    assert tabwrite(lines, minwidth=2, padding=1) == "a   b     c\naaa bbbbb \n\nx y\n"
