"""volume_compare: the hostpath method over real directories, the Job method's specs and its no-node path,
and input checks. (The Jobs themselves run in pods on the test bed's node: integration target role_dr_drill.)"""

import pytest

from ansible_collections.lifeboat.k8s.plugins.module_utils.common.errors import InvalidInputError
from ansible_collections.lifeboat.k8s.plugins.module_utils.verify import volumes as compare

from ..fake_cluster import FakeCluster
from ..module_options import options_of
from ansible_collections.lifeboat.k8s.plugins.module_utils.options.verify import VOLUME_COMPARE_ARG_SPEC, VolumeCompareOptions


def cluster_with(state_dir, files_by_pvc):
    cluster = FakeCluster()
    for ns in ("shop", "copy"):
        cluster.add("", "namespaces", {"metadata": {"name": ns}})
    for (ns, pvc), files in files_by_pvc.items():
        handle = "vol-%s-%s" % (ns, pvc)
        cluster.add("", "persistentvolumes", {"metadata": {"name": "pv-" + handle},
                                              "spec": {"csi": {"driver": "d", "volumeHandle": handle}}})
        cluster.add("", "persistentvolumeclaims", {"metadata": {"name": pvc, "namespace": ns},
                                                   "spec": {"volumeName": "pv-" + handle},
                                                   "status": {"phase": "Bound"}})
        for path, content in files.items():
            target = state_dir / handle / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    return cluster


def params(directory, **overrides):
    values = dict(pvcs=["data"], source_namespace="shop", target_namespace="copy", method="hostpath",
                  state_dir=str(directory), image="busybox:1.36", keep_jobs=False, wait_timeout=5)
    values.update(overrides)
    return options_of(VolumeCompareOptions, VOLUME_COMPARE_ARG_SPEC, **values)


def test_hostpath_passes_on_identical_trees_and_names_every_difference(tmp_path):
    same = {"a.txt": b"alpha", "dir/b.bin": b"\0" * 4096}
    cluster = cluster_with(tmp_path, {("shop", "data"): same, ("copy", "data"): same})
    result = compare.volume_compare(cluster, cluster, params(tmp_path))
    assert result["passed"] and result["volumes"][0]["files"] == 2

    cluster = cluster_with(tmp_path / "2", {("shop", "data"): {"a.txt": b"alpha", "gone": b"x"},
                                            ("copy", "data"): {"a.txt": b"ALPHA", "extra": b"y"}})
    result = compare.volume_compare(cluster, cluster, params(tmp_path / "2"))
    reason = result["volumes"][0]["reason"]
    assert result["passed"] is False
    assert "./a.txt differs" in reason and "./gone is missing" in reason and "./extra is only in" in reason


def test_an_unbound_or_missing_volume_fails_its_pair_not_the_task(tmp_path):
    cluster = cluster_with(tmp_path, {("shop", "data"): {"a": b"1"}})
    result = compare.volume_compare(cluster, cluster, params(tmp_path))
    assert result["passed"] is False and "copy/data does not exist" in result["volumes"][0]["reason"]


@pytest.mark.parametrize("overrides,message", [
    ({"pvcs": []}, "^pvcs: give at least one"),
    ({"pvcs": [{"source": "a"}]}, r"^pvcs\[0\]: expected"),
    ({"state_dir": "/nonexistent/state"}, "^state_dir: "),
])
def test_bad_input_names_the_option(tmp_path, overrides, message):
    with pytest.raises(InvalidInputError, match=message):
        compare.volume_compare(FakeCluster(), FakeCluster(), params(tmp_path, **overrides))


def test_job_method_specs_mount_read_only_and_skip_visibly_without_nodes(tmp_path):
    cluster = cluster_with(tmp_path, {("shop", "data"): {}, ("copy", "data"): {}})
    planned = compare.volume_compare(cluster, cluster, params(tmp_path, method="job"), check_mode=True)
    spec = planned["jobs"][0]["spec"]["template"]["spec"]
    assert spec["volumes"][0]["persistentVolumeClaim"] == {"claimName": "data", "readOnly": True}
    assert spec["containers"][0]["volumeMounts"][0]["readOnly"] is True
    assert not cluster.named("batch", "jobs", "shop")
    result = compare.volume_compare(cluster, cluster, params(tmp_path, method="job"))
    assert result["passed"] is None and result["volumes"][0]["status"] == "skipped"
    assert "no nodes" in result["volumes"][0]["reason"]
    assert not cluster.named("batch", "jobs", "shop"), "the Jobs are deleted unless keep_jobs"
    assert compare.job_name("shop", "data") == compare.job_name("shop", "data") != compare.job_name("copy", "data")
    assert compare.parse_listing("abc  ./a\ndef  ./dir/b\n") == {"./a": "abc", "./dir/b": "def"}
